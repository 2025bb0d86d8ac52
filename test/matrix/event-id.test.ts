// Reference hashes and event IDs (SIGNING.md section 4: R1-R3) and the
// differences between room versions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { roomVersion, type RoomVersionId } from '../../src/matrix/room-versions.js';
import type { JsonObject } from '../../src/matrix/json.js';
import { computeEventId, roomIdFromCreateEventId, createEventIdFromRoomId, eventIdFromReferenceHash, eventIdFromRedactedBytes } from '../../src/matrix/event-id.js';
import { contentHash, checkContentHash, referenceHash, sha256, sha256Base64, sha256Base64Url } from '../../src/matrix/hashes.js';
import { encodeBase64, encodeBase64Url } from '../../src/matrix/base64.js';
import { redactedCanonicalJson } from '../../src/matrix/redaction.js';
import { signEvent } from '../../src/matrix/signing.js';
import { generateSigningKey } from '../../src/matrix/ed25519.js';
import { parsePdu, PduError } from '../../src/matrix/pdu.js';
import { isValidEventId, isValidRoomId } from '../../src/matrix/ids.js';

const R1 = (): JsonObject =>
  JSON.parse(`{"auth_events": [], "prev_events": [], "type": "m.room.create", "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re",
 "sender": "@erikj:jki.re",
 "content": {"room_version": "5", "predecessor": {"room_id": "!gdRMqOrTFdOCYHNwOo:half-shot.uk",
             "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI"}, "creator": "@erikj:jki.re"},
 "depth": 1, "prev_state": [], "state_key": "", "origin": "jki.re", "origin_server_ts": 1560284621137,
 "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"},
 "signatures": {"jki.re": {"ed25519:auto": "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"}},
 "unsigned": {"age": 1321650}}`) as JsonObject;

test('R1: v3 event ID (standard base64)', () => {
  assert.is(computeEventId(R1(), roomVersion('3')), '$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438');
});
test('R1: v4..v10 event ID (URL-safe base64)', () => {
  for (const id of ['4', '5', '6', '7', '8', '9', '10'] as RoomVersionId[]) {
    assert.is(computeEventId(R1(), roomVersion(id)), '$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438', `v${id}`);
  }
});
test('R1: the redacted text that is hashed', () => {
  assert.is(
    redactedCanonicalJson(R1(), roomVersion('4')),
    '{"auth_events":[],"content":{"creator":"@erikj:jki.re"},"depth":1,"hashes":{"sha256":"IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"},"origin":"jki.re","origin_server_ts":1560284621137,"prev_events":[],"prev_state":[],"room_id":"!uXDCzlYgCTHtiWCkEx:jki.re","sender":"@erikj:jki.re","state_key":"","type":"m.room.create"}',
  );
});
test('R1: its content hash recomputes to the stated value', () => {
  assert.is(contentHash(R1()), 'IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc');
  assert.ok(checkContentHash(R1()));
  const tampered = R1();
  (tampered.content as JsonObject).room_version = '6';
  assert.not.ok(checkContentHash(tampered));
});
test('R1: under v11 rules the ID differs (origin, prev_state dropped; create content kept)', () => {
  const v11 = computeEventId(R1(), roomVersion('11'));
  assert.is.not(v11, '$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438');
  assert.ok(isValidEventId(v11, roomVersion('11')));
  assert.not.ok(redactedCanonicalJson(R1(), roomVersion('11')).includes('"origin"'));
  assert.ok(redactedCanonicalJson(R1(), roomVersion('11')).includes('"predecessor"'));
});
test('reference hash ignores signatures and unsigned', () => {
  const a = R1();
  const b = { ...R1(), signatures: { other: { 'ed25519:x': 'y' } }, unsigned: { age: 1 } };
  assert.ok(referenceHash(a, roomVersion('5')).equals(referenceHash(b, roomVersion('5'))));
  const c = { ...R1(), depth: 2 };
  assert.not.ok(referenceHash(a, roomVersion('5')).equals(referenceHash(c, roomVersion('5'))));
});

test('R2: v1/v2 event IDs are taken verbatim', () => {
  const ev = { type: 'm.room.name', event_id: '$yvN1b43rlmcOs5fY:localhost', content: { name: 'x' } };
  assert.is(computeEventId(ev, roomVersion('1')), '$yvN1b43rlmcOs5fY:localhost');
  assert.is(computeEventId(ev, roomVersion('2')), '$yvN1b43rlmcOs5fY:localhost');
});
test('v1/v2 without event_id: PduError', () => {
  assert.throws(() => computeEventId({ type: 'x' }, roomVersion('1')), (e: unknown) => e instanceof PduError && e.reason === 'pdu_missing_field');
  assert.throws(() => computeEventId({ type: 'x', event_id: 5 }, roomVersion('2')), (e: unknown) => e instanceof PduError && e.reason === 'pdu_field_type');
});
test('v3+ ignore an event_id property when deriving (it is hashed like any kept key)', () => {
  const ev = { ...R1(), event_id: '$claimed:jki.re' };
  const id = computeEventId(ev, roomVersion('5'));
  assert.is.not(id, '$claimed:jki.re');
  assert.ok(isValidEventId(id, roomVersion('5')));
});

test('R3: v12 create event: no room_id; room ID = ! + event ID without $', () => {
  const rv = roomVersion('12');
  const key = generateSigningKey('ed25519:k');
  const create = signEvent(
    { type: 'm.room.create', state_key: '', sender: '@alice:example.org', content: { room_version: '12' }, prev_events: [], auth_events: [], depth: 1, origin_server_ts: 1 },
    'example.org',
    key,
    rv,
  );
  const eventId = computeEventId(create, rv);
  const roomId = roomIdFromCreateEventId(eventId);
  assert.is(roomId.slice(1), eventId.slice(1));
  assert.is(roomId[0], '!');
  assert.ok(isValidRoomId(roomId, rv));
  assert.is(createEventIdFromRoomId(roomId), eventId);
  const parsed = parsePdu(create, rv);
  assert.is(parsed.eventId, eventId);
  assert.is(parsed.roomId, roomId);
  // a subsequent event uses that room ID
  const msg = signEvent(
    { type: 'm.room.message', room_id: roomId, sender: '@alice:example.org', content: { body: 'hi' }, prev_events: [eventId], auth_events: [], depth: 2, origin_server_ts: 2 },
    'example.org',
    key,
    rv,
  );
  assert.is(parsePdu(msg, rv).roomId, roomId);
});
test('v3 vs v4 encodings of the same hash', () => {
  const h = Buffer.alloc(32, 0xfb); // produces + and / in standard base64
  assert.is(eventIdFromReferenceHash(h, roomVersion('3')), '$' + h.toString('base64').replace(/=+$/, ''));
  assert.is(eventIdFromReferenceHash(h, roomVersion('4')), '$' + h.toString('base64url'));
  assert.match(eventIdFromReferenceHash(h, roomVersion('3')), /[+/]/);
  assert.not.match(eventIdFromReferenceHash(h, roomVersion('4')), /[+/=]/);
  assert.is(eventIdFromReferenceHash(h, roomVersion('4')).length, 44);
});
test('hashes written straight to base64 equal the digest bytes encoded, and event IDs from the redacted bytes equal those from the hash', () => {
  const inputs: Array<string | Buffer> = ['', 'a', '{"é":"\u2028"}', 'x'.repeat(1000), Buffer.alloc(300, 0xfb)];
  for (let i = 0; i < 200; i++) inputs.push(`input ${i}`); // some digests have + and / in base64
  for (const data of inputs) {
    const h = sha256(data);
    assert.is(sha256Base64(data), encodeBase64(h));
    assert.is(sha256Base64Url(data), encodeBase64Url(h));
    for (const v of ['3', '4', '10', '12'] as RoomVersionId[]) assert.is(eventIdFromRedactedBytes(data, roomVersion(v)), eventIdFromReferenceHash(h, roomVersion(v)));
  }
  assert.ok(inputs.some((d) => /[+/]/.test(sha256Base64(d))), 'some digests use + or /');
});
test('roomIdFromCreateEventId refuses non-event IDs', () => {
  assert.throws(() => roomIdFromCreateEventId('!x'), (e: unknown) => e instanceof PduError && e.reason === 'pdu_bad_id');
  assert.throws(() => createEventIdFromRoomId('$x'), (e: unknown) => e instanceof PduError);
});

test.run();
