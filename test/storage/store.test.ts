import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { Ns, SCHEMA_VERSION, Store, TYPE_MEMBER, TYPE_REDACTION } from '../../storage/index.js';
import { encodeEventMeta } from '../../storage/records.js';
import { nid2Key, nid2StrKey, nidKey, str2NidKey, T_BLOCK, T_EVENT_META, T_OUTPUT, T_OUTPUT_BY_ROOM, T_TXN, u64Value } from '../../storage/keys.js';
import { countReads, meta, rejectsWith, tempDir, withStore } from './helpers.js';
import type { KeyFilter } from '../../storage/key-filter.js';

async function setupRoom(store: Store, roomId: string): Promise<number> {
  const u = store.unit();
  const roomNid = await u.nid(Ns.ROOM, roomId);
  u.putRoom(roomNid, { roomVersion: '10', createEventNid: 0, extremities: [], stateSnapshotNid: 0, maxDepth: 0, lastOutputPos: 0 });
  await store.commit(u);
  return roomNid;
}

test('events: metadata and JSON are stored apart and read back, singly and in batches', async () => {
  await withStore('events', async (store) => {
    const roomNid = await setupRoom(store, '!r:a');
    const u = store.unit();
    const [e1, e2] = await u.nids(Ns.EVENT, ['$one', '$two']);
    const typeNid = await u.nid(Ns.TYPE, 'm.room.message');
    const m1 = meta(roomNid, TYPE_MEMBER, { stateKeyNid: 1, depth: 3, prevEventNids: [e2!], authEventNids: [e2!] });
    const m2 = meta(roomNid, typeNid, { rejected: true, rejectReason: 'sender not joined' });
    const json1 = { type: 'm.room.member', content: { membership: 'join', __proto__: null } };
    u.putEvent(e1!, m1, json1);
    u.putEvent(e2!, m2, '{"type":"m.room.message","content":{"body":"hi"}}');
    await store.commit(u);
    // the records carry the event IDs (the NID -> ID direction of the mappings)
    assert.equal(await store.getEventMeta(e1!), { ...m1, eventId: '$one' });
    assert.equal(await store.getEventMetas([e2!, 999, e1!]), [{ ...m2, eventId: '$two' }, undefined, { ...m1, eventId: '$one' }]);
    assert.equal(await store.getEventJson(e1!), JSON.parse(JSON.stringify(json1)));
    assert.is((await store.getEventJsonBytes(e2!))!.toString(), '{"type":"m.room.message","content":{"body":"hi"}}');
    assert.is(await store.getEventJson(12345), undefined);
    assert.equal(await store.getEventMetas([]), []);
    // Flags change later without rewriting the JSON.
    const u2 = store.unit();
    u2.putEvent(e1!, { ...m1, redacted: true });
    await store.commit(u2);
    assert.is((await store.getEventMeta(e1!))!.redacted, true);
    assert.equal(await store.getEventJson(e1!), JSON.parse(JSON.stringify(json1)));
  });
});

test('an event stored with its mapping has its ID in its metadata only; a NID named before its event has a NID -> ID record', async () => {
  const dir = tempDir('event-ids');
  let store = await Store.open(dir);
  const roomNid = await setupRoom(store, '!ids:x');
  const u = store.unit();
  const stored = await u.nid(Ns.EVENT, '$stored');
  const missing = await u.nid(Ns.EVENT, '$missing-prev');
  u.putEvent(stored, meta(roomNid, TYPE_MEMBER, { prevEventNids: [missing] }), {});
  await store.commit(u);
  const reverse = (nid: number) => store.db.get(nid2StrKey(Ns.EVENT, nid));
  assert.is(await reverse(stored), undefined, 'no NID -> string record for the stored event');
  assert.is((await reverse(missing))?.toString(), '$missing-prev');
  assert.is((await store.getEventMeta(stored))!.eventId, '$stored');
  // The event's own later unit finds the mapping durable: still no second record.
  const u2 = store.unit();
  u2.putEvent(missing, meta(roomNid, TYPE_MEMBER), {});
  await store.commit(u2);
  assert.is((await store.getEventMeta(missing))!.eventId, '$missing-prev');
  await store.close();

  // After a reopen (nothing cached) both directions resolve, and new NIDs go above the stored ones.
  store = await Store.open(dir);
  assert.equal(await store.strs(Ns.EVENT, [stored, missing]), ['$stored', '$missing-prev']);
  assert.is(await store.lookupNid(Ns.EVENT, '$stored'), stored);
  const u3 = store.unit();
  const next = await u3.nid(Ns.EVENT, '$next');
  assert.ok(next > Math.max(stored, missing), `new NID ${next} is above ${stored} and ${missing}`);
  u3.putEvent(next, meta(roomNid, TYPE_MEMBER), {});
  await store.commit(u3);
  await store.close();
  // the highest event NID has only its metadata record: the counter is still recovered past it
  store = await Store.open(dir);
  const u4 = store.unit();
  assert.ok((await u4.nid(Ns.EVENT, '$after')) > next);
  const report = await store.checkIntegrity();
  assert.ok(report.ok, report.problems.join('\n'));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('schema: a schema 1 database opens and is marked 2 (it reads the same); an unknown schema is refused', async () => {
  const dir = tempDir('schema');
  const schemaKey = Buffer.concat([Buffer.from([0]), Buffer.from('schema')]);
  let store = await Store.open(dir);
  const roomNid = await setupRoom(store, '!s:x');
  const u = store.unit();
  const e = await u.nid(Ns.EVENT, '$old');
  u.putEvent(e, meta(roomNid, TYPE_MEMBER), {});
  await store.commit(u);
  // Make it look like schema 1: the event has a NID -> ID record and metadata without the ID.
  const m = (await store.getEventMeta(e))!;
  delete m.eventId;
  await store.db.put(nidKey(T_EVENT_META, e), encodeEventMeta(m));
  await store.db.put(nid2StrKey(Ns.EVENT, e), Buffer.from('$old'));
  await store.db.put(schemaKey, u64Value(1));
  await store.close();
  store = await Store.open(dir);
  assert.is((await store.db.get(schemaKey))!.readUInt32BE(4), SCHEMA_VERSION);
  assert.equal(await store.strs(Ns.EVENT, [e]), ['$old']);
  assert.ok((await store.checkIntegrity()).ok);
  await store.db.put(schemaKey, u64Value(SCHEMA_VERSION + 1));
  await store.close();
  await rejectsWith(Store.open(dir), 'storage_schema');
  rmSync(dir, { recursive: true, force: true });
});

test('putEvent needs the event ID: given, or known for the NID; a contradicting one is refused', async () => {
  await withStore('event-id-checks', async (store) => {
    const roomNid = await setupRoom(store, '!c:x');
    const u = store.unit();
    const e = await u.nid(Ns.EVENT, '$real');
    await rejectsWith(() => u.putEvent(e, meta(roomNid, TYPE_MEMBER, { eventId: '$other' }), {}), 'storage_bad_meta');
    await rejectsWith(() => u.putEvent(e + 1000, meta(roomNid, TYPE_MEMBER), {}), 'storage_bad_meta');
    u.putEvent(e, meta(roomNid, TYPE_MEMBER, { eventId: '$real' }), {});
    await store.commit(u);
    assert.is((await store.getEventMeta(e))!.eventId, '$real');
  });
});

test('units refuse bad input before anything is written, and cannot be reused', async () => {
  await withStore('badunit', async (store) => {
    const roomNid = await setupRoom(store, '!r:a');
    const u = store.unit();
    await rejectsWith(async () => u.putEvent(0, meta(roomNid, 5)), 'storage_bad_nid');
    await rejectsWith(async () => u.putEvent(1, meta(roomNid, 5, { prevEventNids: [0] })), 'storage_bad_nid');
    await rejectsWith(async () => u.putEvent(1, meta(roomNid, 5, { depth: Number.NaN })), 'storage_bad_meta');
    await rejectsWith(async () => u.putRoom(roomNid, { roomVersion: '1', createEventNid: -1, extremities: [], stateSnapshotNid: 0, maxDepth: 0, lastOutputPos: 0 }), 'storage_bad_nid');
    await rejectsWith(async () => u.appendOutput(roomNid, (() => 1) as unknown as null), 'storage_not_json');
    await rejectsWith(async () => u.removeJournal(0), 'storage_bad_nid');
    assert.ok(u.isEmpty);
    u.appendOutput(roomNid, { ok: true });
    await store.commit(u);
    await rejectsWith(async () => u.appendOutput(roomNid, {}), 'storage_unit_submitted');
    await rejectsWith(() => store.commit(u), 'storage_unit_submitted');
    assert.is(store.outputHead(), 1);
  });
});

test('outputs: gap-free positions from 1 in write order, per-room reads, room record tracks the last one', async () => {
  const dir = tempDir('outputs');
  let store = await Store.open(dir);
  const rooms = await Promise.all(['!a:x', '!b:x', '!c:x'].map((r) => setupRoom(store, r)));
  const results = await Promise.all(
    Array.from({ length: 60 }, async (_, i) => {
      const roomNid = rooms[i % 3]!;
      const u = store.unit();
      u.appendOutput(roomNid, { i });
      if (i % 10 === 0) u.appendOutput(roomNid, { i, second: true });
      u.putRoom(roomNid, { roomVersion: '10', createEventNid: 0, extremities: [], stateSnapshotNid: 0, maxDepth: i, lastOutputPos: 0 });
      return { roomNid, i, r: await store.commit(u) };
    }),
  );
  const all = results.flatMap((x) => x.r.outputPositions).sort((a, b) => a - b);
  assert.equal(all, Array.from({ length: 66 }, (_, i) => i + 1));
  assert.is(store.outputHead(), 66);
  const log = await store.readOutputs(0, 1000);
  assert.equal(log.map((o) => o.pos), all);
  for (const { roomNid, i, r } of results) {
    const o = log[r.outputPositions[0]! - 1]!;
    assert.is(o.roomNid, roomNid);
    assert.equal(o.output, { i });
  }
  // Paging and room filters.
  assert.equal((await store.readOutputs(10, 5)).map((o) => o.pos), [11, 12, 13, 14, 15]);
  assert.equal(await store.readOutputs(66, 10), []);
  const onlyB = await store.readOutputs(0, 1000, { roomNids: [rooms[1]!] });
  assert.ok(onlyB.length > 0 && onlyB.every((o) => o.roomNid === rooms[1]));
  assert.equal(onlyB.map((o) => o.pos), log.filter((o) => o.roomNid === rooms[1]).map((o) => o.pos));
  const ac = await store.readOutputs(20, 7, { roomNids: [rooms[0]!, rooms[2]!, rooms[0]!] });
  assert.equal(ac.map((o) => o.pos), log.filter((o) => o.pos > 20 && o.roomNid !== rooms[1]).slice(0, 7).map((o) => o.pos));
  for (let k = 0; k < 3; k++) {
    const last = Math.max(...log.filter((o) => o.roomNid === rooms[k]).map((o) => o.pos));
    assert.is((await store.getRoom(rooms[k]!))!.lastOutputPos, last, 'the committer set the last position');
  }
  // A later room record without outputs never moves lastOutputPos back.
  const u = store.unit();
  u.putRoom(rooms[0]!, { roomVersion: '10', createEventNid: 0, extremities: [], stateSnapshotNid: 0, maxDepth: 99, lastOutputPos: 0 });
  await store.commit(u);
  const lastA = Math.max(...log.filter((o) => o.roomNid === rooms[0]).map((o) => o.pos));
  assert.is((await store.getRoom(rooms[0]!))!.lastOutputPos, lastA);
  await store.close();
  store = await Store.open(dir);
  assert.is(store.outputHead(), 66);
  const u2 = store.unit();
  u2.appendOutput(rooms[2]!, 'after reopen');
  assert.equal((await store.commit(u2)).outputPositions, [67]);
  assert.equal((await store.readOutputs(66, 1))[0], { pos: 67, roomNid: rooms[2]!, output: 'after reopen' });
  assert.ok((await store.checkIntegrity()).ok);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('journal: durable appends in sequence order, removed in the unit that processes them, sequences never reused', async () => {
  const dir = tempDir('journal');
  let store = await Store.open(dir);
  const [a, b] = await Promise.all([store.appendJournal([{ n: 1 }, { n: 2 }]), store.appendJournal([Buffer.from('raw')])]);
  assert.equal([...a!, ...b!], [1, 2, 3]);
  assert.equal(await store.appendJournal([]), []);
  const entries = await store.readJournal();
  assert.equal(entries.map((e) => e.seq), [1, 2, 3]);
  assert.equal(entries[0]!.value, { n: 1 });
  assert.ok(Buffer.isBuffer(entries[2]!.value) && (entries[2]!.value as Buffer).toString() === 'raw');
  const u = store.unit();
  u.removeJournal(1);
  u.removeJournal(3);
  await store.commit(u);
  assert.equal((await store.readJournal()).map((e) => e.seq), [2]);
  const u2 = store.unit();
  u2.removeJournal(2);
  await store.commit(u2);
  await store.close();
  store = await Store.open(dir);
  assert.equal(await store.readJournal(), []);
  assert.equal(await store.appendJournal([{ n: 4 }]), [4], 'the journal is empty, yet sequence 1 is not handed out again');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('membership index, txn ids, redactions and server keys', async () => {
  await withStore('misc', async (store) => {
    const roomNid = await setupRoom(store, '!m:x');
    const other = await setupRoom(store, '!n:x');
    const u = store.unit();
    const [j1, j2, red, target] = await u.nids(Ns.EVENT, ['$j1', '$j2', '$red', '$target-not-seen-yet']);
    u.putMembership(roomNid, '@bob:x', 'join', j1!);
    u.putMembership(roomNid, '@alice:x', 'invite', j2!);
    u.putMembership(other, '@carol:x', 'join', j2!);
    u.putTxn('@bob:x', 'txn-1', { eventId: '$j1', status: 'accepted' });
    u.addRedaction(target!, red!);
    u.putEvent(red!, meta(roomNid, TYPE_REDACTION), { type: 'm.room.redaction' });
    await store.commit(u);
    assert.equal(await store.getMembers(roomNid), [
      { userId: '@alice:x', membership: 'invite', eventNid: j2 },
      { userId: '@bob:x', membership: 'join', eventNid: j1 },
    ]);
    assert.equal(await store.getMembership(roomNid, '@bob:x'), { membership: 'join', eventNid: j1 });
    assert.is(await store.getMembership(roomNid, '@carol:x'), undefined);
    assert.equal(await store.getTxn('@bob:x', 'txn-1'), { eventId: '$j1', status: 'accepted' });
    assert.is(await store.getTxn('@bob:x', 'txn-2'), undefined);
    assert.is(await store.getTxn('@bob:xtxn-1', ''), undefined);
    assert.equal(await store.getRedactions(target!), [red]);
    assert.equal(await store.getRedactions(red!), []);
    assert.equal(await store.redactionTargets(), [target]);
    const u2 = store.unit();
    u2.putMembership(roomNid, '@alice:x', 'join', j1!);
    u2.deleteMembership(roomNid, '@bob:x');
    await store.commit(u2);
    assert.equal((await store.getMembers(roomNid)).map((m) => [m.userId, m.membership]), [['@alice:x', 'join']]);

    await store.putServerKey('b.test', 'ed25519:1', { publicKey: 'AAA', validUntilTs: 5 });
    await store.putServerKey('b.test', 'ed25519:2', { publicKey: 'BBB', validUntilTs: 0 });
    await store.putServerKey('b.testx', 'ed25519:1', { publicKey: 'CCC', validUntilTs: 1 });
    assert.equal(await store.getServerKey('b.test', 'ed25519:2'), { publicKey: 'BBB', validUntilTs: 0 });
    assert.equal((await store.listServerKeys('b.test')).map((k) => k.keyId), ['ed25519:1', 'ed25519:2']);
    assert.is((await store.listServerKeys()).length, 3);
    await store.deleteServerKey('b.test', 'ed25519:1');
    assert.is(await store.getServerKey('b.test', 'ed25519:1'), undefined);
    assert.equal(await store.listRooms(), [roomNid, other]);
  });
});

test('group commit merges the units of many rooms into few writes; one write per unit when off', async () => {
  for (const [groupCommit, eagerGroupUnits] of [[true, 256], [true, 50], [false, 256]] as const) {
    await withStore('group', async (store) => {
      const rooms = await Promise.all(Array.from({ length: 200 }, (_, i) => store.nid(Ns.ROOM, `!g${i}:x`)));
      const before = store.commitStats.writes;
      const res = await Promise.all(
        rooms.map(async (roomNid, i) => {
          const u = store.unit();
          const e = await u.nid(Ns.EVENT, `$g${i}`);
          u.putEvent(e, meta(roomNid, TYPE_MEMBER), { i });
          u.appendOutput(roomNid, { e });
          u.putRoom(roomNid, { roomVersion: '10', createEventNid: e, extremities: [e], stateSnapshotNid: 0, maxDepth: 1, lastOutputPos: 0 });
          return store.commit(u);
        }),
      );
      const writes = store.commitStats.writes - before;
      if (!groupCommit) assert.is(writes, 200);
      else if (eagerGroupUnits === 50) assert.ok(writes >= 2 && writes <= 10, `a burst starts writing after 50 units (${writes} writes)`);
      else assert.ok(writes <= 5, `${writes} writes for 200 units`);
      assert.equal(res.map((r) => r.outputPositions.length), rooms.map(() => 1));
      assert.is(new Set(res.map((r) => r.outputPositions[0])).size, 200);
      // Visible as soon as the commit resolved.
      for (let i = 0; i < 200; i += 37) assert.is((await store.getRoom(rooms[i]!))!.maxDepth, 1);
      const report = await store.checkIntegrity();
      assert.ok(report.ok, report.problems.join('\n'));
      assert.is(report.counts.events, 200);
    }, { groupCommit, eagerGroupUnits });
  }
});

test('commit promises resolve in submission order, across writes, at most resolveChunk per turn of the event loop', async () => {
  const run = async (resolveChunk: number): Promise<Array<number | string>> =>
    withStore(`settle-${resolveChunk}`, async (store) => {
      const roomNid = await setupRoom(store, '!o:x');
      const order: Array<number | string> = [];
      const submit = (i: number) => {
        const u = store.unit();
        u.appendOutput(roomNid, `o${i}`);
        return store.commit(u).then((r) => {
          order.push(i);
          // a callback queued by the first continuation: it runs as soon as the event loop gets a turn
          if (i === 0) setImmediate(() => order.push('tick'));
          return r.outputPositions[0]!;
        });
      };
      const first = [0, 1, 2, 3, 4].map(submit);
      // a second batch, submitted while the first write is in flight
      await new Promise((r) => setImmediate(r));
      const second = [5, 6, 7].map(submit);
      const positions = await Promise.all([...first, ...second]);
      assert.equal(positions, [...positions].sort((a, b) => a - b), 'positions follow submission order');
      await store.flush();
      return order;
    }, { resolveChunk });
  const chunked = await run(2);
  assert.equal(chunked.filter((x) => x !== 'tick'), [0, 1, 2, 3, 4, 5, 6, 7], 'resolved in submission order');
  // two chunks of the first write (0-1, 2-3), then the event loop's turn, then the rest
  assert.is(chunked.indexOf('tick'), 4, `order: ${chunked.join(',')}`);
  const allAtOnce = await run(0);
  assert.equal(allAtOnce.slice(0, 5), [0, 1, 2, 3, 4], 'with 0, every promise of a write resolves in the same turn');
});

test('durable listeners hear of their units in position order, before the continuations of their commit promises; one that throws harms nothing', async () => {
  for (const resolveChunk of [64, 1]) await withStore(`listeners-${resolveChunk}`, async (store) => {
    const roomNid = await setupRoom(store, '!d:x');
    const heard: Array<[number, number[]]> = [];
    const log: string[] = [];
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const submit = (i: number, outputs: number, listen: boolean, fail = false) => {
      const u = store.unit();
      for (let k = 0; k < outputs; k++) u.appendOutput(roomNid, `o${i}.${k}`);
      if (listen) {
        u.listener = {
          durable(positions) {
            log.push(`heard ${i} head ${store.outputHead() >= (positions.at(-1) ?? 0) ? 'ok' : 'behind'}`);
            heard.push([i, [...positions]]);
            if (fail) throw new Error('listener bug');
          },
        };
      }
      return store.commit(u).then((r) => {
        log.push(`resolved ${i}`);
        return r.outputPositions;
      });
    };
    const first = [submit(0, 1, true), submit(1, 2, true, true), submit(2, 1, false), submit(3, 0, true)];
    // a second write, submitted while the first is in flight
    await new Promise((r) => setImmediate(r));
    const second = [submit(4, 1, true), submit(5, 1, true)];
    const all = await Promise.all([...first, ...second]);
    assert.equal(heard.map(([i]) => i), [0, 1, 3, 4, 5], 'in commit order, listeners only');
    assert.equal(heard.map(([, p]) => p), [all[0], all[1], all[3], all[4], all[5]], 'with the positions the promises give');
    const flat = heard.flatMap(([, p]) => p);
    assert.equal(flat, [...flat].sort((a, b) => a - b), 'positions increase');
    // each listener runs with the output head past its positions, before its unit's continuation;
    // promises resolved a whole write at a time have all its listeners run first
    for (const [i] of heard) assert.ok(log.indexOf(`heard ${i} head ok`) >= 0 && log.indexOf(`heard ${i} head ok`) < log.indexOf(`resolved ${i}`), log.join(', '));
    if (resolveChunk === 64) assert.equal(log, ['heard 0 head ok', 'heard 1 head ok', 'heard 3 head ok', 'resolved 0', 'resolved 1', 'resolved 2', 'resolved 3', 'heard 4 head ok', 'heard 5 head ok', 'resolved 4', 'resolved 5']);
    // the unit whose listener threw is written like the others, and so is everything after it; the failure is a warning
    assert.equal((await store.readOutputs(0, 10)).map((o) => o.output), ['o0.0', 'o1.0', 'o1.1', 'o2.0', 'o4.0', 'o5.0']);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    assert.equal(warnings, ['a commit listener failed: listener bug']);
  }, { resolveChunk });
});

test('a long queue of commit promises keeps its order while its resolved front is dropped', async () => {
  await withStore('settle-long', async (store) => {
    const roomNid = await setupRoom(store, '!l:x');
    const order: number[] = [];
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 9000; i++) {
      const u = store.unit();
      u.appendOutput(roomNid, i);
      all.push(store.commit(u).then(() => order.push(i)));
    }
    await Promise.all(all);
    assert.is(order.length, 9000);
    assert.ok(order.every((v, i) => v === i), 'resolved in submission order');
  }, { resolveChunk: 2 });
});

test('flush() and close() wait until the promise of every written unit is resolved', async () => {
  const dir = tempDir('settle-close');
  const store = await Store.open(dir, { resolveChunk: 1 });
  const roomNid = await setupRoom(store, '!c:x');
  let resolved = 0;
  for (let i = 0; i < 10; i++) {
    const u = store.unit();
    u.appendOutput(roomNid, `c${i}`);
    void store.commit(u).then(() => resolved++);
  }
  await store.close();
  assert.is(resolved, 10);
  rmSync(dir, { recursive: true, force: true });
});

test('close() writes units that were submitted but not awaited; fsync mode works', async () => {
  const dir = tempDir('close');
  let store = await Store.open(dir, { fsync: true });
  const roomNid = await store.nid(Ns.ROOM, '!c:x');
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < 20; i++) {
    const u = store.unit();
    u.appendOutput(roomNid, i);
    pending.push(store.commit(u));
  }
  await store.close();
  await Promise.all(pending);
  await rejectsWith(async () => store.unit(), 'storage_closed');
  store = await Store.open(dir);
  assert.is(store.outputHead(), 20);
  assert.equal((await store.readOutputs(0, 100)).map((o) => o.output), Array.from({ length: 20 }, (_, i) => i));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the committer reuses its native batches, and a reused batch carries nothing of its last write', async () => {
  await withStore('reuse', async (store) => {
    const roomNid = await setupRoom(store, '!reuse:x');
    const db = store.db as unknown as { batch: () => unknown };
    const realBatch = db.batch.bind(store.db);
    let made = 0;
    db.batch = () => {
      made++;
      return realBatch();
    };
    const first = store.unit();
    const e1 = await first.nid(Ns.EVENT, '$first');
    first.putEvent(e1, meta(roomNid, TYPE_MEMBER), { n: 1 });
    await store.commit(first);
    // removed behind the committer's back: if the next write replayed the first one, it would come back
    await store.db.del(nidKey(T_EVENT_META, e1));
    assert.is(await store.db.get(nidKey(T_EVENT_META, e1)), undefined);
    for (let i = 0; i < 40; i++) {
      const u = store.unit();
      const e = await u.nid(Ns.EVENT, `$later${i}`);
      u.putEvent(e, meta(roomNid, TYPE_MEMBER), { n: i });
      u.appendOutput(roomNid, i);
      await store.commit(u);
    }
    assert.is(await store.db.get(nidKey(T_EVENT_META, e1)), undefined, 'the first unit was not written again');
    assert.ok(made <= 2, `41 commits made ${made} native batches`);
    const later = await store.lookupNid(Ns.EVENT, '$later39');
    assert.ok(later && (await store.getEventMeta(later)), 'later units are stored');
  });
});

test('a native batch too large to keep for reuse is closed once written (the database lets go of it)', async () => {
  await withStore('bigbatch', async (store) => {
    const roomNid = await setupRoom(store, '!big:x');
    const probe = store.db.batch();
    const proto = Object.getPrototypeOf(probe) as Record<string, unknown>;
    await probe.close();
    const ownClose = Object.prototype.hasOwnProperty.call(proto, 'close');
    const realClose = proto.close as (this: unknown) => Promise<void>;
    let closed = 0;
    proto.close = function (this: unknown) {
      closed++;
      return realClose.call(this);
    };
    try {
      const u = store.unit();
      const e = await u.nid(Ns.EVENT, '$big');
      u.putEvent(e, meta(roomNid, TYPE_MEMBER), JSON.stringify({ blob: 'x'.repeat(17 * 1024 * 1024) }));
      await store.commit(u);
      assert.is(closed, 1, 'the 17 MB batch was closed');
      const small = store.unit();
      const e2 = await small.nid(Ns.EVENT, '$small');
      small.putEvent(e2, meta(roomNid, TYPE_MEMBER), { n: 1 });
      await store.commit(small);
      assert.is(closed, 1, 'a small batch is kept for reuse, not closed');
    } finally {
      if (ownClose) proto.close = realClose;
      else delete proto.close;
    }
    assert.ok((await store.getEventJsonBytes((await store.lookupNid(Ns.EVENT, '$big'))!))!.length > 17 * 1024 * 1024);
  });
});

test('a failed write rejects its units and every later commit; nothing of it becomes visible', async () => {
  const dir = tempDir('failed');
  let store = await Store.open(dir);
  const roomNid = await setupRoom(store, '!f:x');
  // Every chained batch's write fails, the public one and the native one the committer uses (batches
  // already made and kept for reuse included).
  const probe = store.db.batch();
  const proto = Object.getPrototypeOf(probe) as Record<string, unknown>;
  await probe.close();
  const own = (k: string) => Object.prototype.hasOwnProperty.call(proto, k);
  const saved = { write: own('write') ? proto.write : undefined, _write: own('_write') ? proto._write : undefined };
  const fail = async (): Promise<void> => {
    throw new Error('disk full');
  };
  proto.write = fail;
  proto._write = fail;
  const u = store.unit();
  const e = await u.nid(Ns.EVENT, '$lost');
  u.putEvent(e, meta(roomNid, TYPE_MEMBER), {});
  u.appendOutput(roomNid, 'lost');
  await rejectsWith(store.commit(u), 'storage_write_failed');
  const u2 = store.unit();
  u2.appendOutput(roomNid, 'after');
  await rejectsWith(store.commit(u2), 'storage_write_failed');
  assert.is(store.outputHead(), 0);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete proto[k];
    else proto[k] = v;
  }
  await store.close();
  store = await Store.open(dir);
  assert.is(await store.lookupNid(Ns.EVENT, '$lost'), undefined);
  assert.is(store.outputHead(), 0);
  assert.ok((await store.checkIntegrity()).ok);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the integrity check finds broken references, mapping conflicts and output gaps', async () => {
  await withStore('integrity', async (store) => {
    const roomNid = await setupRoom(store, '!i:x');
    const u = store.unit();
    const e = await u.nid(Ns.EVENT, '$i1');
    const sk = await u.nid(Ns.STATE_KEY, '@i:x');
    const snap = await store.deriveSnapshot(u, roomNid, 0, [[TYPE_MEMBER, sk, e]]);
    u.putEvent(e, meta(roomNid, TYPE_MEMBER, { stateKeyNid: sk }), {});
    u.putRoom(roomNid, { roomVersion: '10', createEventNid: e, extremities: [e], stateSnapshotNid: snap, maxDepth: 1, lastOutputPos: 0 });
    u.appendOutput(roomNid, 'x');
    u.appendOutput(roomNid, 'y');
    await store.commit(u);
    const good = await store.checkIntegrity();
    assert.ok(good.ok, good.problems.join('\n'));
    assert.is(good.outputHead, 2);

    const rec = await store.getSnapshotRecord(snap);
    await store.db.del(nidKey(T_BLOCK, rec.blocks[0]!));
    await store.db.del(nidKey(T_OUTPUT, 1));
    await store.db.del(nid2Key(T_OUTPUT_BY_ROOM, roomNid, 1));
    // A second string claiming the same event NID.
    await store.db.put(str2NidKey(Ns.EVENT, '$impostor'), u64Value(e));
    await store.db.put(nid2StrKey(Ns.EVENT, e + 50), Buffer.from('$orphan'));
    // A NID -> string record contradicting the ID in the event's metadata.
    await store.db.put(nid2StrKey(Ns.EVENT, e), Buffer.from('$liar'));
    const bad = await store.checkIntegrity();
    assert.not.ok(bad.ok);
    const text = bad.problems.join('\n');
    assert.match(text, `snapshot ${snap} -> missing block ${rec.blocks[0]}`);
    assert.match(text, 'output log gap: expected position 1, found 2');
    assert.match(text, `NID ${e} names two strings`);
    assert.match(text, `has no matching string -> NID entry`);
    assert.match(text, `event ${e}: metadata names "$i1" but NID -> string names "$liar"`);
  });
});

test('txn IDs: a new one is known unused without a read once the stored keys are scanned; stored ones are still found, across reopen', async () => {
  const dir = tempDir('txn-filter');
  let store = await Store.open(dir);
  const u = store.unit();
  for (let i = 0; i < 200; i++) u.putTxn('@bob:x', `stored-${i}`, { eventId: `$e${i}`, status: 'accepted' });
  await store.commit(u);
  await store.close();
  store = await Store.open(dir);
  await (store as unknown as { txns: KeyFilter }).txns.scanned;
  const reads = countReads(store, (k) => k[0] === T_TXN);
  assert.is(await store.getTxn('@bob:x', 'never-used'), undefined);
  assert.is(await store.getTxn('@carol:x', 'stored-1'), undefined);
  assert.is(reads.n, 0, 'no read for txn IDs the filter does not have');
  for (let i = 0; i < 200; i++) assert.equal(await store.getTxn('@bob:x', `stored-${i}`), { eventId: `$e${i}`, status: 'accepted' });
  assert.ok(reads.n >= 200, 'stored txn IDs are read');
  // one written now is found at once (the writer adds it to the filter), before and after its commit
  const u2 = store.unit();
  u2.putTxn('@carol:x', 'new-1', { eventId: '$n1', status: 'rejected' });
  const committed = store.commit(u2);
  await committed;
  assert.equal(await store.getTxn('@carol:x', 'new-1'), { eventId: '$n1', status: 'rejected' });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
