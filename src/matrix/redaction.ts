/**
 * The redaction algorithm of each room version (spec rooms/v1..v12,
 * "Redactions"; summarised in shared conformance REDACTION.md). Redaction
 * keeps the essential top-level keys, filters `content` by event type, and
 * drops everything else, `unsigned` included. A missing (or non-object)
 * `content` becomes `{}`. Values that survive are kept verbatim: redaction
 * does not validate them.
 *
 * `redactedCanonicalJson` writes the canonical JSON of the redacted event
 * without `signatures` directly, without building the redacted object:
 * those are the bytes event signatures cover and the reference hash
 * digests, and they are on the hot path.
 */
import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject } from './json.js';
import type { RoomVersion } from './room-versions.js';
import { canonicalJson, memberText, type CanonicalObjectText } from './canonical-json.js';

type Algo = RoomVersion['redaction'];

/** Top-level keys kept, in canonical (sorted) order. */
const TOP_V1 = [
  'auth_events',
  'content',
  'depth',
  'event_id',
  'hashes',
  'membership',
  'origin',
  'origin_server_ts',
  'prev_events',
  'prev_state',
  'room_id',
  'sender',
  'signatures',
  'state_key',
  'type',
] as const;
const TOP_V11 = [
  'auth_events',
  'content',
  'depth',
  'event_id',
  'hashes',
  'origin_server_ts',
  'prev_events',
  'room_id',
  'sender',
  'signatures',
  'state_key',
  'type',
] as const;

const PL_V1 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];
const PL_V11 = ['ban', 'events', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users', 'users_default'];

/** Content keys kept, per event type, in sorted order; 'all' keeps everything. */
type ContentRule = readonly string[] | 'all';

function contentRules(algo: Algo): ReadonlyMap<string, ContentRule> {
  const m = new Map<string, ContentRule>();
  const v8 = algo === 'v8' || algo === 'v9' || algo === 'v11';
  const v9 = algo === 'v9' || algo === 'v11';
  const v11 = algo === 'v11';
  // m.room.member: v11 also keeps `third_party_invite`, reduced to `signed` (handled apart).
  m.set('m.room.member', v9 ? ['join_authorised_via_users_server', 'membership'] : ['membership']);
  m.set('m.room.create', v11 ? 'all' : ['creator']);
  m.set('m.room.join_rules', v8 ? ['allow', 'join_rule'] : ['join_rule']);
  m.set('m.room.power_levels', v11 ? PL_V11 : PL_V1);
  if (algo === 'v1') m.set('m.room.aliases', ['aliases']);
  m.set('m.room.history_visibility', ['history_visibility']);
  if (v11) m.set('m.room.redaction', ['redacts']);
  return m;
}

const RULES: Readonly<Record<Algo, ReadonlyMap<string, ContentRule>>> = {
  v1: contentRules('v1'),
  v6: contentRules('v6'),
  v8: contentRules('v8'),
  v9: contentRules('v9'),
  v11: contentRules('v11'),
};

/** The `content` of the redacted event (a new object; shared values are not copied). */
export function redactContent(type: unknown, content: unknown, rv: RoomVersion): JsonObject {
  const out: JsonObject = {};
  if (!isJsonObject(content) || typeof type !== 'string') return out;
  const rule = RULES[rv.redaction].get(type);
  if (rule === undefined) return out;
  if (rule === 'all') return { ...content };
  for (const k of rule) {
    const v = content[k];
    if (v !== undefined) out[k] = v;
  }
  if (rv.redaction === 'v11' && type === 'm.room.member') {
    const tpi = content['third_party_invite'];
    if (isJsonObject(tpi)) {
      const signed = tpi['signed'];
      out['third_party_invite'] = signed === undefined ? {} : { signed };
    }
  }
  return out;
}

/**
 * The redacted form of an event under room version `rv`: a new object with
 * only the protected keys (`unsigned` is dropped; `content` is always
 * present). The input is not modified.
 */
export function redactEvent(pdu: JsonObject, rv: RoomVersion): JsonObject {
  const keep = rv.redaction === 'v11' ? TOP_V11 : TOP_V1;
  const out: JsonObject = {};
  for (const k of keep) {
    if (k === 'content') {
      out.content = redactContent(pdu.type, pdu.content, rv);
      continue;
    }
    const v = pdu[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * Canonical JSON of `redactEvent(pdu, rv)` without `signatures`: the text
 * that event signatures sign and whose SHA-256 is the reference hash.
 * Throws CanonicalJsonError for values no JSON can hold (non-finite numbers).
 */
export function redactedCanonicalJson(pdu: JsonObject, rv: RoomVersion): string {
  const keep = rv.redaction === 'v11' ? TOP_V11 : TOP_V1;
  let s = '{';
  for (let i = 0; i < keep.length; i++) {
    const k = keep[i]!;
    if (k === 'signatures') continue;
    if (k === 'content') {
      s += (s.length > 1 ? ',"content":' : '"content":') + redactedContentCanonical(pdu.type, pdu.content, rv);
      continue;
    }
    const v = pdu[k];
    if (v === undefined) continue;
    s += (s.length > 1 ? ',"' : '"') + k + '":' + canonicalJson(v);
  }
  return s + '}';
}

/**
 * redactedCanonicalJson of `pdu`, cut from its canonical text `whole`
 * (canonicalObjectText of the same object) instead of encoding the kept
 * members again; only the redacted `content` is encoded. `hashes`, when
 * given, is the canonical text of a `hashes` member `pdu` is about to get
 * (an event being signed): `pdu` and `whole` must then have none.
 */
export function redactedCanonicalFromText(whole: CanonicalObjectText, pdu: JsonObject, rv: RoomVersion, hashes?: string): string {
  const keep = rv.redaction === 'v11' ? TOP_V11 : TOP_V1;
  const keys = whole.keys;
  let s = '{';
  let j = 0; // both lists are in canonical order: one pass over each
  for (let i = 0; i < keep.length; i++) {
    const k = keep[i]!;
    while (j < keys.length && keys[j]! < k) j++;
    const present = j < keys.length && keys[j] === k;
    if (k === 'signatures') continue;
    if (k === 'content') {
      s += (s.length > 1 ? ',"content":' : '"content":') + redactedContentCanonical(pdu.type, pdu.content, rv);
    } else if (present) {
      s += (s.length > 1 ? ',' : '') + memberText(whole, j);
    } else if (k === 'hashes' && hashes !== undefined) {
      s += (s.length > 1 ? ',"hashes":' : '"hashes":') + hashes;
    }
  }
  return s + '}';
}

function redactedContentCanonical(type: JsonValue | undefined, content: JsonValue | undefined, rv: RoomVersion): string {
  if (!isJsonObject(content) || typeof type !== 'string') return '{}';
  const rule = RULES[rv.redaction].get(type);
  if (rule === undefined) return '{}';
  if (rule === 'all') return canonicalJson(content);
  if (rv.redaction === 'v11' && type === 'm.room.member') return canonicalJson(redactContent(type, content, rv));
  let s = '{';
  for (const k of rule) {
    const v = content[k];
    if (v === undefined) continue;
    s += (s.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + canonicalJson(v);
  }
  return s + '}';
}
