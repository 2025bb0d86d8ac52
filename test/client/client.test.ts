/**
 * The typed client against the gateway over a RoomServer test double:
 * methods and param mapping (JSON and msgpack), errors, subscriptions,
 * reconnect with exactly-once resumption, in-flight bound, timeouts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { RoomServerClient } from '../../src/client/client.js';
import { RoomServerError } from '../../src/errors.js';
import type { Output } from '../../src/api.js';
import { RoomServerTestDouble } from '../gateway/roomserver-double.js';
import { rejection } from '../helpers/rejection.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function gateway(rs: RoomServerTestDouble, opts: Partial<GatewayOptions> = {}): Promise<Gateway> {
  return startGateway(rs, { host: '127.0.0.1', port: 0, logger, heartbeatMs: 0, ...opts });
}

for (const binary of [false, true]) {
  test(`every op maps to the embedder API (${binary ? 'msgpack' : 'JSON'})`, async () => {
    const rs = new RoomServerTestDouble();
    const gw = await gateway(rs);
    const c = await RoomServerClient.connect(gw.url, { binary });
    try {
      const room = await c.createRoom({ creator: '@a:double.test', roomVersion: '10', preset: 'public_chat', name: 'N', topic: 'T', initialState: [{ type: 'x.y', state_key: 'k', content: { v: 1 } }] });
      assert.equal(rs.calls.at(-1)!.args[0], { creator: '@a:double.test', roomVersion: '10', preset: 'public_chat', name: 'N', topic: 'T', initialState: [{ type: 'x.y', state_key: 'k', content: { v: 1 } }] });
      assert.is(room.event_ids.length, 8);
      assert.equal(Object.keys(room).sort(), ['event_ids', 'room_id'], 'no envelope fields in results');

      const sent = await c.send({ roomId: room.room_id, sender: '@a:double.test', type: 'm.room.message', content: { body: 'hi' }, txnId: 't1' });
      assert.is(sent.status, 'accepted');
      const again = await c.send({ roomId: room.room_id, sender: '@a:double.test', type: 'm.room.message', content: { body: 'hi' }, txnId: 't1' });
      assert.equal(again, sent);
      await c.send({ roomId: room.room_id, sender: '@a:double.test', type: 'm.room.topic', stateKey: '', content: { topic: 'x' } });
      assert.equal(rs.calls.at(-1)!.args[0], { roomId: room.room_id, sender: '@a:double.test', type: 'm.room.topic', stateKey: '', content: { topic: 'x' } });

      const ir = await c.input([{ event: { event_id: '$in1', room_id: room.room_id, type: 'm.x' }, kind: 'old', roomVersion: '10', origin: 'o.test', stateEventIds: ['$s'] }]);
      assert.equal(ir, { results: [{ event_id: '$in1', status: 'accepted' }] });
      assert.equal(rs.calls.at(-1)!.args[0], [{ event: { event_id: '$in1', room_id: room.room_id, type: 'm.x' }, kind: 'old', roomVersion: '10', origin: 'o.test', stateEventIds: ['$s'] }]);
      const ar = await c.input([{ event: { event_id: '$in2', room_id: room.room_id } }], { async: true });
      assert.equal(ar, { queued: 1 });

      const ev = await c.query.event([sent.event_id, '$missing']);
      assert.is(ev.events[0]!.event_id, sent.event_id);
      assert.equal(ev.missing, ['$missing']);
      const st = await c.query.state(room.room_id, { idsOnly: true });
      assert.ok('state_ids' in st);
      await c.query.state(room.room_id, { eventId: sent.event_id });
      assert.equal(rs.calls.at(-1)!.args, [room.room_id, { eventId: sent.event_id }]);
      assert.equal(await c.query.stateIds(room.room_id, sent.event_id), { pdu_ids: [sent.event_id], auth_chain_ids: [] });
      assert.equal(await c.query.eventAuth(room.room_id, sent.event_id), { auth_chain: [] });
      await c.query.missingEvents({ roomId: room.room_id, earliestEvents: ['$a'], latestEvents: ['$b'], limit: 3, minDepth: 1 });
      assert.equal(rs.calls.at(-1)!.args[0], { roomId: room.room_id, earliestEvents: ['$a'], latestEvents: ['$b'], limit: 3, minDepth: 1 });
      assert.is((await c.query.serverKeys()).server_name, 'double.test');
      assert.equal(await c.query.latest(room.room_id), { latest_event_ids: [], depth: 0 });
      await c.query.membership(room.room_id, '@a:double.test');
      assert.equal(rs.calls.at(-1)!.args, [room.room_id, '@a:double.test']);
      await c.query.membership(room.room_id);
      assert.equal(rs.calls.at(-1)!.args, [room.room_id, undefined]);
      assert.is((await c.query.room(room.room_id)).room_version, '10');
      await c.addServerKey('c.test', 'ed25519:k', 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ', 5);
      assert.is(rs.keys.get('c.test ed25519:k'), 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ');
    } finally {
      await c.close();
      await gw.close();
    }
  });
}

test('error replies reject with RoomServerError carrying code, reason and param', async () => {
  const rs = new RoomServerTestDouble();
  const gw = await gateway(rs);
  const c = await RoomServerClient.connect(gw.url);
  try {
    let e = await rejection(c.query.room('!nope:x'));
    assert.is(e.code, 'M_NOT_FOUND');
    e = await rejection(c.send({ roomId: '', sender: '@a:x', type: 't', content: {} }));
    assert.is(e.code, 'M_INVALID_PARAM');
    assert.is((e as RoomServerError & { param?: string }).param, 'room_id');
    e = await rejection(c.request('frobnicate', {}));
    assert.is(e.code, 'M_UNRECOGNIZED');
    rs.failNext = new RoomServerError('M_UNSUPPORTED_ROOM_VERSION', 'no', 'room_version');
    e = await rejection(c.createRoom({ creator: '@a:x', roomVersion: '99' }));
    assert.is(e.code, 'M_UNSUPPORTED_ROOM_VERSION');
    assert.is(e.reason, 'room_version');
  } finally {
    await c.close();
    await gw.close();
  }
});

test('a request over the gateway frame limit rejects with M_TOO_LARGE (JSON and msgpack)', async () => {
  const rs = new RoomServerTestDouble();
  const gw = await gateway(rs, { maxFrameBytes: 2048 });
  try {
    for (const binary of [false, true]) {
      const c = await RoomServerClient.connect(gw.url, { binary });
      const e = await rejection(c.send({ roomId: '!r:x', sender: '@a:x', type: 'm.room.message', content: { body: 'x'.repeat(4096) } }));
      assert.is(e.code, 'M_TOO_LARGE');
      assert.is((await c.query.serverKeys()).server_name, 'double.test', 'the connection goes on');
      await c.close();
    }
    assert.is(rs.calls.filter((x) => x.method === 'send').length, 0);
  } finally {
    await gw.close();
  }
});

test('a refused token fails connect with M_FORBIDDEN; a good one works', async () => {
  const rs = new RoomServerTestDouble();
  const gw = await gateway(rs, { tokens: { 'good-token-123456': 'admin' } });
  try {
    const e = await rejection(RoomServerClient.connect(gw.url, { token: 'bad-token-123456' }));
    assert.is(e.code, 'M_FORBIDDEN');
    const c = await RoomServerClient.connect(gw.url, { token: 'good-token-123456' });
    assert.is((await c.query.serverKeys()).server_name, 'double.test');
    await c.close();
    const e2 = await rejection(RoomServerClient.connect('ws://127.0.0.1:1/'));
    assert.is(e2.reason, 'connect_failed');
  } finally {
    await gw.close();
  }
});

test('subscriptions: async iterator in order, callback form, break unsubscribes', async () => {
  const rs = new RoomServerTestDouble();
  const gw = await gateway(rs);
  const c = await RoomServerClient.connect(gw.url, { binary: true });
  try {
    rs.appendMany('!a:x', 5);
    const sub = await c.subscribe({ from: 2 });
    assert.is(sub.head, 5);
    const seen: number[] = [];
    for await (const o of sub) {
      seen.push(o.pos);
      assert.is(o.type, 'new_room_event');
      assert.not.ok('op' in o || 'subscription' in o, 'outputs come without frame fields');
      if (o.pos === 5) break;
    }
    assert.equal(seen, [3, 4, 5]);
    assert.ok(sub.ended);
    const viaCallback: Output[] = [];
    const cb = await c.subscribe({ rooms: ['!b:x'] }, (o) => viaCallback.push(o));
    rs.appendMany('!a:x', 1);
    rs.appendMany('!b:x', 2);
    const it = await c.subscribe({ types: ['new_room_event'] });
    rs.appendMany('!a:x', 1);
    const r = await it.next();
    assert.is(r.value!.pos, 9);
    const deadline = Date.now() + 2000;
    while (viaCallback.length < 2 && Date.now() < deadline) await sleep(5);
    assert.equal(viaCallback.map((o) => o.pos), [7, 8]);
    await cb.close();
    await it.close();
    assert.equal(await it.next(), { value: undefined, done: true });
    // the server has no subscription left for this client
    await sleep(20);
    assert.is(rs.calls.filter((x) => x.method === 'subscribe').length, 3);
  } finally {
    await c.close();
    await gw.close();
  }
});

test('reconnect: the subscription resumes from the last position; every output is seen exactly once', async () => {
  const rs = new RoomServerTestDouble();
  let gw = await gateway(rs);
  const port = gw.port;
  const c = await RoomServerClient.connect(gw.url, { reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
  try {
    const sub = await c.subscribe({ from: 0 });
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const o of sub) {
        seen.push(o.pos);
        if (o.pos === 300) break;
      }
    })();
    for (let round = 0; round < 3; round++) {
      rs.appendMany('!r:x', 50);
      await sleep(20);
      await gw.close(); // the connection drops; outputs keep coming to the log
      rs.appendMany('!r:x', 50);
      gw = await startGateway(rs, { host: '127.0.0.1', port, logger, heartbeatMs: 0 });
      const t = Date.now();
      while (c.reconnects < round + 1 && Date.now() - t < 5000) await sleep(10);
    }
    await consumer;
    assert.equal(seen, Array.from({ length: 300 }, (_, i) => i + 1));
    assert.is(c.reconnects, 3);
    // requests work on the new connection
    assert.is((await c.query.serverKeys()).server_name, 'double.test');
  } finally {
    await c.close();
    await gw.close();
  }
});

test('a lost connection fails requests on the wire (connection_lost); queued ones go out after reconnecting', async () => {
  const rs = new RoomServerTestDouble();
  let gw = await gateway(rs, { drainTimeoutMs: 50 });
  const port = gw.port;
  const c = await RoomServerClient.connect(gw.url, { reconnect: { minDelayMs: 20, maxDelayMs: 50 }, maxInFlight: 1 });
  try {
    const release = rs.hold();
    const onWire = c.query.latest('!r:x');
    const queued = c.query.serverKeys();
    await sleep(30);
    // the gateway gives up waiting for the in-flight request and drops the connection
    const closing = gw.close();
    const e = await rejection(onWire);
    assert.is(e.reason, 'connection_lost');
    release();
    await closing;
    gw = await startGateway(rs, { host: '127.0.0.1', port, logger, heartbeatMs: 0 });
    assert.is((await queued).server_name, 'double.test');
  } finally {
    await c.close();
    await gw.close();
  }
});

test('without reconnect, a lost connection ends subscriptions with an error and fails later calls', async () => {
  const rs = new RoomServerTestDouble();
  const gw = await gateway(rs);
  const c = await RoomServerClient.connect(gw.url);
  const sub = await c.subscribe();
  await gw.close();
  const e = await rejection(sub.next());
  assert.is(e.reason, 'connection_lost');
  assert.ok(c.closed);
  assert.is((await rejection(c.query.latest('!r:x'))).reason, 'client_closed');
});

test('maxInFlight bounds requests on the wire; timeouts reject with reason timeout', async () => {
  const rs = new RoomServerTestDouble();
  const gw = await gateway(rs);
  const c = await RoomServerClient.connect(gw.url, { maxInFlight: 3 });
  const t = await RoomServerClient.connect(gw.url, { requestTimeoutMs: 100 });
  try {
    const release = rs.hold();
    const all = Array.from({ length: 10 }, (_, i) => c.query.latest(`!r${i}:x`));
    const end = Date.now() + 5000;
    while (rs.active < 3 && Date.now() < end) await sleep(5);
    await sleep(100);
    assert.is(rs.active, 3, 'three on the wire, seven waiting in the client');
    assert.is(rs.maxActive, 3);
    const e = await rejection(t.query.latest('!slow:x'));
    assert.is(e.reason, 'timeout');
    release();
    assert.is((await Promise.all(all)).length, 10);
    assert.is(rs.calls.filter((x) => x.method === 'query.latest' && String(x.args[0]).startsWith('!r')).length, 10);
  } finally {
    await c.close();
    await t.close();
    await gw.close();
  }
});

test('close rejects pending requests with client_closed and ends iterators', async () => {
  const rs = new RoomServerTestDouble();
  const gw = await gateway(rs);
  const c = await RoomServerClient.connect(gw.url);
  try {
    const release = rs.hold();
    const sub = await c.subscribe();
    const pending = rejection(c.query.latest('!r:x'));
    const waiting = sub.next();
    await sleep(20);
    await c.close();
    assert.is((await pending).reason, 'client_closed');
    assert.equal(await waiting, { value: undefined, done: true });
    release();
  } finally {
    await gw.close();
  }
});

test('a consumer that stops taking outputs makes the client stop reading, then it catches up', async () => {
  const rs = new RoomServerTestDouble();
  rs.filler = 'y'.repeat(16 * 1024);
  const gw = await gateway(rs, { highWaterMark: 32 * 1024 });
  const c = await RoomServerClient.connect(gw.url, { subscriptionBuffer: 50 });
  try {
    const sub = await c.subscribe();
    rs.appendMany('!r:x', 2000);
    const end = Date.now() + 10_000;
    while (sub.buffered < 50 && Date.now() < end) await sleep(10);
    await sleep(300); // time for more to arrive, if reading had not stopped
    // the bound, plus what the last socket read already held (a 64 KiB read: a few 16 KiB frames)
    assert.ok(sub.buffered >= 50 && sub.buffered <= 50 + 8, `client buffered ${sub.buffered}`);
    assert.ok(rs.pulled < 2000, `server pulled ${rs.pulled}`);
    let last = 0;
    for await (const o of sub) {
      assert.is(o.pos, last + 1);
      last = o.pos;
      if (last === 2000) break;
    }
  } finally {
    await c.close();
    await gw.close();
  }
});

test.run();
