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

/** Read access to a state; `StateMap` fits. */
export interface StateReader {
  get(k: StateKeyString): string | undefined;
  has(k: StateKeyString): boolean;
}

/**
 * The unconflicted state map of v2 as a view over the first state set:
 * a key every set maps to the same event is in the first set, so the map is
 * the first set without the conflicted keys. Rooms are large and conflicts
 * small: this saves building a map the size of the room.
 */
export class UnconflictedView implements StateReader {
  private readonly base: StateMap;
  private readonly conflicted: ReadonlyMap<StateKeyString, unknown>;

  constructor(base: StateMap, conflicted: ReadonlyMap<StateKeyString, unknown>) {
    this.base = base;
    this.conflicted = conflicted;
  }

  get(k: StateKeyString): string | undefined {
    return this.conflicted.has(k) ? undefined : this.base.get(k);
  }

  has(k: StateKeyString): boolean {
    return !this.conflicted.has(k) && this.base.has(k);
  }

  /** The event IDs of the map. */
  ids(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.base) if (!this.conflicted.has(k)) out.push(v);
    return out;
  }

  /** A new StateMap holding the view. */
  toMap(): StateMap {
    const m = new Map(this.base);
    for (const k of this.conflicted.keys()) m.delete(k);
    return m;
  }
}

/**
 * State resolution v2 / v2.1 (rooms v2-v12): a pair (K, V) is unconflicted
 * when K is present in every set with the same value V; every other value is
 * in the conflicted state set (so a key missing from one set is conflicted).
 */
export function splitV2(sets: readonly StateMap[]): { unconflicted: UnconflictedView; conflicted: Map<StateKeyString, string[]> } {
  const conflicted = new Map<StateKeyString, string[]>();
  const first = sets[0] ?? new Map<StateKeyString, string>();
  // How many keys of the first set each other set holds: when that is its
  // size, it has no key the first set lacks.
  const shared = new Array<number>(sets.length).fill(0);
  for (const [k, v] of first) {
    let same = true;
    for (let i = 1; i < sets.length; i++) {
      const w = sets[i]!.get(k);
      if (w !== undefined) shared[i]!++;
      if (w !== v) same = false;
    }
    if (!same) conflicted.set(k, distinctValues(sets, k));
  }
  for (let i = 1; i < sets.length; i++) {
    if (shared[i] === sets[i]!.size) continue;
    for (const k of sets[i]!.keys()) {
      if (!first.has(k) && !conflicted.has(k)) conflicted.set(k, distinctValues(sets, k));
    }
  }
  return { unconflicted: new UnconflictedView(first, conflicted), conflicted };
}

/**
 * A state built on a base that is only read: changes go to a small overlay.
 * The partially resolved state of v2 is the unconflicted map plus the events
 * the iterative auth checks apply.
 */
export class OverlayState implements StateReader {
  private readonly base: StateReader | undefined;
  /** The entries set on top of the base. */
  readonly overlay: StateMap = new Map();

  constructor(base?: StateReader) {
    this.base = base;
  }

  get(k: StateKeyString): string | undefined {
    const v = this.overlay.get(k);
    return v !== undefined ? v : this.base?.get(k);
  }

  has(k: StateKeyString): boolean {
    return this.overlay.has(k) || (this.base?.has(k) ?? false);
  }

  set(k: StateKeyString, v: string): void {
    this.overlay.set(k, v);
  }
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
