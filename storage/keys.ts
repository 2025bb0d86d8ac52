/**
 * The LevelDB key layout. Every key starts with one table byte; numeric IDs
 * are written as 8-byte big-endian unsigned integers so that a key range
 * sorts in numeric order (255 < 256 < 65536). Strings are raw UTF-8; where a
 * string is not the last part of a key it is preceded by its 2-byte length.
 *
 *   0x00 'schema'                         -> schema version (u64)
 *   0x00 'journal_next'                   -> next journal sequence (u64)
 *   0x01 ns string                        -> NID (u64)            string -> NID
 *   0x02 ns nid                           -> UTF-8 string         NID -> string (*)
 *   0x10 eventNid                         -> event metadata (msgpack, with the event ID)
 *   0x11 eventNid                         -> event JSON (UTF-8 JSON text)
 *   0x20 blockNid                         -> state block bytes (state-block.ts)
 *   0x21 hash16                           -> blockNid (u64)
 *   0x22 snapshotNid                      -> snapshot record bytes (snapshot-record.ts)
 *   0x23 hash16                           -> snapshotNid (u64)
 *   0x30 roomNid                          -> room record (msgpack)
 *   0x40 pos                              -> output entry ('<roomNid>:<json>' or 0x01 varint roomNid bytes)
 *   0x41 roomNid pos                      -> empty (per-room output index)
 *   0x50 seq                              -> journal entry (as an output entry, roomNid 0)
 *   0x60 roomNid user                     -> membership (msgpack [membership, eventNid])
 *   0x61 len16 sender txnId               -> txn record (msgpack)
 *   0x62 targetNid redactionNid           -> empty (redactions index)
 *   0x70 len16 serverName keyId           -> server key (msgpack [publicKey, validUntilTs])
 *
 * (*) Not written for an event whose metadata goes into the same write as its
 * mapping (nearly every event): the metadata record holds the event ID. Event
 * NIDs named before their event is stored (a missing prev event) have one.
 *
 * Only storage/ uses these encodings.
 */
import { RoomServerError } from '../src/errors.js';

export const T_META = 0x00;
export const T_STR2NID = 0x01;
export const T_NID2STR = 0x02;
export const T_EVENT_META = 0x10;
export const T_EVENT_JSON = 0x11;
export const T_BLOCK = 0x20;
export const T_BLOCK_HASH = 0x21;
export const T_SNAPSHOT = 0x22;
export const T_SNAPSHOT_HASH = 0x23;
export const T_ROOM = 0x30;
export const T_OUTPUT = 0x40;
export const T_OUTPUT_BY_ROOM = 0x41;
export const T_JOURNAL = 0x50;
export const T_MEMBERSHIP = 0x60;
export const T_TXN = 0x61;
export const T_REDACTION = 0x62;
export const T_SERVER_KEY = 0x70;

const TWO32 = 4294967296;

/** Throws unless n is a safe non-negative integer (a valid NID, position or sequence). */
export function checkU64(n: number, what = 'id'): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RoomServerError('M_INVALID_PARAM', `${what} must be a non-negative safe integer, got ${String(n)}`, 'storage_bad_number');
  }
}

export function writeU64(buf: Uint8Array, off: number, n: number): void {
  const hi = Math.floor(n / TWO32);
  const lo = n - hi * TWO32;
  buf[off] = hi >>> 24;
  buf[off + 1] = (hi >>> 16) & 0xff;
  buf[off + 2] = (hi >>> 8) & 0xff;
  buf[off + 3] = hi & 0xff;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = (lo >>> 16) & 0xff;
  buf[off + 6] = (lo >>> 8) & 0xff;
  buf[off + 7] = lo & 0xff;
}

export function readU64(buf: Uint8Array, off: number): number {
  if (off + 8 > buf.length) {
    throw new RoomServerError('M_UNKNOWN', 'stored key or value too short for a u64', 'storage_corrupt');
  }
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  return hi * TWO32 + lo;
}

/** A u64 as an 8-byte value. */
export function u64Value(n: number): Buffer {
  checkU64(n);
  const b = Buffer.allocUnsafe(8);
  writeU64(b, 0, n);
  return b;
}

/** [table] */
export function tableKey(table: number): Buffer {
  return Buffer.from([table]);
}

/** [table][u64] */
export function nidKey(table: number, n: number): Buffer {
  return nidKeyInto(Buffer.allocUnsafe(9), table, n);
}

/** nidKey written into `out` (9 bytes): for a key that is copied at once (into a native batch). */
export function nidKeyInto(out: Buffer, table: number, n: number): Buffer {
  checkU64(n);
  out[0] = table;
  writeU64(out, 1, n);
  return out;
}

/** nid2Key written into `out` (17 bytes), as nidKeyInto. */
export function nid2KeyInto(out: Buffer, table: number, a: number, b: number): Buffer {
  checkU64(a);
  checkU64(b);
  out[0] = table;
  writeU64(out, 1, a);
  writeU64(out, 9, b);
  return out;
}

/** [table][u64 a][u64 b] */
export function nid2Key(table: number, a: number, b: number): Buffer {
  return nid2KeyInto(Buffer.allocUnsafe(17), table, a, b);
}

/** [table][u64 a][utf8 s] */
export function nidStrKey(table: number, a: number, s: string): Buffer {
  checkU64(a);
  const len = Buffer.byteLength(s, 'utf8');
  const k = Buffer.allocUnsafe(9 + len);
  k[0] = table;
  writeU64(k, 1, a);
  k.write(s, 9, 'utf8');
  return k;
}

/** [T_STR2NID][ns][utf8 s] */
export function str2NidKey(ns: number, s: string): Buffer {
  const len = Buffer.byteLength(s, 'utf8');
  const k = Buffer.allocUnsafe(2 + len);
  k[0] = T_STR2NID;
  k[1] = ns;
  k.write(s, 2, 'utf8');
  return k;
}

/** [T_NID2STR][ns][u64 nid] */
export function nid2StrKey(ns: number, nid: number): Buffer {
  checkU64(nid);
  const k = Buffer.allocUnsafe(10);
  k[0] = T_NID2STR;
  k[1] = ns;
  writeU64(k, 2, nid);
  return k;
}

/** [table][hash bytes] */
export function hashKey(table: number, hash: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(1 + hash.length);
  k[0] = table;
  k.set(hash, 1);
  return k;
}

/** [table][len16 a][utf8 a][utf8 b]: two strings, the first length-prefixed. */
export function str2Key(table: number, a: string, b: string): Buffer {
  const la = Buffer.byteLength(a, 'utf8');
  if (la > 0xffff) {
    throw new RoomServerError('M_INVALID_PARAM', 'string too long for a key', 'storage_key_too_long');
  }
  const lb = Buffer.byteLength(b, 'utf8');
  const k = Buffer.allocUnsafe(3 + la + lb);
  k[0] = table;
  k[1] = la >>> 8;
  k[2] = la & 0xff;
  k.write(a, 3, 'utf8');
  k.write(b, 3 + la, 'utf8');
  return k;
}

/** [table][len16 a][utf8 a]: the prefix of every str2Key(table, a, *). */
export function str2KeyPrefix(table: number, a: string): Buffer {
  return str2Key(table, a, '');
}

/** Splits a str2Key back into its two strings. */
export function readStr2Key(k: Uint8Array): [string, string] {
  const la = (k[1]! << 8) | k[2]!;
  const buf = Buffer.from(k.buffer, k.byteOffset, k.byteLength);
  return [buf.toString('utf8', 3, 3 + la), buf.toString('utf8', 3 + la)];
}

/**
 * The smallest key greater than every key starting with `prefix` (for an
 * exclusive upper bound `lt`). Prefixes here never consist only of 0xff.
 */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i] = b[i]! + 1;
      return b.subarray(0, i + 1);
    }
  }
  throw new RoomServerError('M_UNKNOWN', 'no upper bound for an all-0xff prefix', 'storage_bad_prefix');
}

/** Range options covering every key that starts with `prefix`. */
export function prefixRange(prefix: Uint8Array): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from(prefix), lt: prefixEnd(prefix) };
}
