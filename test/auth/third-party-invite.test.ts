// Invites with content.third_party_invite (member invite rule .1), with the
// conformance vectors of /work/shared/conformance/SIGNING.md §5.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { JsonObject } from '../../src/matrix/json.js';
import { checkAuth, verifyThirdPartyInviteSigned } from '../../src/auth/check.js';
import { canonicalJsonBytes } from '../../src/matrix/canonical-json.js';
import { signBytes, signingKeyFromSeed } from '../../src/matrix/ed25519.js';
import { encodeBase64 } from '../../src/matrix/base64.js';
import { ALL_VERSIONS, allowed, denied, TestRoom } from './factory.js';

// ruma-state-res test factory vector: verifies only with the SECOND public_keys entry.
const BOB = '@bob:matrix.local';
const ZARA = '@zara:other.local';
const RUMA_KEY_1 = 'Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE';
const RUMA_KEY_2 = 'VmTAw9B8j/gpkrXl1R7N2NNAyfWuwJnRf5YWHnO3rW4';
const RUMA_GOOD_SIG = 'GTXhO9a3ysW0GWd79vTvzAPi2F2YjZNJDHkwFCyCfYaF0g6tEBjajamAkIgwhXNAp/85PVpzjY6j9oDci8DqDA';
function rumaSigned(): JsonObject {
  return {
    mxid: ZARA,
    sender: BOB,
    token: 'uniquetoken',
    signatures: { 'identity.local': { 'unknown:0': 'SomeSignature', 'ed25519:0': 'ClearlyWrongSignature', 'ed25519:1': RUMA_GOOD_SIG } },
  };
}
const rumaTpiContent = (): JsonObject => ({
  display_name: 'z...',
  key_validity_url: 'https://identity.local/_matrix/identity/v2/pubkey/isvalid',
  public_key: RUMA_KEY_1,
  public_keys: [{ public_key: RUMA_KEY_1 }, { public_key: RUMA_KEY_2 }],
});

// gomatrixserverlib TestAllowedInviteFrom3PID vector.
const GMSL_KEY = 'mrV51jApZKahGjfMhlevp+QtSSTDKCLaLVCzYc4HELY';
const GMSL_SIGNED = (): JsonObject => ({
  mxid: '@u2:a',
  token: 'my_token',
  signatures: { 'example.tld': { 'ed25519:0': 'CibGFS0vX93quJFppsQbYQKJFIwxiYEK87lNmekS/fdetUMXPdR2wwNDd09J1jJ28GCH3GogUTuFDB1ScPFxBg' } },
});

function rumaRoom(v: string, tpiContent: JsonObject = rumaTpiContent()): TestRoom {
  const room = new TestRoom(v as never, { creator: BOB });
  room.add({ type: 'm.room.third_party_invite', sender: BOB, stateKey: 'uniquetoken', content: tpiContent });
  return room;
}

function invite(room: TestRoom, signed: JsonObject | undefined, opts: { sender?: string; target?: string; tpi?: JsonObject } = {}) {
  const tpi = opts.tpi ?? (signed === undefined ? {} : { display_name: 'z...', signed });
  return room.checkMember(opts.sender ?? BOB, opts.target ?? ZARA, 'invite', { third_party_invite: tpi });
}

function inviteRule(v: string): string {
  const n = Number(v);
  const member = n <= 5 ? 5 : n <= 11 ? 4 : 5;
  return `${member}.${n >= 8 ? 4 : 3}`;
}

test('the vectors themselves: ruma verifies only with public_keys[1]; gmsl with its public_key', () => {
  assert.ok(verifyThirdPartyInviteSigned(rumaSigned(), rumaTpiContent()));
  assert.not.ok(verifyThirdPartyInviteSigned(rumaSigned(), { public_key: RUMA_KEY_1 }));
  assert.not.ok(verifyThirdPartyInviteSigned(rumaSigned(), { public_keys: [{ public_key: RUMA_KEY_1 }] }));
  assert.ok(verifyThirdPartyInviteSigned(rumaSigned(), { public_keys: [{ public_key: RUMA_KEY_2 }] }));
  assert.ok(verifyThirdPartyInviteSigned(GMSL_SIGNED(), { public_key: GMSL_KEY }));
  assert.ok(verifyThirdPartyInviteSigned(GMSL_SIGNED(), { public_keys: [{ public_key: GMSL_KEY }] }));
  assert.not.ok(verifyThirdPartyInviteSigned(GMSL_SIGNED(), { public_key: RUMA_KEY_2 }));
  assert.not.ok(verifyThirdPartyInviteSigned(GMSL_SIGNED(), {}), 'no keys at all');
});

test('the signature covers `signed` as received: dropping a field (re-marshalling) breaks it', () => {
  const s = rumaSigned();
  delete s.sender; // a typed {mxid, token, signatures} view would lose this
  assert.not.ok(verifyThirdPartyInviteSigned(s, rumaTpiContent()));
  const t = rumaSigned();
  t.mxid = '@other:other.local';
  assert.not.ok(verifyThirdPartyInviteSigned(t, rumaTpiContent()), 'changed mxid');
  // key order in the received object does not matter (canonical JSON sorts)
  const u = rumaSigned();
  const reordered: JsonObject = { token: u.token!, signatures: u.signatures!, sender: u.sender!, mxid: u.mxid! };
  assert.ok(verifyThirdPartyInviteSigned(reordered, rumaTpiContent()));
});

test('only ed25519 signatures count', () => {
  const s = rumaSigned();
  s.signatures = { 'identity.local': { 'curve25519:1': RUMA_GOOD_SIG } };
  assert.not.ok(verifyThirdPartyInviteSigned(s, rumaTpiContent()));
  s.signatures = { 'identity.local': { 'ed25519:whatever': RUMA_GOOD_SIG } };
  assert.ok(verifyThirdPartyInviteSigned(s, rumaTpiContent()), 'key id name is free');
  s.signatures = 'nope';
  assert.not.ok(verifyThirdPartyInviteSigned(s, rumaTpiContent()), 'signatures not an object');
  delete s.signatures;
  assert.not.ok(verifyThirdPartyInviteSigned(s, rumaTpiContent()), 'no signatures');
});

test('3PID invite with the ruma vector is allowed in every version', () => {
  for (const v of ALL_VERSIONS) allowed(invite(rumaRoom(v), rumaSigned()), `v${v}`);
});

test('3PID invite: every public key is tried (public_key alone fails the ruma vector)', () => {
  for (const v of ALL_VERSIONS) {
    denied(invite(rumaRoom(v, { public_key: RUMA_KEY_1 }), rumaSigned()), 'third_party_invite_bad_signature', `v${v} public_key only`, `${inviteRule(v)}.1.8`);
    allowed(invite(rumaRoom(v, { public_keys: [{ public_key: 'bm90IGEga2V5' }, { public_key: RUMA_KEY_2 }] }), rumaSigned()), `v${v} second of public_keys`);
  }
});

test('3PID invite with the gmsl vector (public_key) is allowed', () => {
  const room = new TestRoom('10', { creator: '@u1:a' });
  room.add({ type: 'm.room.third_party_invite', sender: '@u1:a', stateKey: 'my_token', content: { public_key: GMSL_KEY } });
  allowed(room.checkMember('@u1:a', '@u2:a', 'invite', { third_party_invite: { signed: GMSL_SIGNED() } }), 'gmsl');
  denied(room.checkMember('@u1:a', '@u3:a', 'invite', { third_party_invite: { signed: GMSL_SIGNED() } }), 'bad_third_party_invite', 'mxid is not the target');
});

test('3PID invite rules .1.1 - .1.6 in order', () => {
  for (const v of ALL_VERSIONS) {
    const r = `${inviteRule(v)}.1`;
    const room = rumaRoom(v);
    denied(invite(room, undefined), 'bad_third_party_invite', `v${v} no signed`, `${r}.2`);
    denied(invite(room, undefined, { tpi: 'x' as never }), 'bad_third_party_invite', `v${v} third_party_invite not an object`, `${r}.2`);
    denied(invite(room, undefined, { tpi: { signed: 'x' } }), 'bad_third_party_invite', `v${v} signed not an object`, `${r}.2`);
    const noToken = rumaSigned();
    delete noToken.token;
    denied(invite(room, noToken), 'bad_third_party_invite', `v${v} no token`, `${r}.3`);
    const noMxid = rumaSigned();
    delete noMxid.mxid;
    denied(invite(room, noMxid), 'bad_third_party_invite', `v${v} no mxid`, `${r}.3`);
    denied(invite(room, rumaSigned(), { target: '@yan:other.local' }), 'bad_third_party_invite', `v${v} mxid != state_key`, `${r}.4`);
    const otherToken = rumaSigned();
    otherToken.token = 'othertoken';
    denied(invite(room, otherToken), 'third_party_invite_not_found', `v${v} unknown token`, `${r}.5`);
    const numToken = rumaSigned();
    numToken.token = 5;
    denied(invite(room, numToken), 'third_party_invite_not_found', `v${v} non-string token`, `${r}.5`);
    room.member('@carl:matrix.local', 'join', '@carl:matrix.local');
    denied(invite(room, rumaSigned(), { sender: '@carl:matrix.local' }), 'third_party_invite_sender_mismatch', `v${v} other sender`, `${r}.6`);
    room.member(ZARA, 'ban', BOB);
    denied(invite(room, rumaSigned()), 'target_banned', `v${v} target banned`, `${r}.1`);
  }
});

test('3PID invite: the spec does not ask the sender to be joined on this path', () => {
  const room = rumaRoom('11');
  room.member(BOB, 'leave', BOB);
  allowed(invite(room, rumaSigned()), 'sender left the room');
});

test('3PID invite with a freshly signed object and a tampered copy', () => {
  const key = signingKeyFromSeed('ed25519:0', Buffer.alloc(32, 7));
  const signed: JsonObject = { mxid: ZARA, token: 'uniquetoken', extra: { nested: [1, 'two'] } };
  const sig = encodeBase64(signBytes(key, canonicalJsonBytes(signed)));
  signed.signatures = { 'id.test': { 'ed25519:0': sig } };
  const room = rumaRoom('12', { public_keys: [{ public_key: key.publicKeyBase64 }] });
  allowed(invite(room, signed), 'fresh signature');
  const tampered = structuredClone(signed);
  (tampered.extra as JsonObject).nested = [1, 'three'];
  denied(invite(room, tampered), 'third_party_invite_bad_signature', 'tampered nested field');
});

test.run();
