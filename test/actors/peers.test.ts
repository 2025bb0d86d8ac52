// Two RoomServer instances linked in-process: B completes gaps and missing
// auth events by asking A, as a peer would over WebSocket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openServer, cleanup, collect } from '../helpers/servers.js';
import { LocalPeers } from '../../src/local-peers.js';
import type { RoomServer } from '../../src/server.js';

const A = '@alice:a.test';

const BOB = '@bob:b.test';

/** Bob on B joins A's room (B builds the join; A gets it as a peer would send it). */
async function bobJoins(a: RoomServer, b: RoomServer, roomId: string, version: string): Promise<void> {
  const created = (await a.query.event((await a.query.state(roomId, { idsOnly: true }) as { state_ids: string[] }).state_ids)).events.map((e) => e.event);
  created.sort((x, y) => Number(x.depth) - Number(y.depth));
  const r0 = await b.input(created.map((event) => ({ event, origin: 'a.test', roomVersion: version })));
  assert.ok(r0.results.every((r) => r.status === 'accepted'), JSON.stringify(r0.results));
  const join = await b.send({ roomId, sender: BOB, type: 'm.room.member', stateKey: BOB, content: { membership: 'join' } });
  const joinEv = (await b.query.event([join.event_id])).events[0]!.event;
  const r1 = await a.input([{ event: joinEv, origin: 'b.test' }]);
  assert.is(r1.results[0]!.status, 'accepted', JSON.stringify(r1.results));
}

async function pair(): Promise<[RoomServer, RoomServer]> {
  const linkA = new LocalPeers('a.test');
  const linkB = new LocalPeers('b.test');
  const a = await openServer('a.test', { peers: linkA });
  const b = await openServer('b.test', { peers: linkB });
  linkA.add(b);
  linkB.add(a);
  return [a, b];
}

for (const version of ['10', '12']) {
  test(`v${version}: B fetches the gap before a new event from A, and A's key`, async () => {
    const [a, b] = await pair();
    const room = await a.createRoom({ creator: A, roomVersion: version, preset: 'public_chat' });
    // B learns the room's start (it has no key for A yet: it asks A's server_keys), Bob joins
    await bobJoins(a, b, room.room_id, version);
    const sent: string[] = [];
    for (let i = 0; i < 8; i++) sent.push((await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: `${i}` } })).event_id);
    // only the newest reaches B: the 7 before it are a gap
    const last = (await a.query.event([sent[7]!])).events[0]!.event;
    const h = b.outputHead();
    const r = await b.input([{ event: last, origin: 'a.test' }]);
    assert.equal(r.results[0]!.status, 'accepted');
    assert.equal((await b.query.latest(room.room_id)).latest_event_ids, [sent[7]]);
    const outs = await collect(b, { from: h }, 8);
    assert.equal(
      outs.map((o) => (o as { event_id: string }).event_id),
      sent,
      'the gap is processed in order, then the event',
    );
    await a.close();
    await b.close();
  });
}

test('a gap that does not close: state from state_ids, the oldest fetched event as old', async () => {
  const [a, b] = await pair();
  const room = await a.createRoom({ creator: A, roomVersion: '11', preset: 'public_chat' });
  await bobJoins(a, b, room.room_id, '11');
  const sent: string[] = [];
  // more than one missing_events call (limit 20) can return
  for (let i = 0; i < 30; i++) sent.push((await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: `${i}` } })).event_id);
  const last = (await a.query.event([sent[29]!])).events[0]!.event;
  const r = await b.input([{ event: last, origin: 'a.test' }]);
  assert.is(r.results[0]!.status, 'accepted');
  const got = await b.query.event(sent);
  // the 20 newest before it were fetched; the rest are a hole B never needed
  assert.is(got.events.length, 21);
  const oldest = got.events.find((e) => e.event_id === sent[9])!;
  assert.ok(oldest, 'the oldest fetched event is stored');
  const latest = (await b.query.latest(room.room_id)).latest_event_ids;
  assert.ok(latest.includes(sent[29]!));
  await a.close();
  await b.close();
});

test('missing auth events are fetched from the origin and stored as outliers', async () => {
  const [a, b] = await pair();
  const room = await a.createRoom({ creator: A, roomVersion: '10', preset: 'public_chat', initialState: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }] });
  const m = await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: 'x' } });
  const ev = (await a.query.event([m.event_id])).events[0]!.event;
  // B holds nothing of the room (world readable): the event goes in as an outlier (room version given)
  const r = await b.input([{ event: ev, kind: 'outlier', roomVersion: '10', origin: 'a.test' }]);
  assert.is(r.results[0]!.status, 'outlier');
  const auth = (ev.auth_events as string[]);
  const q = await b.query.event(auth);
  assert.is(q.events.length, auth.length);
  assert.ok(q.events.every((e) => e.outlier));
  await a.close();
  await b.close();
});

test('past the deadline with the gap still open, the event is rejected with missing_prev_events', async () => {
  const b = await openServer('b.test', { inputDeadlineMs: 300 });
  const a = await openServer('a.test');
  b.addServerKey('a.test', a.signingKey.keyId, a.signingKey.publicKeyBase64);
  const room = await a.createRoom({ creator: A, roomVersion: '10', preset: 'public_chat' });
  await b.input((await a.query.event(room.event_ids)).events.map((e) => ({ event: e.event })));
  await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: '1' } });
  const m2 = await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: '2' } });
  const ev = (await a.query.event([m2.event_id])).events[0]!.event;
  const t0 = Date.now();
  const r = await b.input([{ event: ev }]);
  assert.equal(r.results[0], { event_id: m2.event_id, status: 'rejected', reason: 'missing_prev_events' });
  assert.ok(Date.now() - t0 >= 250);
  assert.equal((await b.query.event([m2.event_id])).missing, [m2.event_id]);
  // meanwhile the room was not held up
  await a.close();
  await b.close();
});

test.after(() => cleanup());
test.run();
