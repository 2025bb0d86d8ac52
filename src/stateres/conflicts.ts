/**
 * Splitting state sets into what they agree on and what they do not.
 * Both functions depend only on the sets' contents, never on their order.
 */
import type { StateKeyString, StateMap } from '../matrix/state-key.js';

export interface Split {
  /** Keys every state set maps to the same event. */
  readonly unconflicted: StateMap;
  /** The other keys, with every event any set maps them to (in no particular order). */
  readonly conflicted: Map<StateKeyString, string[]>;
}

/**
 * State resolution v2 / v2.1 (rooms v2-v12): a pair (K, V) is unconflicted
 * when K is present in every set with the same value V; every other value is
 * in the conflicted state set (so a key missing from one set is conflicted).
 */
export function splitV2(sets: readonly StateMap[]): Split {
  const unconflicted: StateMap = new Map();
  const conflicted = new Map<StateKeyString, string[]>();
  if (sets.length === 0) return { unconflicted, conflicted };
  const first = sets[0]!;
  for (const [k, v] of first) {
    let same = true;
    for (let i = 1; i < sets.length; i++) {
      if (sets[i]!.get(k) !== v) {
        same = false;
        break;
      }
    }
    if (same) unconflicted.set(k, v);
    else conflicted.set(k, distinctValues(sets, k));
  }
  for (let i = 1; i < sets.length; i++) {
    for (const k of sets[i]!.keys()) {
      if (!first.has(k) && !conflicted.has(k)) conflicted.set(k, distinctValues(sets, k));
    }
  }
  return { unconflicted, conflicted };
}

/**
 * State resolution v1 (room v1): a conflict is two sets naming different
 * events for the same key; a key some sets lack is not a conflict. The
 * unconflicted map is the union of the sets without the conflicting keys.
 */
export function splitV1(sets: readonly StateMap[]): Split {
  const unconflicted: StateMap = new Map();
  const conflicted = new Map<StateKeyString, string[]>();
  for (const set of sets) {
    for (const [k, v] of set) {
      if (conflicted.has(k)) continue;
      const seen = unconflicted.get(k);
      if (seen === undefined) unconflicted.set(k, v);
      else if (seen !== v) {
        unconflicted.delete(k);
        conflicted.set(k, distinctValues(sets, k));
      }
    }
  }
  return { unconflicted, conflicted };
}

function distinctValues(sets: readonly StateMap[], k: StateKeyString): string[] {
  const out: string[] = [];
  for (const s of sets) {
    const v = s.get(k);
    if (v !== undefined && !out.includes(v)) out.push(v);
  }
  return out;
}
