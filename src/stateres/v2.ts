/**
 * State resolution v2 (rooms v2-v11) and v2.1 (room v12), as the room
 * version pages word it ("State resolution": Definitions, Algorithm).
 *
 * v2.1 differs in two places: the full conflicted set also holds the
 * conflicted state subgraph (every event on an auth_events path between two
 * conflicted state events), and the first round of iterative auth checks
 * starts from an empty state instead of the unconflicted state map.
 *
 * Work is shared, never repeated per event: the auth chain of the
 * unconflicted state is computed once (it is common to every state set);
 * the conflicted events' auth chains are loaded once and numbered
 * (AuthIndex), and each set's own part of its full auth chain is one walk
 * over them that stops where the shared chain begins. Events come through
 * the EventCache, in batches.
 */
import { performance } from 'node:perf_hooks';
import type { RoomVersion } from '../matrix/room-versions.js';
import { stateKey, type StateMap } from '../matrix/state-key.js';
import { AuthIndex } from './auth-index.js';
import { OverlayState, splitV2 } from './conflicts.js';
import { iterativeAuthChecks, planChecks, preloadForChecks, type AuthRules } from './iterative-auth.js';
import type { EventCache } from './lookup.js';
import { mainlineOrder, NOT_VERTEX, ORDERED, PASS_THROUGH, reverseTopologicalPowerOrder } from './ordering.js';
import { createEventIdOfRoom, isPowerEvent, POWER_LEVELS, SenderPower } from './power.js';

const PL_KEY = stateKey(POWER_LEVELS, '');

/** What the algorithm chose on the way, for tests and debugging. */
export interface V2Trace {
  fullConflictedSet?: Set<string>;
  /** Step 1's list, in reverse topological power order. */
  powerOrder?: string[];
  /** Step 3's list, in mainline order. */
  mainlineOrder?: string[];
  /** The entries steps 1-2 set on top of the initial state. */
  partial?: StateMap;
  /** Milliseconds spent in each phase. */
  phases?: Record<string, number>;
}

export async function resolveV2(rv: RoomVersion, sets: readonly StateMap[], cache: EventCache, rules: AuthRules, trace?: V2Trace): Promise<StateMap> {
  const v21 = rv.stateRes === 'v2.1';
  let t = trace ? performance.now() : 0;
  const phase = (name: string): void => {
    if (!trace) return;
    const now = performance.now();
    (trace.phases ??= {})[name] = now - t;
    t = now;
  };
  const { unconflicted, conflicted } = splitV2(sets);
  if (conflicted.size === 0) return unconflicted.toMap();

  // The conflicted state set, and each set's share of it.
  const conflictedIds = new Set<string>();
  for (const ids of conflicted.values()) for (const id of ids) conflictedIds.add(id);
  const perSet = sets.map((s) => {
    const own: string[] = [];
    for (const k of conflicted.keys()) {
      const v = s.get(k);
      if (v !== undefined) own.push(v);
    }
    return own;
  });
  phase('split');

  // Full auth chain of set i: C_i = U ∪ D_i, with U the auth chain of the
  // unconflicted state (in every C_i, and closed under auth chains) and D_i
  // the rest of the auth chain of the set's conflicted events. So the auth
  // difference ∪C_i − ∩C_i is ∪D_i − ∩D_i.
  const shared = await cache.authChainIds(unconflicted.ids());
  phase('unconflicted auth chain');
  await cache.loadAuthClosure(conflictedIds);
  const ix = AuthIndex.build(cache, conflictedIds);
  const n = ix.size;
  const inShared = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (shared.has(ix.ids[i]!)) inShared[i] = 1;
  const count = new Int32Array(n);
  const mark = new Int32Array(n);
  const stack: number[] = [];
  perSet.forEach((own, s) => {
    const stamp = s + 1;
    for (const id of own) {
      const r = ix.indexOf(id);
      if (r !== undefined) ix.forEachAuth(r, (j) => stack.push(j));
    }
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (inShared[i] === 1 || mark[i] === stamp) continue;
      mark[i] = stamp;
      count[i]!++;
      ix.forEachAuth(i, (j) => {
        if (mark[j] !== stamp) stack.push(j);
      });
    }
  });
  const inEveryChain = (i: number): boolean => inShared[i] === 1 || count[i] === sets.length;
  phase('auth difference');

  // Full conflicted set: conflicted state set ∪ auth difference (∪ the
  // conflicted state subgraph in v2.1), limited to state events we hold.
  const inFull = new Uint8Array(n);
  const isConflicted = new Uint8Array(n);
  for (const id of conflictedIds) {
    const i = ix.indexOf(id);
    if (i !== undefined) isConflicted[i] = 1;
  }
  for (let i = 0; i < n; i++) {
    if (isConflicted[i] === 1 || (count[i]! > 0 && count[i]! < sets.length)) inFull[i] = 1;
  }
  if (v21) conflictedSubgraph(ix, isConflicted, inFull);
  const full: number[] = [];
  for (let i = 0; i < n; i++) {
    if (inFull[i] === 1 && ix.events[i]!.stateKey === undefined) inFull[i] = 0;
    if (inFull[i] === 1) full.push(i);
  }

  // v12: auth events do not list the create event; the room ID names it.
  if (rv.roomIdFromCreateEvent) {
    const creates = new Set<string>();
    for (const i of full) {
      const cid = createEventIdOfRoom(ix.events[i]!.roomId);
      if (cid !== undefined) creates.add(cid);
    }
    const p = cache.load(creates);
    if (p) await p;
  }
  phase('full conflicted set');

  // 1. The power events of the full conflicted set and the events of their
  // auth chains in the full conflicted set, in reverse topological power order.
  const kind = powerEventGraph(ix, full, inFull, v21 ? undefined : (i) => isConflicted[i] === 1 && inFull[i] === 1 && inEveryChain(i));
  const power = new SenderPower(rv, cache);
  const powerOrder = reverseTopologicalPowerOrder(ix, kind, (i) => {
    const ev = ix.events[i]!;
    return { id: ev.eventId, power: power.of(ev), ts: ev.originServerTs };
  });
  phase('power order');

  // 2. Iterative auth checks from the unconflicted state map (v2) or from an
  // empty state map (v2.1).
  const partial = new OverlayState(v21 ? undefined : unconflicted);
  const powerPlan = planChecks(rv, powerOrder, cache, rules);
  let p = preloadForChecks(powerPlan, partial, cache);
  if (p) await p;
  iterativeAuthChecks(rv, powerPlan, partial, cache, rules);
  if (trace) {
    trace.fullConflictedSet = new Set(full.map((i) => ix.ids[i]!));
    trace.powerOrder = powerOrder;
    trace.partial = new Map(partial.overlay);
  }
  phase('power checks');

  // 3. The other events of the full conflicted set, in mainline order of
  // the partially resolved power levels event.
  const rest: string[] = [];
  for (const i of full) if (kind[i] !== ORDERED) rest.push(ix.ids[i]!);
  const pl = partial.get(PL_KEY);
  if (pl !== undefined) await cache.loadAuthClosure([pl]);
  const restOrder = mainlineOrder(rest, pl, cache);
  if (trace) trace.mainlineOrder = restOrder;
  phase('mainline order');

  // 4. Iterative auth checks again, on the partially resolved state.
  const restPlan = planChecks(rv, restOrder, cache, rules);
  p = preloadForChecks(restPlan, partial, cache);
  if (p) await p;
  iterativeAuthChecks(rv, restPlan, partial, cache, rules);
  phase('mainline checks');

  // 5. The unconflicted state map wins over the result.
  const out = unconflicted.toMap();
  for (const [k, v] of partial.overlay) if (!unconflicted.has(k)) out.set(k, v);
  phase('result');
  return out;
}

/**
 * v2.1: marks in `inFull` the conflicted state subgraph, every event on an
 * auth_events path from one conflicted state event to another (endpoints
 * included): the events of the conflicted events' auth chains from which a
 * conflicted event can be reached. One post-order walk.
 */
export function conflictedSubgraph(ix: AuthIndex, isConflicted: Uint8Array, inFull: Uint8Array): void {
  const reaches = new Uint8Array(ix.size);
  const done = new Uint8Array(ix.size);
  const roots: number[] = [];
  for (let i = 0; i < ix.size; i++) if (isConflicted[i] === 1) roots.push(i);
  ix.postOrder(
    roots,
    (i) => {
      let r = isConflicted[i] === 1;
      for (let k = ix.authStart(i), end = ix.authEnd(i); !r && k < end; k++) r = reaches[ix.authAt(k)] === 1;
      if (r) {
        reaches[i] = 1;
        inFull[i] = 1;
      }
    },
    done,
  );
}

/**
 * Step 1's set X: each power event of the full conflicted set, and every
 * event of the full conflicted set in the auth chain of one. Returns the
 * vertex kind of each event of the index (ORDERED for X, PASS_THROUGH or
 * NOT_VERTEX); the ordering edges are the auth events between vertices.
 *
 * Walking auth events inside the full conflicted set finds all of X but one
 * kind of event, which only v2 can meet (`deep`, undefined in v2.1): a
 * conflicted state event found in every set's full auth chain (an old
 * member event still current in one set, or a stale entry from a partial
 * view of the room) can sit below events outside the full conflicted set.
 * It is in the auth chain of a power event all the same, so it joins X, and
 * must come before every event of X whose auth chain holds it. The events
 * outside the full conflicted set on the way there become PASS_THROUGH
 * vertices: they carry the ordering constraint and are never listed. (Below an event
 * outside the full conflicted set, which is in every auth chain, only such
 * deep events of the full conflicted set can be met. In v2.1 the conflicted
 * state subgraph holds every such path already.)
 */
function powerEventGraph(ix: AuthIndex, full: readonly number[], inFull: Uint8Array, deep: ((i: number) => boolean) | undefined): Uint8Array {
  const kind = new Uint8Array(ix.size);
  // Events outside the full conflicted set with a deep event below them.
  const reaches = new Uint8Array(ix.size);
  const done = new Uint8Array(ix.size);
  const visit = (i: number): void => {
    if (inFull[i] === 1) return;
    for (let k = ix.authStart(i), end = ix.authEnd(i); k < end; k++) {
      const j = ix.authAt(k);
      if (inFull[j] === 1 ? deep!(j) : reaches[j] === 1) {
        reaches[i] = 1;
        return;
      }
    }
  };
  const stack: number[] = [];
  for (const i of full) {
    if (isPowerEvent(ix.events[i]!)) {
      kind[i] = ORDERED;
      stack.push(i);
    }
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    for (let k = ix.authStart(i), end = ix.authEnd(i); k < end; k++) {
      const j = ix.authAt(k);
      if (kind[j] !== NOT_VERTEX) continue;
      if (inFull[j] === 1) {
        kind[j] = ORDERED;
        stack.push(j);
      } else if (deep !== undefined) {
        if (done[j] === 0) ix.postOrder([j], visit, done);
        if (reaches[j] === 1) {
          kind[j] = PASS_THROUGH;
          stack.push(j);
        }
      }
    }
  }
  return kind;
}
