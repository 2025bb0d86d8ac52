/**
 * State blocks: sorted lists of (type NID, state key NID, event NID) entries,
 * one per state key, where event NID 0 means "removed". Held in memory as two
 * parallel arrays (state key number, event NID) sorted by the state key
 * number (which sorts like the (type, state key) pair); stored compactly:
 *
 *   varint count
 *   per entry: varint typeDelta          (from the previous entry's type NID)
 *              varint stateKey           (delta from the previous state key NID
 *                                         when the type is unchanged, else absolute)
 *              varint event              (0 = removed, else zigzag(delta from the
 *                                         previous non-zero event NID) + 1)
 *
 * Blocks are deduplicated by a 128-bit content hash (SHA-256 truncated). Pure.
 */
import { hash } from 'node:crypto';
import { RoomServerError } from '../src/errors.js';
import { splitStateKeyNum, stateKeyNum, type StateKeyNum } from './nids.js';
import { ByteReader, ByteWriter, unzigzag, zigzag } from './varint.js';

export interface StateBlock {
  /** State key numbers, strictly increasing. */
  readonly keys: Float64Array;
  /** Event NIDs (0 = removed), parallel to keys. */
  readonly events: Float64Array;
}

export const EMPTY_BLOCK: StateBlock = { keys: new Float64Array(0), events: new Float64Array(0) };

export function blockSize(b: StateBlock): number {
  return b.keys.length;
}

export function encodeBlock(b: StateBlock): Buffer {
  const w = new ByteWriter(16 + b.keys.length * 6);
  const n = b.keys.length;
  w.varint(n);
  let prevType = 0;
  let prevSk = 0;
  let prevEv = 0;
  for (let i = 0; i < n; i++) {
    const [t, sk] = splitStateKeyNum(b.keys[i]!);
    const ev = b.events[i]!;
    w.varint(t - prevType);
    w.varint(t === prevType && i > 0 ? sk - prevSk : sk);
    if (ev === 0) {
      w.varint(0);
    } else {
      w.varint(zigzag(ev - prevEv) + 1);
      prevEv = ev;
    }
    prevType = t;
    prevSk = sk;
  }
  return w.finish();
}

export function decodeBlock(bytes: Uint8Array): StateBlock {
  const r = new ByteReader(bytes);
  const n = r.varint();
  if (n > bytes.length) throw corruptBlock();
  const keys = new Float64Array(n);
  const events = new Float64Array(n);
  let t = 0;
  let sk = 0;
  let prevEv = 0;
  for (let i = 0; i < n; i++) {
    const dt = r.varint();
    const s = r.varint();
    if (dt !== 0 || i === 0) {
      t += dt;
      sk = s;
    } else {
      sk += s;
    }
    const code = r.varint();
    let ev = 0;
    if (code !== 0) {
      ev = prevEv + unzigzag(code - 1);
      if (ev <= 0 || !Number.isSafeInteger(ev)) throw corruptBlock();
      prevEv = ev;
    }
    keys[i] = stateKeyNum(t, sk);
    events[i] = ev;
    if (i > 0 && keys[i]! <= keys[i - 1]!) throw corruptBlock();
  }
  if (!r.done) throw corruptBlock();
  return { keys, events };
}

function corruptBlock(): RoomServerError {
  return new RoomServerError('M_UNKNOWN', 'stored state block is malformed', 'storage_corrupt');
}

/** 16-byte content hash. */
export function contentHash(bytes: Uint8Array): Buffer {
  return hash('sha256', bytes, 'buffer').subarray(0, 16);
}

/** A block from unsorted changes; a later change to the same key wins. */
export function blockFromChanges(changes: ReadonlyArray<readonly [typeNid: number, stateKeyNid: number, eventNid: number]>): StateBlock {
  const m = new Map<number, number>();
  for (const [t, sk, ev] of changes) {
    if (!Number.isSafeInteger(ev) || ev < 0) {
      throw new RoomServerError('M_INVALID_PARAM', `event NID out of range: ${ev}`, 'storage_bad_nid');
    }
    m.set(stateKeyNum(t, sk), ev);
  }
  return blockFromMap(m);
}

/** A block from a map of state key number -> event NID (entries with 0 kept unless dropRemovals). */
export function blockFromMap(m: ReadonlyMap<StateKeyNum, number>, dropRemovals = false): StateBlock {
  const keys: number[] = [];
  for (const [k, ev] of m) if (!(dropRemovals && ev === 0)) keys.push(k);
  keys.sort((a, b) => a - b);
  const ks = new Float64Array(keys);
  const evs = new Float64Array(keys.length);
  for (let i = 0; i < keys.length; i++) evs[i] = m.get(keys[i]!)!;
  return { keys: ks, events: evs };
}

/** Entries of `older` overridden by `newer`; removals dropped when nothing lies below. */
export function mergeBlocks(older: StateBlock, newer: StateBlock, dropRemovals: boolean): StateBlock {
  const a = older, b = newer;
  const na = a.keys.length, nb = b.keys.length;
  const keys = new Float64Array(na + nb);
  const events = new Float64Array(na + nb);
  let i = 0, j = 0, n = 0;
  while (i < na || j < nb) {
    let k: number, ev: number;
    if (j >= nb || (i < na && a.keys[i]! < b.keys[j]!)) {
      k = a.keys[i]!;
      ev = a.events[i]!;
      i++;
    } else {
      k = b.keys[j]!;
      ev = b.events[j]!;
      if (i < na && a.keys[i] === k) i++;
      j++;
    }
    if (dropRemovals && ev === 0) continue;
    keys[n] = k;
    events[n] = ev;
    n++;
  }
  return { keys: keys.slice(0, n), events: events.slice(0, n) };
}

/** Applies a block onto a state map (0 deletes). */
export function applyBlock(state: Map<StateKeyNum, number>, b: StateBlock): void {
  const { keys, events } = b;
  for (let i = 0; i < keys.length; i++) {
    const ev = events[i]!;
    if (ev === 0) state.delete(keys[i]!);
    else state.set(keys[i]!, ev);
  }
}

/** Looks one key up in a block; undefined when absent (0 when removed). */
export function blockGet(b: StateBlock, k: StateKeyNum): number | undefined {
  let lo = 0, hi = b.keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = b.keys[mid]!;
    if (v === k) return b.events[mid];
    if (v < k) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
