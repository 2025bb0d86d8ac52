// PDU parsing and validation per room version: what is accepted, and every
// kind of refusal (wrong types, missing fields, size limits, bad IDs,
// strict JSON in v6+ but not in v5, duplicate keys, invalid UTF-8).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { roomVersion, type RoomVersion, type RoomVersionId } from '../../src/matrix/room-versions.js';
import type { JsonObject, JsonValue } from '../../src/matrix/json.js';
import { parseLocalPdu, parsePdu, parsePduBytes, PduError, MAX_PDU_BYTES, type PduErrorReason } from '../../src/matrix/pdu.js';
import { StrictJsonError } from '../../src/matrix/strict-json.js';
import { signEvent } from '../../src/matrix/signing.js';
import { signingKeyFromSeed } from '../../src/matrix/ed25519.js';
import { canonicalJson } from '../../src/matrix/canonical-json.js';
import { computeEventId } from '../../src/matrix/event-id.js';
import { RoomServerError } from '../../src/errors.js';

const key = signingKeyFromSeed('ed25519:1', Buffer.alloc(32, 1));
const H = (c: string) => '$' + c.repeat(43);
const V4_ID = H('A');
const V3_ID = '$' + 'A'.repeat(42) + '/';

function base(rv: RoomVersion): JsonObject {
  const ref = (c: string) => (rv.eventRefsWithHashes ? [`$${c}:example.org`, { sha256: 'abc' }] : rv.eventIdFormat === 'v3' ? V3_ID.replace('A', c.toUpperCase()) : H(c.toUpperCase()));
  const ev: JsonObject = {
    room_id: rv.roomIdFromCreateEvent ? '!' + 'R'.repeat(43) : '!room:example.org',
    sender: '@alice:example.org',
    type: 'm.room.message',
    content: { body: 'hello', msgtype: 'm.text' },
    prev_events: [ref('p')],
    auth_events: [ref('a'), ref('b')],
    depth: 5,
    origin_server_ts: 1700000000000,
    hashes: { sha256: 'x' },
    signatures: {},
    unsigned: { age: 10 },
  };
  if (rv.eventIdFormat === 'v1') ev.event_id = '$ev1:example.org';
  return signEvent(ev, 'example.org', key, rv);
}
const ALL: RoomVersionId[] = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];

function refused(f: () => unknown): PduError {
  try {
    f();
  } catch (e) {
    assert.instance(e, PduError);
    assert.instance(e, RoomServerError);
    return e as PduError;
  }
  assert.unreachable('expected a PduError');
  throw new Error('unreachable');
}
function refuses(json: JsonValue, rv: RoomVersion, reason: PduErrorReason, field?: string): PduError {
  const e = refused(() => parsePdu(json, rv));
  assert.is(e.reason, reason, e.message);
  assert.is(e.code, reason === 'pdu_too_large' ? 'M_TOO_LARGE' : 'M_BAD_JSON');
  if (field !== undefined) {
    assert.is(e.field, field, e.message);
    assert.ok(e.message.includes(field), `message names the field: ${e.message}`);
  }
  return e;
}

test('a well-formed event parses in every version', () => {
  for (const id of ALL) {
    const rv = roomVersion(id);
    const json = base(rv);
    const ev = parsePdu(json, rv);
    assert.is(ev.sender, '@alice:example.org');
    assert.is(ev.type, 'm.room.message');
    assert.is(ev.stateKey, undefined);
    assert.equal(ev.content, { body: 'hello', msgtype: 'm.text' });
    assert.is(ev.depth, 5);
    assert.is(ev.originServerTs, 1700000000000);
    assert.is(ev.roomVersion, rv);
    assert.is(ev.json, json, 'the JSON is kept by reference');
    assert.is(ev.eventId, computeEventId(json, rv));
    assert.is(ev.prevEvents.length, 1);
    assert.is(ev.authEvents.length, 2);
    for (const ref of [...ev.prevEvents, ...ev.authEvents]) assert.type(ref, 'string');
  }
});
test('event ID formats: v1/v2 from the event, v3 standard base64, v4+ URL-safe', () => {
  assert.is(parsePdu(base(roomVersion('1')), roomVersion('1')).eventId, '$ev1:example.org');
  assert.is(parsePdu(base(roomVersion('2')), roomVersion('2')).eventId, '$ev1:example.org');
  for (const id of ALL.slice(2)) {
    const rv = roomVersion(id);
    const eid = parsePdu(base(rv), rv).eventId;
    assert.is(eid.length, 44);
    assert.match(eid, rv.eventIdFormat === 'v3' ? /^\$[A-Za-z0-9+/]{43}$/ : /^\$[A-Za-z0-9_-]{43}$/);
  }
});
test('v1/v2 hash pairs are reduced to IDs', () => {
  const rv = roomVersion('1');
  const ev = parsePdu(base(rv), rv);
  assert.equal([...ev.prevEvents], ['$p:example.org']);
  assert.equal([...ev.authEvents], ['$a:example.org', '$b:example.org']);
});
test('state_key: "" is a state key; absent is not', () => {
  const rv = roomVersion('10');
  const ev = parsePdu({ ...base(rv), type: 'm.room.topic', state_key: '' }, rv);
  assert.is(ev.stateKey, '');
});

test('missing required fields', () => {
  for (const id of ALL) {
    const rv = roomVersion(id);
    const fields = ['type', 'sender', 'room_id', 'content', 'prev_events', 'auth_events', 'depth', 'origin_server_ts', 'hashes', 'signatures'];
    if (rv.eventIdFormat === 'v1') fields.push('event_id');
    for (const f of fields) {
      const json = base(rv);
      delete json[f];
      refuses(json, rv, 'pdu_missing_field', f);
    }
    const noSha = { ...base(rv), hashes: {} };
    refuses(noSha, rv, 'pdu_missing_field', 'hashes.sha256');
  }
});
test('wrong field types', () => {
  const rv = roomVersion('10');
  const cases: Array<[string, JsonValue, string?]> = [
    ['type', 5],
    ['type', null],
    ['sender', ['@a:b']],
    ['room_id', 1],
    ['content', 'text'],
    ['content', []],
    ['content', null],
    ['state_key', 0],
    ['state_key', null],
    ['prev_events', 'x'],
    ['prev_events', {}],
    ['auth_events', null],
    ['depth', '5'],
    ['depth', -1],
    ['depth', 1.5],
    ['origin_server_ts', '1'],
    ['origin_server_ts', 1.5],
    ['hashes', 'x'],
    ['hashes', { sha256: 5 }, 'hashes.sha256'],
    ['signatures', []],
    ['signatures', { 'example.org': 'sig' }, 'signatures.example.org'],
    ['signatures', { 'example.org': { 'ed25519:1': 5 } }, 'signatures.example.org.ed25519:1'],
    ['unsigned', 'x'],
  ];
  for (const [field, value, named] of cases) {
    // v10 is strict: non-integers are refused as numbers first, so test those in v5
    const version = typeof value === 'number' && !Number.isInteger(value) ? roomVersion('5') : rv;
    refuses({ ...base(version), [field]: value }, version, 'pdu_field_type', named ?? field);
  }
  refuses({ ...base(rv), prev_events: [5] }, rv, 'pdu_field_type', 'prev_events[0]');
  refuses({ ...base(rv), auth_events: [V4_ID, null] }, rv, 'pdu_field_type', 'auth_events[1]');
  refuses('not an object' as JsonValue, rv, 'pdu_not_object');
  refuses([] as JsonValue, rv, 'pdu_not_object');
});
test('v1/v2 event references must be [id, {sha256}] pairs; v3+ plain strings', () => {
  const v1 = roomVersion('1');
  refuses({ ...base(v1), prev_events: ['$p:example.org'] }, v1, 'pdu_field_type', 'prev_events[0]');
  refuses({ ...base(v1), prev_events: [['$p:example.org']] }, v1, 'pdu_field_type', 'prev_events[0]');
  refuses({ ...base(v1), prev_events: [['$p:example.org', 'abc']] }, v1, 'pdu_field_type', 'prev_events[0][1]');
  refuses({ ...base(v1), auth_events: [[5, { sha256: 'a' }]] }, v1, 'pdu_field_type', 'auth_events[0]');
  const v3 = roomVersion('3');
  refuses({ ...base(v3), prev_events: [[V3_ID, { sha256: 'a' }]] }, v3, 'pdu_field_type', 'prev_events[0]');
});
test('too many prev_events (> 20) and auth_events (> 10)', () => {
  const rv = roomVersion('11');
  const ids = (n: number) => Array.from({ length: n }, (_, i) => '$' + String(i).padStart(43, 'A'));
  assert.not.throws(() => parsePdu({ ...base(rv), prev_events: ids(20), auth_events: ids(10) }, rv));
  refuses({ ...base(rv), prev_events: ids(21) }, rv, 'pdu_too_many_refs', 'prev_events');
  refuses({ ...base(rv), auth_events: ids(11) }, rv, 'pdu_too_many_refs', 'auth_events');
});
test('bad IDs: sender, room_id, event references, v1 event_id', () => {
  const v10 = roomVersion('10');
  refuses({ ...base(v10), sender: 'alice' }, v10, 'pdu_bad_id', 'sender');
  refuses({ ...base(v10), sender: '@alice' }, v10, 'pdu_bad_id', 'sender');
  refuses({ ...base(v10), sender: '@alice:bad host' }, v10, 'pdu_bad_id', 'sender');
  refuses({ ...base(v10), room_id: 'room:example.org' }, v10, 'pdu_bad_id', 'room_id');
  refuses({ ...base(v10), room_id: '!' + 'R'.repeat(43) }, v10, 'pdu_bad_id', 'room_id');
  refuses({ ...base(v10), prev_events: ['$abc:example.org'] }, v10, 'pdu_bad_id', 'prev_events[0]');
  refuses({ ...base(v10), auth_events: [V3_ID] }, v10, 'pdu_bad_id', 'auth_events[0]');
  const v3 = roomVersion('3');
  refuses({ ...base(v3), prev_events: [V4_ID.slice(0, -1) + '_'] }, v3, 'pdu_bad_id', 'prev_events[0]');
  const v1 = roomVersion('1');
  refuses({ ...base(v1), event_id: 'ev1:example.org' }, v1, 'pdu_bad_id', 'event_id');
  refuses({ ...base(v1), event_id: '$ev1' }, v1, 'pdu_bad_id', 'event_id');
  refuses({ ...base(v1), prev_events: [['$p', { sha256: 'a' }]] }, v1, 'pdu_bad_id', 'prev_events[0]');
  const v12 = roomVersion('12');
  refuses({ ...base(v12), room_id: '!room:example.org' }, v12, 'pdu_bad_id', 'room_id');
});
test('historical user IDs are accepted as sender', () => {
  const rv = roomVersion('10');
  assert.is(parsePdu({ ...base(rv), sender: '@Alice Smith:example.org' }, rv).sender, '@Alice Smith:example.org');
});
test('NUL in type is refused; NUL in state_key is allowed', () => {
  const rv = roomVersion('10');
  refuses({ ...base(rv), type: 'm.room\u0000x' }, rv, 'pdu_field_type', 'type');
  assert.is(parsePdu({ ...base(rv), state_key: 'a\u0000b' }, rv).stateKey, 'a\u0000b');
});
test('255-byte limits: type, state_key, sender, room_id, event_id', () => {
  const rv = roomVersion('10');
  assert.not.throws(() => parsePdu({ ...base(rv), type: 't'.repeat(255), state_key: 'k'.repeat(255) }, rv));
  refuses({ ...base(rv), type: 't'.repeat(256) }, rv, 'pdu_too_large', 'type');
  refuses({ ...base(rv), type: '日'.repeat(86) }, rv, 'pdu_too_large', 'type');
  refuses({ ...base(rv), state_key: 'k'.repeat(256) }, rv, 'pdu_too_large', 'state_key');
  refuses({ ...base(rv), sender: '@' + 'a'.repeat(250) + ':example.org' }, rv, 'pdu_too_large', 'sender');
  refuses({ ...base(rv), room_id: '!' + 'a'.repeat(250) + ':example.org' }, rv, 'pdu_too_large', 'room_id');
  const v1 = roomVersion('1');
  refuses({ ...base(v1), event_id: '$' + 'a'.repeat(250) + ':example.org' }, v1, 'pdu_too_large', 'event_id');
});
test('65,536-byte limit on the canonical JSON of the whole PDU (unsigned and signatures included)', () => {
  for (const id of ['5', '11'] as RoomVersionId[]) {
    const rv = roomVersion(id);
    const json = base(rv);
    const overhead = Buffer.byteLength(canonicalJson({ ...json, content: { body: '' } }));
    const fits = { ...json, content: { body: 'x'.repeat(MAX_PDU_BYTES - overhead) } };
    assert.is(Buffer.byteLength(canonicalJson(fits)), MAX_PDU_BYTES);
    assert.not.throws(() => parsePdu(fits, rv));
    const over = { ...json, content: { body: 'x'.repeat(MAX_PDU_BYTES - overhead + 1) } };
    refuses(over, rv, 'pdu_too_large');
    // the same bytes in unsigned count too
    const j2 = { ...json, unsigned: { pad: '' } };
    const o2 = Buffer.byteLength(canonicalJson(j2));
    refuses({ ...json, unsigned: { pad: 'y'.repeat(MAX_PDU_BYTES - o2 + 1) } }, rv, 'pdu_too_large');
    assert.not.throws(() => parsePdu({ ...json, unsigned: { pad: 'y'.repeat(MAX_PDU_BYTES - o2) } }, rv));
    // multi-byte characters count as bytes
    refuses({ ...json, content: { body: 'é'.repeat(MAX_PDU_BYTES / 2) } }, rv, 'pdu_too_large');
  }
});
test('size limit from bytes: whitespace in the source does not count', () => {
  const rv = roomVersion('11');
  const json = base(rv);
  const overhead = Buffer.byteLength(canonicalJson({ ...json, content: { body: '' } }));
  const fits = { ...json, content: { body: 'x'.repeat(MAX_PDU_BYTES - overhead) } };
  const pretty = JSON.stringify(fits, null, 2);
  assert.ok(Buffer.byteLength(pretty) > MAX_PDU_BYTES);
  assert.not.throws(() => parsePduBytes(Buffer.from(pretty), rv));
  const over = JSON.stringify({ ...json, content: { body: 'x'.repeat(MAX_PDU_BYTES - overhead + 1) } });
  assert.throws(() => parsePduBytes(over, rv), (e: unknown) => e instanceof PduError && e.reason === 'pdu_too_large');
});

test('depth range: v1-v5 up to 2^63-1, v6+ up to 2^53-1', () => {
  const v5 = roomVersion('5');
  const v6 = roomVersion('6');
  assert.not.throws(() => parsePdu({ ...base(v5), depth: 2 ** 60 }, v5));
  assert.not.throws(() => parsePdu({ ...base(v5), depth: 0 }, v5));
  refuses({ ...base(v5), depth: 2 ** 64 }, v5, 'pdu_field_type', 'depth');
  assert.not.throws(() => parsePdu({ ...base(v6), depth: 2 ** 53 - 1 }, v6));
  refuses({ ...base(v6), depth: 2 ** 53 }, v6, 'pdu_bad_number', 'depth');
});
test('strict numbers: floats and out-of-range integers refused in v6+, accepted in v5', () => {
  const cases: JsonObject[] = [{ content: { body: 'x', n: 1.5 } }, { content: { big: 2 ** 53 } }, { unsigned: { age: 0.5 } }, { origin_server_ts: 2 ** 53 }, { content: { deep: [{ x: [-(2 ** 60)] }] } }];
  for (const extra of cases) {
    const v5 = roomVersion('5');
    assert.not.throws(() => parsePdu({ ...base(v5), ...extra }, v5), JSON.stringify(extra));
    for (const id of ['6', '7', '8', '9', '10', '11', '12'] as RoomVersionId[]) {
      const rv = roomVersion(id);
      const e = refuses({ ...base(rv), ...extra }, rv, 'pdu_bad_number');
      assert.ok(e.field, 'names the top-level field');
    }
  }
  const rv = roomVersion('10');
  const e = refuses({ ...base(rv), content: { deep: [{ x: [1, 2.5] }] } }, rv, 'pdu_bad_number', 'content');
  assert.match(e.message, /content\.deep\[0\]\.x\[1\]/);
  refuses({ ...base(rv), content: { z: -0 } }, rv, 'pdu_bad_number', 'content');
});
test('strict numbers from bytes: 1e5 and 1.0 are only visible in the text; -0 in both', () => {
  for (const lexeme of ['1e5', '100000.0', '-0', '1E2']) {
    const v5 = roomVersion('5');
    const v6 = roomVersion('6');
    const text = (rv: RoomVersion) => JSON.stringify(base(rv)).replace('"body":"hello"', `"body":"hello","n":${lexeme}`);
    assert.not.throws(() => parsePduBytes(text(v5), v5), lexeme);
    assert.throws(
      () => parsePduBytes(Buffer.from(text(v6)), v6),
      (e: unknown) => e instanceof PduError && e.reason === 'pdu_bad_number' && e.message.includes('content.n'),
      lexeme,
    );
    // the parsed value alone passes (1e5 -> 100000), except -0, which JSON.parse keeps
    if (lexeme === '-0') refuses(JSON.parse(text(v6)) as JsonObject, v6, 'pdu_bad_number', 'content');
    else assert.not.throws(() => parsePdu(JSON.parse(text(v6)) as JsonObject, v6));
  }
});
test('non-finite numbers (1e400) cannot be hashed: refused even in v1-v5', () => {
  const v5 = roomVersion('5');
  const text = JSON.stringify(base(v5)).replace('"body":"hello"', '"body":"hello","n":1e400');
  assert.throws(() => parsePduBytes(text, v5), (e: unknown) => e instanceof PduError && e.reason === 'pdu_bad_number');
});
test('duplicate keys: refused in v6+, last wins in v1-v5', () => {
  const v5 = roomVersion('5');
  const v11 = roomVersion('11');
  const dup = (rv: RoomVersion) => JSON.stringify(base(rv)).replace('"body":"hello"', '"body":"hello","body":"bye"');
  assert.is(parsePduBytes(dup(v5), v5).content.body, 'bye');
  assert.throws(
    () => parsePduBytes(dup(v11), v11),
    (e: unknown) => e instanceof PduError && e.reason === 'pdu_duplicate_key' && e.field === 'content' && e.message.includes('content.body'),
  );
});
test('invalid UTF-8 and syntax errors from bytes: StrictJsonError (M_NOT_JSON)', () => {
  const rv = roomVersion('10');
  const good = Buffer.from(JSON.stringify(base(rv)));
  const i = good.indexOf('hello');
  const bad = Buffer.from(good);
  bad[i] = 0xff;
  assert.throws(() => parsePduBytes(bad, rv), (e: unknown) => e instanceof StrictJsonError && e.code === 'M_NOT_JSON' && e.reason === 'json_invalid_utf8');
  assert.throws(() => parsePduBytes(good.subarray(0, good.length - 1), rv), (e: unknown) => e instanceof StrictJsonError && e.reason === 'json_syntax');
  assert.is(parsePduBytes(good, rv).content.body, 'hello');
});

test('redacts: top level before v11, in content from v11', () => {
  const target = V4_ID;
  for (const id of ['3', '10'] as RoomVersionId[]) {
    const rv = roomVersion(id);
    const t = rv.eventIdFormat === 'v3' ? V3_ID : target;
    const ev = parsePdu({ ...base(rv), type: 'm.room.redaction', redacts: t, content: { redacts: '$ignored' } }, rv);
    assert.is(ev.redacts, t, `v${id}`);
    refuses({ ...base(rv), type: 'm.room.redaction', redacts: 5 }, rv, 'pdu_field_type', 'redacts');
  }
  for (const id of ['11', '12'] as RoomVersionId[]) {
    const rv = roomVersion(id);
    const ev = parsePdu({ ...base(rv), type: 'm.room.redaction', redacts: '$ignored', content: { redacts: target } }, rv);
    assert.is(ev.redacts, target, `v${id}`);
    assert.is(parsePdu({ ...base(rv), type: 'm.room.redaction', redacts: target, content: {} }, rv).redacts, undefined, 'top-level redacts is not v11 format');
    refuses({ ...base(rv), type: 'm.room.redaction', content: { redacts: [target] } }, rv, 'pdu_field_type', 'content.redacts');
  }
  // other event types never redact
  const rv = roomVersion('10');
  assert.is(parsePdu({ ...base(rv), redacts: target }, rv).redacts, undefined);
});

test('v12 create event: no room_id needed; room ID derived; others need a hash room ID', () => {
  const rv = roomVersion('12');
  const create = signEvent(
    { type: 'm.room.create', state_key: '', sender: '@alice:example.org', content: { room_version: '12' }, prev_events: [], auth_events: [], depth: 1, origin_server_ts: 1 },
    'example.org',
    key,
    rv,
  );
  const ev = parsePdu(create, rv);
  assert.is(ev.roomId, '!' + ev.eventId.slice(1));
  // in v11 the same event lacks its room_id
  refuses(create, roomVersion('11'), 'pdu_missing_field', 'room_id');
  // a non-create event in v12 needs room_id
  const msg = base(rv);
  delete msg.room_id;
  refuses(msg, rv, 'pdu_missing_field', 'room_id');
  // a v12 create event with a room_id is left to the auth rules (rule 1.2 rejects it); the room ID stays derived
  const withRoom = parsePdu({ ...create, room_id: '!' + 'Z'.repeat(43) }, rv);
  assert.is(withRoom.roomId, '!' + withRoom.eventId.slice(1));
  assert.is(withRoom.json.room_id, '!' + 'Z'.repeat(43));
});

test('trusted reload options: knownEventId and skipSizeCheck skip the hashing', () => {
  const rv = roomVersion('11');
  const json = { ...base(rv), content: { body: 'x'.repeat(MAX_PDU_BYTES) } };
  const ev = parsePdu(json, rv, { knownEventId: V4_ID, skipSizeCheck: true });
  assert.is(ev.eventId, V4_ID);
  refuses(json, rv, 'pdu_too_large');
});


// parseLocalPdu: events this server built; only what the sender supplied is checked.
function localPdu(rv: RoomVersion, fields: JsonObject): { pdu: JsonObject; text: string; eventId: string; prev: string[]; auth: string[] } {
  const prev = [rv.eventIdFormat === 'v1' ? '$p:example.org' : H('P')];
  const auth = [rv.eventIdFormat === 'v1' ? '$a:example.org' : H('A')];
  const refs = (ids: string[]) => (rv.eventRefsWithHashes ? ids.map((id) => [id, { sha256: 'abc' }]) : ids);
  const ev: JsonObject = { room_id: rv.roomIdFromCreateEvent ? '!' + 'R'.repeat(43) : '!room:example.org', sender: '@alice:example.org', depth: 7, origin_server_ts: 1700000000000, prev_events: refs(prev), auth_events: refs(auth), ...fields };
  if (rv.eventIdFormat === 'v1') ev.event_id = '$local:example.org';
  const pdu = signEvent(ev, 'example.org', key, rv);
  return { pdu, text: canonicalJson(pdu), eventId: computeEventId(pdu, rv), prev, auth };
}

test('parseLocalPdu gives the event parsePdu gives, in every version', () => {
  for (const v of ALL) {
    const rv = roomVersion(v);
    for (const fields of [
      { type: 'm.room.message', content: { body: 'hi', n: 3 } },
      { type: 'm.room.topic', state_key: '', content: { topic: 't' } },
      rv.v11Format ? { type: 'm.room.redaction', content: { redacts: H('T') } } : { type: 'm.room.redaction', redacts: H('T'), content: {} },
    ] as JsonObject[]) {
      const l = localPdu(rv, fields);
      const local = parseLocalPdu(l.pdu, rv, l.eventId, l.prev, l.auth, l.text);
      const full = parsePdu(l.pdu, rv);
      assert.equal({ ...local, roomVersion: local.roomVersion.id }, { ...full, roomVersion: full.roomVersion.id }, `v${v} ${String(fields.type)}`);
      assert.is(local.text, l.text);
    }
  }
});

test('parseLocalPdu refuses what the sender supplied as parsePdu does', () => {
  const cases: Array<[RoomVersionId, JsonObject, PduErrorReason, string]> = [
    ['10', { type: 'm.room.message', content: { n: 1.5 } }, 'pdu_bad_number', 'content'],
    ['10', { type: 'm.room.message', content: { deep: [{ n: 2 ** 60 }] } }, 'pdu_bad_number', 'content'],
    ['10', { type: 'x'.repeat(256), content: {} }, 'pdu_too_large', 'type'],
    ['10', { type: 'a\u0000b', content: {} }, 'pdu_field_type', 'type'],
    ['10', { type: 'm.room.topic', state_key: 'é'.repeat(128), content: {} }, 'pdu_too_large', 'state_key'],
    ['10', { type: 'm.room.message', state_key: 5, content: {} }, 'pdu_field_type', 'state_key'],
    ['10', { type: 'm.room.message', content: 'text' }, 'pdu_field_type', 'content'],
    ['10', { type: 'm.room.redaction', redacts: 7, content: {} }, 'pdu_field_type', 'redacts'],
    ['11', { type: 'm.room.redaction', content: { redacts: 7 } }, 'pdu_field_type', 'content.redacts'],
    ['10', { type: 'm.room.message', sender: 'alice', content: {} }, 'pdu_bad_id', 'sender'],
  ];
  for (const [v, fields, reason, field] of cases) {
    const rv = roomVersion(v);
    const l = localPdu(rv, fields);
    const got = (f: () => unknown): PduError | undefined => {
      try {
        f();
      } catch (e) {
        if (e instanceof PduError) return e;
        throw e;
      }
      return undefined;
    };
    const local = got(() => parseLocalPdu(l.pdu, rv, l.eventId, l.prev, l.auth, l.text));
    const full = got(() => parsePdu(l.pdu, rv));
    assert.ok(local, `${JSON.stringify(fields).slice(0, 60)}: refused`);
    assert.is(local!.reason, reason);
    assert.is(local!.field, field);
    assert.is(local!.reason, full?.reason, 'the same reason as parsePdu');
    assert.is(local!.message, full?.message, 'the same message as parsePdu');
  }
  // v5 has no strict numbers
  const l5 = localPdu(roomVersion('5'), { type: 'm.room.message', content: { n: 1.5 } });
  assert.is(parseLocalPdu(l5.pdu, roomVersion('5'), l5.eventId, l5.prev, l5.auth, l5.text).content.n, 1.5);
});

test('parseLocalPdu: the 65,536-byte limit counts UTF-8 bytes of the canonical text', () => {
  const rv = roomVersion('10');
  const fits = (body: string) => {
    const l = localPdu(rv, { type: 'm.room.message', content: { body } });
    try {
      parseLocalPdu(l.pdu, rv, l.eventId, l.prev, l.auth, l.text);
      assert.ok(Buffer.byteLength(l.text) <= MAX_PDU_BYTES, 'accepted only within the limit');
      return true;
    } catch (e) {
      assert.instance(e, PduError);
      assert.is((e as PduError).reason, 'pdu_too_large');
      assert.ok(Buffer.byteLength(l.text) > MAX_PDU_BYTES, 'refused only past the limit');
      return false;
    }
  };
  assert.ok(fits('x'.repeat(21_000)), 'a short text in units needs no count');
  assert.ok(fits('x'.repeat(64_000)));
  assert.not.ok(fits('x'.repeat(66_000)));
  // 2-byte characters: under the limit in UTF-16 units, over it in bytes
  assert.not.ok(fits('é'.repeat(33_000)));
  assert.ok(fits('é'.repeat(32_000)));
});

test.run();
