/**
 * The gateway's protocol layer against the RoomServer test double: frame
 * kinds, replies, every error code, param naming, size limit, HTTP side.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { startGateway, type Gateway } from '../../src/gateway/gateway.js';
import { RoomServerError } from '../../src/errors.js';
import { RoomServerTestDouble } from './roomserver-double.js';
import { RawSocket, errorCode, packr } from './raw-socket.js';

const logger = pino({ level: 'silent' });

async function setup(opts: Partial<Parameters<typeof startGateway>[1]> = {}): Promise<{ rs: RoomServerTestDouble; gw: Gateway; sock: RawSocket }> {
  const rs = new RoomServerTestDouble();
  const gw = await startGateway(rs, { host: '127.0.0.1', port: 0, logger, heartbeatMs: 0, ...opts });
  const sock = await RawSocket.open(gw.url);
  return { rs, gw, sock };
}

test('JSON request gets a JSON text reply with id, ok and the result', async () => {
  const { rs, gw, sock } = await setup();
  try {
    const r = await sock.call({ id: 'a1', op: 'create_room', creator: '@alice:double.test', name: 'Hello' });
    assert.is(r.id, 'a1');
    assert.is(r.ok, true);
    assert.type(r.room_id, 'string');
    assert.is((r.event_ids as string[]).length, 6);
    assert.equal(rs.calls.find((c) => c.method === 'createRoom')!.args[0], { creator: '@alice:double.test', name: 'Hello' });
    const s = await sock.call({ id: 2, op: 'send', room_id: r.room_id, sender: '@alice:double.test', type: 'm.room.message', content: { body: 'hi' }, txn_id: 't1' });
    assert.is(s.id, 2);
    assert.is(s.ok, true);
    assert.is(s.status, 'accepted');
    assert.equal(rs.calls.find((c) => c.method === 'send')!.args[0], { roomId: r.room_id, sender: '@alice:double.test', type: 'm.room.message', content: { body: 'hi' }, txnId: 't1' });
    assert.ok(sock.frames.every((f) => !f.binary));
  } finally {
    sock.close();
    await gw.close();
  }
});

test('msgpack request gets a msgpack binary reply of the same shape', async () => {
  const { gw, sock } = await setup();
  try {
    sock.sendPack({ id: 7, op: 'create_room', creator: '@bob:double.test', room_version: '11', preset: 'public_chat' });
    const f = await sock.take((x) => x.msg.id === 7);
    assert.is(f.binary, true);
    assert.is(f.msg.ok, true);
    assert.type(f.msg.room_id, 'string');
    sock.sendPack({ id: 8, op: 'room', room_id: f.msg.room_id });
    const g = await sock.take((x) => x.msg.id === 8);
    assert.is(g.binary, true);
    assert.is(g.msg.room_version, '11');
    // an error reply is binary too
    sock.sendPack({ id: 9, op: 'nope' });
    const h = await sock.take((x) => x.msg.id === 9);
    assert.is(h.binary, true);
    assert.is(errorCode(h.msg), 'M_UNRECOGNIZED');
  } finally {
    sock.close();
    await gw.close();
  }
});

test('undecodable frames get id null and M_NOT_JSON; the connection stays open', async () => {
  const { rs, gw, sock } = await setup();
  try {
    sock.sendText('{"id": 1, "op": ');
    let f = await sock.take();
    assert.equal(f.msg, { id: null, ok: false, error: f.msg.error });
    assert.is(errorCode(f.msg), 'M_NOT_JSON');
    assert.is(f.binary, false);
    sock.sendText(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])); // invalid UTF-8 in a text frame
    f = await sock.take();
    assert.is(errorCode(f.msg), 'M_NOT_JSON');
    sock.sendBinary(Buffer.from([0x82, 0xa1])); // a map cut short
    f = await sock.take();
    assert.is(f.binary, true);
    assert.is(f.msg.id, null);
    assert.is(errorCode(f.msg), 'M_NOT_JSON');
    assert.ok(sock.open);
    const ok = await sock.call({ id: 'still', op: 'server_keys' });
    assert.is(ok.ok, true);
    assert.is(rs.calls.filter((c) => c.method !== 'query.serverKeys').length, 0);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('non-object JSON and non-JSON msgpack values get M_BAD_JSON', async () => {
  const { gw, sock } = await setup();
  try {
    for (const text of ['[1,2]', '42', '"op"', 'null', 'true']) {
      sock.sendText(text);
      const f = await sock.take();
      assert.is(f.msg.id, null, text);
      assert.is(errorCode(f.msg), 'M_BAD_JSON', text);
    }
    sock.sendBinary(packr.pack([1, 2]));
    assert.is(errorCode((await sock.take()).msg), 'M_BAD_JSON');
    // a map holding binary data is msgpack but not JSON
    sock.sendBinary(packr.pack({ id: 1, op: 'event', event_ids: [Buffer.from('x')] }));
    assert.is(errorCode((await sock.take()).msg), 'M_BAD_JSON');
    assert.ok(sock.open);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('unknown op is M_UNRECOGNIZED; missing or mistyped id and op are named', async () => {
  const { gw, sock } = await setup();
  try {
    let r = await sock.call({ id: 1, op: 'drop_tables' });
    assert.is(errorCode(r), 'M_UNRECOGNIZED');
    r = await sock.call({ id: 2, op: '__proto__' });
    assert.is(errorCode(r), 'M_UNRECOGNIZED');
    sock.sendJson({ op: 'latest', room_id: '!r:x' });
    let f = await sock.take();
    assert.is(f.msg.id, null);
    assert.is(errorCode(f.msg), 'M_MISSING_PARAM');
    assert.is((f.msg.error as { param: string }).param, 'id');
    sock.sendJson({ id: { x: 1 }, op: 'latest', room_id: '!r:x' });
    f = await sock.take();
    assert.is(errorCode(f.msg), 'M_INVALID_PARAM');
    assert.is((f.msg.error as { param: string }).param, 'id');
    r = await sock.call({ id: 3 });
    assert.is(errorCode(r), 'M_MISSING_PARAM');
    assert.is((r.error as { param: string }).param, 'op');
    r = await sock.call({ id: 4, op: 5 });
    assert.is(errorCode(r), 'M_INVALID_PARAM');
  } finally {
    sock.close();
    await gw.close();
  }
});

test('missing and mistyped params are named, nested ones by path, and reach nothing', async () => {
  const { rs, gw, sock } = await setup();
  try {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ op: 'send', sender: '@a:x', type: 't', content: {} }, 'M_MISSING_PARAM', 'room_id'],
      [{ op: 'send', room_id: '!r:x', sender: '@a:x', type: 't', content: 'nope' }, 'M_INVALID_PARAM', 'content'],
      [{ op: 'send', room_id: '!r:x', sender: '@a:x', type: 't', content: {}, state_key: 3 }, 'M_INVALID_PARAM', 'state_key'],
      [{ op: 'send', room_id: '!r:x', sender: '@a:x', type: 't', content: {}, txn_id: false }, 'M_INVALID_PARAM', 'txn_id'],
      [{ op: 'input' }, 'M_MISSING_PARAM', 'events'],
      [{ op: 'input', events: {} }, 'M_INVALID_PARAM', 'events'],
      [{ op: 'input', events: [{ event: {} }, {}] }, 'M_MISSING_PARAM', 'events[1].event'],
      [{ op: 'input', events: [{ event: {}, kind: 'weird' }] }, 'M_INVALID_PARAM', 'events[0].kind'],
      [{ op: 'input', events: [{ event: {}, state_event_ids: [1] }] }, 'M_INVALID_PARAM', 'events[0].state_event_ids'],
      [{ op: 'input', events: [{ event: {}, room_version: 12 }] }, 'M_INVALID_PARAM', 'events[0].room_version'],
      [{ op: 'input', events: [5] }, 'M_INVALID_PARAM', 'events[0]'],
      [{ op: 'input', events: [], async: 'yes' }, 'M_INVALID_PARAM', 'async'],
      [{ op: 'create_room' }, 'M_MISSING_PARAM', 'creator'],
      [{ op: 'create_room', creator: '@a:x', preset: 'party' }, 'M_INVALID_PARAM', 'preset'],
      [{ op: 'create_room', creator: '@a:x', initial_state: [{ type: 'm.room.topic' }] }, 'M_MISSING_PARAM', 'initial_state[0].content'],
      [{ op: 'subscribe', from: -1 }, 'M_INVALID_PARAM', 'from'],
      [{ op: 'subscribe', from: 1.5 }, 'M_INVALID_PARAM', 'from'],
      [{ op: 'subscribe', types: ['new_room_event', 'bogus'] }, 'M_INVALID_PARAM', 'types'],
      [{ op: 'subscribe', rooms: '!r:x' }, 'M_INVALID_PARAM', 'rooms'],
      [{ op: 'unsubscribe' }, 'M_MISSING_PARAM', 'subscription'],
      [{ op: 'event' }, 'M_MISSING_PARAM', 'event_ids'],
      [{ op: 'event', event_ids: ['$a', ''] }, 'M_INVALID_PARAM', 'event_ids'],
      [{ op: 'state' }, 'M_MISSING_PARAM', 'room_id'],
      [{ op: 'state', room_id: '!r:x', ids_only: 1 }, 'M_INVALID_PARAM', 'ids_only'],
      [{ op: 'state_ids', room_id: '!r:x' }, 'M_MISSING_PARAM', 'event_id'],
      [{ op: 'event_auth', event_id: '$e' }, 'M_MISSING_PARAM', 'room_id'],
      [{ op: 'missing_events', room_id: '!r:x' }, 'M_MISSING_PARAM', 'latest_events'],
      [{ op: 'missing_events', room_id: '!r:x', latest_events: ['$a'], limit: 'ten' }, 'M_INVALID_PARAM', 'limit'],
      [{ op: 'missing_events', room_id: '!r:x', latest_events: ['$a'], min_depth: -3 }, 'M_INVALID_PARAM', 'min_depth'],
      [{ op: 'latest' }, 'M_MISSING_PARAM', 'room_id'],
      [{ op: 'membership', room_id: '!r:x', user_id: 9 }, 'M_INVALID_PARAM', 'user_id'],
      [{ op: 'room', room_id: '' }, 'M_INVALID_PARAM', 'room_id'],
      [{ op: 'add_server_key', server_name: 'c.test', key_id: 'ed25519:k' }, 'M_MISSING_PARAM', 'public_key'],
      [{ op: 'add_server_key', server_name: 'c.test', key_id: 'rsa:k', public_key: 'AAAA' }, 'M_INVALID_PARAM', 'key_id'],
      [{ op: 'add_server_key', server_name: 'c.test', key_id: 'ed25519:k', public_key: 'AAAA' }, 'M_INVALID_PARAM', 'public_key'],
    ];
    let id = 100;
    for (const [req, code, param] of cases) {
      const r = await sock.call({ id: ++id, ...req });
      assert.is(r.ok, false, JSON.stringify(req));
      assert.is(errorCode(r), code, JSON.stringify(req));
      const err = r.error as { param: string; message: string };
      assert.is(err.param, param, JSON.stringify(req));
      assert.ok(err.message.includes(param), err.message);
    }
    // nothing reached the RoomServer
    assert.equal(rs.calls.map((c) => c.method), []);
    assert.is(rs.outputs.length, 0);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('params map from snake_case to the camelCase API', async () => {
  const { rs, gw, sock } = await setup();
  try {
    await sock.call({ id: 1, op: 'input', async: true, events: [{ event: { room_id: '!r:x', type: 'm.x' }, kind: 'outlier', room_version: '10', origin: 'o.test', state_event_ids: ['$s'] }] });
    assert.equal(rs.calls.at(-1)!.args, [[{ event: { room_id: '!r:x', type: 'm.x' }, kind: 'outlier', roomVersion: '10', origin: 'o.test', stateEventIds: ['$s'] }], { async: true }]);
    let r = await sock.call({ id: 2, op: 'input', events: [{ event: { event_id: '$known', room_id: '!r:x' } }] });
    assert.equal(r.results, [{ event_id: '$known', status: 'accepted' }]);
    r = await sock.call({ id: 3, op: 'input', events: [{ event: { event_id: '$known', room_id: '!r:x' } }] });
    assert.equal(r.results, [{ event_id: '$known', status: 'duplicate', reason: 'accepted' }]);
    await sock.call({ id: 4, op: 'state', room_id: '!r:x', event_id: '$e', ids_only: true });
    assert.equal(rs.calls.at(-1)!.args, ['!r:x', { eventId: '$e', idsOnly: true }]);
    await sock.call({ id: 5, op: 'missing_events', room_id: '!r:x', earliest_events: ['$a'], latest_events: ['$b'], limit: 5, min_depth: 2 });
    assert.equal(rs.calls.at(-1)!.args, [{ roomId: '!r:x', earliestEvents: ['$a'], latestEvents: ['$b'], limit: 5, minDepth: 2 }, {}]);
    await sock.call({ id: 6, op: 'membership', room_id: '!r:x', user_id: '@u:x' });
    assert.equal(rs.calls.at(-1)!.args, ['!r:x', '@u:x']);
    r = await sock.call({ id: 7, op: 'add_server_key', server_name: 'c.test', key_id: 'ed25519:k1', public_key: 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ', valid_until_ts: 123 });
    assert.is(r.ok, true);
    assert.equal(rs.calls.at(-1)!.args, ['c.test', 'ed25519:k1', 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ', 123]);
    r = await sock.call({ id: 8, op: 'create_room', creator: '@a:x', initial_state: [{ type: 'm.room.topic', content: { topic: 't' } }, { type: 'x.y', state_key: 'k', content: {} }] });
    assert.equal((rs.calls.at(-1)!.args[0] as { initialState: unknown }).initialState, [{ type: 'm.room.topic', content: { topic: 't' } }, { type: 'x.y', state_key: 'k', content: {} }]);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('RoomServer errors keep their code and reason; other errors are M_UNKNOWN with the request id', async () => {
  const { rs, gw, sock } = await setup();
  try {
    let r = await sock.call({ id: 1, op: 'room', room_id: '!nope:x' });
    assert.is(errorCode(r), 'M_NOT_FOUND');
    rs.failNext = new RoomServerError('M_UNSUPPORTED_ROOM_VERSION', 'room version 99 is not supported', 'room_version');
    r = await sock.call({ id: 2, op: 'create_room', creator: '@a:x', room_version: '99' });
    assert.equal(r.error, { code: 'M_UNSUPPORTED_ROOM_VERSION', message: 'room version 99 is not supported', reason: 'room_version' });
    rs.failNext = new TypeError('cannot read properties of undefined (secret internals)');
    r = await sock.call({ id: 'req-42', op: 'latest', room_id: '!r:x' });
    assert.is(errorCode(r), 'M_UNKNOWN');
    const msg = (r.error as { message: string }).message;
    assert.ok(msg.includes('req-42'), msg);
    assert.not.ok(msg.includes('secret'), 'internal details stay in the log');
    r = await sock.call({ id: 3, op: 'latest', room_id: '!r:x' });
    assert.is(r.ok, true);
    // a result that cannot be written as JSON still gets an answer
    (rs.query as { latest: unknown }).latest = async () => ({ latest_event_ids: [], depth: 10n });
    r = await sock.call({ id: 'enc', op: 'latest', room_id: '!r:x' });
    assert.is(errorCode(r), 'M_UNKNOWN');
    assert.match((r.error as { message: string }).message, /could not be encoded/);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('a frame over maxFrameBytes gets M_TOO_LARGE with its id and the connection stays open', async () => {
  const { rs, gw, sock } = await setup({ maxFrameBytes: 4096 });
  try {
    sock.sendJson({ id: 'big', op: 'input', events: [{ event: { content: { body: 'x'.repeat(6000) } } }] });
    let f = await sock.take();
    assert.is(f.msg.id, 'big');
    assert.is(errorCode(f.msg), 'M_TOO_LARGE');
    sock.sendPack({ id: 77, op: 'input', events: [{ event: { content: { body: 'x'.repeat(6000) } } }] });
    f = await sock.take();
    assert.is(f.binary, true);
    assert.is(f.msg.id, 77);
    assert.is(errorCode(f.msg), 'M_TOO_LARGE');
    sock.sendJson({ op: 'input', id: 'late-id', events: [{ event: { content: { body: 'x'.repeat(6000) } } }] });
    f = await sock.take();
    assert.is(f.msg.id, null, 'id not first: not read from a frame that is not decoded');
    assert.is(errorCode(f.msg), 'M_TOO_LARGE');
    assert.is(rs.calls.length, 0);
    const ok = await sock.call({ id: 'small', op: 'server_keys' });
    assert.is(ok.ok, true);
    // far beyond the hard bound: ws refuses to buffer it and closes with 1009
    sock.sendText('x'.repeat(4096 * 2 + 70 * 1024));
    const code = await sock.closed();
    assert.is(code, 1009);
  } finally {
    sock.close();
    await gw.close();
  }
});

test('HTTP: /health is JSON 200, /metrics is Prometheus text, other paths 404, upgrade elsewhere refused', async () => {
  const { rs, gw, sock } = await setup();
  try {
    const base = gw.url.replace('ws://', 'http://');
    rs.appendMany('!r:x', 3);
    const h = await fetch(`${base}health`);
    assert.is(h.status, 200);
    assert.match(h.headers.get('content-type') ?? '', /application\/json/);
    const body = (await h.json()) as Record<string, unknown>;
    assert.is(body.status, 'ok');
    assert.is(body.server_name, 'double.test');
    assert.is(body.output_head, 3);
    assert.is(body.connections, 1);
    await sock.call({ id: 1, op: 'latest', room_id: '!r:x' });
    const m = await fetch(`${base}metrics`);
    assert.is(m.status, 200);
    const text = await m.text();
    assert.match(text, /roomserver_ws_connections\{role="admin"\} [1-9]/);
    assert.match(text, /roomserver_ws_requests_total\{op="latest",code="ok"\} [1-9]/);
    assert.match(text, /process_cpu_user_seconds_total/);
    assert.is((await fetch(`${base}nope`)).status, 404);
    assert.is((await fetch(`${base}health`, { method: 'POST' })).status, 405);
    let refused = '';
    await RawSocket.open(`${gw.url}elsewhere`).catch((e: Error) => (refused = e.message));
    assert.is(refused, 'HTTP 404');
  } finally {
    sock.close();
    await gw.close();
  }
});

test.run();
