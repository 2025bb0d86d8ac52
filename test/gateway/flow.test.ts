/**
 * Backpressure, subscriptions with flow control, heartbeats and shutdown of
 * the gateway, against the RoomServer test double.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { RoomServerError } from '../../src/errors.js';
import { registry } from '../../src/metrics.js';
import { RoomServerTestDouble } from './roomserver-double.js';
import { RawSocket, errorCode } from './raw-socket.js';

const logger = pino({ level: 'silent' });

async function setup(opts: Partial<GatewayOptions> = {}): Promise<{ rs: RoomServerTestDouble; gw: Gateway }> {
  const rs = new RoomServerTestDouble();
  const gw = await startGateway(rs, { host: '127.0.0.1', port: 0, logger, heartbeatMs: 0, ...opts });
  return { rs, gw };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

test('requests in flight pause reading at half the bound; all are answered once released', async () => {
  const { rs, gw } = await setup({ maxInFlightPerConnection: 8 });
  const sock = await RawSocket.open(gw.url);
  try {
    const release = rs.hold();
    for (let i = 0; i < 20; i++) {
      sock.sendJson({ id: i, op: 'latest', room_id: '!r:x' });
      await sleep(2); // separate TCP segments: reading can stop in between
    }
    await until(() => rs.active >= 4, 5000, 'four requests in flight');
    await sleep(100);
    // reading stopped once 4 (= 8 / 2) were in flight: the rest waits in the socket, not in memory
    assert.ok(rs.maxActive <= 8, `in flight ${rs.maxActive}`);
    assert.ok(rs.calls.length < 20, `calls ${rs.calls.length}`);
    assert.ok((await metricValue('roomserver_ws_read_pauses_total', { cause: 'in_flight' })) >= 1);
    release();
    for (let i = 0; i < 20; i++) assert.is((await sock.reply(i)).ok, true, `reply ${i}`);
    assert.is(rs.calls.length, 20);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('frames already read past the bound get M_LIMIT_EXCEEDED and reach nothing', async () => {
  const { rs, gw } = await setup({ maxInFlightPerConnection: 4 });
  const sock = await RawSocket.open(gw.url);
  try {
    const release = rs.hold();
    // one TCP write holding ten frames: the server reads them all at once
    const socket = (sock.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    for (let i = 0; i < 10; i++) sock.sendJson({ id: i, op: 'latest', room_id: '!r:x' });
    socket.uncork();
    const refused: number[] = [];
    for (let i = 4; i < 10; i++) {
      const r = await sock.reply(i);
      assert.is(errorCode(r), 'M_LIMIT_EXCEEDED');
      refused.push(i);
    }
    assert.is(rs.calls.length, 4);
    release();
    for (let i = 0; i < 4; i++) assert.is((await sock.reply(i)).ok, true);
    // and the connection works afterwards
    assert.is((await sock.call({ id: 'after', op: 'latest', room_id: '!r:x' })).ok, true);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('a RoomServer M_LIMIT_EXCEEDED is passed on and pauses reading for a moment', async () => {
  const { rs, gw } = await setup({ limitPauseMs: 300 });
  const sock = await RawSocket.open(gw.url);
  try {
    rs.failNext = new RoomServerError('M_LIMIT_EXCEEDED', 'room queue full');
    sock.sendJson({ id: 1, op: 'latest', room_id: '!r:x' });
    const r = await sock.reply(1);
    assert.equal(r.error, { code: 'M_LIMIT_EXCEEDED', message: 'room queue full' });
    const repliedAt = performance.now();
    sock.sendJson({ id: 2, op: 'latest', room_id: '!r:x' });
    assert.is((await sock.reply(2)).ok, true);
    const second = rs.calls[1]!;
    assert.ok(second.at - repliedAt >= 200, `read again after ${Math.round(second.at - repliedAt)} ms`);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('subscribe: reply first, then every output in order with op, subscription, pos, type; filters; unsubscribe stops', async () => {
  const { rs, gw } = await setup();
  const sock = await RawSocket.open(gw.url);
  try {
    rs.appendMany('!a:x', 3);
    rs.appendMany('!b:x', 2);
    sock.sendJson({ id: 1, op: 'subscribe', from: 0 });
    sock.sendJson({ id: 2, op: 'subscribe', rooms: ['!b:x'] });
    sock.sendPack({ id: 3, op: 'subscribe', from: 1, rooms: ['!a:x'] });
    const all = await sock.take();
    assert.is(all.msg.id, 1, 'the reply comes before any output');
    assert.is(all.msg.head, 5);
    const subAll = all.msg.subscription as string;
    const got: number[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await sock.take((x) => x.msg.op === 'output' && x.msg.subscription === subAll);
      assert.is(f.binary, false);
      assert.is(f.msg.type, 'new_room_event');
      assert.ok(f.msg.event && f.msg.room_id);
      got.push(f.msg.pos as number);
    }
    assert.equal(got, [1, 2, 3, 4, 5]);
    const onlyB = (await sock.reply(2)).subscription;
    const binA = (await sock.take((x) => x.msg.id === 3)).msg.subscription;
    const a2 = await sock.take((x) => x.msg.subscription === binA);
    assert.is(a2.binary, true, 'outputs use the subscribe request frame kind');
    assert.is(a2.msg.pos, 2);
    assert.is((await sock.take((x) => x.msg.subscription === binA)).msg.pos, 3);

    rs.appendMany('!b:x', 1);
    rs.appendMany('!a:x', 1);
    const fb = await sock.take((x) => x.msg.subscription === onlyB);
    assert.is(fb.msg.pos, 6);
    assert.is(fb.msg.room_id, '!b:x');
    assert.is((await sock.take((x) => x.msg.subscription === binA)).msg.pos, 7);
    await sock.take((x) => x.msg.subscription === subAll && x.msg.pos === 6);
    await sock.take((x) => x.msg.subscription === subAll && x.msg.pos === 7);

    const un = await sock.call({ id: 4, op: 'unsubscribe', subscription: subAll });
    assert.is(un.ok, true);
    assert.is(errorCode(await sock.call({ id: 5, op: 'unsubscribe', subscription: subAll })), 'M_NOT_FOUND');
    rs.appendMany('!b:x', 1);
    await sock.take((x) => x.msg.subscription === onlyB && x.msg.pos === 8);
    await sleep(50);
    assert.not.ok(sock.frames.some((f) => f.msg.subscription === subAll), 'nothing after unsubscribe');
    // a subscription the RoomServer refuses
    assert.is(errorCode(await sock.call({ id: 6, op: 'subscribe', from: 999 })), 'M_INVALID_PARAM');
  } finally {
    sock.close();
    await gw.close();
  }
});

test('a subscriber that stops reading holds the RoomServer back, not memory; others go on; it catches up in order', async () => {
  const { rs, gw } = await setup({ highWaterMark: 64 * 1024 });
  rs.filler = 'x'.repeat(32 * 1024); // ~32 KiB per output
  const slow = await RawSocket.open(gw.url);
  const fast = await RawSocket.open(gw.url);
  try {
    const TOTAL = 3000; // ~96 MiB of output frames
    rs.appendMany('!r:x', 1);
    const s = await slow.call({ id: 1, op: 'subscribe', from: 0 });
    assert.is(s.ok, true);
    await slow.take((f) => f.msg.op === 'output'); // flowing
    slow.ws.pause(); // the slow client stops reading its socket
    const pulledBefore = rs.pulled;
    await fast.call({ id: 1, op: 'subscribe' });
    let fastGot = 1;
    let fastLast = 1;
    fast.ws.on('message', () => undefined);
    const fastDone = (async () => {
      while (fastGot < TOTAL) {
        const f = await fast.take((x) => x.msg.op === 'output', 20_000);
        assert.is(f.msg.pos, fastLast + 1, 'fast subscriber sees positions in order');
        fastLast = f.msg.pos as number;
        fastGot++;
      }
    })();
    const appendAll = (async () => {
      for (let i = 1; i < TOTAL; ) {
        const n = Math.min(100, TOTAL - i);
        rs.appendMany('!r:x', n);
        i += n;
        await sleep(1);
      }
    })();
    await appendAll;
    await fastDone;
    // the slow subscriber's pump pulled only what the socket buffers hold
    const slowPulled = rs.pulled - pulledBefore - (TOTAL - 1); // minus the fast subscriber's pulls
    assert.ok(slowPulled < 600, `slow subscriber pulled ${slowPulled} of ${TOTAL} while not reading`);
    const lagMax = await metricValue('roomserver_subscriber_lag_max_positions', {});
    assert.ok(lagMax > 1000, `lag gauge ${lagMax}`);
    // it resumes and catches up from the log, in order, without gaps
    slow.ws.resume();
    let last = 1;
    while (last < TOTAL) {
      const f = await slow.take((x) => x.msg.op === 'output', 20_000);
      assert.is(f.msg.pos, last + 1);
      last = f.msg.pos as number;
    }
    assert.is(last, TOTAL);
  } finally {
    slow.close();
    fast.close();
    await gw.close();
  }
});

test('heartbeat drops a connection that stops answering pings and keeps one that answers', async () => {
  const { gw } = await setup({ heartbeatMs: 250 });
  const live = await RawSocket.open(gw.url);
  const dead = await RawSocket.open(gw.url, { autoPong: false });
  try {
    const code = await Promise.race([dead.closed(), sleep(5000).then(() => -1)]);
    assert.is(code, 1006, 'terminated without a close frame');
    await sleep(600);
    assert.ok(live.open);
    assert.is((await live.call({ id: 1, op: 'server_keys' })).ok, true);
    assert.is(gw.connectionCount, 1);
  } finally {
    live.close();
    await gw.close();
  }
});

test('a connection the server stopped reading (requests in flight) is not dropped for missing pongs', async () => {
  const { rs, gw } = await setup({ heartbeatMs: 100, maxInFlightPerConnection: 2 });
  const sock = await RawSocket.open(gw.url);
  let pings = 0;
  sock.ws.on('ping', () => pings++);
  try {
    const release = rs.hold();
    sock.sendJson({ id: 'held', op: 'latest', room_id: '!r:x' }); // one in flight: reading pauses (2 / 2)
    await until(() => rs.active === 1, 5000, 'request in flight');
    await sleep(800); // eight heartbeats whose pongs the server cannot read
    assert.ok(sock.open, 'still connected');
    assert.ok(pings >= 3, `the server kept pinging (${pings})`);
    release();
    assert.is((await sock.reply('held')).ok, true);
    assert.is((await sock.call({ id: 'next', op: 'latest', room_id: '!r:x' })).ok, true);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('close: in-flight requests finish and are answered, then sockets close 1001 and new connections are refused', async () => {
  const { rs, gw } = await setup();
  const sock = await RawSocket.open(gw.url);
  const subscriber = await RawSocket.open(gw.url);
  await subscriber.call({ id: 1, op: 'subscribe', from: 0 });
  const release = rs.hold();
  sock.sendJson({ id: 'slow', op: 'latest', room_id: '!r:x' });
  await until(() => rs.active === 1, 2000, 'request in flight');
  const closing = gw.close();
  await sleep(50);
  let refused = '';
  await RawSocket.open(gw.url).then((s) => s.close(), (e: Error) => (refused = e.message));
  assert.ok(refused.length > 0, 'no new connection while closing');
  assert.ok(sock.open, 'open while a request is in flight');
  release();
  const r = await sock.reply('slow');
  assert.is(r.ok, true);
  await closing;
  assert.is(await sock.closed(), 1001);
  assert.is(await subscriber.closed(), 1001);
});

test.run();
