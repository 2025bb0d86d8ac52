/**
 * Numeric IDs (NIDs): the namespaces, the preassigned NIDs of well-known
 * event types and of the empty state key, and the single-number state key
 * used by in-memory state maps. Pure: no I/O.
 */
import { RoomServerError } from '../src/errors.js';

/** The four string namespaces that have NIDs. */
export const Ns = {
  ROOM: 1,
  EVENT: 2,
  TYPE: 3,
  STATE_KEY: 4,
} as const;
export type Ns = (typeof Ns)[keyof typeof Ns];
export const ALL_NS: readonly Ns[] = [Ns.ROOM, Ns.EVENT, Ns.TYPE, Ns.STATE_KEY];

export function nsName(ns: Ns): string {
  switch (ns) {
    case Ns.ROOM: return 'room';
    case Ns.EVENT: return 'event';
    case Ns.TYPE: return 'type';
    case Ns.STATE_KEY: return 'state_key';
  }
}

// Preassigned event type NIDs (never change these: they are on disk).
export const TYPE_CREATE = 1;
export const TYPE_POWER_LEVELS = 2;
export const TYPE_JOIN_RULES = 3;
export const TYPE_THIRD_PARTY_INVITE = 4;
export const TYPE_MEMBER = 5;
export const TYPE_REDACTION = 6;
export const TYPE_HISTORY_VISIBILITY = 7;

/** The preassigned NID of the empty state key "". */
export const STATE_KEY_EMPTY = 1;

export const PREASSIGNED_TYPES: ReadonlyArray<readonly [string, number]> = [
  ['m.room.create', TYPE_CREATE],
  ['m.room.power_levels', TYPE_POWER_LEVELS],
  ['m.room.join_rules', TYPE_JOIN_RULES],
  ['m.room.third_party_invite', TYPE_THIRD_PARTY_INVITE],
  ['m.room.member', TYPE_MEMBER],
  ['m.room.redaction', TYPE_REDACTION],
  ['m.room.history_visibility', TYPE_HISTORY_VISIBILITY],
];

export const PREASSIGNED_STATE_KEYS: ReadonlyArray<readonly [string, number]> = [['', STATE_KEY_EMPTY]];

/** Preassigned (string, NID) pairs of a namespace. */
export function preassigned(ns: Ns): ReadonlyArray<readonly [string, number]> {
  if (ns === Ns.TYPE) return PREASSIGNED_TYPES;
  if (ns === Ns.STATE_KEY) return PREASSIGNED_STATE_KEYS;
  return [];
}

/**
 * The first NID handed out dynamically in a namespace. Types and state keys
 * keep a reserved range for well-known strings added later.
 */
export function firstDynamicNid(ns: Ns): number {
  if (ns === Ns.TYPE) return 64;
  if (ns === Ns.STATE_KEY) return 16;
  return 1;
}

/** Exclusive upper bound of NIDs in a namespace (so state key numbers stay exact). */
export function nidLimit(ns: Ns): number {
  if (ns === Ns.TYPE) return TYPE_NID_LIMIT;
  if (ns === Ns.STATE_KEY) return STATE_KEY_NID_LIMIT;
  return Number.MAX_SAFE_INTEGER;
}

export const TYPE_NID_LIMIT = 2 ** 21;
export const STATE_KEY_NID_LIMIT = 2 ** 32;
const TWO32 = 4294967296;

/**
 * A (type NID, state key NID) pair as one number: typeNid * 2^32 + skNid.
 * Exact in a double because typeNid < 2^21 and skNid < 2^32. Numbers sort
 * like the pairs.
 */
export type StateKeyNum = number;

export function stateKeyNum(typeNid: number, stateKeyNid: number): StateKeyNum {
  if (!Number.isInteger(typeNid) || typeNid < 0 || typeNid >= TYPE_NID_LIMIT) {
    throw new RoomServerError('M_INVALID_PARAM', `type NID out of range: ${typeNid}`, 'storage_bad_nid');
  }
  if (!Number.isInteger(stateKeyNid) || stateKeyNid < 0 || stateKeyNid >= STATE_KEY_NID_LIMIT) {
    throw new RoomServerError('M_INVALID_PARAM', `state key NID out of range: ${stateKeyNid}`, 'storage_bad_nid');
  }
  return typeNid * TWO32 + stateKeyNid;
}

export function stateKeyTypeNid(k: StateKeyNum): number {
  return Math.floor(k / TWO32);
}

export function stateKeySkNid(k: StateKeyNum): number {
  return k % TWO32;
}

export function splitStateKeyNum(k: StateKeyNum): [typeNid: number, stateKeyNid: number] {
  const t = Math.floor(k / TWO32);
  return [t, k - t * TWO32];
}
