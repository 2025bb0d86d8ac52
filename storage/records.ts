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
}

const F_OUTLIER = 1;
const F_REJECTED = 2;
const F_SOFT_FAILED = 4;
const F_REDACTED = 8;

export function encodeEventMeta(m: EventMeta): Buffer {
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
  if (m.rejectReason !== undefined) arr.push(m.rejectReason);
  return pack(arr);
}

export function decodeEventMeta(b: Uint8Array): EventMeta {
  const a = unpack(b);
  if (!Array.isArray(a) || a.length < 10) throw corrupt('event metadata');
  const [roomNid, typeNid, stateKeyNid, sender, depth, ts, prev, auth, flags, stateBeforeNid, reason] = a as unknown[];
  if (
    !isNum(roomNid) || !isNum(typeNid) || !isNum(stateKeyNid) || typeof sender !== 'string' ||
    typeof depth !== 'number' || typeof ts !== 'number' || !isNumArray(prev) || !isNumArray(auth) ||
    !isNum(flags) || !isNum(stateBeforeNid) || (reason !== undefined && typeof reason !== 'string')
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
  if (reason !== undefined) m.rejectReason = reason;
  return m;
}

/** Event JSON as stored: UTF-8 JSON text. */
export function encodeEventJson(json: JsonObject | string | Uint8Array): Buffer {
  if (typeof json === 'string') return Buffer.from(json, 'utf8');
  if (json instanceof Uint8Array) return Buffer.from(json);
  return Buffer.from(JSON.stringify(json), 'utf8');
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

const V_JSON = 0;
const V_BYTES = 1;

/** [kind][varint roomNid][payload] (roomNid 0 for journal entries). */
export function encodeTagged(roomNid: number, v: StoredValue): Buffer {
  let kind: number;
  let payload: Uint8Array | string;
  if (v instanceof Uint8Array) {
    kind = V_BYTES;
    payload = v;
  } else {
    kind = V_JSON;
    const s = JSON.stringify(v);
    if (s === undefined) throw new RoomServerError('M_INVALID_PARAM', 'value is not JSON', 'storage_not_json');
    payload = s;
  }
  const head = 1 + varintLength(roomNid);
  const len = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
  const out = Buffer.allocUnsafe(head + len);
  out[0] = kind;
  writeVarint(out, 1, roomNid);
  if (typeof payload === 'string') out.write(payload, head, 'utf8');
  else out.set(payload, head);
  return out;
}

export function decodeTagged(b: Uint8Array): { roomNid: number; value: StoredValue } {
  const r = new ByteReader(b);
  const kind = r.varint();
  const roomNid = r.varint();
  const payload = Buffer.from(b.buffer, b.byteOffset + r.pos, b.byteLength - r.pos);
  if (kind === V_BYTES) return { roomNid, value: Buffer.from(payload) };
  if (kind !== V_JSON) throw corrupt('tagged value');
  try {
    return { roomNid, value: JSON.parse(payload.toString('utf8')) as JsonValue };
  } catch {
    throw corrupt('tagged value');
  }
}
