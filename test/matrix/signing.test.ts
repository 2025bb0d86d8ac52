// Every vector of shared conformance SIGNING.md: the spec key, JSON signing
// (J1, J2, negatives, ruma's key), event hashing and signing (E1-E5),
// event signature verification cases, which servers must sign, and the
// third-party-invite signatures as plain JSON signature checks.
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBase64 } from '../../src/matrix/base64.js';
import { signingKeyFromSeed } from '../../src/matrix/ed25519.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import type { JsonObject } from '../../src/matrix/json.js';
import { signJson, verifyJsonSignature, signEvent, verifyEventSignatures, verifyEventSignedBy, requiredSigners, type KeyLookup } from '../../src/matrix/signing.js';
import { contentHash, checkContentHash } from '../../src/matrix/hashes.js';
import { redactedCanonicalJson, redactEvent } from '../../src/matrix/redaction.js';

const SPEC_SEED = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
const SPEC_SEED_CANONICAL = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0';
const SPEC_PUB = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI';
const key = signingKeyFromSeed('ed25519:1', decodeBase64(SPEC_SEED)!);
const v1 = roomVersion('1');

const J1_SIG = 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ';
const J2_SIG = 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw';

const clone = (o: JsonObject): JsonObject => JSON.parse(JSON.stringify(o)) as JsonObject;
const lookupOnly =
  (server: string, keyId: string, pub: string): KeyLookup =>
  (s, k) =>
    s === server && k === keyId ? pub : undefined;
const specLookup = lookupOnly('domain', 'ed25519:1', SPEC_PUB);

// 1. the spec key
test('spec seed: both spellings (...XA1 and ...XA0) decode to the same 32 bytes', () => {
  const a = decodeBase64(SPEC_SEED)!;
  const b = decodeBase64(SPEC_SEED_CANONICAL)!;
  assert.is(a.toString('hex'), '6090c103d5e7af6b15a970fd563ed75549e6159719ae5c3c31dee4316fb75c0d');
  assert.ok(a.equals(b));
});
test('spec seed derives the documented public key', () => {
  assert.is(key.publicKeyBase64, SPEC_PUB);
  assert.is(signingKeyFromSeed('ed25519:1', decodeBase64(SPEC_SEED_CANONICAL)!).publicKeyBase64, SPEC_PUB);
});

// 2. JSON signing
test('J1: signing {}', () => {
  const out = signJson({}, 'domain', key);
  assert.equal(out, { signatures: { domain: { 'ed25519:1': J1_SIG } } });
});
test('J2: signing {"one":1,"two":"Two"}', () => {
  const out = signJson({ one: 1, two: 'Two' }, 'domain', key);
  assert.equal(out, { one: 1, signatures: { domain: { 'ed25519:1': J2_SIG } }, two: 'Two' });
  assert.is(JSON.stringify(out), JSON.stringify({ one: 1, two: 'Two', signatures: { domain: { 'ed25519:1': J2_SIG } } }));
});
test('signJson keeps unsigned and other signatures, and does not sign them', () => {
  const out = signJson({ one: 1, two: 'Two', unsigned: { age: 5 }, signatures: { other: { 'ed25519:x': 'abc' } } }, 'domain', key);
  assert.equal(out.unsigned, { age: 5 });
  assert.equal(out.signatures, { other: { 'ed25519:x': 'abc' }, domain: { 'ed25519:1': J2_SIG } });
});
test('verify: J1 and J2 outputs verify', () => {
  assert.ok(verifyJsonSignature({ signatures: { domain: { 'ed25519:1': J1_SIG } } }, 'domain', 'ed25519:1', SPEC_PUB));
  assert.ok(verifyJsonSignature({ one: 1, two: 'Two', signatures: { domain: { 'ed25519:1': J2_SIG } } }, 'domain', 'ed25519:1', SPEC_PUB));
  // unsigned is not covered
  assert.ok(verifyJsonSignature({ one: 1, two: 'Two', unsigned: { x: 1 }, signatures: { domain: { 'ed25519:1': J2_SIG } } }, 'domain', 'ed25519:1', SPEC_PUB));
});
test('verify negative: json modified', () => {
  assert.not.ok(verifyJsonSignature({ 'a new key': 'a new value', signatures: { domain: { 'ed25519:1': J1_SIG } } }, 'domain', 'ed25519:1', SPEC_PUB));
});
test('verify negative: signature modified', () => {
  const sig = 'modifiedSSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ';
  assert.not.ok(verifyJsonSignature({ 'a new key': 'a new value', signatures: { domain: { 'ed25519:1': sig } } }, 'domain', 'ed25519:1', SPEC_PUB));
});
test('verify negative: no signatures', () => {
  assert.not.ok(verifyJsonSignature({}, 'domain', 'ed25519:1', SPEC_PUB));
  assert.not.ok(verifyJsonSignature({ signatures: {} }, 'domain', 'ed25519:1', SPEC_PUB));
});
test('verify negative: no signatures for domain', () => {
  assert.not.ok(verifyJsonSignature({ signatures: { domain: {} } }, 'domain', 'ed25519:1', SPEC_PUB));
});
test('verify negative: wrong key id', () => {
  assert.not.ok(verifyJsonSignature({ signatures: { domain: { 'ed25519:2': J2_SIG } } }, 'domain', 'ed25519:1', SPEC_PUB));
  assert.not.ok(verifyJsonSignature({ one: 1, two: 'Two', signatures: { domain: { 'ed25519:2': J2_SIG } } }, 'domain', 'ed25519:2', 'AAAA'));
});
test('verify negative: too short', () => {
  assert.not.ok(verifyJsonSignature({ signatures: { domain: { 'ed25519:1': 'not/a/valid/signature' } } }, 'domain', 'ed25519:1', SPEC_PUB));
});
test('padded base64 signature: accepted by policy (spec: decoders SHOULD accept padding; gmsl refuses)', () => {
  assert.ok(verifyJsonSignature({ signatures: { domain: { 'ed25519:1': J1_SIG + '==' } } }, 'domain', 'ed25519:1', SPEC_PUB));
});
test('verify negative: a non-ed25519 key id never verifies', () => {
  assert.not.ok(verifyJsonSignature({ signatures: { domain: { 'curve:1': J1_SIG } } }, 'domain', 'curve:1', SPEC_PUB));
});

// ruma's second key
const RUMA_SEED = '2OjO919uwYS3oMP7tR/g+In9i9M1dXaYg9z+0DRP7q0';
const RUMA_PUB = '3TPraTczVkDPTRaX4K+AfUuyx7Mzq1UafTXypnl0t2k';
const rumaKey = signingKeyFromSeed('ed25519:1', decodeBase64(RUMA_SEED)!);
test('ruma key: seed from the PKCS#8 DER and its public key', () => {
  const der = decodeBase64('MFECAQEwBQYDK2VwBCIEINjozvdfbsGEt6DD+7Uf4PiJ/YvTNXV2mIPc/tA0T+6tgSEA3TPraTczVkDPTRaX4K+AfUuyx7Mzq1UafTXypnl0t2k')!;
  assert.ok(der.subarray(16, 48).equals(decodeBase64(RUMA_SEED)!));
  assert.is(rumaKey.publicKeyBase64, RUMA_PUB);
});
test('ruma: signing {}', () => {
  assert.equal(signJson({}, 'domain', rumaKey).signatures, {
    domain: { 'ed25519:1': 'lXjsnvhVlz8t3etR+6AEJ0IT70WujeHC1CFjDDsVx0xSig1Bx7lvoi1x3j/2/GPNjQM4a2gD34UqsXFluaQEBA' },
  });
});
test('ruma: key order irrelevant', () => {
  const expected = 't6Ehmh6XTDz7qNWI0QI5tNPSliWLPQP/+Fzz3LpdCS7q1k2G2/5b5Embs2j4uG3ZeivejrzqSVoBcdocRpa+AQ';
  const a = signJson(JSON.parse('{ "one": 1, "two": "Two" }') as JsonObject, 'domain', rumaKey);
  const b = signJson(JSON.parse('{ "two": "Two", "one": 1 }') as JsonObject, 'domain', rumaKey);
  assert.is((a.signatures as JsonObject).domain && ((a.signatures as JsonObject).domain as JsonObject)['ed25519:1'], expected);
  assert.is(((b.signatures as JsonObject).domain as JsonObject)['ed25519:1'], expected);
});
test('ruma: minimal and message events under v1 rules', () => {
  const e1 = signEvent(E1_INPUT(), 'domain', rumaKey, v1);
  assert.is((e1.hashes as JsonObject).sha256, '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
  assert.is(((e1.signatures as JsonObject).domain as JsonObject)['ed25519:1'], 'PxOFMn6ORll8PFSQp0IRF6037MEZt3Mfzu/ROiT/gb/ccs1G+f6Ddoswez4KntLPBI3GKCGIkhctiK37JOy2Aw');
  const e2 = signEvent(E2_INPUT(), 'domain', rumaKey, v1);
  assert.is((e2.hashes as JsonObject).sha256, 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g');
  assert.is(((e2.signatures as JsonObject).domain as JsonObject)['ed25519:1'], 'D2V+qWBJssVuK/pEUJtwaYMdww2q1fP4PRCo226ChlLz8u8AWmQdLKes19NMjs/X0Hv0HIjU0c1TDKFMtGuoCA');
});
test('ruma negative: a signatures entry that is a string fails', () => {
  const obj = { not: 'empty', signatures: { domain: 'lXjsnvhVlz8t3etR+6AEJ0IT70WujeHC1CFjDDsVx0xSig1Bx7lvoi1x3j/2/GPNjQM4a2gD34UqsXFluaQEBA' } };
  assert.not.ok(verifyJsonSignature(obj, 'domain', 'ed25519:1', RUMA_PUB));
});

// 3. event hashing and signing
const E1_INPUT = (): JsonObject => ({
  room_id: '!x:domain',
  sender: '@a:domain',
  origin: 'domain',
  origin_server_ts: 1000000,
  signatures: {},
  hashes: {},
  type: 'X',
  content: {},
  prev_events: [],
  auth_events: [],
  depth: 3,
  unsigned: { age_ts: 1000000 },
});
const E2_INPUT = (): JsonObject => ({
  content: { body: 'Here is the message content' },
  event_id: '$0:domain',
  origin: 'domain',
  origin_server_ts: 1000000,
  type: 'm.room.message',
  room_id: '!r:domain',
  sender: '@u:domain',
  signatures: {},
  unsigned: { age_ts: 1000000 },
});
const E3_INPUT = (): JsonObject => ({ event_id: '$0:domain', origin: 'domain', origin_server_ts: 1000000, type: 'X', unsigned: { age_ts: 1000000 } });
const E1_SIG = 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg';
const E2_HASH = 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g';
const E2_SIG = 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA';
const E3_HASH = '6tJjLpXtggfke8UxFhAKg82QVkJzvKOVOOSjUDK4ZSI';
const E3_SIG = '2Wptgo4CwmLo/Y8B8qinxApKaCkBG2fjTWB7AbP5Uy+aIbygsSdLOFzvdDjww8zUVKCmI02eP9xtyJxc/cLiBA';

test('E1: spec minimal event', () => {
  const input = E1_INPUT();
  const out = signEvent(input, 'domain', key, v1);
  assert.equal(out, { ...E1_INPUT(), hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' }, signatures: { domain: { 'ed25519:1': E1_SIG } } });
  assert.equal(input, E1_INPUT(), 'input untouched');
  assert.is(contentHash(input), '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
});
test('E1: the bytes hashed', () => {
  // contentHash covers exactly this text: check by hashing it independently
  const text = '{"auth_events":[],"content":{},"depth":3,"origin":"domain","origin_server_ts":1000000,"prev_events":[],"room_id":"!x:domain","sender":"@a:domain","type":"X"}';
  assert.is(createHash('sha256').update(text).digest('base64').replace(/=+$/, ''), contentHash(E1_INPUT()));
});
test('E2: spec event with redactable content', () => {
  const out = signEvent(E2_INPUT(), 'domain', key, v1);
  assert.equal(out, { ...E2_INPUT(), hashes: { sha256: E2_HASH }, signatures: { domain: { 'ed25519:1': E2_SIG } } });
  assert.is(
    redactedCanonicalJson(out, v1),
    `{"content":{},"event_id":"$0:domain","hashes":{"sha256":"${E2_HASH}"},"origin":"domain","origin_server_ts":1000000,"room_id":"!r:domain","sender":"@u:domain","type":"m.room.message"}`,
  );
});
test('E2: same output without a signatures key in the input', () => {
  const input = E2_INPUT();
  delete input.signatures;
  const out = signEvent(input, 'domain', key, v1);
  assert.is(((out.signatures as JsonObject).domain as JsonObject)['ed25519:1'], E2_SIG);
  assert.is((out.hashes as JsonObject).sha256, E2_HASH);
});
test('E3: gmsl vector without content (redaction adds "content":{})', () => {
  const out = signEvent(E3_INPUT(), 'domain', key, v1);
  assert.is((out.hashes as JsonObject).sha256, E3_HASH);
  assert.is(((out.signatures as JsonObject).domain as JsonObject)['ed25519:1'], E3_SIG);
  assert.not.ok('content' in out, 'the full event stays without content');
});
test('E4: synapse test_sign_minimal', () => {
  const input: JsonObject = { event_id: '$0:domain', origin_server_ts: 1000000, signatures: {}, type: 'X', content: {}, unsigned: { age_ts: 1000000 } };
  const out = signEvent(input, 'domain', key, v1);
  assert.is((out.hashes as JsonObject).sha256, 'mq4QfPPpC+QsBd6eqfVsmJIEz8uvMSVK0+AU67PLESk');
  assert.is(((out.signatures as JsonObject).domain as JsonObject)['ed25519:1'], '18rGIkd4JJXxw9m+1j3BtN+TmqmLip4VHvFbyXLngpBLXOqbxlQViQABRzep2cODQ2aa5FnFgz+Llt2P03WiAw');
});
test('E5: synapse test_sign_message', () => {
  const input: JsonObject = {
    content: { body: 'Here is the message content' },
    event_id: '$0:domain',
    origin_server_ts: 1000000,
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    signatures: {},
    unsigned: { age_ts: 1000000 },
  };
  const out = signEvent(input, 'domain', key, v1);
  assert.is((out.hashes as JsonObject).sha256, 'rDCeYBepPlI891h/RkI2/Lkf9bt7u0TxFku4tMs7WKk');
  assert.is(((out.signatures as JsonObject).domain as JsonObject)['ed25519:1'], 'Ay4aj2b5oJ1k8INYZ9n3KnszCflM0emwcmQQ7vxpbdcSv9bkJxIZdWX1IJllcZLq89+D3sSabE+vqPtZs9akDw');
});

// event signature verification cases (v1 redaction applied before verifying)
const E3_OUT = (): JsonObject => ({ ...E3_INPUT(), hashes: { sha256: E3_HASH }, signatures: { domain: { 'ed25519:1': E3_SIG } } });
const E2_OUT = (): JsonObject => ({ ...E2_INPUT(), hashes: { sha256: E2_HASH }, signatures: { domain: { 'ed25519:1': E2_SIG } } });
// E3 has no sender: check the signature of the event_id's server (v1), which is what gmsl's vector exercises
test('verify OK: E3 output with unsigned {age_ts} and with unsigned {}', () => {
  const a = E3_OUT();
  const b = { ...E3_OUT(), unsigned: {} };
  for (const ev of [a, b]) {
    const r = verifyEventSignedBy(ev, v1, 'domain', specLookup);
    assert.ok(r.ok, JSON.stringify(r));
  }
});
test('verify OK: E2 output, and its redacted copy (content {})', () => {
  assert.ok(verifyEventSignatures(E2_OUT(), v1, specLookup).ok);
  const redacted = { ...E2_OUT(), content: {} };
  const r = verifyEventSignatures(redacted, v1, specLookup);
  assert.ok(r.ok);
  assert.ok(checkContentHash(E2_OUT()));
  assert.not.ok(checkContentHash(redacted), 'the hash check of the redacted copy fails');
  const viaRedact = redactEvent(E2_OUT(), v1);
  assert.ok(verifyEventSignatures(viaRedact, v1, specLookup).ok);
});
test('verify FAIL: E3 output with type modified', () => {
  const r = verifyEventSignedBy({ ...E3_OUT(), type: 'modified' }, v1, 'domain', specLookup);
  assert.not.ok(r.ok);
  if (!r.ok) {
    assert.is(r.reason, 'bad_signature');
    assert.is(r.server, 'domain');
    assert.is(r.keyId, 'ed25519:1');
  }
});
test('verify FAIL: E2 redacted copy with a different hash (the hash is signed)', () => {
  const ev = { ...E2_OUT(), content: {}, hashes: { sha256: 'adifferenthashvalueaP9SorVmRQNdN5aM2JYU2n/g' } };
  const r = verifyEventSignatures(ev, v1, specLookup);
  assert.not.ok(r.ok);
  if (!r.ok) assert.is(r.reason, 'bad_signature');
});

// which servers must sign
function gmslEvent(extra: JsonObject): JsonObject {
  return { auth_events: [], prev_events: [], depth: 1, origin_server_ts: 123456, room_id: '!r:localhost', content: {}, hashes: { sha256: 'x' }, signatures: {}, ...extra };
}
test('required signers: m.room.name from @test:localhost with origin originserver -> localhost only', () => {
  const ev = gmslEvent({ type: 'm.room.name', sender: '@test:localhost', event_id: '$test:localhost', origin: 'originserver', state_key: '', content: { name: 'x' } });
  assert.equal(requiredSigners(ev, v1), ['localhost']);
});
test('required signers: invite from aliceserver to bobserver -> aliceserver only (spec; gmsl also asks bobserver)', () => {
  const ev = gmslEvent({ type: 'm.room.member', sender: '@alice:aliceserver', state_key: '@bob:bobserver', event_id: '$test:aliceserver', content: { membership: 'invite' } });
  assert.equal(requiredSigners(ev, v1), ['aliceserver']);
});
test('required signers: v1/v2 also the event ID server when it differs; v3+ not', () => {
  const ev = gmslEvent({ type: 'm.room.message', sender: '@a:one', event_id: '$e:two' });
  assert.equal(requiredSigners(ev, v1), ['one', 'two']);
  assert.equal(requiredSigners(ev, roomVersion('2')), ['one', 'two']);
  assert.equal(requiredSigners(ev, roomVersion('3')), ['one']);
});
test('required signers: restricted join (v8+) adds the authorising server', () => {
  const ev = gmslEvent({ type: 'm.room.member', sender: '@a:one', state_key: '@a:one', content: { membership: 'join', join_authorised_via_users_server: '@admin:three' } });
  assert.equal(requiredSigners(ev, roomVersion('7')), ['one']);
  assert.equal(requiredSigners(ev, roomVersion('8')), ['one', 'three']);
  assert.equal(requiredSigners(ev, roomVersion('12')), ['one', 'three']);
});
test('required signers: third-party invite exempts the sender server', () => {
  const ev = gmslEvent({
    type: 'm.room.member',
    sender: '@a:one',
    state_key: '@b:two',
    content: { membership: 'invite', third_party_invite: { display_name: 'b', signed: { mxid: '@b:two', token: 't', signatures: {} } } },
  });
  assert.equal(requiredSigners(ev, roomVersion('10')), []);
});
test('verification asks for keys at origin_server_ts in v5+, and for any time before', () => {
  const seen: Array<number | undefined> = [];
  const lookup: KeyLookup = (s, k, ts) => {
    seen.push(ts);
    return s === 'domain' && k === 'ed25519:1' ? SPEC_PUB : undefined;
  };
  const base = { room_id: '!r:domain', sender: '@u:domain', origin_server_ts: 123456, type: 'm.room.message', content: { body: 'x' }, prev_events: [], auth_events: [], depth: 1 };
  for (const [id, expected] of [['4', undefined], ['5', 123456], ['11', 123456]] as const) {
    const rv = roomVersion(id);
    const ev = signEvent(base, 'domain', key, rv);
    seen.length = 0;
    assert.ok(verifyEventSignatures(ev, rv, lookup).ok);
    assert.equal(seen, [expected], `v${id}`);
  }
});
test('verification: message verified is the redacted event', () => {
  const rv = roomVersion('10');
  const ev = signEvent({ room_id: '!r:domain', sender: '@u:domain', origin_server_ts: 5, type: 'm.room.message', content: { body: 'hello' }, prev_events: [], auth_events: [], depth: 1 }, 'domain', key, rv);
  const changed = { ...ev, content: { body: 'changed' }, unsigned: { age: 1 } };
  assert.ok(verifyEventSignatures(changed, rv, specLookup).ok, 'content is not covered by the signature (only by the hash)');
  assert.not.ok(checkContentHash(changed));
});
test('verification failures name the server and reason', () => {
  const rv = roomVersion('10');
  const ev = signEvent({ room_id: '!r:domain', sender: '@u:domain', origin_server_ts: 5, type: 'm.room.message', content: {}, prev_events: [], auth_events: [], depth: 1 }, 'domain', key, rv);
  let r = verifyEventSignatures({ ...ev, signatures: {} }, rv, specLookup);
  assert.equal(r.ok ? undefined : [r.reason, r.server], ['missing_signature', 'domain']);
  r = verifyEventSignatures(ev, rv, () => undefined);
  assert.equal(r.ok ? undefined : [r.reason, r.server], ['unknown_key', 'domain']);
  r = verifyEventSignatures({ ...ev, signatures: { domain: { 'ed25519:1': 5 } } }, rv, specLookup);
  assert.equal(r.ok ? undefined : [r.reason, r.server], ['malformed_signatures', 'domain']);
  r = verifyEventSignatures({ ...ev, signatures: { domain: 'abc' } }, rv, specLookup);
  assert.equal(r.ok ? undefined : [r.reason, r.server], ['malformed_signatures', 'domain']);
  // an unknown extra key is skipped; a known one that fails fails the event
  const sigs = (ev.signatures as JsonObject).domain as JsonObject;
  assert.ok(verifyEventSignatures({ ...ev, signatures: { domain: { ...sigs, 'ed25519:other': 'AAAA' } } }, rv, specLookup).ok);
  r = verifyEventSignatures({ ...ev, signatures: { domain: { ...sigs, 'ed25519:other': sigs['ed25519:1']! } } }, rv, (s, k) => (k === 'ed25519:other' ? 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ' : SPEC_PUB));
  assert.equal(r.ok ? undefined : [r.reason, r.keyId], ['bad_signature', 'ed25519:other']);
  // signatures of another algorithm only: no usable signature
  r = verifyEventSignatures({ ...ev, signatures: { domain: { 'curve25519:1': 'x' } } }, rv, specLookup);
  assert.equal(r.ok ? undefined : r.reason, 'unknown_key');
});
test('restricted join: the authorising server must sign too', () => {
  const rv = roomVersion('9');
  const other = signingKeyFromSeed('ed25519:o', Buffer.alloc(32, 7));
  const lookup: KeyLookup = (s, k) => (s === 'domain' && k === 'ed25519:1' ? SPEC_PUB : s === 'three' && k === 'ed25519:o' ? other.publicKeyBase64 : undefined);
  const base = { room_id: '!r:domain', sender: '@u:domain', state_key: '@u:domain', origin_server_ts: 5, type: 'm.room.member', content: { membership: 'join', join_authorised_via_users_server: '@admin:three' }, prev_events: [], auth_events: [], depth: 1 };
  const onlySender = signEvent(base, 'domain', key, rv);
  const r = verifyEventSignatures(onlySender, rv, lookup);
  assert.equal(r.ok ? undefined : [r.reason, r.server], ['missing_signature', 'three']);
  const both = signEvent(onlySender, 'three', other, rv);
  const ok = verifyEventSignatures(both, rv, lookup);
  assert.ok(ok.ok);
  if (ok.ok) assert.equal([...ok.servers], ['domain', 'three']);
  assert.ok(verifyEventSignatures(onlySender, roomVersion('7'), lookup).ok === false, 'signed under v9 rules only');
});

// 5. third-party invite signatures as plain JSON signatures
test('3PID: gmsl TestAllowedInviteFrom3PID signature verifies', () => {
  const signed = { mxid: '@u2:a', token: 'my_token', signatures: { 'example.tld': { 'ed25519:0': 'CibGFS0vX93quJFppsQbYQKJFIwxiYEK87lNmekS/fdetUMXPdR2wwNDd09J1jJ28GCH3GogUTuFDB1ScPFxBg' } } };
  assert.ok(verifyJsonSignature(signed, 'example.tld', 'ed25519:0', 'mrV51jApZKahGjfMhlevp+QtSSTDKCLaLVCzYc4HELY'));
  assert.not.ok(verifyJsonSignature({ ...signed, mxid: '@u3:a' }, 'example.tld', 'ed25519:0', 'mrV51jApZKahGjfMhlevp+QtSSTDKCLaLVCzYc4HELY'));
});
test('3PID: ruma factory signatures - only the second public_keys entry verifies ed25519:1', () => {
  const signed = {
    mxid: '@zara:other.local',
    sender: '@bob:matrix.local',
    token: 'uniquetoken',
    signatures: {
      'identity.local': {
        'unknown:0': 'SomeSignature',
        'ed25519:0': 'ClearlyWrongSignature',
        'ed25519:1': 'GTXhO9a3ysW0GWd79vTvzAPi2F2YjZNJDHkwFCyCfYaF0g6tEBjajamAkIgwhXNAp/85PVpzjY6j9oDci8DqDA',
      },
    },
  };
  const pk1 = 'Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE';
  const pk2 = 'VmTAw9B8j/gpkrXl1R7N2NNAyfWuwJnRf5YWHnO3rW4';
  assert.not.ok(verifyJsonSignature(signed, 'identity.local', 'ed25519:1', pk1));
  assert.ok(verifyJsonSignature(signed, 'identity.local', 'ed25519:1', pk2));
  assert.not.ok(verifyJsonSignature(signed, 'identity.local', 'ed25519:0', pk1));
  assert.not.ok(verifyJsonSignature(signed, 'identity.local', 'ed25519:0', pk2));
  assert.not.ok(verifyJsonSignature(signed, 'identity.local', 'unknown:0', pk2));
});

test('signEvent keeps other servers\' signatures and replaces hashes', () => {
  const rv = roomVersion('11');
  const base = clone({ room_id: '!r:domain', sender: '@u:domain', origin_server_ts: 5, type: 'm.room.message', content: {}, prev_events: [], auth_events: [], depth: 1, hashes: { sha256: 'old', other: 'x' }, signatures: { elsewhere: { 'ed25519:z': 'sig' } } });
  const out = signEvent(base, 'domain', key, rv);
  assert.equal(Object.keys(out.hashes as JsonObject), ['sha256']);
  assert.equal(Object.keys(out.signatures as JsonObject).sort(), ['domain', 'elsewhere']);
  assert.ok(verifyEventSignatures(out, rv, specLookup).ok);
});

test.run();
