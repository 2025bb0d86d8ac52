/**
 * PDU parsing and validation per room version: turns received event JSON
 * into a MatrixEvent, or refuses it with a PduError (M_BAD_JSON, or
 * M_TOO_LARGE for size limits) whose `reason` is stable and whose message
 * names the field.
 *
 * What is checked (spec: room version event formats, PDU schemas
 * pdu_v1/v3/v4/v6/v11/v12, client-server API "Size limits", appendices
 * "Identifier Grammar" and "Canonical JSON"):
 * - required fields and their JSON types; `state_key` a string when present;
 *   `unsigned` an object when present; `hashes.sha256` a string;
 *   `signatures` an object of objects of strings;
 * - `room_id` (absent on a v12 create event, whose room ID is derived from
 *   its event ID), `sender` (a user ID; historical localparts accepted),
 *   event IDs in `prev_events`/`auth_events` (v1/v2 as `[id, {sha256}]`
 *   pairs) and the v1/v2 `event_id`, each by the version's grammar;
 * - at most 20 prev_events and 10 auth_events;
 * - `depth` an integer in 0..2^63-1 (0..2^53-1 from v6), `origin_server_ts`
 *   an integer;
 * - `type` without NUL (state maps join type and state key with NUL);
 * - 255-byte limits on `sender`, `room_id`, `event_id`, `type`, `state_key`;
 *   65,536 bytes for the canonical JSON of the whole PDU;
 * - v6+: strict canonical JSON numbers (integers within ±(2^53-1), never
 *   written with a fraction or exponent, no -0) and no duplicate keys (as
 *   reported by the strict reader when parsing from text);
 * - `redacts` of `m.room.redaction` a string when present (top level before
 *   v11, in `content` from v11).
 *
 * Not checked here (auth rules' business): whether a v12 create event has
 * a `room_id` (auth rule 1.2 rejects it), content schemas, hash and
 * signature validity (see checkPdu).
 */
import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject } from './json.js';
import type { RoomVersion } from './room-versions.js';
import type { MatrixEvent } from './event.js';
import { canonicalJson, CanonicalJsonError, canonicalObjectText, findNonCanonicalNumber, MAX_SAFE } from './canonical-json.js';
import { contentHashTextOf } from './hashes.js';
import { redactedCanonicalFromText, redactedCanonicalJson } from './redaction.js';
import { eventIdFromRedactedBytes, roomIdFromCreateEventId } from './event-id.js';
import { eventIdProblem, exceedsBytes, isHashEventId, roomIdProblem, userIdProblem } from './ids.js';
import { scanJson, type JsonScan, type JsonScanOptions } from './strict-json.js';
import { PduError } from './pdu-error.js';

export { PduError, type PduErrorReason } from './pdu-error.js';

/** Spec "Size limits": the canonical JSON of the whole PDU. */
export const MAX_PDU_BYTES = 65536;
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;
/** Fields limited to 255 bytes of UTF-8. */
export const MAX_FIELD_BYTES = 255;
const MAX_DEPTH_V1 = 2 ** 63 - 1;

export interface ParsePduOptions {
  /**
   * What the strict reader saw in the source text (scanJson): duplicate
   * keys and numbers written non-canonically (`1e5`, `1.0`, `-0`) vanish in
   * the parsed value. Refused in v6+. When given, the number walk over
   * the value is skipped (the scan covered every number).
   */
  scan?: Pick<JsonScan, 'duplicateKeyPath' | 'nonCanonicalNumberPath'>;
  /**
   * Byte length of the source text `scan` came from. In v6+ (numbers
   * written canonically, no duplicates) canonical JSON is never longer
   * than its source, so a source within the limit skips measuring the
   * canonical size.
   */
  sourceBytes?: number;
  /**
   * The event ID, already known from a trusted source (our own storage of
   * an event checked before): skips computing the reference hash. Not for
   * events received from outside.
   */
  knownEventId?: string;
  /** Skip the 65,536-byte limit (events from our own storage, checked before). */
  skipSizeCheck?: boolean;
  /**
   * The content-hash canonical JSON of this very value, when the caller has
   * just computed it (an event built and hashed here): the size check
   * reuses it instead of encoding the event again.
   */
  contentCanonical?: string;
  /** The canonical JSON of this very value when the caller computed it (with contentCanonical). */
  canonicalText?: string;
}

/** A parsed event plus the canonical texts computed on the way, for the check pipeline. */
export interface ParsedPduDetail {
  readonly event: MatrixEvent;
  /** canonical JSON of the event without unsigned/signatures/hashes (content hash input), when computed */
  readonly contentCanonical: string | undefined;
  /** UTF-8 of the canonical redacted event without signatures (signature and reference hash input); v3+ only */
  readonly redactedBytes: Buffer | undefined;
}

function missing(field: string): PduError {
  return new PduError('pdu_missing_field', `missing field "${field}"`, field);
}
function wrongType(field: string, what: string): PduError {
  return new PduError('pdu_field_type', `field "${field}" must be ${what}`, field);
}
function badId(field: string, problem: string): PduError {
  return new PduError('pdu_bad_id', `field "${field}": ${problem}`, field);
}
function tooLong(field: string): PduError {
  return new PduError('pdu_too_large', `field "${field}" is longer than ${MAX_FIELD_BYTES} bytes`, field);
}
function badNumber(path: string): PduError {
  const field = path.split(/[.[]/)[0] || undefined;
  return new PduError('pdu_bad_number', `number at ${path} is not a canonical JSON integer`, field);
}

/** True when every number in `v` is a canonical integer (fast; no paths). */
function numbersCanonical(v: JsonValue): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && v <= MAX_SAFE && v >= -MAX_SAFE && !Object.is(v, -0);
  if (typeof v !== 'object' || v === null) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!numbersCanonical(v[i]!)) return false;
    return true;
  }
  for (const k in v) if (!numbersCanonical(v[k]!)) return false;
  return true;
}

function isInteger(v: JsonValue | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function eventRefs(json: JsonObject, field: 'prev_events' | 'auth_events', max: number, rv: RoomVersion): string[] {
  const v = json[field];
  if (v === undefined) throw missing(field);
  if (!Array.isArray(v)) throw wrongType(field, 'an array');
  if (v.length > max) throw new PduError('pdu_too_many_refs', `field "${field}" lists ${v.length} events, more than ${max}`, field);
  const out = new Array<string>(v.length);
  const fmt = rv.eventIdFormat;
  for (let i = 0; i < v.length; i++) {
    let id = v[i];
    if (rv.eventRefsWithHashes) {
      if (!Array.isArray(id) || id.length !== 2) throw wrongType(`${field}[${i}]`, 'an [event ID, hashes] pair');
      const hashes = id[1];
      if (!isJsonObject(hashes) || typeof hashes.sha256 !== 'string') throw wrongType(`${field}[${i}][1]`, 'an object with a string "sha256"');
      id = id[0];
    }
    if (typeof id !== 'string') throw wrongType(`${field}[${i}]`, 'an event ID string');
    if (fmt === 'v1') {
      const p = eventIdProblem(id, rv);
      if (p) throw badId(`${field}[${i}]`, p);
    } else if (!isHashEventId(id, fmt === 'v4')) {
      throw badId(`${field}[${i}]`, eventIdProblem(id, rv) ?? 'bad event ID');
    }
    out[i] = id;
  }
  return out;
}

function checkSignaturesShape(sigs: JsonValue | undefined): void {
  if (sigs === undefined) throw missing('signatures');
  if (!isJsonObject(sigs)) throw wrongType('signatures', 'an object');
  for (const server in sigs) {
    const byKey = sigs[server];
    if (!isJsonObject(byKey)) throw wrongType(`signatures.${server}`, 'an object');
    for (const keyId in byKey) {
      if (typeof byKey[keyId] !== 'string') throw wrongType(`signatures.${server}.${keyId}`, 'a string');
    }
  }
}

/** Canonical JSON byte length of the whole PDU, from the content-hash canonical text. */
function canonicalSize(json: JsonObject, contentCanonical: string): number {
  let total = Buffer.byteLength(contentCanonical, 'utf8');
  let count = 0;
  for (const k of ['hashes', 'signatures', 'unsigned'] as const) {
    const v = json[k];
    if (v === undefined) continue;
    total += k.length + 3 + Buffer.byteLength(canonicalJson(v), 'utf8') + 1;
    count++;
  }
  if (count > 0 && contentCanonical === '{}') total -= 1;
  return total;
}

function withCanonicalErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw badNumber(e.path || '(root)');
    throw e;
  }
}

/** `type`: present, a string of at most 255 bytes, without NUL. */
function checkType(json: JsonObject): string {
  const type = json.type;
  if (type === undefined) throw missing('type');
  if (typeof type !== 'string') throw wrongType('type', 'a string');
  if (exceedsBytes(type, MAX_FIELD_BYTES)) throw tooLong('type');
  if (type.indexOf('\u0000') !== -1) throw new PduError('pdu_field_type', 'field "type" must not contain NUL', 'type');
  return type;
}

/** `sender`: present, a user ID of at most 255 bytes. */
function checkSender(json: JsonObject): void {
  const sender = json.sender;
  if (sender === undefined) throw missing('sender');
  if (typeof sender !== 'string') throw wrongType('sender', 'a string');
  if (exceedsBytes(sender, MAX_FIELD_BYTES)) throw tooLong('sender');
  const senderProblem = userIdProblem(sender);
  if (senderProblem) throw badId('sender', senderProblem);
}

/** `content`: present, an object. */
function checkContent(json: JsonObject): JsonObject {
  const content = json.content;
  if (content === undefined) throw missing('content');
  if (!isJsonObject(content)) throw wrongType('content', 'an object');
  return content;
}

/** `state_key`, when present: a string of at most 255 bytes. */
function checkStateKey(json: JsonObject): void {
  const sk = json.state_key;
  if (sk !== undefined) {
    if (typeof sk !== 'string') throw wrongType('state_key', 'a string');
    if (exceedsBytes(sk, MAX_FIELD_BYTES)) throw tooLong('state_key');
  }
}

/** A redaction's target, when present: a string (top level before v11, in content from v11). */
function checkRedacts(json: JsonObject, type: string, content: JsonObject, rv: RoomVersion): void {
  if (type !== 'm.room.redaction') return;
  const field = rv.v11Format ? 'content.redacts' : 'redacts';
  const r = rv.v11Format ? content.redacts : json.redacts;
  if (r !== undefined && typeof r !== 'string') throw wrongType(field, 'a string');
}

/**
 * Builds the MatrixEvent of JSON whose fields have been validated.
 * `json` is kept by reference.
 */
function buildEvent(json: JsonObject, rv: RoomVersion, eventId: string, prevEvents: string[], authEvents: string[], text?: string): MatrixEvent {
  const type = json.type as string;
  const content = isJsonObject(json.content) ? json.content : {};
  let redacts: string | undefined;
  if (type === 'm.room.redaction') {
    const r = rv.v11Format ? content.redacts : json.redacts;
    if (typeof r === 'string') redacts = r;
  }
  const roomId = rv.roomIdFromCreateEvent && type === 'm.room.create' ? roomIdFromCreateEventId(eventId) : (json.room_id as string);
  const sk = json.state_key;
  return {
    eventId,
    roomId,
    sender: json.sender as string,
    type,
    stateKey: typeof sk === 'string' ? sk : undefined,
    content,
    prevEvents,
    authEvents,
    depth: json.depth as number,
    originServerTs: json.origin_server_ts as number,
    redacts,
    roomVersion: rv,
    json,
    text,
  };
}

/** The event form of an already parsed event's redacted JSON (same event ID). */
export function redactedEventOf(event: MatrixEvent, redactedJson: JsonObject): MatrixEvent {
  return buildEvent(redactedJson, event.roomVersion, event.eventId, event.prevEvents as string[], event.authEvents as string[]);
}

/** parsePdu, also returning the canonical texts it computed. */
export function parsePduDetailed(json: JsonValue, rv: RoomVersion, opts: ParsePduOptions = {}): ParsedPduDetail {
  if (!isJsonObject(json)) throw new PduError('pdu_not_object', 'a PDU must be a JSON object');
  const strict = rv.strictCanonicalJson;
  if (strict) {
    const scan = opts.scan;
    if (scan) {
      if (scan.duplicateKeyPath !== undefined) {
        const field = scan.duplicateKeyPath.split(/[.[]/)[0] || undefined;
        throw new PduError('pdu_duplicate_key', `duplicate key at ${scan.duplicateKeyPath}`, field);
      }
      if (scan.nonCanonicalNumberPath !== undefined) throw badNumber(scan.nonCanonicalNumberPath);
    } else if (!numbersCanonical(json)) {
      throw badNumber(findNonCanonicalNumber(json) ?? '(root)');
    }
  }

  const type = checkType(json);
  checkSender(json);

  // room_id
  const roomId = json.room_id;
  const v12Create = rv.roomIdFromCreateEvent && type === 'm.room.create';
  if (roomId === undefined) {
    if (!v12Create) throw missing('room_id');
  } else {
    if (typeof roomId !== 'string') throw wrongType('room_id', 'a string');
    if (exceedsBytes(roomId, MAX_FIELD_BYTES)) throw tooLong('room_id');
    if (!v12Create) {
      const p = roomIdProblem(roomId, rv);
      if (p) throw badId('room_id', p);
    }
  }

  const content = checkContent(json);
  checkStateKey(json);

  // event references
  const prevEvents = eventRefs(json, 'prev_events', MAX_PREV_EVENTS, rv);
  const authEvents = eventRefs(json, 'auth_events', MAX_AUTH_EVENTS, rv);

  // depth, origin_server_ts
  const depth = json.depth;
  if (depth === undefined) throw missing('depth');
  if (!isInteger(depth) || depth < 0 || depth > (strict ? MAX_SAFE : MAX_DEPTH_V1)) {
    throw wrongType('depth', `an integer from 0 to ${strict ? '2^53-1' : '2^63-1'}`);
  }
  const ts = json.origin_server_ts;
  if (ts === undefined) throw missing('origin_server_ts');
  if (!isInteger(ts)) throw wrongType('origin_server_ts', 'an integer');

  // hashes, signatures, unsigned
  const hashes = json.hashes;
  if (hashes === undefined) throw missing('hashes');
  if (!isJsonObject(hashes)) throw wrongType('hashes', 'an object');
  if (hashes.sha256 === undefined) throw missing('hashes.sha256');
  if (typeof hashes.sha256 !== 'string') throw wrongType('hashes.sha256', 'a string');
  checkSignaturesShape(json.signatures);
  const unsigned = json.unsigned;
  if (unsigned !== undefined && !isJsonObject(unsigned)) throw wrongType('unsigned', 'an object');

  checkRedacts(json, type, content, rv);

  // The whole event's canonical text (what is stored), with its members'
  // offsets: the content hash input and the redacted text are cut from it.
  const whole = !opts.skipSizeCheck && opts.contentCanonical === undefined ? withCanonicalErrors(() => canonicalObjectText(json)) : undefined;

  // event ID
  let eventId: string;
  let redactedBytes: Buffer | undefined;
  if (rv.eventIdFormat === 'v1') {
    const id = json.event_id;
    if (id === undefined) throw missing('event_id');
    if (typeof id !== 'string') throw wrongType('event_id', 'a string');
    if (exceedsBytes(id, MAX_FIELD_BYTES)) throw tooLong('event_id');
    const p = eventIdProblem(id, rv);
    if (p) throw badId('event_id', p);
    eventId = id;
  } else if (opts.knownEventId !== undefined) {
    eventId = opts.knownEventId;
  } else {
    const redacted = whole !== undefined ? redactedCanonicalFromText(whole, json, rv) : withCanonicalErrors(() => redactedCanonicalJson(json, rv));
    redactedBytes = Buffer.from(redacted, 'utf8');
    eventId = eventIdFromRedactedBytes(redactedBytes, rv);
  }

  // size, and the canonical texts: the whole event (what is stored) and without hashes, signatures and
  // unsigned (the content hash input), the second cut from the first
  let contentCanonical: string | undefined;
  let text: string | undefined;
  if (!opts.skipSizeCheck) {
    let c: string;
    if (whole !== undefined) {
      text = whole.text;
      c = contentHashTextOf(whole);
    } else {
      c = opts.contentCanonical!; // (whole is made unless it is given)
      text = opts.canonicalText;
    }
    contentCanonical = c;
    const knownSmall = strict && opts.scan !== undefined && opts.sourceBytes !== undefined && opts.sourceBytes <= MAX_PDU_BYTES;
    if (!knownSmall) {
      const size = text !== undefined ? Buffer.byteLength(text, 'utf8') : withCanonicalErrors(() => canonicalSize(json, c));
      if (size > MAX_PDU_BYTES) throw new PduError('pdu_too_large', `PDU is ${size} bytes of canonical JSON, more than ${MAX_PDU_BYTES}`);
    }
  }

  return { event: buildEvent(json, rv, eventId, prevEvents, authEvents, text), contentCanonical, redactedBytes };
}

/**
 * The event form of a PDU this server has just built and signed: its room,
 * prev and auth events, depth, timestamp, hashes and signature are the
 * server's own, so only what the caller of `send` supplied is checked here
 * (type, state key, sender, content and a redaction's target), with the
 * same errors as parsePdu, and the size of `text`, its canonical JSON.
 * `prevEvents` and `authEvents` are the IDs it references, in its order.
 */
export function parseLocalPdu(json: JsonObject, rv: RoomVersion, eventId: string, prevEvents: string[], authEvents: string[], text: string): MatrixEvent {
  const type = checkType(json);
  checkSender(json);
  checkStateKey(json);
  const content = checkContent(json);
  if (rv.strictCanonicalJson && !numbersCanonical(content)) throw badNumber(findNonCanonicalNumber(json) ?? '(root)');
  checkRedacts(json, type, content, rv);
  // (a UTF-16 unit is at most 3 bytes of UTF-8: a short text needs no count)
  if (text.length * 3 > MAX_PDU_BYTES) {
    const size = Buffer.byteLength(text, 'utf8');
    if (size > MAX_PDU_BYTES) throw new PduError('pdu_too_large', `PDU is ${size} bytes of canonical JSON, more than ${MAX_PDU_BYTES}`);
  }
  return buildEvent(json, rv, eventId, prevEvents, authEvents, text);
}

/**
 * Validates event JSON for room version `rv` and returns the parsed event
 * (see the module comment for what is checked). Throws PduError.
 */
export function parsePdu(json: JsonValue, rv: RoomVersion, opts?: ParsePduOptions): MatrixEvent {
  return parsePduDetailed(json, rv, opts).event;
}

/**
 * Parses a PDU from received bytes or text with the strict reader
 * (StrictJsonError for invalid UTF-8, syntax, lone surrogates, excessive
 * nesting) and validates it (PduError).
 */
export function parsePduBytes(input: Uint8Array | string, rv: RoomVersion, opts?: JsonScanOptions): MatrixEvent {
  return parsePduBytesDetailed(input, rv, opts).event;
}

export function parsePduBytesDetailed(input: Uint8Array | string, rv: RoomVersion, opts?: JsonScanOptions): ParsedPduDetail {
  const scan = scanJson(input, opts);
  const sourceBytes = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  return parsePduDetailed(scan.value, rv, { scan, sourceBytes });
}
