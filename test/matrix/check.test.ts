// The full check of a received PDU: format, signatures, content hash (a
// mismatch yields the redacted event), in one pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { roomVersion, type RoomVersionId } from '../../src/matrix/room-versions.js';
import type { JsonObject } from '../../src/matrix/json.js';
import { checkPdu, checkPduBytes } from '../../src/matrix/check.js';
import { signEvent, verifyEventSignatures, type KeyLookup } from '../../src/matrix/signing.js';
import { signingKeyFromSeed } from '../../src/matrix/ed25519.js';
import { parsePdu, PduError } from '../../src/matrix/pdu.js';
import { StrictJsonError } from '../../src/matrix/strict-json.js';

const key = signingKeyFromSeed('ed25519:k', Buffer.alloc(32, 9));
const lookup: KeyLookup = (s, k) => (s === 'example.org' && k === 'ed25519:k' ? key.publicKeyBase64 : undefined);
const ALL: RoomVersionId[] = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];

function event(id: RoomVersionId, extra: JsonObject = {}): JsonObject {
  const rv = roomVersion(id);
  const ev: JsonObject = {
    room_id: rv.roomIdFromCreateEvent ? '!' + 'R'.repeat(43) : '!room:example.org',
    sender: '@alice:example.org',
    type: 'm.room.redaction',
    content: { reason: 'spam', ...(rv.v11Format ? { redacts: '$' + 'T'.repeat(43) } : {}) },
    prev_events: [],
    auth_events: [],
    depth: 3,
    origin_server_ts: 1000,
    unsigned: { age: 1 },
    ...extra,
  };
  if (!rv.v11Format) ev.redacts = rv.eventIdFormat === 'v1' ? '$t:example.org' : '$' + 'T'.repeat(43);
  if (rv.eventIdFormat === 'v1') ev.event_id = '$e:example.org';
  return signEvent(ev, 'example.org', key, rv);
}

test('a good event passes in every version, from JSON and from bytes', () => {
  for (const id of ALL) {
    const rv = roomVersion(id);
    const json = event(id);
    for (const r of [checkPdu(json, rv, lookup), checkPduBytes(Buffer.from(JSON.stringify(json)), rv, lookup)]) {
      assert.ok(r.ok, `v${id}`);
      if (!r.ok) continue;
      assert.ok(r.contentHashOk);
      assert.equal([...r.signers], ['example.org']);
      assert.is(r.event.eventId, parsePdu(json, rv).eventId);
      assert.equal(r.event.content, json.content);
      assert.ok(r.event.redacts, 'redaction target read');
    }
  }
});
test('a content hash mismatch yields the redacted event with the same ID', () => {
  for (const id of ALL) {
    const rv = roomVersion(id);
    const json = event(id);
    const tampered = { ...json, content: { ...(json.content as JsonObject), reason: 'changed' } };
    const r = checkPdu(tampered, rv, lookup);
    assert.ok(r.ok, `v${id}: signatures cover the redacted form only`);
    if (!r.ok) continue;
    assert.not.ok(r.contentHashOk);
    assert.is(r.event.eventId, parsePdu(json, rv).eventId);
    assert.not.ok('unsigned' in r.event.json);
    if (rv.v11Format) {
      assert.equal(r.event.content, { redacts: '$' + 'T'.repeat(43) });
      assert.ok(r.event.redacts);
    } else {
      assert.equal(r.event.content, {});
      assert.is(r.event.redacts, undefined, 'a redacted pre-v11 redaction redacts nothing');
    }
  }
});
test('a bad signature fails and names the server', () => {
  const rv = roomVersion('10');
  const json = event('10');
  const other = signingKeyFromSeed('ed25519:k', Buffer.alloc(32, 3));
  const forged = signEvent({ ...json, signatures: {} }, 'example.org', other, rv);
  const r = checkPdu(forged, rv, lookup);
  assert.not.ok(r.ok);
  if (!r.ok) {
    assert.is(r.signatures.reason, 'bad_signature');
    assert.is(r.signatures.server, 'example.org');
    assert.is(r.event.sender, '@alice:example.org');
  }
  // the event ID depends on the signed fields too: a changed depth changes the ID and breaks the signature
  const moved = checkPdu({ ...json, depth: 4 }, rv, lookup);
  assert.not.ok(moved.ok);
});
test('agrees with verifyEventSignatures on its own', () => {
  for (const id of ALL) {
    const rv = roomVersion(id);
    const json = event(id);
    const bad = { ...json, origin_server_ts: 1001 };
    assert.is(checkPdu(bad, rv, lookup).ok, verifyEventSignatures(bad, rv, lookup).ok, `v${id}`);
    assert.not.ok(checkPdu(bad, rv, lookup).ok);
  }
});
test('malformed input throws the parse errors', () => {
  const rv = roomVersion('11');
  assert.throws(() => checkPdu({ ...event('11'), depth: 'x' }, rv, lookup), (e: unknown) => e instanceof PduError && e.reason === 'pdu_field_type');
  assert.throws(() => checkPduBytes('{"a":', rv, lookup), (e: unknown) => e instanceof StrictJsonError && e.code === 'M_NOT_JSON');
});

test.run();
