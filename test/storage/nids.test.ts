import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import {
  type CommitUnit,
  Ns,
  PREASSIGNED_TYPES,
  STATE_KEY_EMPTY,
  Store,
  TYPE_CREATE,
  TYPE_HISTORY_VISIBILITY,
  TYPE_JOIN_RULES,
  TYPE_MEMBER,
  TYPE_POWER_LEVELS,
  TYPE_REDACTION,
  TYPE_THIRD_PARTY_INVITE,
  firstDynamicNid,
} from '../../storage/index.js';
import { countReads, meta, rejectsWith, tempDir, withStore } from './helpers.js';

test('well-known types and the empty state key have their preassigned NIDs, in memory and on disk', async () => {
  const dir = tempDir('pre');
  let store = await Store.open(dir);
  const expected: Record<string, number> = {
    'm.room.create': TYPE_CREATE,
    'm.room.power_levels': TYPE_POWER_LEVELS,
    'm.room.join_rules': TYPE_JOIN_RULES,
    'm.room.third_party_invite': TYPE_THIRD_PARTY_INVITE,
    'm.room.member': TYPE_MEMBER,
    'm.room.redaction': TYPE_REDACTION,
    'm.room.history_visibility': TYPE_HISTORY_VISIBILITY,
  };
  assert.is(Object.keys(expected).length, 7);
  assert.is(new Set(Object.values(expected)).size, 7);
  for (const [s, n] of Object.entries(expected)) {
    assert.is(await store.lookupNid(Ns.TYPE, s), n);
    assert.is(await store.nid(Ns.TYPE, s), n);
    assert.is(await store.str(Ns.TYPE, n), s);
  }
  assert.is(await store.lookupNid(Ns.STATE_KEY, ''), STATE_KEY_EMPTY);
  assert.is(await store.str(Ns.STATE_KEY, STATE_KEY_EMPTY), '');
  assert.is(PREASSIGNED_TYPES.length, 7);
  await store.close();
  store = await Store.open(dir);
  const report = await store.checkIntegrity();
  assert.ok(report.ok, report.problems.join('\n'));
  assert.is(report.counts.mappings, 8, 'the preassigned mappings are stored');
  // A new type gets a dynamic NID above the reserved range.
  const u = store.unit();
  const t = await u.nid(Ns.TYPE, 'm.room.message');
  assert.ok(t >= firstDynamicNid(Ns.TYPE));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('concurrent nid() calls for one unknown string yield one NID', async () => {
  await withStore('conc', async (store) => {
    const results = await Promise.all(Array.from({ length: 50 }, () => store.nid(Ns.EVENT, '$same')));
    assert.is(new Set(results).size, 1);
    assert.ok(results[0]! > 0);
    // Mixed with batched and unit calls, and with other strings, all in one turn.
    const u = store.unit();
    const [a, b, c, d] = await Promise.all([
      store.nid(Ns.STATE_KEY, '@x:a'),
      u.nid(Ns.STATE_KEY, '@x:a'),
      store.nids(Ns.STATE_KEY, ['@y:a', '@x:a', '@y:a']),
      u.nids(Ns.STATE_KEY, ['@z:a']),
    ]);
    assert.is(a, b);
    assert.equal(c, [c[0], a, c[0]]);
    assert.not.equal(c[0], a);
    assert.not.ok([a, c[0]].includes(d[0]!));
    // The same string in different namespaces gets independent NIDs.
    assert.is(await store.lookupNid(Ns.ROOM, '$same'), undefined);
  });
});

test('lookupNid never allocates; str() answers for pending and stored NIDs', async () => {
  await withStore('lookup', async (store) => {
    assert.is(await store.lookupNid(Ns.EVENT, '$missing'), undefined);
    assert.equal(await store.lookupNids(Ns.EVENT, ['$missing', '$other']), [undefined, undefined]);
    assert.is(store.peekNid(Ns.EVENT, '$missing'), undefined);
    const n = await store.nid(Ns.EVENT, '$new');
    assert.is(await store.lookupNid(Ns.EVENT, '$new'), n, 'a pending mapping is visible');
    assert.is(store.peekNid(Ns.EVENT, '$new'), n);
    assert.is(store.peekStr(Ns.EVENT, n), '$new');
    assert.is(await store.str(Ns.EVENT, n), '$new');
    assert.equal(await store.strs(Ns.EVENT, [n, n + 1000]), ['$new', undefined]);
    assert.is(await store.lookupNid(Ns.EVENT, '$missing'), undefined);
  });
});

test('a new mapping reaches disk only with a committed unit that uses it', async () => {
  const dir = tempDir('persist');
  let store = await Store.open(dir);
  const lonely = await store.nid(Ns.EVENT, '$never-used'); // allocated, never used by a unit
  const u = store.unit();
  const roomNid = await u.nid(Ns.ROOM, '!r:a');
  const eventNid = await store.nid(Ns.EVENT, '$used'); // allocated outside the unit...
  const typeNid = await store.nid(Ns.TYPE, 'm.room.message');
  u.putEvent(eventNid, meta(roomNid, typeNid), { type: 'm.room.message' }); // ...and noticed when given to it
  assert.is(store.pendingCount(), 4);
  await store.commit(u);
  assert.is(store.pendingCount(), 1, 'only the unused mapping is still pending');
  await store.close();

  store = await Store.open(dir);
  assert.is(await store.lookupNid(Ns.EVENT, '$used'), eventNid);
  assert.is(await store.lookupNid(Ns.ROOM, '!r:a'), roomNid);
  assert.is(await store.lookupNid(Ns.TYPE, 'm.room.message'), typeNid);
  assert.is(await store.str(Ns.EVENT, eventNid), '$used');
  assert.is(await store.lookupNid(Ns.EVENT, '$never-used'), undefined, 'an unused allocation is not written');
  // The counter resumes above the highest stored NID; the unwritten one may be handed out again safely.
  const next = await store.nid(Ns.EVENT, '$after-restart');
  assert.ok(next > eventNid, `${next} > ${eventNid}`);
  assert.ok(next <= Math.max(lonely, eventNid) + 1);
  assert.ok((await store.checkIntegrity()).ok);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('many strings through a tiny cache still map both ways correctly after reopen', async () => {
  const dir = tempDir('cache');
  let store = await Store.open(dir, { nidCacheSize: 16 });
  const ids = Array.from({ length: 500 }, (_, i) => `@user${i}:example.org`);
  const u = store.unit();
  const nids = await u.nids(Ns.STATE_KEY, ids);
  assert.is(new Set(nids).size, 500);
  assert.ok(!nids.includes(0));
  await store.commit(u);
  assert.equal(await store.lookupNids(Ns.STATE_KEY, ids), nids);
  assert.equal(await store.strs(Ns.STATE_KEY, nids), ids);
  await store.close();
  store = await Store.open(dir, { nidCacheSize: 16 });
  assert.equal(await store.lookupNids(Ns.STATE_KEY, [...ids].reverse()), [...nids].reverse());
  assert.equal(await store.strs(Ns.STATE_KEY, nids), ids);
  assert.equal(await store.nids(Ns.STATE_KEY, ids), nids, 'known strings are never reallocated');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('strings without a UTF-8 form and bad NIDs are refused', async () => {
  await withStore('bad', async (store) => {
    await rejectsWith(() => store.nid(Ns.STATE_KEY, 'a\uD800b'), 'storage_bad_string');
    await rejectsWith(() => store.lookupNid(Ns.EVENT, '\uDC00'), 'storage_bad_string');
    await rejectsWith(() => store.nid(Ns.EVENT, 5 as unknown as string), 'storage_bad_string');
    await rejectsWith(() => store.str(Ns.EVENT, 0), 'storage_bad_nid');
    await rejectsWith(() => store.str(Ns.EVENT, -3), 'storage_bad_nid');
    await rejectsWith(() => store.nid(9 as Ns, 'x'), 'storage_bad_namespace');
    // A well-formed surrogate pair is fine.
    assert.ok((await store.nid(Ns.STATE_KEY, '𝄞')) > 0);
  });
});



/**
 * A store whose NID caches hold 2 strings, with a room and a message type;
 * `commitEvent` stores a message under an event NID through a unit and
 * commits it, `put` does the same for an event ID.
 */
async function tinyCacheStore(name: string, opts: { eventIdFilter?: boolean } = {}): Promise<{
  dir: string;
  store: Store;
  commitEvent: (u: CommitUnit, eventNid: number) => Promise<void>;
  put: (id: string) => Promise<number>;
}> {
  const dir = tempDir(name);
  const store = await Store.open(dir, { nidCacheSize: 2, ...opts });
  const setup = store.unit();
  const roomNid = await setup.nid(Ns.ROOM, '!r:a');
  const typeNid = await setup.nid(Ns.TYPE, 'm.room.message');
  await store.commit(setup);
  const commitEvent = async (u: CommitUnit, eventNid: number): Promise<void> => {
    u.putEvent(eventNid, meta(roomNid, typeNid), { type: 'm.room.message' });
    await store.commit(u);
  };
  const put = async (id: string): Promise<number> => {
    const u = store.unit();
    const n = await u.nid(Ns.EVENT, id);
    await commitEvent(u, n);
    return n;
  };
  return { dir, store, commitEvent, put };
}

for (const eventIdFilter of [true, false]) test(`a string a lookup found absent gets exactly one NID, through cache evictions and racing reads (event ID filter ${eventIdFilter ? 'on' : 'off'})`, async () => {
  const { dir, store, put } = await tinyCacheStore('absent', { eventIdFilter });
  // Found absent, then stored: one NID, stable after the tiny cache forgot it.
  assert.is(await store.lookupNid(Ns.EVENT, '$a'), undefined);
  const a = await put('$a');
  assert.is(await store.lookupNid(Ns.EVENT, '$a'), a);
  // A lookup reading while the same string is allocated and stored.
  const racing = store.lookupNid(Ns.EVENT, '$b');
  const b = await put('$b');
  const seen = await racing;
  assert.ok(seen === undefined || seen === b, `racing lookup saw ${String(seen)}`);
  for (let i = 0; i < 8; i++) await put(`$filler${i}`); // pushes $a and $b out of the cache
  assert.is(await store.nid(Ns.EVENT, '$a'), a, 'never reallocated');
  assert.is(await store.nid(Ns.EVENT, '$b'), b, 'never reallocated');
  assert.is(await store.lookupNid(Ns.EVENT, '$b'), b);
  assert.ok((await store.checkIntegrity()).ok);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a string marked new allocates its NID without a read; marking a known string changes nothing', async () => {
  // without the event ID filter (with it, an unknown ID allocates without a read anyway; markNew serves until its scan is done)
  const { dir, store, commitEvent, put } = await tinyCacheStore('marknew', { eventIdFilter: false });
  // unknown string: nidNow must go to the database (a promise)
  const u0 = store.unit();
  const unmarked = u0.nidNow(Ns.EVENT, '$unmarked');
  assert.ok(unmarked instanceof Promise, 'an unknown string is looked up');
  const old = await unmarked;
  await commitEvent(u0, old);
  for (let i = 0; i < 4; i++) await put(`$filler${i}`);
  // marked new: a number at once, one NID, stored like any other
  store.markNew(Ns.EVENT, '$fresh');
  const u = store.unit();
  const fresh = u.nidNow(Ns.EVENT, '$fresh');
  assert.type(fresh, 'number');
  await commitEvent(u, fresh as number);
  assert.is(await store.lookupNid(Ns.EVENT, '$fresh'), fresh);
  assert.is(await store.str(Ns.EVENT, fresh as number), '$fresh');
  // marking a string the maps know (here: just stored, cached) is ignored
  store.markNew(Ns.EVENT, '$fresh');
  assert.is(await store.nid(Ns.EVENT, '$fresh'), fresh);
  assert.is(await store.nid(Ns.EVENT, '$unmarked'), old);
  assert.ok((await store.checkIntegrity()).ok);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('with the event ID filter, a new event ID allocates without a read and a stored one is never reallocated, across reopen', async () => {
  const first = await tinyCacheStore('filter');
  const stored = new Map<string, number>();
  for (let i = 0; i < 300; i++) stored.set(`$stored${i}`, await first.put(`$stored${i}`));
  await first.store.close();
  const dir = first.dir;
  const store = await Store.open(dir, { nidCacheSize: 2 });
  await (store as unknown as { maps: { filterScan: Promise<void> } }).maps.filterScan;
  const reads = countReads(store, (k) => k[0] === 0x01); // string -> NID keys
  const u = store.unit();
  const fresh = u.nidNow(Ns.EVENT, '$never_seen');
  assert.type(fresh, 'number', 'a new event ID gets its NID at once');
  assert.is(await store.lookupNid(Ns.EVENT, '$also_never_seen'), undefined);
  assert.is(reads.n, 0, 'no read for IDs the filter does not have');
  // every stored ID is still found under its NID (the tiny cache holds none of them: each is read)
  for (const [id, n] of stored) assert.is(await store.lookupNid(Ns.EVENT, id), n);
  for (const [id, n] of [...stored].slice(0, 20)) assert.is(await store.nid(Ns.EVENT, id), n);
  assert.ok(reads.n >= stored.size, 'stored IDs are read, not taken for new');
  const roomNid = (await store.lookupNid(Ns.ROOM, '!r:a'))!;
  const typeNid = (await store.lookupNid(Ns.TYPE, 'm.room.message'))!;
  u.putEvent(fresh as number, meta(roomNid, typeNid), { type: 'm.room.message' });
  await store.commit(u);
  assert.is(await store.lookupNid(Ns.EVENT, '$never_seen'), fresh);
  const report = await store.checkIntegrity();
  assert.ok(report.ok, report.problems.join('\n'));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});


test('once durable, a state event mapping stays cached and a message event mapping does not: its ID is read back from disk, both ways', async () => {
  const dir = tempDir('msgcache');
  const store = await Store.open(dir);
  const u = store.unit();
  const roomNid = await u.nid(Ns.ROOM, '!cache:a');
  const typeNid = await u.nid(Ns.TYPE, 'm.room.message');
  const stateNid = u.nidNow(Ns.EVENT, '$state') as number;
  const msgNid = u.nidNow(Ns.EVENT, '$message') as number;
  u.putEvent(stateNid, meta(roomNid, TYPE_POWER_LEVELS, { stateKeyNid: STATE_KEY_EMPTY, eventId: '$state' }), { type: 'm.room.power_levels' });
  u.putEvent(msgNid, meta(roomNid, typeNid, { eventId: '$message' }), { type: 'm.room.message' });
  await store.commit(u);
  const reads = countReads(store, (k) => k[0] === 0x01); // string -> NID keys
  assert.is(await store.lookupNid(Ns.EVENT, '$state'), stateNid);
  assert.is(reads.n, 0, 'the state event ID is answered from the cache');
  assert.is(await store.lookupNid(Ns.EVENT, '$message'), msgNid);
  assert.is(reads.n, 1, 'the message event ID is read from disk');
  assert.is(await store.lookupNid(Ns.EVENT, '$message'), msgNid);
  assert.is(reads.n, 1, '...and cached once read');
  assert.is(await store.str(Ns.EVENT, msgNid), '$message');
  assert.is(await store.str(Ns.EVENT, stateNid), '$state');
  // a later unit naming the message as a prev event gets the same NID, and a new event a new one
  const u2 = store.unit();
  assert.is(await u2.nid(Ns.EVENT, '$message'), msgNid);
  const next = await u2.nid(Ns.EVENT, '$next');
  assert.ok(next > msgNid && next > stateNid);
  u2.putEvent(next, meta(roomNid, typeNid, { eventId: '$next', prevEventNids: [msgNid] }), { type: 'm.room.message' });
  await store.commit(u2);
  const report = await store.checkIntegrity();
  assert.ok(report.ok, report.problems.join('\n'));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
