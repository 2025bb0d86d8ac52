// Durability and failure handling through the embedder API: kill -9 during
// async ingest, actor crashes, admission limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openServer, cleanup, tempDir } from '../helpers/servers.js';
import { RoomServer } from '../../src/server.js';
import type { JsonObject } from '../../src/matrix/json.js';
import type { Output } from '../../src/api.js';
import { RoomServerError } from '../../src/errors.js';
import { RoomLogic } from '../../actors/room-actor.js';

const A = '@alice:remote.test';

/** Events of `rooms` rooms with `n` messages each, as a remote server built them, interleaved by room. */
async function remoteEvents(rooms: number, n: number): Promise<{ rs: RoomServer; events: JsonObject[]; eventIds: string[] }> {
  const rs = await openServer('remote.test');
  const perRoom: JsonObject[][] = [];
  const perRoomIds: string[][] = [];
  for (let r = 0; r < rooms; r++) {
    const room = await rs.createRoom({ creator: A, roomVersion: '10', preset: 'public_chat' });
    const ids = [...room.event_ids];
    for (let i = 0; i < n; i++) ids.push((await rs.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: `${r}/${i}` } })).event_id);
    perRoom.push((await rs.query.event(ids)).events.map((e) => e.event));
    perRoomIds.push(ids);
  }
  const events: JsonObject[] = [];
  const eventIds: string[] = [];
  for (let i = 0; ; i++) {
    let any = false;
    perRoom.forEach((list, r) => {
      if (i >= list.length) return;
      events.push(list[i]!);
      eventIds.push(perRoomIds[r]![i]!);
      any = true;
    });
    if (!any) break;
  }
  return { rs, events, eventIds };
}

function runChild(dataDir: string, file: string, from: number, killAfterAcks: number | undefined): Promise<{ acked: number; killed: boolean }> {
  return new Promise((resolve, reject) => {
    // Small batches: many acknowledgements, so a kill after the n-th still lands mid-ingest when the
    // child runs ahead of the parent reading its output (80 events in batches of 25 were sometimes
    // all acknowledged before the parent saw the second ACK).
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'ingest-child.ts'), dataDir, file, String(from), '5'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    let acked = from;
    let acks = 0;
    let killed = false;
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^ACK (\d+)$/.exec(line);
        if (m) {
          acked = Number(m[1]);
          acks++;
          if (killAfterAcks !== undefined && acks >= killAfterAcks && !killed) {
            killed = true;
            child.kill('SIGKILL');
          }
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (!killed && code !== 0) reject(new Error(`child failed (${code ?? signal}): ${err}`));
      else resolve({ acked, killed });
    });
  });
}

async function allOutputs(rs: RoomServer): Promise<Output[]> {
  const out: Output[] = [];
  const head = rs.outputHead();
  if (head === 0) return out;
  const sub = rs.subscribe({ from: 0 });
  for await (const o of sub) {
    out.push(o);
    if (o.pos >= head) break;
  }
  sub.close();
  return out;
}

async function waitCommitted(rs: RoomServer, ids: string[], ms = 20_000): Promise<string[]> {
  const t0 = Date.now();
  for (;;) {
    const q = await rs.query.event(ids);
    if (q.missing.length === 0 || Date.now() - t0 > ms) return q.missing;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('kill -9 during async ingest of many rooms: no acknowledged input lost, no output duplicated', async () => {
  const { rs: remote, events, eventIds } = await remoteEvents(8, 10);
  const file = join(tempDir(), 'events.json');
  writeFileSync(file, JSON.stringify({ key: { server: 'remote.test', keyId: remote.signingKey.keyId, publicKey: remote.signingKey.publicKeyBase64 }, events }));
  await remote.close();

  const dataDir = tempDir();
  let from = 0;
  let kills = 0;
  for (const killAfter of [2, 3, 1]) {
    const r = await runChild(dataDir, file, from, killAfter);
    if (r.killed) kills++;
    // reopen: the journal replays; every acknowledged input must end up committed
    const rs = await RoomServer.open({ dataDir, serverName: 'a.test' });
    const ackedIds = eventIds.slice(0, r.acked);
    const missing = await waitCommitted(rs, ackedIds);
    assert.equal(missing, [], `acknowledged inputs lost after kill ${kills}`);
    await rs.close();
    from = r.acked;
  }
  assert.ok(kills >= 2, 'the child was killed mid-ingest');
  // finish the rest, then check the output log
  await runChild(dataDir, file, from, undefined);
  const rs = await RoomServer.open({ dataDir, serverName: 'a.test' });
  assert.equal(await waitCommitted(rs, eventIds), []);
  const outs = await allOutputs(rs);
  const seen = outs.filter((o) => o.type === 'new_room_event').map((o) => (o as { event_id: string }).event_id);
  assert.is(seen.length, new Set(seen).size, 'no event output twice');
  assert.equal(new Set(seen), new Set(eventIds), 'every event output once');
  assert.equal(outs.map((o) => o.pos), outs.map((_, i) => i + 1), 'positions without gaps');
  const q = await rs.query.event(eventIds);
  assert.ok(q.events.every((e) => e.status === 'accepted'));
  await rs.close();
});

test('an actor crash fails that input with M_UNKNOWN, restarts from storage and loses nothing else', async () => {
  const rs = await openServer('a.test');
  const room = await rs.createRoom({ creator: '@alice:a.test', roomVersion: '11', preset: 'public_chat' });
  const adapter = (rs as unknown as { adapter: { commit: (...a: unknown[]) => Promise<unknown> } }).adapter;
  const realCommit = adapter.commit.bind(adapter);
  let calls = 0;
  adapter.commit = async (...args: unknown[]) => {
    if (++calls === 3) throw new Error('disk on fire');
    return realCommit(...args);
  };
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => rs.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: `${i}` } })),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  assert.is(failed.length, 1);
  const err = (failed[0] as PromiseRejectedResult).reason as RoomServerError;
  assert.instance(err, RoomServerError);
  assert.is(err.code, 'M_UNKNOWN');
  const ok = results.filter((r) => r.status === 'fulfilled') as Array<PromiseFulfilledResult<{ event_id: string; status: string }>>;
  assert.is(ok.length, 5);
  assert.ok(ok.every((r) => r.value.status === 'accepted'));
  // the chain continues from the last committed event; the room is consistent
  const latest = (await rs.query.latest(room.room_id)).latest_event_ids;
  assert.equal(latest, [ok[4]!.value.event_id]);
  const evs = (await rs.query.event(ok.map((r) => r.value.event_id))).events;
  for (let i = 1; i < evs.length; i++) assert.equal(evs[i]!.event.prev_events, [evs[i - 1]!.event_id]);
  await rs.close();
});

test('a crash after the commit still gives live subscribers the output of that event, in order, with no gap', async () => {
  const rs = await openServer('a.test');
  const room = await rs.createRoom({ creator: '@alice:a.test', roomVersion: '11', preset: 'public_chat' });
  const live: Output[] = [];
  const sub = rs.subscribe({ rooms: [room.room_id] }, (o) => live.push(o));
  // the room actor's step after a durable commit fails once (a bug there, say)
  const proto = RoomLogic.prototype as unknown as { afterCommit: (...a: unknown[]) => Promise<unknown> };
  const real = proto.afterCommit;
  let calls = 0;
  proto.afterCommit = function (this: unknown, ...args: unknown[]) {
    if (++calls === 2) return Promise.reject(new Error('bug after commit'));
    return real.apply(this, args);
  };
  try {
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) => rs.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: `${i}` } })),
    );
    assert.equal(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.is(((results[1] as PromiseRejectedResult).reason as RoomServerError).code, 'M_UNKNOWN');
  } finally {
    proto.afterCommit = real;
  }
  await new Promise((r) => setImmediate(r));
  // the failed send's event was durable: it is in the room and in the live stream like the others
  const bodies = live.map((o) => ((o as { event?: { content: { body: string } } }).event)?.content.body);
  assert.equal(bodies, ['0', '1', '2', '3']);
  const positions = live.map((o) => o.pos);
  assert.equal(positions, positions.map((_, i) => positions[0]! + i), 'consecutive positions');
  assert.is(positions.at(-1), rs.outputHead());
  sub.close();
  await rs.close();
});

test('admission: async inputs past the per-room bound are refused with M_LIMIT_EXCEEDED; sync callers wait', async () => {
  const remote = await openServer('remote.test');
  const room = await remote.createRoom({ creator: A, roomVersion: '10', preset: 'public_chat' });
  const ids = [...room.event_ids];
  for (let i = 0; i < 4; i++) ids.push((await remote.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: `${i}` } })).event_id);
  const pdus = (await remote.query.event(ids)).events.map((e) => ({ event: e.event }));
  const rs = await openServer('a.test', { admission: { maxPerRoom: 3 } });
  rs.addServerKey('remote.test', remote.signingKey.keyId, remote.signingKey.publicKeyBase64);
  try {
    await rs.input(pdus, { async: true });
    assert.unreachable();
  } catch (e) {
    assert.is((e as RoomServerError).code, 'M_LIMIT_EXCEEDED');
  }
  assert.is(rs.outputHead(), 0, 'a refused batch changes nothing');
  const r = await rs.input(pdus);
  assert.ok(r.results.every((x) => x.status === 'accepted'));
  await rs.close();
  await remote.close();
});

test.after(() => cleanup());
test.run();
