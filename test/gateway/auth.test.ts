/** Tokens and roles on the gateway, against the RoomServer test double. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { startGateway, type Gateway } from '../../src/gateway/gateway.js';
import { TokenTable } from '../../src/gateway/auth.js';
import { PEER_OPS } from '../../src/gateway/ops.js';
import { RoomServerTestDouble } from './roomserver-double.js';
import { RawSocket, errorCode } from './raw-socket.js';

const logger = pino({ level: 'silent' });
const ADMIN = 'admin-secret-0123456789';
const PEER = 'peer-secret-0123456789';

async function gateway(): Promise<{ rs: RoomServerTestDouble; gw: Gateway }> {
  const rs = new RoomServerTestDouble();
  const gw = await startGateway(rs, {
    host: '127.0.0.1',
    port: 0,
    logger,
    heartbeatMs: 0,
    tokens: { [ADMIN]: 'admin', [PEER]: { role: 'peer', server: 'b.test' } },
  });
  return { rs, gw };
}

test('peer ops are exactly the five read ops of PROTOCOL.md', () => {
  assert.equal([...PEER_OPS].sort(), ['event', 'event_auth', 'missing_events', 'server_keys', 'state_ids']);
});

test('no token, a wrong token, or a wrong path is refused at the upgrade', async () => {
  const { gw } = await gateway();
  try {
    const refuse = (url: string, opts = {}): Promise<string> => RawSocket.open(url, opts).then((s) => (s.close(), 'opened'), (e: Error) => e.message);
    assert.is(await refuse(gw.url), 'HTTP 401');
    assert.is(await refuse(gw.url, { headers: { authorization: 'Bearer wrong-token-xxxxxxxx' } }), 'HTTP 401');
    assert.is(await refuse(`${gw.url}?access_token=${ADMIN}x`), 'HTTP 401');
    assert.is(await refuse(gw.url, { headers: { authorization: `Basic ${ADMIN}` } }), 'HTTP 401');
    assert.is(await refuse(`${gw.url}?access_token=${ADMIN}`), 'opened');
    assert.is(await refuse(gw.url, { headers: { authorization: `Bearer ${ADMIN}` } }), 'opened');
  } finally {
    await gw.close();
  }
});

test('admin may call every op; a peer only the peer ops, with asServer set to its server name', async () => {
  const { rs, gw } = await gateway();
  const admin = await RawSocket.open(gw.url, { headers: { authorization: `Bearer ${ADMIN}` } });
  const peer = await RawSocket.open(`${gw.url}?access_token=${PEER}`);
  try {
    const room = await admin.call({ id: 1, op: 'create_room', creator: '@a:double.test' });
    assert.is(room.ok, true);
    const adminOnly: Array<Record<string, unknown>> = [
      { op: 'input', events: [] },
      { op: 'send', room_id: room.room_id, sender: '@a:double.test', type: 'm.room.message', content: {} },
      { op: 'create_room', creator: '@p:b.test' },
      { op: 'subscribe', from: 0 },
      { op: 'unsubscribe', subscription: 'x' },
      { op: 'state', room_id: room.room_id },
      { op: 'latest', room_id: room.room_id },
      { op: 'membership', room_id: room.room_id },
      { op: 'room', room_id: room.room_id },
      { op: 'add_server_key', server_name: 'c.test', key_id: 'ed25519:k', public_key: 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ' },
    ];
    const before = rs.calls.length;
    let id = 10;
    for (const req of adminOnly) {
      const r = await peer.call({ id: ++id, ...req });
      assert.is(errorCode(r), 'M_FORBIDDEN', String(req.op));
    }
    // invalid params are still forbidden first, and unknown ops are unknown
    assert.is(errorCode(await peer.call({ id: 50, op: 'send' })), 'M_FORBIDDEN');
    assert.is(errorCode(await peer.call({ id: 51, op: 'no_such_op' })), 'M_UNRECOGNIZED');
    assert.is(rs.calls.length, before, 'nothing forbidden reached the RoomServer');
    assert.is(rs.outputs.length, 5, 'only create_room made outputs');

    const first = (room.event_ids as string[])[0]!;
    const peerOps: Array<[Record<string, unknown>, string]> = [
      [{ op: 'event', event_ids: [first] }, 'query.event'],
      [{ op: 'state_ids', room_id: room.room_id, event_id: first }, 'query.stateIds'],
      [{ op: 'event_auth', room_id: room.room_id, event_id: first }, 'query.eventAuth'],
      [{ op: 'missing_events', room_id: room.room_id, earliest_events: [], latest_events: [first] }, 'query.missingEvents'],
      [{ op: 'server_keys' }, 'query.serverKeys'],
    ];
    for (const [req, method] of peerOps) {
      const r = await peer.call({ id: ++id, ...req });
      assert.is(r.ok, true, String(req.op));
      const call = rs.calls.at(-1)!;
      assert.is(call.method, method);
      if (method !== 'query.serverKeys') assert.equal(call.args.at(-1), { asServer: 'b.test' }, method);
    }
    // the same ops from an admin carry no asServer
    await admin.call({ id: 99, op: 'event', event_ids: [first] });
    assert.equal(rs.calls.at(-1)!.args.at(-1), {});
  } finally {
    admin.close();
    peer.close();
    await gw.close();
  }
});

test('token table: configuration errors are clear; open when empty', () => {
  assert.ok(new TokenTable().open);
  assert.ok(new TokenTable({}).open);
  assert.equal(new TokenTable().authenticate(undefined), { role: 'admin' });
  const t = new TokenTable({ [ADMIN]: { role: 'admin' }, [PEER]: { role: 'peer', server: 'b.test' } });
  assert.not.ok(t.open);
  assert.equal(t.authenticate(ADMIN), { role: 'admin' });
  assert.equal(t.authenticate(PEER), { role: 'peer', server: 'b.test' });
  assert.is(t.authenticate(undefined), null);
  assert.is(t.authenticate(''), null);
  assert.throws(() => new TokenTable({ short: 'admin' }), /at least 8/);
  assert.throws(() => new TokenTable({ [PEER]: 'peer' }), /needs a server/);
  assert.throws(() => new TokenTable({ [PEER]: { role: 'peer' } }), /needs "server"/);
  assert.throws(() => new TokenTable({ [PEER]: { role: 'root' as 'admin' } }), /role must be/);
});

test.run();
