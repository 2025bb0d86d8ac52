/**
 * Value encodings of the stored records. Fixed-shape records are msgpack
 * arrays (msgpackr with `useRecords: false`: no shared structures that could
 * be lost). Caller-supplied JSON (event JSON, outputs, journal entries) is
 * stored as JSON text, never msgpack maps: msgpackr renames a `__proto__`
 * key while decoding, which would change signed event content.
 */
import { Packr } from 'msgpackr';
import { RoomServerError } from '../src/errors.js';
import type { JsonObject, JsonValue } from '../src/matrix/json.js';
import { ByteReader, varintLength, writeVarint } from './varint.js';

export const packr = new Packr({ useRecords: false, moreTypes: false });

export function pack(v: unknown): Buffer {
  return packr.pack(v);
}

export function unpack(b: Uint8Array): unknown {
  return packr.unpack(b);
}

export function corrupt(what: string): RoomServerError {
  return new RoomServerError('M_UNKNOWN', `stored ${what} is malformed`, 'storage_corrupt');
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isNumArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isNum);
}

// ---------------------------------------------------------------- events

/** Metadata of one event, stored apart from its JSON. */
export interface EventMeta {
  roomNid: number;
  typeNid: number;
  /** 0 for a non-state event (the empty state key "" has NID 1). */
  stateKeyNid: number;
  sender: string;
  depth: number;
  originServerTs: number;
  prevEventNids: number[];
  authEventNids: number[];
  outlier: boolean;
  rejected: boolean;
  softFailed: boolean;
  redacted: boolean;
  /** Why the event was rejected (rejected events only). */
  rejectReason?: string;
  /** Snapshot of the state before the event; 0 = empty state or none (outliers, rejected without state). */
  stateBeforeNid: number;
  /**
   * The event ID: the NID -> ID direction of the event's mapping (see
   * keys.ts). Every record written carries it (CommitUnit.putEvent fills it
   * in); records of schema 1 may lack it, their events have a NID -> string
   * record instead.
   */
  eventId?: string;
}

const F_OUTLIER = 1;
const F_REJECTED = 2;
const F_SOFT_FAILED = 4;
const F_REDACTED = 8;

/** `eventId` (default m.eventId) is stored as the record's event ID. */
export function encodeEventMeta(m: EventMeta, eventId: string | undefined = m.eventId): Buffer {
  const flags =
    (m.outlier ? F_OUTLIER : 0) | (m.rejected ? F_REJECTED : 0) | (m.softFailed ? F_SOFT_FAILED : 0) | (m.redacted ? F_REDACTED : 0);
  const arr: unknown[] = [
    m.roomNid,
    m.typeNid,
    m.stateKeyNid,
    m.sender,
    m.depth,
    m.originServerTs,
    m.prevEventNids,
    m.authEventNids,
    flags,
    m.stateBeforeNid,
  ];
  // [10]: reject reason (nil when none, absent when nothing follows), [11]: event ID
  if (m.rejectReason !== undefined || eventId !== undefined) arr.push(m.rejectReason ?? null);
  if (eventId !== undefined) arr.push(eventId);
  return pack(arr);
}

export function decodeEventMeta(b: Uint8Array): EventMeta {
  const a = unpack(b);
  if (!Array.isArray(a) || a.length < 10) throw corrupt('event metadata');
  const [roomNid, typeNid, stateKeyNid, sender, depth, ts, prev, auth, flags, stateBeforeNid, reason, eventId] = a as unknown[];
  if (
    !isNum(roomNid) || !isNum(typeNid) || !isNum(stateKeyNid) || typeof sender !== 'string' ||
    typeof depth !== 'number' || typeof ts !== 'number' || !isNumArray(prev) || !isNumArray(auth) ||
    !isNum(flags) || !isNum(stateBeforeNid) || (reason != null && typeof reason !== 'string') ||
    (eventId !== undefined && typeof eventId !== 'string')
  ) {
    throw corrupt('event metadata');
  }
  const m: EventMeta = {
    roomNid,
    typeNid,
    stateKeyNid,
    sender,
    depth,
    originServerTs: ts,
    prevEventNids: prev,
    authEventNids: auth,
    outlier: (flags & F_OUTLIER) !== 0,
    rejected: (flags & F_REJECTED) !== 0,
    softFailed: (flags & F_SOFT_FAILED) !== 0,
    redacted: (flags & F_REDACTED) !== 0,
    stateBeforeNid,
  };
  if (reason != null) m.rejectReason = reason;
  if (eventId !== undefined) m.eventId = eventId;
  return m;
}

/**
 * A value on its way to the database: bytes, or a string that LevelDB
 * stores as its UTF-8 bytes (handing text over as a string spares a copy
 * into a Buffer).
 */
export type WriteValue = Buffer | string;

/** Event JSON as stored: UTF-8 JSON text (well-formed: JSON.stringify escapes lone surrogates). */
export function eventJsonValue(json: JsonObject | string | Uint8Array): WriteValue {
  if (typeof json === 'string') return json;
  if (json instanceof Uint8Array) return Buffer.from(json);
  return JSON.stringify(json);
}

export function encodeEventJson(json: JsonObject | string | Uint8Array): Buffer {
  const v = eventJsonValue(json);
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

export function decodeEventJson(b: Uint8Array): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'));
  } catch {
    throw corrupt('event JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw corrupt('event JSON');
  return v as JsonObject;
}

// ---------------------------------------------------------------- rooms

export interface RoomRecord {
  roomVersion: string;
  createEventNid: number;
  /** Forward extremities (event NIDs). */
  extremities: number[];
  /** Snapshot of the current state (after the extremities); 0 = empty. */
  stateSnapshotNid: number;
  maxDepth: number;
  /**
   * Position of the room's last output. When a unit appends outputs for the
   * room, the committer sets this to the last position it assigned.
   */
  lastOutputPos: number;
}

export function encodeRoom(r: RoomRecord): Buffer {
  return pack([r.roomVersion, r.createEventNid, r.extremities, r.stateSnapshotNid, r.maxDepth, r.lastOutputPos]);
}

export function decodeRoom(b: Uint8Array): RoomRecord {
  const a = unpack(b);
  if (!Array.isArray(a) || a.length < 6) throw corrupt('room record');
  const [roomVersion, createEventNid, extremities, stateSnapshotNid, maxDepth, lastOutputPos] = a as unknown[];
  if (
    typeof roomVersion !== 'string' || !isNum(createEventNid) || !isNumArray(extremities) ||
    !isNum(stateSnapshotNid) || typeof maxDepth !== 'number' || !isNum(lastOutputPos)
  ) {
    throw corrupt('room record');
  }
  return { roomVersion, createEventNid, extremities, stateSnapshotNid, maxDepth, lastOutputPos };
}

// ---------------------------------------------------------------- membership, txn, keys

export interface MembershipRecord {
  membership: string;
  eventNid: number;
}

export function encodeMembership(m: MembershipRecord): Buffer {
  return pack([m.membership, m.eventNid]);
}

export function decodeMembership(b: Uint8Array): MembershipRecord {
  const a = unpack(b);
  if (!Array.isArray(a) || typeof a[0] !== 'string' || !isNum(a[1])) throw corrupt('membership');
  return { membership: a[0], eventNid: a[1] };
}

export interface TxnRecord {
  eventId: string;
  status: string;
}

export function encodeTxn(t: TxnRecord): Buffer {
  return pack([t.eventId, t.status]);
}

export function decodeTxn(b: Uint8Array): TxnRecord {
  const a = unpack(b);
  if (!Array.isArray(a) || typeof a[0] !== 'string' || typeof a[1] !== 'string') throw corrupt('txn record');
  return { eventId: a[0], status: a[1] };
}

export interface ServerKeyRecord {
  /** Unpadded base64 ed25519 public key. */
  publicKey: string;
  /** 0 = no expiry known. */
  validUntilTs: number;
}

export function encodeServerKey(k: ServerKeyRecord): Buffer {
  return pack([k.publicKey, k.validUntilTs]);
}

export function decodeServerKey(b: Uint8Array): ServerKeyRecord {
  const a = unpack(b);
  if (!Array.isArray(a) || typeof a[0] !== 'string' || typeof a[1] !== 'number') throw corrupt('server key');
  return { publicKey: a[0], validUntilTs: a[1] };
}

// ---------------------------------------------------------------- caller values (outputs, journal)

/**
 * What callers store in the output log and the journal: JSON, or bytes they
 * encoded themselves (returned as a Buffer).
 */
export type StoredValue = JsonValue | Uint8Array;

const V_BYTES = 0x01;
const COLON = 0x3a;

/**
 * Stored form: JSON as the text `<roomNid>:<json>` (starts with a digit);
 * bytes as [0x01][varint roomNid][bytes]. roomNid is 0 for journal entries.
 */
export function taggedValue(roomNid: number, v: StoredValue): WriteValue {
  if (v instanceof Uint8Array) {
    const head = 1 + varintLength(roomNid);
    const out = Buffer.allocUnsafe(head + v.length);
    out[0] = V_BYTES;
    writeVarint(out, 1, roomNid);
    out.set(v, head);
    return out;
  }
  const s = JSON.stringify(v);
  if (s === undefined) throw new RoomServerError('M_INVALID_PARAM', 'value is not JSON', 'storage_not_json');
  return `${roomNid}:${s}`;
}

export function encodeTagged(roomNid: number, v: StoredValue): Buffer {
  const t = taggedValue(roomNid, v);
  return typeof t === 'string' ? Buffer.from(t, 'utf8') : t;
}

export function decodeTagged(b: Uint8Array): { roomNid: number; value: StoredValue } {
  const first = b[0];
  if (first === V_BYTES) {
    const r = new ByteReader(b);
    r.varint();
    const roomNid = r.varint();
    return { roomNid, value: Buffer.from(b.subarray(r.pos)) };
  }
  if (first === undefined || first < 0x30 || first > 0x39) throw corrupt('tagged value');
  let roomNid = 0;
  let i = 0;
  for (; i < b.length && b[i] !== COLON; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9 || i > 16) throw corrupt('tagged value');
    roomNid = roomNid * 10 + d;
  }
  if (i >= b.length) throw corrupt('tagged value');
  try {
    const text = Buffer.from(b.buffer, b.byteOffset + i + 1, b.byteLength - i - 1).toString('utf8');
    return { roomNid, value: JSON.parse(text) as JsonValue };
  } catch {
    throw corrupt('tagged value');
  }
}
