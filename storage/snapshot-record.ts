/**
 * A snapshot: the state of a room at one point, as an ordered list of at
 * most 64 state blocks (a later block overrides an earlier one per key; an
 * entry with event NID 0 removes the key).
 *
 * The list has two parts. The first `baseCount` blocks are the *base*: the
 * state partitioned by a hash of the state key into 2^bucketBits buckets
 * (one block per non-empty bucket, in bucket order, no removal entries).
 * The rest are *deltas* on top, newest last. Keeping the partition fixed is
 * what lets snapshots share blocks: rebuilding a base rewrites only the
 * buckets whose keys changed, and an unchanged bucket is the same block.
 *
 * Stored form (varints): roomNid, bucketBits, baseCount, baseSize (entries in
 * the base), block count, then each block NID as zigzag(delta from the
 * previous block NID). Pure.
 */
import { RoomServerError } from '../src/errors.js';
import { ByteReader, ByteWriter, unzigzag, zigzag } from './varint.js';

export const MAX_BLOCKS = 64;

export interface SnapshotRecord {
  readonly roomNid: number;
  readonly bucketBits: number;
  readonly baseCount: number;
  readonly baseSize: number;
  readonly blocks: readonly number[];
}

export function encodeSnapshot(s: SnapshotRecord): Buffer {
  const w = new ByteWriter(16 + s.blocks.length * 3);
  w.varint(s.roomNid);
  w.varint(s.bucketBits);
  w.varint(s.baseCount);
  w.varint(s.baseSize);
  w.varint(s.blocks.length);
  let prev = 0;
  for (const b of s.blocks) {
    w.varint(zigzag(b - prev));
    prev = b;
  }
  return w.finish();
}

export function decodeSnapshot(bytes: Uint8Array): SnapshotRecord {
  const r = new ByteReader(bytes);
  const roomNid = r.varint();
  const bucketBits = r.varint();
  const baseCount = r.varint();
  const baseSize = r.varint();
  const n = r.varint();
  if (n > MAX_BLOCKS || baseCount > n || bucketBits > 16) throw corruptSnapshot();
  const blocks: number[] = [];
  let prev = 0;
  for (let i = 0; i < n; i++) {
    prev += unzigzag(r.varint());
    if (prev <= 0) throw corruptSnapshot();
    blocks.push(prev);
  }
  if (!r.done) throw corruptSnapshot();
  return { roomNid, bucketBits, baseCount, baseSize, blocks };
}

function corruptSnapshot(): RoomServerError {
  return new RoomServerError('M_UNKNOWN', 'stored snapshot is malformed', 'storage_corrupt');
}

/** 32-bit mix of a (type NID, state key NID) pair; its top bits pick the bucket. */
export function keyHash(typeNid: number, stateKeyNid: number): number {
  let h = Math.imul(typeNid ^ 0x5bd1e995, 0x9e3779b1) ^ (stateKeyNid | 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function bucketOf(typeNid: number, stateKeyNid: number, bits: number): number {
  return bits === 0 ? 0 : keyHash(typeNid, stateKeyNid) >>> (32 - bits);
}
