// The input pipeline through the embedder API: ordering, forks, rejection,
// soft failure, signatures, outliers, old events, idempotent send.
import { test, suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { openServer, buildEvent, cleanup, collect, introduce } from '../helpers/servers.js';
import type { RoomServer } from '../../src/server.js';
import type { NewRoomEventOutput } from '../../src/api.js';
import type { Store } from '../../storage/store.js';
import { Ns } from '../../storage/nids.js';

const A = '@alice:a.test';
const B = '@bob:a.test';

async function publicRoom(rs: RoomServer, version = '10') {
  const r = await rs.createRoom({ creator: A, roomVersion: version, preset: 'public_chat' });
  return r.room_id;
}

test('create_room then send: accepted, outputs in order, state and latest queries agree', async () => {
  const rs = await openServer();
  const head0 = rs.outputHead();
  const r = await rs.createRoom({ creator: A, roomVersion: '11', name: 'Room', topic: 'T' });
  assert.is(r.event_ids.length, 7);
  const s = await rs.send({ roomId: r.room_id, sender: A, type: 'm.room.message', content: { body: 'hi' } });
  assert.is(s.status, 'accepted');
  const outs = await collect(rs, { from: head0 }, 8);
  assert.equal(outs.map((o) => o.pos), [1, 2, 3, 4, 5, 6, 7, 8].map((x) => x + head0));
  const last = outs[7] as NewRoomEventOutput;
  assert.is(last.type, 'new_room_event');
  assert.is(last.event_id, s.event_id);
  assert.equal(last.latest_event_ids, [s.event_id]);
  assert.equal(last.adds_state_event_ids, []);
  const name = outs[5] as NewRoomEventOutput;
  assert.is(name.event.type, 'm.room.name');
  assert.equal(name.adds_state_event_ids, [name.event_id]);
  const latest = await rs.query.latest(r.room_id);
  assert.equal(latest.latest_event_ids, [s.event_id]);
  const st = (await rs.query.state(r.room_id, { idsOnly: true })) as { state_ids: string[] };
  assert.is(st.state_ids.length, 7);
  assert.ok(!st.state_ids.includes(s.event_id));
  const m = await rs.query.membership(r.room_id);
  assert.equal(m.members.map((x) => [x.user_id, x.membership]), [[A, 'join']]);
  await rs.close();
});

test('concurrent sends to one room are ordered into a single chain', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs);
  await rs.send({ roomId: room, sender: B, type: 'm.room.member', stateKey: B, content: { membership: 'join' } });
  const sends = await Promise.all(
    Array.from({ length: 40 }, (_, i) => rs.send({ roomId: room, sender: i % 2 ? A : B, type: 'm.room.message', content: { body: `m${i}` } })),
  );
  assert.ok(sends.every((s) => s.status === 'accepted'));
  const evs = (await rs.query.event(sends.map((s) => s.event_id))).events;
  // each event's only prev is the one sent before it, depths strictly increase
  const byId = new Map(evs.map((e) => [e.event_id, e.event]));
  for (let i = 1; i < sends.length; i++) {
    const ev = byId.get(sends[i]!.event_id)!;
    assert.equal(ev.prev_events, [sends[i - 1]!.event_id]);
    assert.ok(Number(ev.depth) > Number(byId.get(sends[i - 1]!.event_id)!.depth));
  }
  assert.equal((await rs.query.latest(room)).latest_event_ids, [sends[39]!.event_id]);
  await rs.close();
});

test('many rooms in parallel', async () => {
  const rs = await openServer();
  const rooms = await Promise.all(Array.from({ length: 30 }, () => publicRoom(rs, '12')));
  const res = await Promise.all(
    rooms.flatMap((room) => Array.from({ length: 5 }, (_, i) => rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: `${i}` } }))),
  );
  assert.ok(res.every((r) => r.status === 'accepted'));
  for (const room of rooms) {
    const info = await rs.query.room(room);
    assert.is(info.forward_extremities.length, 1);
    assert.is(info.joined_members, 1);
  }
  await rs.close();
});

test('idempotent send: the same (sender, txn_id) returns the first result and sends nothing new', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs);
  const head = rs.outputHead();
  const a = await rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: 'x' }, txnId: 'txn1' });
  const b = await rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: 'x' }, txnId: 'txn1' });
  assert.equal(a, b);
  assert.is(rs.outputHead(), head + 1);
  const c = await rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: 'x' }, txnId: 'txn2' });
  assert.is.not(c.event_id, a.event_id);
  const outs = await collect(rs, { from: head }, 2);
  assert.is((outs[0] as NewRoomEventOutput).txn_id, 'txn1');
  await rs.close();
});

test('the same event queued twice is processed once and both callers get its outcome', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs);
  const latest = (await rs.query.latest(room)).latest_event_ids;
  const ev = await buildEvent(rs, room, { sender: A, type: 'm.room.message', content: { body: 'twice' }, prevEvents: latest });
  const head = rs.outputHead();
  const [r1, r2] = await Promise.all([rs.input([{ event: ev.pdu }]), rs.input([{ event: ev.pdu }])]);
  assert.equal(r1.results[0], { event_id: ev.id, status: 'accepted' });
  assert.equal(r2.results[0], { event_id: ev.id, status: 'accepted' });
  assert.is(rs.outputHead(), head + 1, 'one output');
  // once done, a later copy is a duplicate
  assert.equal((await rs.input([{ event: ev.pdu }])).results[0], { event_id: ev.id, status: 'duplicate', reason: 'accepted' });
  await rs.close();
});

test('an event not allowed by its auth events is rejected and stored as rejected', async () => {
  const rs = await openServer();
  const room = await rs.createRoom({ creator: A, roomVersion: '10', preset: 'private_chat' });
  const latest = (await rs.query.latest(room.room_id)).latest_event_ids;
  // bob never joined an invite-only room
  const ev = await buildEvent(rs, room.room_id, { sender: B, type: 'm.room.message', content: { body: 'hi' }, prevEvents: latest });
  const r = await rs.input([{ event: ev.pdu }]);
  assert.is(r.results[0]!.status, 'rejected');
  assert.match(r.results[0]!.reason!, /auth/);
  const q = await rs.query.event([ev.id]);
  assert.is(q.events[0]!.status, 'rejected');
  assert.equal((await rs.query.latest(room.room_id)).latest_event_ids, latest, 'rejected events never become extremities');
  // sending it again reports the stored outcome
  const again = await rs.input([{ event: ev.pdu }]);
  assert.equal(again.results[0], { event_id: ev.id, status: 'duplicate', reason: 'rejected' });
  await rs.close();
});

test('a fork is resolved by state resolution with the right adds and removes', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs, '10');
  const base = (await rs.query.latest(room)).latest_event_ids;
  const t0 = Date.now();
  const one = await buildEvent(rs, room, { sender: A, type: 'm.room.topic', stateKey: '', content: { topic: 'one' }, prevEvents: base, ts: t0 });
  const two = await buildEvent(rs, room, { sender: A, type: 'm.room.topic', stateKey: '', content: { topic: 'two' }, prevEvents: base, ts: t0 + 1000 });
  const head = rs.outputHead();
  assert.is((await rs.input([{ event: one.pdu }])).results[0]!.status, 'accepted');
  assert.is((await rs.input([{ event: two.pdu }])).results[0]!.status, 'accepted');
  const outs = (await collect(rs, { from: head }, 2)) as NewRoomEventOutput[];
  assert.equal(outs[0]!.adds_state_event_ids, [one.id]);
  // mainline ordering puts the later topic last: it wins
  assert.equal(outs[1]!.adds_state_event_ids, [two.id]);
  assert.equal(outs[1]!.removes_state_event_ids, [one.id]);
  assert.equal(new Set(outs[1]!.latest_event_ids), new Set([one.id, two.id]));
  const st = (await rs.query.state(room, { idsOnly: true })) as { state_ids: string[] };
  assert.ok(st.state_ids.includes(two.id) && !st.state_ids.includes(one.id));

  // a third branch with an older topic: resolution keeps "two", so the event changes nothing
  const old = await buildEvent(rs, room, { sender: A, type: 'm.room.topic', stateKey: '', content: { topic: 'old' }, prevEvents: base, ts: t0 - 1000 });
  const h2 = rs.outputHead();
  assert.is((await rs.input([{ event: old.pdu }])).results[0]!.status, 'accepted');
  const [o3] = (await collect(rs, { from: h2 }, 1)) as NewRoomEventOutput[];
  assert.equal(o3!.adds_state_event_ids, []);
  assert.equal(o3!.removes_state_event_ids, []);
  assert.is(o3!.latest_event_ids.length, 3);

  // a merge event referencing all extremities makes them one again
  const merge = await rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: 'merge' } });
  const mergeEv = (await rs.query.event([merge.event_id])).events[0]!.event;
  assert.equal(new Set(mergeEv.prev_events as string[]), new Set([one.id, two.id, old.id]));
  assert.equal((await rs.query.latest(room)).latest_event_ids, [merge.event_id]);
  await rs.close();
});

test('soft failure: a message from a user banned on another branch', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs, '10');
  await rs.send({ roomId: room, sender: B, type: 'm.room.member', stateKey: B, content: { membership: 'join' } });
  const base = (await rs.query.latest(room)).latest_event_ids;
  const ban = await rs.send({ roomId: room, sender: A, type: 'm.room.member', stateKey: B, content: { membership: 'ban' } });
  assert.is(ban.status, 'accepted');
  // bob's message references the state before the ban: allowed by its own state, not by the current one
  const msg = await buildEvent(rs, room, { sender: B, type: 'm.room.message', content: { body: 'sneaky' }, prevEvents: base });
  const head = rs.outputHead();
  const r = await rs.input([{ event: msg.pdu }]);
  assert.is(r.results[0]!.status, 'soft_failed');
  assert.is(rs.outputHead(), head, 'no output for a soft-failed event');
  assert.equal((await rs.query.latest(room)).latest_event_ids, [ban.event_id], 'never a forward extremity');
  assert.is((await rs.query.event([msg.id])).events[0]!.status, 'soft_failed');
  await rs.close();
});

test('a bad signature is rejected and nothing is stored', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs);
  const latest = (await rs.query.latest(room)).latest_event_ids;
  const ev = await buildEvent(rs, room, { sender: A, type: 'm.room.message', content: { body: 'x' }, prevEvents: latest });
  const sigs = ev.pdu.signatures as Record<string, Record<string, string>>;
  const keyId = Object.keys(sigs['a.test']!)[0]!;
  const sig = sigs['a.test']![keyId]!;
  sigs['a.test']![keyId] = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
  const r = await rs.input([{ event: ev.pdu }]);
  assert.equal(r.results[0], { event_id: ev.id, status: 'rejected', reason: 'bad_signature' });
  assert.equal((await rs.query.event([ev.id])).missing, [ev.id]);
  await rs.close();
});

test('events from an unknown server without keys are refused; with its key they are accepted', async () => {
  const a = await openServer('a.test');
  const b = await openServer('b.test');
  const room = await a.createRoom({ creator: A, roomVersion: '10', preset: 'public_chat' });
  const created = (await a.query.event(room.event_ids)).events.map((e) => e.event);
  const r1 = await b.input(created.map((event) => ({ event })));
  assert.is(r1.results[0]!.status, 'rejected');
  assert.is(r1.results[0]!.reason, 'bad_signature');
  introduce(a, b);
  const r2 = await b.input(created.map((event) => ({ event })));
  assert.equal(r2.results.map((x) => x.status), created.map(() => 'accepted'));
  await a.close();
  await b.close();
});

test('a chain given out of order is parked, then released in order', async () => {
  const a = await openServer('a.test');
  const b = await openServer('b.test');
  introduce(a, b);
  const room = await a.createRoom({ creator: A, roomVersion: '12', preset: 'public_chat' });
  const sent: string[] = [];
  for (let i = 0; i < 6; i++) sent.push((await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: `${i}` } })).event_id);
  const all = [...room.event_ids, ...sent];
  const pdus = (await a.query.event(all)).events.map((e) => e.event);
  // the create event first (the room must exist), then everything newest first
  const order = [pdus[0]!, ...pdus.slice(1).reverse()];
  const res = await b.input(order.map((event) => ({ event })));
  assert.ok(res.results.every((r) => r.status === 'accepted'), JSON.stringify(res.results));
  assert.equal((await b.query.latest(room.room_id)).latest_event_ids, [sent[5]]);
  const outs = (await collect(b, { from: 0 }, all.length)) as NewRoomEventOutput[];
  assert.equal(outs.map((o) => o.event_id), all, 'outputs in topological order');
  await a.close();
  await b.close();
});

test('outliers are stored without state; old events get state and an old_room_event output', async () => {
  const a = await openServer('a.test');
  const b = await openServer('b.test');
  introduce(a, b);
  const room = await a.createRoom({ creator: A, roomVersion: '11', preset: 'public_chat' });
  const m1 = await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: '1' } });
  const m2 = await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: '2' } });
  const base = (await a.query.event(room.event_ids)).events.map((e) => e.event);
  await b.input(base.map((event) => ({ event })));
  const [e1, e2] = (await a.query.event([m1.event_id, m2.event_id])).events.map((e) => e.event);
  // m2 as an outlier: stored, no state, no output, not an extremity
  const h = b.outputHead();
  const o = await b.input([{ event: e2!, kind: 'outlier' }]);
  assert.is(o.results[0]!.status, 'outlier');
  assert.is(b.outputHead(), h);
  const q = await b.query.event([m2.event_id]);
  assert.is(q.events[0]!.outlier, true);
  // m1 as old with the state before it: old_room_event, extremities unchanged
  const stateIds = ((await a.query.state(room.room_id, { eventId: m1.event_id, idsOnly: true })) as { state_ids: string[] }).state_ids;
  const before = (await b.query.latest(room.room_id)).latest_event_ids;
  const r = await b.input([{ event: e1!, kind: 'old', stateEventIds: stateIds }]);
  assert.is(r.results[0]!.status, 'accepted');
  const [out] = await collect(b, { from: h }, 1);
  assert.is(out!.type, 'old_room_event');
  assert.equal((await b.query.latest(room.room_id)).latest_event_ids, before);
  await a.close();
  await b.close();
});

test('joining a room we hold nothing of: state as outliers, then the join with state_event_ids', async () => {
  const a = await openServer('a.test');
  const b = await openServer('b.test');
  introduce(a, b);
  const room = await a.createRoom({ creator: A, roomVersion: '12', preset: 'public_chat', name: 'N' });
  const stateIds = ((await a.query.state(room.room_id, { idsOnly: true })) as { state_ids: string[] }).state_ids;
  const latest = (await a.query.latest(room.room_id)).latest_event_ids;
  const stateEvents = (await a.query.event(stateIds)).events.map((e) => e.event);
  const r0 = await b.input(stateEvents.map((event) => ({ event, kind: 'outlier' as const, roomVersion: '12' })));
  assert.ok(r0.results.every((r) => r.status === 'outlier'), JSON.stringify(r0.results));
  const m = await buildEvent(a, room.room_id, { sender: A, type: 'm.room.message', content: { body: 'first seen' }, prevEvents: latest });
  const h = b.outputHead();
  const r = await b.input([{ event: m.pdu, stateEventIds: stateIds }]);
  assert.is(r.results[0]!.status, 'accepted', JSON.stringify(r.results));
  assert.equal((await b.query.latest(room.room_id)).latest_event_ids, [m.id]);
  const info = await b.query.room(room.room_id);
  assert.is(info.state_events, stateIds.length);
  assert.is(info.joined_members, 1);
  const [out] = (await collect(b, { from: h }, 1)) as NewRoomEventOutput[];
  assert.equal(new Set(out!.adds_state_event_ids), new Set(stateIds));
  // and the room goes on from there
  assert.is((await a.input([{ event: m.pdu }])).results[0]!.status, 'accepted');
  await a.send({ roomId: room.room_id, sender: A, type: 'm.room.message', content: { body: 'next' } });
  const next = (await a.query.event((await a.query.latest(room.room_id)).latest_event_ids)).events[0]!.event;
  assert.is((await b.input([{ event: next }])).results[0]!.status, 'accepted');
  await a.close();
  await b.close();
});

test('redaction: the target is served redacted and a redacted_event output is written', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs, '11');
  const m = await rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: 'secret' } });
  const head = rs.outputHead();
  const red = await rs.send({ roomId: room, sender: A, type: 'm.room.redaction', content: { redacts: m.event_id } });
  assert.is(red.status, 'accepted');
  const outs = await collect(rs, { from: head }, 2);
  assert.equal(outs.map((o) => o.type), ['new_room_event', 'redacted_event']);
  const q = (await rs.query.event([m.event_id])).events[0]!;
  assert.is(q.redacted, true);
  assert.equal(q.event.content, {});
  await rs.close();
});

test('a state event stored redacted on arrival (its redaction came first) is used redacted by later auth checks', async () => {
  // v10: redacting power levels drops `invite`, so the invite level falls back to 0
  const rs = await openServer();
  const room = await publicRoom(rs, '10');
  assert.is((await rs.send({ roomId: room, sender: B, type: 'm.room.member', stateKey: B, content: { membership: 'join' } })).status, 'accepted');
  const latest = (await rs.query.latest(room)).latest_event_ids;
  const pl = await buildEvent(rs, room, {
    sender: A,
    type: 'm.room.power_levels',
    stateKey: '',
    content: { users: { [A]: 100 }, users_default: 0, events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50, invite: 100 },
    prevEvents: latest,
  });
  const redaction = await buildEvent(rs, room, { sender: A, type: 'm.room.redaction', content: { redacts: pl.id }, prevEvents: latest });
  assert.is((await rs.input([{ event: redaction.pdu }])).results[0]!.status, 'accepted');
  assert.is((await rs.input([{ event: pl.pdu }])).results[0]!.status, 'accepted');
  const stored = (await rs.query.event([pl.id])).events[0]!;
  assert.is(stored.redacted, true);
  assert.not.ok('invite' in (stored.event.content as object), 'stored without invite');
  // Bob (power 0) may invite now: the redacted power levels have no invite level
  const inv = await rs.send({ roomId: room, sender: B, type: 'm.room.member', stateKey: '@carol:a.test', content: { membership: 'invite' } });
  assert.is(inv.status, 'accepted', JSON.stringify(inv));
  await rs.close();
});

test('send: an event over the size limit is refused with M_TOO_LARGE and stores nothing; one just under is accepted', async () => {
  const logged: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logged.push(line) });
  const rs = await openServer('a.test', { logger });
  const room = await publicRoom(rs);
  const head = rs.outputHead();
  try {
    await rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: 'x'.repeat(66_000) } });
    assert.unreachable('expected M_TOO_LARGE');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'M_TOO_LARGE', String(e));
  }
  assert.is(rs.outputHead(), head, 'nothing was written');
  assert.not.ok(logged.some((l) => l.includes('room actor failed')), 'a refused request is not an actor failure');
  const ok = await rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { body: 'x'.repeat(64_000) } });
  assert.is(ok.status, 'accepted');
  await rs.close();
});

test('bad input changes nothing: malformed PDUs, unknown rooms, bad kinds', async () => {
  const rs = await openServer();
  const room = await publicRoom(rs);
  const head = rs.outputHead();
  const latest = (await rs.query.latest(room)).latest_event_ids;
  const good = await buildEvent(rs, room, { sender: A, type: 'm.room.message', content: { body: 'ok' }, prevEvents: latest });
  const cases: Array<[unknown, string]> = [
    [[{ event: { ...good.pdu, depth: 'deep' } }], 'M_BAD_JSON'],
    [[{ event: good.pdu, kind: 'sideways' }], 'M_INVALID_PARAM'],
    [[{ event: { ...good.pdu, room_id: '!nope:a.test' } }], 'M_INVALID_PARAM'],
    [[{ event: 'not an object' }], 'M_INVALID_PARAM'],
    [[{ event: good.pdu }, { event: { ...good.pdu, sender: 'bob' } }], 'M_BAD_JSON'],
    [[{ event: { ...good.pdu, content: { body: 'x'.repeat(70_000) } } }], 'M_TOO_LARGE'],
  ];
  for (const [events, code] of cases) {
    try {
      await rs.input(events as never);
      assert.unreachable(`expected ${code}`);
    } catch (e) {
      assert.is((e as { code?: string }).code, code, String(e));
    }
  }
  assert.is(rs.outputHead(), head);
  assert.equal((await rs.query.event([good.id])).missing, [good.id], 'the good event in a refused batch was not stored');
  await rs.close();
});

test('the membership index follows member events: joins, a profile change, a leave, a remote join', async () => {
  const a = await openServer('a.test');
  const b = await openServer('b.test');
  introduce(a, b);
  const room = await publicRoom(a, '10');
  const members = async () => {
    const store = (a as unknown as { adapter: { store: Store } }).adapter.store;
    const roomNid = await store.lookupNid(Ns.ROOM, room);
    const ms = await store.getMembers(roomNid!);
    const ids = await store.strs(Ns.EVENT, ms.map((m) => m.eventNid));
    return Object.fromEntries(ms.map((m, i) => [m.userId, [m.membership, ids[i]]]));
  };
  const bobJoin = await a.send({ roomId: room, sender: B, type: 'm.room.member', stateKey: B, content: { membership: 'join' } });
  const aliceName = await a.send({ roomId: room, sender: A, type: 'm.room.member', stateKey: A, content: { membership: 'join', displayname: 'Alice' } });
  assert.equal(await members(), { [A]: ['join', aliceName.event_id], [B]: ['join', bobJoin.event_id] });
  const bobLeave = await a.send({ roomId: room, sender: B, type: 'm.room.member', stateKey: B, content: { membership: 'leave' } });
  const latest = (await a.query.latest(room)).latest_event_ids;
  const carol = '@carol:b.test';
  // a join from b.test, built on a's view of the room and signed by b
  const asB = { query: a.query, serverName: b.serverName, signingKey: b.signingKey } as unknown as RoomServer;
  const remote = await buildEvent(asB, room, { sender: carol, type: 'm.room.member', stateKey: carol, content: { membership: 'join' }, prevEvents: latest });
  assert.is((await a.input([{ event: remote.pdu }])).results[0]!.status, 'accepted');
  assert.equal(await members(), { [A]: ['join', aliceName.event_id], [B]: ['leave', bobLeave.event_id], [carol]: ['join', remote.id] });
  await a.close();
  await b.close();
});

test('local sends are checked like any event: bad content changes nothing, sends the rules refuse are stored as rejected (v5, v10, v12)', async () => {
  const rs = await openServer();
  for (const version of ['5', '10', '12']) {
    const room = await publicRoom(rs, version);
    const head = rs.outputHead();
    const latest = (await rs.query.latest(room)).latest_event_ids;
    const code = async (p: Promise<unknown>) => p.then(() => 'accepted', (e: { code?: string }) => e.code);
    // non-canonical numbers: refused from v6 on, before anything is stored
    assert.is(await code(rs.send({ roomId: room, sender: A, type: 'm.room.message', content: { n: 1.5 } })), version === '5' ? 'accepted' : 'M_BAD_JSON', `v${version} float`);
    assert.is(await code(rs.send({ roomId: room, sender: A, type: 'x'.repeat(256), content: {} })), 'M_TOO_LARGE', `v${version} long type`);
    assert.is(await code(rs.send({ roomId: room, sender: A, type: 'm.room.topic', stateKey: 'k'.repeat(256), content: {} })), 'M_TOO_LARGE', `v${version} long state key`);
    if (version !== '5') {
      assert.is(rs.outputHead(), head, `v${version}: nothing written`);
      assert.equal((await rs.query.latest(room)).latest_event_ids, latest);
    }
    const before = (await rs.query.latest(room)).latest_event_ids;
    // bob has not joined: his message is stored as rejected and is no extremity
    const bob = await rs.send({ roomId: room, sender: B, type: 'm.room.message', content: { body: 'hi' } });
    assert.is(bob.status, 'rejected', `v${version} non-member`);
    assert.is((await rs.query.event([bob.event_id])).events[0]!.status, 'rejected');
    assert.equal((await rs.query.latest(room)).latest_event_ids, before);
    // bob joins, then changes the power levels without the power to
    const join = await rs.send({ roomId: room, sender: B, type: 'm.room.member', stateKey: B, content: { membership: 'join' } });
    assert.is(join.status, 'accepted');
    const pl = await rs.send({ roomId: room, sender: B, type: 'm.room.power_levels', stateKey: '', content: { users: { [B]: 100 } } });
    assert.is(pl.status, 'rejected', `v${version} power levels`);
    // the next send follows the join, not the rejected event, and is authorised by the state the join made
    const next = await rs.send({ roomId: room, sender: B, type: 'm.room.message', content: { body: 'now' } });
    assert.is(next.status, 'accepted');
    const ev = (await rs.query.event([next.event_id])).events[0]!;
    assert.equal((ev.event as { prev_events: unknown[] }).prev_events, [join.event_id]);
    assert.ok(((ev.event as { auth_events: string[] }).auth_events).includes(join.event_id), 'the join is among its auth events');
  }
  await rs.close();
});

test.after(() => cleanup());
test.run();
