/**
 * WsPeerFetcher against a gateway over the RoomServer test double: peer
 * ops with the peer's token, time limit, per-server backoff, never asking
 * ourselves.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { startGateway, type Gateway } from '../../src/gateway/gateway.js';
import { WsPeerFetcher } from '../../src/client/peer-link.js';
import { RoomServerError } from '../../src/errors.js';
import { RoomServerTestDouble } from '../gateway/roomserver-double.js';
import { rejection } from '../helpers/rejection.js';

const logger = pino({ level: 'silent' });
const TOKEN = 'token-that-a-gave-b';

async function peerServer(): Promise<{ rs: RoomServerTestDouble; gw: Gateway }> {
  const rs = new RoomServerTestDouble('a.test');
  const gw = await startGateway(rs, { host: '127.0.0.1', port: 0, logger, heartbeatMs: 0, tokens: { [TOKEN]: { role: 'peer', server: 'b.test' } } });
  return { rs, gw };
}

test('every PeerFetcher method uses the peer ops and the peer token', async () => {
  const { rs, gw } = await peerServer();
  const room = await rs.createRoom({ creator: '@a:a.test' });
  const f = new WsPeerFetcher({ serverName: 'b.test', peers: { 'a.test': { url: gw.url, token: TOKEN } }, logger });
  try {
    assert.equal(f.knownServers(), ['a.test']);
    const [first, second] = room.event_ids;
    const evs = await f.events('a.test', [first!, '$nope']);
    assert.equal(evs.map((e) => e.event_id), [first]);
    assert.equal(rs.calls.at(-1)!.args, [[first, '$nope'], { asServer: 'b.test' }]);
    assert.equal(await f.events('a.test', []), []);
    assert.equal(await f.stateIds('a.test', room.room_id, second!), { pdu_ids: [second], auth_chain_ids: [] });
    assert.equal(await f.eventAuth('a.test', room.room_id, second!), []);
    const missing = await f.missingEvents('a.test', { roomId: room.room_id, earliestEvents: [first!], latestEvents: [second!], limit: 2 });
    assert.is(missing.length, 2);
    assert.equal(rs.calls.at(-1)!.args, [{ roomId: room.room_id, earliestEvents: [first], latestEvents: [second], limit: 2 }, { asServer: 'b.test' }]);
    assert.is((await f.serverKeys('a.test')).server_name, 'a.test');
    assert.is(gw.connectionCount, 1, 'one connection reused for every call');
  } finally {
    await f.close();
    await gw.close();
  }
});

test('never asks its own server name, and an unknown server is M_NOT_FOUND', async () => {
  const { rs, gw } = await peerServer();
  const f = new WsPeerFetcher({ serverName: 'b.test', peers: { 'a.test': { url: gw.url, token: TOKEN }, 'b.test': { url: gw.url, token: TOKEN } }, logger });
  try {
    assert.equal(f.knownServers(), ['a.test']);
    const e = await rejection(f.serverKeys('b.test'));
    assert.is(e.reason, 'self');
    assert.is((await rejection(f.serverKeys('c.test'))).code, 'M_NOT_FOUND');
    assert.is(rs.calls.length, 0);
    assert.is(gw.connectionCount, 0);
  } finally {
    await f.close();
    await gw.close();
  }
});

test('a call over its time limit fails, and the server is then skipped with doubling backoff until it expires', async () => {
  const { rs, gw } = await peerServer();
  let now = 1_000_000;
  const f = new WsPeerFetcher({ serverName: 'b.test', peers: { 'a.test': { url: gw.url, token: TOKEN } }, logger, timeoutMs: 150, minBackoffMs: 1000, maxBackoffMs: 3000, now: () => now });
  try {
    const release = rs.hold();
    const t0 = performance.now();
    const e = await rejection(f.serverKeys('a.test'));
    assert.is(e.reason, 'timeout');
    assert.ok(performance.now() - t0 < 2000);
    release();
    const calls = rs.calls.length;
    assert.is(f.backoffRemaining('a.test'), 1000);
    const skipped = await rejection(f.serverKeys('a.test'));
    assert.is(skipped.reason, 'peer_backoff');
    assert.is(rs.calls.length, calls, 'skipped without asking');
    now += 1000;
    // second failure in a row doubles the backoff
    rs.failNext = new RoomServerError('M_LIMIT_EXCEEDED', 'busy');
    assert.is((await rejection(f.serverKeys('a.test'))).code, 'M_LIMIT_EXCEEDED');
    assert.is(f.backoffRemaining('a.test'), 2000);
    now += 2000;
    rs.failNext = new Error('bug');
    assert.is((await rejection(f.serverKeys('a.test'))).code, 'M_UNKNOWN');
    assert.is(f.backoffRemaining('a.test'), 3000, 'capped at maxBackoffMs');
    now += 3000;
    // success resets it
    assert.is((await f.serverKeys('a.test')).server_name, 'a.test');
    assert.is(f.backoffRemaining('a.test'), 0);
    // an answer like M_NOT_FOUND says the peer is fine: no backoff
    assert.is((await rejection(f.stateIds('a.test', '!r:a.test', '$unknown'))).code, 'M_NOT_FOUND');
    assert.is(f.backoffRemaining('a.test'), 0);
    rs.failNext = new RoomServerError('M_FORBIDDEN', 'b.test may not see $x');
    assert.is((await rejection(f.events('a.test', ['$x']))).code, 'M_FORBIDDEN');
    assert.is(f.backoffRemaining('a.test'), 0, 'a refusal of one request is an answer, not a failure');
  } finally {
    await f.close();
    await gw.close();
  }
});

test('an unreachable peer fails fast with connect_failed and backs off; a refused token too', async () => {
  const { gw } = await peerServer();
  let now = 5_000;
  const f = new WsPeerFetcher({ serverName: 'b.test', peers: { 'down.test': { url: 'ws://127.0.0.1:1/' }, 'a.test': { url: gw.url, token: 'wrong-token-xxxxx' } }, logger, timeoutMs: 2000, now: () => now });
  try {
    const e = await rejection(f.events('down.test', ['$x']));
    assert.is(e.reason, 'connect_failed');
    assert.ok(f.backoffRemaining('down.test') > 0);
    const forbidden = await rejection(f.serverKeys('a.test'));
    assert.is(forbidden.code, 'M_FORBIDDEN');
    assert.ok(f.backoffRemaining('a.test') > 0);
  } finally {
    await f.close();
    await gw.close();
  }
});

test('after the peer restarts, the next call reconnects', async () => {
  const { rs, gw } = await peerServer();
  const port = gw.port;
  let now = 0;
  const f = new WsPeerFetcher({ serverName: 'b.test', peers: { 'a.test': { url: gw.url, token: TOKEN } }, logger, now: () => now });
  try {
    assert.is((await f.serverKeys('a.test')).server_name, 'a.test');
    await gw.close();
    const gw2 = await startGateway(rs, { host: '127.0.0.1', port, logger, heartbeatMs: 0, tokens: { [TOKEN]: { role: 'peer', server: 'b.test' } } });
    try {
      assert.is((await f.serverKeys('a.test')).server_name, 'a.test');
    } finally {
      await f.close();
      await gw2.close();
    }
  } finally {
    await f.close();
  }
});

test.run();
