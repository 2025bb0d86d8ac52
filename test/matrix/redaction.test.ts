// Every vector of shared conformance REDACTION.md, plus the per-version
// tables of its sections 1 and 2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { roomVersion, type RoomVersionId } from '../../src/matrix/room-versions.js';
import type { JsonObject } from '../../src/matrix/json.js';
import { redactEvent, redactedCanonicalFromText, redactedCanonicalJson } from '../../src/matrix/redaction.js';
import { canonicalJson, canonicalObjectText } from '../../src/matrix/canonical-json.js';
import { ROOM_VERSIONS } from '../../src/matrix/room-versions.js';

const rv = (id: RoomVersionId) => roomVersion(id);
const parse = (s: string) => JSON.parse(s) as JsonObject;

/** redactEvent, plus a check that the direct canonical writer agrees with it. */
function redact(ev: JsonObject, id: RoomVersionId): JsonObject {
  const out = redactEvent(ev, rv(id));
  const { signatures: _s, ...rest } = out;
  assert.is(redactedCanonicalJson(ev, rv(id)), canonicalJson(rest), 'redactedCanonicalJson agrees with redactEvent');
  assert.is(redactedCanonicalFromText(canonicalObjectText(ev), ev, rv(id)), canonicalJson(rest), 'and so does the text cut from the whole');
  return out;
}
function same(actual: JsonObject, expectedJson: string): void {
  assert.is(canonicalJson(actual), canonicalJson(parse(expectedJson)));
}

// 4.1 gomatrixserverlib
const RX1 =
  '{"content":{"avatar_url":"mxc://something/somewhere","displayname":"Someone","join_authorised_via_users_server":"@someoneelse:somewhere.org","membership":"join"},"origin_server_ts":1633108629915,"sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.member","unsigned":{"age":539338},"room_id":"!someroom:matrix.org"}';
test('RX1: join_authorised_via_users_server dropped in v8, kept in v9; v9 idempotent on v8 output', () => {
  const v8 = redact(parse(RX1), '8');
  same(v8, '{"content":{"membership":"join"},"origin_server_ts":1633108629915,"room_id":"!someroom:matrix.org","sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.member"}');
  const v9 = redact(parse(RX1), '9');
  same(
    v9,
    '{"content":{"join_authorised_via_users_server":"@someoneelse:somewhere.org","membership":"join"},"origin_server_ts":1633108629915,"room_id":"!someroom:matrix.org","sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.member"}',
  );
  same(redact(v8, '9'), canonicalJson(v8));
});

const RX2 =
  '{"content":{"placeholder":"value"},"origin_server_ts":1633108629915,"sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.create","unsigned":{"age":539338},"room_id":"!someroom:matrix.org","origin":"matrix.org","membership":"join","prev_state":""}';
test('RX2: create event v10 vs v11 (legacy top-level keys)', () => {
  const v10 = redact(parse(RX2), '10');
  same(
    v10,
    '{"content":{},"membership":"join","origin":"matrix.org","origin_server_ts":1633108629915,"prev_state":"","room_id":"!someroom:matrix.org","sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.create"}',
  );
  same(
    redact(parse(RX2), '11'),
    '{"content":{"placeholder":"value"},"origin_server_ts":1633108629915,"room_id":"!someroom:matrix.org","sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.create"}',
  );
  same(redact(v10, '11'), '{"content":{},"origin_server_ts":1633108629915,"room_id":"!someroom:matrix.org","sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.create"}');
});

test('RX3: v11 power_levels keeps invite (verbatim, even a string)', () => {
  const ev = parse(
    '{"content":{"invite":"","placeholder":"value"},"origin_server_ts":1633108629915,"sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.power_levels","unsigned":{"age":539338},"room_id":"!someroom:matrix.org","origin":"matrix.org","membership":"join","prev_state":""}',
  );
  same(redact(ev, '11'), '{"content":{"invite":""},"origin_server_ts":1633108629915,"room_id":"!someroom:matrix.org","sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.power_levels"}');
});

test('RX4: v11 redaction keeps content.redacts', () => {
  const ev = parse(
    '{"content":{"redacts":"","placeholder":"value"},"origin_server_ts":1633108629915,"sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.redaction","unsigned":{"age":539338},"room_id":"!someroom:matrix.org","origin":"matrix.org","membership":"join","prev_state":""}',
  );
  same(redact(ev, '11'), '{"content":{"redacts":""},"origin_server_ts":1633108629915,"room_id":"!someroom:matrix.org","sender":"@someone:somewhere.org","state_key":"@someone:somewhere.org","type":"m.room.redaction"}');
});

test('RX5: missing content becomes {} (every version)', () => {
  for (let i = 1; i <= 12; i++) {
    const out = redact({ type: 'X', event_id: '$0:domain', unsigned: { age_ts: 1 } }, String(i) as RoomVersionId);
    assert.equal(out, { content: {}, event_id: '$0:domain', type: 'X' });
  }
  // non-object content too
  assert.equal(redact({ type: 'm.room.member', content: 'x' as never }, '1').content, {});
});

test('gmsl TestRedact: m.room.name content emptied in v1 and v5', () => {
  assert.equal(redact({ type: 'm.room.name', content: { name: 'test3' }, state_key: '' }, '1').content, {});
  assert.equal(redact({ type: 'm.room.name', content: { name: 'test123' }, state_key: '' }, '5').content, {});
});

// 4.2 ruma
const RUMA_ENV = { event_id: '$143273582443PhrSn', origin_server_ts: 1432735, room_id: '!jEsUZKDJdhlrceRyVU:example.org', sender: '@example:example.org', unsigned: { age: 1234 } };
function rumaCase(type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return { ...RUMA_ENV, type, content, ...extra };
}
test('ruma: power_levels (v1 drops invite, v11 keeps all)', () => {
  const content = parse(
    '{"ban":50,"events":{"m.room.avatar":50,"m.room.canonical_alias":50,"m.room.history_visibility":100,"m.room.name":50,"m.room.power_levels":100},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@example:localhost":100},"users_default":0}',
  );
  const ev = { event_id: '$15139375512JaHAW:localhost', origin_server_ts: 45, sender: '@example:localhost', room_id: '!room:localhost', state_key: '', type: 'm.room.power_levels', content, unsigned: { age: 1 } };
  const { invite: _i, ...noInvite } = content;
  const r1 = redact(ev, '1');
  assert.equal(r1.content, noInvite);
  assert.not.ok('unsigned' in r1);
  assert.equal(redact(ev, '11').content, content);
});
test('ruma: aliases kept in v1, emptied from v6', () => {
  const ev = { event_id: '$152037280074GZeOm:localhost', origin_server_ts: 1, sender: '@example:localhost', state_key: 'room.com', room_id: '!room:room.com', type: 'm.room.aliases', content: { aliases: ['#somewhere:localhost'] } };
  assert.equal(redact(ev, '1').content, { aliases: ['#somewhere:localhost'] });
  assert.equal(redact(ev, '9').content, {});
  assert.equal(redact(ev, '11').content, {});
});
test('ruma: create', () => {
  const content = parse('{"creator":"@example:example.org","m.federate":true,"predecessor":{"event_id":"$something","room_id":"!oldroom:example.org"},"room_version":"11","local.custom.key":"foo"}');
  const ev = rumaCase('m.room.create', content, { state_key: '' });
  assert.equal(redact(ev, '1').content, { creator: '@example:example.org' });
  assert.equal(redact(ev, '11').content, content);
});
const SIGNED_3PID = parse('{"mxid":"@alice:example.org","signatures":{"magic.forest":{"ed25519:3":"fQpGIW1Snz+pwLZu6sTy2aHy/DYWWTspTJRPyNp0PKkymfIsNffysMl6ObMMFdIJhk6g6pwlIqZ54rxo8SLmAg"}},"token":"abc123"}');
test('ruma: member with a third-party invite', () => {
  const ev = rumaCase('m.room.member', { membership: 'invite', displayname: 'Example', third_party_invite: { display_name: 'example', signed: SIGNED_3PID } }, { state_key: '@alice:example.org' });
  assert.equal(redact(ev, '1').content, { membership: 'invite' });
  assert.equal(redact(ev, '11').content, { membership: 'invite', third_party_invite: { signed: SIGNED_3PID } });
});
test('ruma: member restricted join', () => {
  const ev = rumaCase('m.room.member', { membership: 'join', displayname: 'Example', join_authorised_via_users_server: '@alice:example.org' }, { state_key: '@example:example.org' });
  assert.equal(redact(ev, '1').content, { membership: 'join' });
  assert.equal(redact(ev, '11').content, { membership: 'join', join_authorised_via_users_server: '@alice:example.org' });
});
test('ruma: join_rules', () => {
  const ev = rumaCase('m.room.join_rules', { join_rule: 'restricted', allow: [{ room_id: '!other:example.org', type: 'm.room_membership' }] }, { state_key: '' });
  assert.equal(redact(ev, '1').content, { join_rule: 'restricted' });
  assert.equal(redact(ev, '11').content, { join_rule: 'restricted', allow: [{ room_id: '!other:example.org', type: 'm.room_membership' }] });
});
test('ruma: history_visibility kept', () => {
  const ev = rumaCase('m.room.history_visibility', { history_visibility: 'invited' }, { state_key: '' });
  assert.equal(redact(ev, '1').content, { history_visibility: 'invited' });
  assert.equal(redact(ev, '11').content, { history_visibility: 'invited' });
});
test('ruma: redaction (top-level redacts always removed)', () => {
  const ev = rumaCase('m.room.redaction', { reason: 'Spamming', redacts: '$fukweghifu23' }, { redacts: '$fukweghifu23' });
  const r1 = redact(ev, '1');
  assert.equal(r1.content, {});
  assert.not.ok('redacts' in r1);
  const r11 = redact(ev, '11');
  assert.equal(r11.content, { redacts: '$fukweghifu23' });
  assert.not.ok('redacts' in r11);
});

// 4.3 Synapse PruneEventTestCase (harness defaults are kept by redaction)
const SYN_DEFAULTS = { sender: '@test:test', room_id: '!test:test', depth: 1, origin_server_ts: 1, hashes: {}, auth_events: [], prev_events: [] };
function syn(extra: JsonObject): JsonObject {
  return { ...SYN_DEFAULTS, signatures: {}, unsigned: {}, ...extra };
}
function synContent(id: RoomVersionId, type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return redact(syn({ type, content, event_id: '$test:domain', ...extra }), id).content as JsonObject;
}
test('synapse minimal (v1): adds content {}, keeps signatures, drops unsigned', () => {
  const out = redact(syn({ type: 'A', event_id: '$test:domain' }), '1');
  assert.equal(out, { ...SYN_DEFAULTS, type: 'A', event_id: '$test:domain', content: {}, signatures: {} });
});
test('synapse basic keys (v1): everything kept except other_key', () => {
  const ev: JsonObject = {
    event_id: '$3:domain',
    type: 'A',
    room_id: '!1:domain',
    sender: '@2:domain',
    state_key: 'B',
    content: { other_key: 'foo' },
    hashes: { sha256: 'abc' },
    signatures: { domain: { 'algo:1': 'sigs' } },
    depth: 4,
    prev_events: [],
    prev_state: 'prev_state',
    auth_events: [],
    origin: 'domain',
    origin_server_ts: 1234,
    membership: 'join',
    other_key: 'foo',
  };
  const { other_key: _o, ...kept } = ev;
  assert.equal(redact(ev, '1'), { ...kept, content: {} });
});
test('synapse basic keys (v11): prev_state, membership (and origin) removed', () => {
  const out = redact(syn({ type: 'A', prev_state: 'prev_state', membership: 'join', origin: 'domain' }), '11');
  assert.not.ok('prev_state' in out);
  assert.not.ok('membership' in out);
  assert.not.ok('origin' in out);
  assert.is(out.type, 'A');
});
test('synapse unsigned (v1): the spec strips unsigned entirely', () => {
  const out = redact(syn({ type: 'A', unsigned: { age_ts: 20, replaces_state: '$test2:domain', other_key: 'foo' } }), '1');
  assert.not.ok('unsigned' in out);
});
test('synapse content (v1): other types lose all content', () => {
  assert.equal(synContent('1', 'C', { things: 'here' }), {});
});
test('synapse member / join_rules / history_visibility (v1): only the protected key', () => {
  assert.equal(synContent('1', 'm.room.member', { membership: 'join', other_key: 'foo' }), { membership: 'join' });
  assert.equal(synContent('1', 'm.room.join_rules', { join_rule: 'invite', other_key: 'foo' }), { join_rule: 'invite' });
  assert.equal(synContent('1', 'm.room.history_visibility', { history_visibility: 'shared', other_key: 'foo' }), { history_visibility: 'shared' });
});
test('synapse create (v1)', () => {
  assert.equal(synContent('1', 'm.room.create', { creator: '@2:domain', other_key: 'foo' }), { creator: '@2:domain' });
});
test('synapse create (v11): content kept whole, nonsense top-level removed', () => {
  const out = redact(syn({ type: 'm.room.create', content: { not_a_real_key: true }, nonsense_field: 'some_random_garbage' }), '11');
  assert.equal(out.content, { not_a_real_key: true });
  assert.not.ok('nonsense_field' in out);
});
test('synapse power_levels (v1): all but invite and other_key', () => {
  const content = { ban: 1, events: { 'm.room.name': 100 }, events_default: 2, invite: 3, kick: 4, redact: 5, state_default: 6, users: { '@admin:domain': 100 }, users_default: 7, other_key: 8 };
  const { invite: _i, other_key: _o, ...expected } = content;
  assert.equal(synContent('1', 'm.room.power_levels', content), expected);
});
test('synapse power_levels (v11): invite kept', () => {
  assert.equal(synContent('11', 'm.room.power_levels', { invite: 75 }), { invite: 75 });
});
test('synapse aliases: kept in v1, emptied in v6', () => {
  assert.equal(synContent('1', 'm.room.aliases', { aliases: ['test'] }), { aliases: ['test'] });
  assert.equal(synContent('6', 'm.room.aliases', { aliases: ['test'] }), {});
});
test('synapse redaction: v6 empties content and drops top-level redacts; v11 keeps content.redacts', () => {
  const ev = syn({ type: 'm.room.redaction', content: { redacts: '$test2:domain' }, redacts: '$test2:domain' });
  const r6 = redact(ev, '6');
  assert.equal(r6.content, {});
  assert.not.ok('redacts' in r6);
  const r11 = redact(ev, '11');
  assert.equal(r11.content, { redacts: '$test2:domain' });
  assert.not.ok('redacts' in r11);
});
test('synapse join_rules: v1 drops allow, v8 keeps it', () => {
  const content = { join_rule: 'invite', allow: [], other_key: 'stripped' };
  assert.equal(synContent('1', 'm.room.join_rules', content), { join_rule: 'invite' });
  assert.equal(synContent('8', 'm.room.join_rules', content), { join_rule: 'invite', allow: [] });
});
test('synapse member: join_authorised_via_users_server from v9', () => {
  const content = { membership: 'join', join_authorised_via_users_server: '@user:domain', other_key: 'stripped' };
  assert.equal(synContent('1', 'm.room.member', content), { membership: 'join' });
  assert.equal(synContent('9', 'm.room.member', content), { membership: 'join', join_authorised_via_users_server: '@user:domain' });
});
test('synapse member (v11): third_party_invite reduced to signed', () => {
  const content = { membership: 'invite', third_party_invite: { display_name: 'alice', signed: SIGNED_3PID }, other_key: 'stripped' };
  assert.equal(synContent('11', 'm.room.member', content), { membership: 'invite', third_party_invite: { signed: SIGNED_3PID } });
});
test('synapse member edge (v11): empty third_party_invite object kept empty', () => {
  assert.equal(synContent('11', 'm.room.member', { membership: 'invite', third_party_invite: {}, other_key: 'stripped' }), { membership: 'invite', third_party_invite: {} });
});
test('synapse member edge (v11): non-object third_party_invite dropped', () => {
  assert.equal(synContent('11', 'm.room.member', { membership: 'invite', third_party_invite: 'stripped', other_key: 'stripped' }), { membership: 'invite' });
});
test('synapse relations (v10): message content emptied', () => {
  assert.equal(synContent('10', 'm.room.message', { body: 'x', 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } }), {});
});

// Sections 1 and 2: the per-version tables
const ALL: RoomVersionId[] = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
test('top-level keys per version', () => {
  const ev: JsonObject = {
    event_id: '$e:x',
    type: 'T',
    room_id: '!r:x',
    sender: '@s:x',
    state_key: 'k',
    content: {},
    hashes: { sha256: 'h' },
    signatures: { x: {} },
    depth: 1,
    prev_events: [],
    prev_state: [],
    auth_events: [],
    origin: 'x',
    origin_server_ts: 1,
    membership: 'join',
    redacts: '$z:x',
    unsigned: { age: 1 },
    extra: 1,
  };
  const common = ['auth_events', 'content', 'depth', 'event_id', 'hashes', 'origin_server_ts', 'prev_events', 'room_id', 'sender', 'signatures', 'state_key', 'type'];
  for (const id of ALL) {
    const keys = Object.keys(redact(ev, id)).sort();
    const expected = Number(id) >= 11 ? common : [...common, 'membership', 'origin', 'prev_state'].sort();
    assert.equal(keys, expected, `v${id}`);
  }
});
test('content keys kept per type and version', () => {
  const full: Record<string, JsonObject> = {
    'm.room.member': { membership: 'join', join_authorised_via_users_server: '@a:b', third_party_invite: { signed: { mxid: '@a:b' }, display_name: 'x' }, displayname: 'x' },
    'm.room.create': { creator: '@a:b', room_version: '1', 'm.federate': false },
    'm.room.join_rules': { join_rule: 'restricted', allow: [], other: 1 },
    'm.room.power_levels': { ban: 1, events: {}, events_default: 1, invite: 1, kick: 1, redact: 1, state_default: 1, users: {}, users_default: 1, notifications: { room: 50 }, other: 1 },
    'm.room.aliases': { aliases: ['#a:b'], other: 1 },
    'm.room.history_visibility': { history_visibility: 'shared', other: 1 },
    'm.room.redaction': { redacts: '$x', reason: 'r' },
    'm.room.topic': { topic: 't' },
  };
  const pl = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];
  const expect = (id: number): Record<string, string[]> => ({
    'm.room.member': id >= 11 ? ['join_authorised_via_users_server', 'membership', 'third_party_invite'] : id >= 9 ? ['join_authorised_via_users_server', 'membership'] : ['membership'],
    'm.room.create': id >= 11 ? ['creator', 'm.federate', 'room_version'] : ['creator'],
    'm.room.join_rules': id >= 8 ? ['allow', 'join_rule'] : ['join_rule'],
    'm.room.power_levels': id >= 11 ? [...pl, 'invite'].sort() : pl,
    'm.room.aliases': id <= 5 ? ['aliases'] : [],
    'm.room.history_visibility': ['history_visibility'],
    'm.room.redaction': id >= 11 ? ['redacts'] : [],
    'm.room.topic': [],
  });
  for (const id of ALL) {
    const e = expect(Number(id));
    for (const [type, content] of Object.entries(full)) {
      const got = Object.keys(redact({ type, content, state_key: '' }, id).content as JsonObject).sort();
      assert.equal(got, e[type], `v${id} ${type}`);
    }
  }
});
test('the redacted text cut from the whole event\'s text is the one encoded afresh, for every version and many shapes', () => {
  // a small deterministic generator of events: every top-level key any version keeps or drops, content per type
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const types = ['m.room.message', 'm.room.member', 'm.room.create', 'm.room.join_rules', 'm.room.power_levels', 'm.room.aliases', 'm.room.history_visibility', 'm.room.redaction', 'x.custom'];
  const contentKeys = ['membership', 'join_authorised_via_users_server', 'third_party_invite', 'creator', 'join_rule', 'allow', 'ban', 'events', 'invite', 'users', 'aliases', 'history_visibility', 'redacts', 'body', 'z\u00e9', '\ud83d\ude00', 'a"b'];
  const values = [1, -5, 0, 'x', '\u2028', true, null, [], [1, 'a'], { k: 'v', a: [2] }, { signed: { token: 't' } }, 1.5];
  const topKeys = ['event_id', 'membership', 'origin', 'prev_state', 'redacts', 'unsigned', 'other_key', 'signatures', 'hashes', 'state_key', 'room_id', '\ud800x'];
  let checked = 0;
  for (let n = 0; n < 300; n++) {
    const ev: JsonObject = { type: pick(types), sender: '@a:b.c', depth: rnd(100), origin_server_ts: 1700000000000 + rnd(1000), prev_events: ['$p' + rnd(9)], auth_events: ['$a1', '$a2'] };
    if (rnd(10) > 0) {
      const content: JsonObject = {};
      for (let i = rnd(6); i > 0; i--) content[pick(contentKeys)] = pick(values) as never;
      ev.content = content;
    } else if (rnd(2)) ev.content = 'not an object';
    for (let i = rnd(5); i > 0; i--) {
      const k = pick(topKeys);
      ev[k] = k === 'signatures' ? { 'b.c': { 'ed25519:1': 'sig' } } : k === 'hashes' ? { sha256: 'h' + rnd(9) } : (pick(values) as never);
    }
    for (const v of ROOM_VERSIONS.values()) {
      assert.is(redactedCanonicalFromText(canonicalObjectText(ev), ev, v), redactedCanonicalJson(ev, v), `${v.id}: ${JSON.stringify(ev)}`);
      // an event being signed: its text has no hashes yet, they are given as text
      if (ev.hashes === undefined && ev.signatures === undefined && ev.unsigned === undefined) {
        const sha256 = 'c' + rnd(99);
        const withHashes = { ...ev, hashes: { sha256 } };
        assert.is(redactedCanonicalFromText(canonicalObjectText(ev), withHashes, v, `{"sha256":${JSON.stringify(sha256)}}`), redactedCanonicalJson(withHashes, v), `${v.id} signing: ${JSON.stringify(ev)}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 500, `signing shapes checked: ${checked}`);
});

test('redactEvent does not modify its input', () => {
  const ev = parse(RX1);
  const before = JSON.stringify(ev);
  redactEvent(ev, rv('11'));
  redactedCanonicalJson(ev, rv('11'));
  assert.is(JSON.stringify(ev), before);
});

test.run();
