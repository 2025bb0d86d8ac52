/**
 * End to end over real sockets against the real RoomServer (src/server.ts):
 * every op in JSON and msgpack, both roles, resuming subscriptions, a slow
 * subscriber, and bad input that must leave the store unchanged.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoomServer } from '../../src/server.js';
import { RoomServerClient } from '../../src/client/client.js';
import { rootLogger } from '../../src/log.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import type { TokenConfig } from '../../src/gateway/auth.js';
import type { NewRoomEventOutput, Output } from '../../src/api.js';
import { RawSocket, errorCode, type Frame } from './raw-socket.js';
import { canonicalJson } from '../../src/matrix/canonical-json.js';
import { rejection } from '../helpers/rejection.js';

rootLogger.level = process.env.LOG_LEVEL ?? 'silent';

const ADMIN = 'e2e-admin-token-0001';
const PEER = 'e2e-peer-token-0001';
const dirs: string[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function server(name = 'a.test', tokens: TokenConfig | null = { [ADMIN]: 'admin', [PEER]: { role: 'peer', server: 'b.test' } }): Promise<{ rs: RoomServer; gw: Gateway; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-e2e-'));
  dirs.push(dir);
  const rs = await RoomServer.open({ dataDir: dir, serverName: name });
  const gw = await rs.listen({ host: '127.0.0.1', port: 0, heartbeatMs: 0, ...(tokens ? { tokens } : {}) });
  return { rs, gw, dir };
}

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const binary of [false, true]) {
  test(`every op against the real RoomServer (${binary ? 'msgpack' : 'JSON'})`, async () => {
    const { rs, gw } = await server();
    const other = await RoomServer.open({ dataDir: mkdtempSync(join(tmpdir(), 'rs-e2e-c-')), serverName: 'c.test' });
    const c = await RoomServerClient.connect(gw.url, { token: ADMIN, binary });
    try {
      const head0 = rs.outputHead();
      const sub = await c.subscribe({ from: head0 });
      const room = await c.createRoom({ creator: '@alice:a.test', preset: 'private_chat', name: 'E2E', topic: 'ops', initialState: [{ type: 'org.example.state', state_key: 'k', content: { v: 1 } }] });
      assert.match(room.room_id, /^!/);
      assert.is(room.event_ids.length, 8);
      const s1 = await c.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: 'hello' }, txnId: 'txn-1' });
      assert.is(s1.status, 'accepted');
      const s1again = await c.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: 'hello' }, txnId: 'txn-1' });
      assert.equal(s1again, s1, 'same (sender, txn_id): same result, nothing new');
      const s2 = await c.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.topic', stateKey: '', content: { topic: 'changed' } });

      // outputs: every event once, in order, with txn_id on the send
      const outs: Output[] = [];
      for await (const o of sub) {
        outs.push(o);
        if (outs.length === 10) break;
      }
      assert.equal(outs.map((o) => o.pos), Array.from({ length: 10 }, (_, i) => head0 + i + 1));
      // leaving the loop unsubscribed on the server
      for (let i = 0; i < 200 && rs.stats().subscriptions > 0; i++) await sleep(10);
      assert.is(rs.stats().subscriptions, 0);
      const msgOut = outs[8] as NewRoomEventOutput;
      assert.is(msgOut.type, 'new_room_event');
      assert.is(msgOut.event_id, s1.event_id);
      assert.is(msgOut.txn_id, 'txn-1');
      assert.ok(Array.isArray(msgOut.latest_event_ids));

      // queries
      const ev = await c.query.event([s1.event_id, '$nope']);
      assert.is(ev.events.length, 1);
      assert.is((ev.events[0]!.event.content as { body: string }).body, 'hello');
      assert.equal(ev.missing, ['$nope']);
      const state = await c.query.state(room.room_id);
      assert.ok('state' in state && state.state.some((e) => e.type === 'm.room.topic' && (e.content as { topic: string }).topic === 'changed'));
      const before = await c.query.state(room.room_id, { eventId: s2.event_id, idsOnly: true });
      assert.ok('state_ids' in before && before.state_ids.length === 8, 'state before the topic change');
      const sids = await c.query.stateIds(room.room_id, s2.event_id);
      assert.is(sids.pdu_ids.length, 8);
      assert.ok(sids.auth_chain_ids.length >= 1);
      const auth = await c.query.eventAuth(room.room_id, s2.event_id);
      assert.ok(auth.auth_chain.some((e) => e.type === 'm.room.power_levels'));
      const missing = await c.query.missingEvents({ roomId: room.room_id, earliestEvents: [room.event_ids[7]!], latestEvents: [s2.event_id], limit: 10 });
      assert.equal(missing.events.map((e) => e.type), ['m.room.message']);
      const keys = await c.query.serverKeys();
      assert.is(keys.server_name, 'a.test');
      assert.ok(Object.keys(keys.verify_keys as object).length === 1);
      const latest = await c.query.latest(room.room_id);
      assert.equal(latest.latest_event_ids, [s2.event_id]);
      assert.is(latest.depth, 10);
      const members = await c.query.membership(room.room_id);
      assert.equal(members.members.map((m) => [m.user_id, m.membership]), [['@alice:a.test', 'join']]);
      assert.equal((await c.query.membership(room.room_id, '@alice:a.test')).members.length, 1);
      const info = await c.query.room(room.room_id);
      assert.is(info.room_version, '12');
      assert.equal(info.creators, ['@alice:a.test']);
      assert.is(info.joined_members, 1);
      assert.equal(info.forward_extremities, [s2.event_id]);
      assert.is((await rejection(c.query.room('!unknown:a.test'))).code, 'M_NOT_FOUND');

      // input: a room from another server, refused until its key is added with add_server_key
      const theirs = await other.createRoom({ creator: '@carol:c.test', roomVersion: '10' });
      const pdus = (await other.query.event(theirs.event_ids)).events.map((e) => ({ event: e.event }));
      const refused = await c.input(pdus.slice(0, 1));
      assert.is(refused.results[0]!.status, 'rejected');
      await c.addServerKey('c.test', other.signingKey.keyId, other.signingKey.publicKeyBase64);
      const accepted = await c.input(pdus.slice(0, 1));
      assert.equal(accepted.results.map((r) => r.status), ['accepted']);
      const queued = await c.input(pdus.slice(1), { async: true });
      assert.equal(queued, { queued: pdus.length - 1 });
      const deadline = Date.now() + 10_000;
      while ((await c.query.latest(theirs.room_id)).depth < pdus.length && Date.now() < deadline) await sleep(20);
      assert.equal((await c.query.latest(theirs.room_id)).latest_event_ids, [theirs.event_ids.at(-1)]);
      const dup = await c.input(pdus.slice(0, 1));
      assert.is(dup.results[0]!.status, 'duplicate');
    } finally {
      await c.close();
      await other.close();
      await rs.close();
    }
  });
}

test('output frames: JSON (the event spliced in as its stored text), msgpack and the embedded output agree', async () => {
  const { rs, gw } = await server('a.test', null);
  const json = await RawSocket.open(gw.url);
  const pack = await RawSocket.open(gw.url);
  try {
    const head = rs.outputHead();
    const embedded: Output[] = [];
    const sub = rs.subscribe({ from: head }, (o) => void embedded.push(o));
    const s1 = await json.call({ id: 's', op: 'subscribe', from: head });
    pack.sendPack({ id: 's', op: 'subscribe', from: head });
    const s2 = (await pack.take((f) => f.msg.id === 's')).msg;
    const room = await rs.createRoom({ creator: '@alice:a.test', preset: 'public_chat' });
    // unicode, escapes and nesting: the canonical text differs from JSON.stringify of the object
    const content = { msgtype: 'm.text', body: 'h\u00e9llo "q" \\ \u2028 \ud83d\ude00', nested: { z: 1, a: [true, null, -3] } };
    const sent = await rs.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content, txnId: 't-frame' });
    const n = room.event_ids.length + 1;
    const texts: Frame[] = [];
    const packs: Frame[] = [];
    for (let i = 0; i < n; i++) texts.push(await json.take((f) => f.msg.op === 'output'));
    for (let i = 0; i < n; i++) packs.push(await pack.take((f) => f.msg.op === 'output'));
    for (let i = 0; i < 100 && embedded.length < n; i++) await sleep(10);
    assert.is(embedded.length, n);
    const stored = await rs.query.event([sent.event_id]);
    for (let i = 0; i < n; i++) {
      const { subscription: a, op: _1, ...fromText } = texts[i]!.msg;
      const { subscription: b, op: _2, ...fromPack } = packs[i]!.msg;
      assert.is(a, s1.subscription);
      assert.is(b, s2.subscription);
      assert.equal(fromText, { ...embedded[i] }, `output ${i}: JSON frame = embedded output`);
      assert.equal(fromPack, { ...embedded[i] }, `output ${i}: msgpack frame = embedded output`);
    }
    const last = texts[n - 1]!;
    assert.is(last.msg.event_id, sent.event_id);
    assert.is(last.msg.txn_id, 't-frame');
    assert.equal((last.msg.event as { content: unknown }).content, content);
    assert.equal(last.msg.event, stored.events[0]!.event);
    // the event went into the frame as the canonical text the store holds
    assert.ok(last.text!.includes(`"event":${canonicalJson(stored.events[0]!.event)}`), last.text);
    sub.close();
  } finally {
    json.close();
    pack.close();
    await rs.close();
  }
});

test('roles: a peer token is refused admin ops; peer queries are filtered for its server', async () => {
  const { rs, gw } = await server();
  const admin = await RoomServerClient.connect(gw.url, { token: ADMIN });
  const peer = await RoomServerClient.connect(gw.url, { token: PEER, binary: true });
  try {
    const hidden = await admin.createRoom({ creator: '@alice:a.test', preset: 'private_chat' });
    const open = await admin.createRoom({ creator: '@alice:a.test', preset: 'public_chat', initialState: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }] });
    const msgHidden = await admin.send({ roomId: hidden.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: 'secret' } });
    const msgOpen = await admin.send({ roomId: open.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: 'public' } });
    const head = rs.outputHead();
    for (const call of [
      () => peer.send({ roomId: open.room_id, sender: '@alice:a.test', type: 'm.room.message', content: {} }),
      () => peer.createRoom({ creator: '@b:b.test' }),
      () => peer.input([]),
      () => peer.subscribe({ from: 0 }),
      () => peer.query.state(open.room_id),
      () => peer.query.latest(open.room_id),
      () => peer.query.membership(open.room_id),
      () => peer.query.room(open.room_id),
      () => peer.addServerKey('x.test', 'ed25519:k', 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ'),
    ]) {
      assert.is((await rejection(call())).code, 'M_FORBIDDEN');
    }
    assert.is(rs.outputHead(), head, 'nothing was written');
    assert.is((await peer.query.serverKeys()).server_name, 'a.test');
    const seen = await peer.query.event([msgOpen.event_id, msgHidden.event_id]);
    assert.equal(seen.events.map((e) => e.event_id), [msgOpen.event_id]);
    assert.equal(seen.missing, [msgHidden.event_id], 'b.test has no member in the private room');
    assert.is((await rejection(peer.query.stateIds(hidden.room_id, msgHidden.event_id))).code, 'M_FORBIDDEN');
    assert.ok((await peer.query.eventAuth(open.room_id, msgOpen.event_id)).auth_chain.length > 0);
    // the admin sees both
    assert.is((await admin.query.event([msgOpen.event_id, msgHidden.event_id])).events.length, 2);
  } finally {
    await admin.close();
    await peer.close();
    await rs.close();
  }
});

test('a subscriber resuming after reconnects sees every output exactly once', async () => {
  const { rs, gw } = await server('a.test', null);
  const port = gw.port;
  const room = await rs.createRoom({ creator: '@alice:a.test' });
  const c = await RoomServerClient.connect(gw.url, { reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
  const start = rs.outputHead();
  const sub = await c.subscribe({ rooms: [room.room_id] });
  const TOTAL = 150;
  const got: number[] = [];
  const bodies: string[] = [];
  const consumer = (async () => {
    for await (const o of sub) {
      got.push(o.pos);
      bodies.push(((o as NewRoomEventOutput).event.content as { body: string }).body);
      if (bodies.length === TOTAL) break;
    }
  })();
  let gateway = gw;
  let sent = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 25; i++) await rs.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: `m${sent++}` } });
    await gateway.close();
    // the connection is gone; the room goes on
    for (let i = 0; i < 25; i++) await rs.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: `m${sent++}` } });
    gateway = await rs.listen({ host: '127.0.0.1', port, heartbeatMs: 0 });
    const t = Date.now();
    while (c.reconnects <= round && Date.now() - t < 5000) await sleep(10);
  }
  await consumer;
  assert.is(c.reconnects, 3);
  assert.equal(bodies, Array.from({ length: TOTAL }, (_, i) => `m${i}`), 'every message once, in order');
  assert.equal(got, Array.from({ length: TOTAL }, (_, i) => start + i + 1));
  await c.close();
  await rs.close();
});

test('a slow subscriber does not stall other subscribers or senders, and catches up from the log', async () => {
  const { rs, gw } = await server('a.test', null);
  const room = await rs.createRoom({ creator: '@alice:a.test' });
  const filler = 'z'.repeat(8 * 1024);
  const slow = await RawSocket.open(gw.url);
  const fast = await RoomServerClient.connect(gw.url);
  const sender = await RoomServerClient.connect(gw.url, { binary: true });
  try {
    const start = rs.outputHead();
    const s = await slow.call({ id: 1, op: 'subscribe', rooms: [room.room_id] });
    assert.is(s.ok, true);
    slow.ws.pause(); // stops reading: its socket buffers fill
    const fastSub = await fast.subscribe({ rooms: [room.room_id] });
    const N = 1200; // ~10 MiB of outputs: more than the socket buffers hold
    const fastSeen: number[] = [];
    const fastDone = (async () => {
      for await (const o of fastSub) {
        fastSeen.push(o.pos);
        if (fastSeen.length === N) break;
      }
    })();
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => sender.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: `${i + j}`, filler }, txnId: `t${i + j}` })));
    }
    await fastDone;
    assert.is(fastSeen.length, N);
    assert.equal(fastSeen, [...fastSeen].sort((a, b) => a - b));
    assert.is(slow.frames.filter((f) => f.msg.op === 'output').length, 0, 'the slow one read nothing yet');
    slow.ws.resume();
    const slowSeen: number[] = [];
    while (slowSeen.length < N) {
      const f = await slow.take((x) => x.msg.op === 'output', 20_000);
      slowSeen.push(f.msg.pos as number);
    }
    assert.equal(slowSeen, fastSeen, 'the same outputs in the same order');
    assert.is(slowSeen[0], start + 1);
  } finally {
    slow.close();
    await fast.close();
    await sender.close();
    await rs.close();
  }
});

test('bad input of every kind gets its code and leaves the store unchanged', async () => {
  const { rs, gw } = await server('a.test', null);
  const c = await RoomServerClient.connect(gw.url);
  const sock = await RawSocket.open(gw.url);
  try {
    const room = await c.createRoom({ creator: '@alice:a.test' });
    const msg = await c.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: 'x' } });
    const pdu = (await c.query.event([msg.event_id])).events[0]!.event;
    const head = rs.outputHead();
    const latest = await c.query.latest(room.room_id);
    const stateBefore = await c.query.state(room.room_id, { idsOnly: true });

    const frames: Array<[string | Buffer, boolean, string]> = [
      ['{"id":1,', false, 'M_NOT_JSON'],
      [Buffer.from([0xc0, 0xff, 0xfe]), false, 'M_NOT_JSON'],
      [Buffer.from([0x82, 0xa2]), true, 'M_NOT_JSON'],
      ['[{"id":1,"op":"send"}]', false, 'M_BAD_JSON'],
    ];
    for (const [data, binary, code] of frames) {
      if (binary) sock.sendBinary(data as Buffer);
      else sock.sendText(data);
      const f = await sock.take();
      assert.is(f.msg.id, null);
      assert.is(errorCode(f.msg), code, String(data));
    }
    const requests: Array<[Record<string, unknown>, string]> = [
      [{ op: 'no_such_op' }, 'M_UNRECOGNIZED'],
      [{ op: 'send', room_id: room.room_id, sender: '@alice:a.test', type: 'm.room.message' }, 'M_MISSING_PARAM'],
      [{ op: 'send', room_id: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: [] }, 'M_INVALID_PARAM'],
      [{ op: 'send', room_id: '!nowhere:a.test', sender: '@alice:a.test', type: 'm.room.message', content: {} }, 'M_NOT_FOUND'],
      [{ op: 'create_room', creator: '@alice:a.test', room_version: '99' }, 'M_UNSUPPORTED_ROOM_VERSION'],
      [{ op: 'create_room', creator: '@mallory:elsewhere.test' }, 'M_INVALID_PARAM'],
      [{ op: 'input', events: [{ event: { ...pdu, content: 'not an object' } }] }, 'M_BAD_JSON'],
      [{ op: 'input', events: [{ event: { type: 'm.room.message', room_id: '!unknown:x.test' } }] }, 'M_INVALID_PARAM'],
      [{ op: 'input', events: [{ event: pdu, kind: 'sideways' }] }, 'M_INVALID_PARAM'],
      [{ op: 'input', events: [{ event: pdu }, { event: { ...pdu, depth: 'deep' } }] }, 'M_BAD_JSON'],
      [{ op: 'state', room_id: room.room_id, event_id: '$not-here' }, 'M_NOT_FOUND'],
      [{ op: 'add_server_key', server_name: 'c.test', key_id: 'ed25519:1', public_key: 'short' }, 'M_INVALID_PARAM'],
      [{ op: 'subscribe', from: head + 1000 }, 'M_INVALID_PARAM'],
    ];
    let id = 10;
    for (const [req, code] of requests) {
      const r = await sock.call({ id: ++id, ...req });
      assert.is(r.ok, false, JSON.stringify(req));
      assert.is(errorCode(r), code, JSON.stringify(req).slice(0, 200));
    }
    assert.ok(sock.open, 'the connection survived all of it');
    assert.is(rs.outputHead(), head, 'no output was written');
    assert.equal(await c.query.latest(room.room_id), latest);
    assert.equal(await c.query.state(room.room_id, { idsOnly: true }), stateBefore);
  } finally {
    sock.close();
    await c.close();
    await rs.close();
  }
});

test('a frame over maxFrameBytes is refused with M_TOO_LARGE and changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-e2e-'));
  dirs.push(dir);
  const rs = await RoomServer.open({ dataDir: dir, serverName: 'a.test' });
  const gw = await rs.listen({ host: '127.0.0.1', port: 0, heartbeatMs: 0, maxFrameBytes: 64 * 1024 });
  const sock = await RawSocket.open(gw.url);
  try {
    const room = await sock.call({ id: 1, op: 'create_room', creator: '@alice:a.test' });
    const head = rs.outputHead();
    const r = await sock.call({ id: 2, op: 'send', room_id: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: 'x'.repeat(100 * 1024) } });
    assert.is(errorCode(r), 'M_TOO_LARGE');
    assert.is(rs.outputHead(), head);
    assert.is((await sock.call({ id: 3, op: 'send', room_id: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: 'small' } })).status, 'accepted');
  } finally {
    sock.close();
    await rs.close();
  }
});

test.run();
