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
 * unconflicted state is computed once (it is common to every state set), and
 * each set's own part of its full auth chain is walked once, stopping where
 * that shared chain begins. Events come through the EventCache, in batches.
 */
import type { RoomVersion } from '../matrix/room-versions.js';
import { stateKey, type StateMap } from '../matrix/state-key.js';
import { splitV2 } from './conflicts.js';
import { postOrder } from './graph.js';
import { iterativeAuthChecks, preloadForChecks, type AuthRules } from './iterative-auth.js';
import type { EventCache } from './lookup.js';
import { mainlineOrder, reverseTopologicalPowerOrder } from './ordering.js';
import { createEventIdOfRoom, isPowerEvent, POWER_LEVELS, SenderPower } from './power.js';

const PL_KEY = stateKey(POWER_LEVELS, '');

/** What the algorithm chose on the way, for tests and debugging. */
export interface V2Trace {
  fullConflictedSet?: Set<string>;
  /** Step 1's list, in reverse topological power order. */
  powerOrder?: string[];
  /** Step 3's list, in mainline order. */
  mainlineOrder?: string[];
  /** The partially resolved state after step 2. */
  partial?: StateMap;
}

export async function resolveV2(rv: RoomVersion, sets: readonly StateMap[], cache: EventCache, rules: AuthRules, trace?: V2Trace): Promise<StateMap> {
  const v21 = rv.stateRes === 'v2.1';
  const { unconflicted, conflicted } = splitV2(sets);
  if (conflicted.size === 0) return unconflicted;

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

  // Full auth chain of set i: C_i = U ∪ D_i, with U the auth chain of the
  // unconflicted state (in every C_i, and closed under auth chains) and D_i
  // the rest of the auth chain of the set's conflicted events. So the auth
  // difference ∪C_i − ∩C_i is ∪D_i − ∩D_i.
  const shared = await cache.authChainIds([...unconflicted.values()]);
  await cache.loadAuthClosure(conflictedIds);
  const count = new Map<string, number>();
  for (const own of perSet) {
    for (const id of cache.walkAuthChain(own, shared)) count.set(id, (count.get(id) ?? 0) + 1);
  }
  const inEveryChain = (id: string): boolean => shared.has(id) || count.get(id) === sets.length;

  // Full conflicted set: conflicted state set ∪ auth difference (∪ the
  // conflicted state subgraph in v2.1), limited to state events we hold.
  const full = new Set<string>();
  const take = (id: string): void => {
    const ev = cache.get(id);
    if (ev !== undefined && ev.stateKey !== undefined) full.add(id);
  };
  for (const id of conflictedIds) take(id);
  for (const [id, n] of count) if (n < sets.length) take(id);
  if (v21) for (const id of conflictedSubgraph(conflictedIds, cache)) take(id);

  // v12: auth events do not list the create event; the room ID names it.
  if (rv.roomIdFromCreateEvent) {
    const creates = new Set<string>();
    for (const id of full) {
      const cid = createEventIdOfRoom(cache.get(id)!.roomId);
      if (cid !== undefined) creates.add(cid);
    }
    const p = cache.load(creates);
    if (p) await p;
  }

  // 1. The power events of the full conflicted set and the events of their
  // auth chains in the full conflicted set, in reverse topological power order.
  const graph = powerEventGraph(full, cache);
  const deep = new Set<string>();
  for (const id of conflictedIds) if (full.has(id) && inEveryChain(id)) deep.add(id);
  if (deep.size > 0) addDeepAuthEdges(graph, deep, cache);
  const power = new SenderPower(rv, cache);
  const powerOrder = reverseTopologicalPowerOrder(graph, (id) => {
    const ev = cache.get(id)!;
    return { id, power: power.of(ev), ts: ev.originServerTs };
  });

  // 2. Iterative auth checks from the unconflicted state map (v2) or from an
  // empty state map (v2.1).
  const partial: StateMap = v21 ? new Map() : new Map(unconflicted);
  let p = preloadForChecks(rv, powerOrder, partial, cache, rules);
  if (p) await p;
  iterativeAuthChecks(rv, powerOrder, partial, cache, rules);
  if (trace) {
    trace.fullConflictedSet = full;
    trace.powerOrder = powerOrder;
    trace.partial = new Map(partial);
  }

  // 3. The other events of the full conflicted set, in mainline order of
  // the partially resolved power levels event.
  const rest: string[] = [];
  for (const id of full) if (!graph.has(id)) rest.push(id);
  const pl = partial.get(PL_KEY);
  if (pl !== undefined) await cache.loadAuthClosure([pl]);
  const restOrder = mainlineOrder(rest, pl, cache);
  if (trace) trace.mainlineOrder = restOrder;

  // 4. Iterative auth checks again, on the partially resolved state.
  p = preloadForChecks(rv, restOrder, partial, cache, rules);
  if (p) await p;
  iterativeAuthChecks(rv, restOrder, partial, cache, rules);

  // 5. The unconflicted state map wins over the result.
  for (const [k, v] of unconflicted) partial.set(k, v);
  return partial;
}

/**
 * Step 1's set X as a graph: each power event of the full conflicted set,
 * and every event of the full conflicted set reached from one by auth
 * events inside the full conflicted set, mapped to its auth events in X.
 */
function powerEventGraph(full: ReadonlySet<string>, cache: EventCache): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const stack: string[] = [];
  for (const id of full) if (isPowerEvent(cache.get(id)!)) stack.push(id);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (graph.has(id)) continue;
    const edges = new Set<string>();
    graph.set(id, edges);
    for (const a of cache.get(id)!.authEvents) {
      if (!full.has(a)) continue;
      edges.add(a);
      if (!graph.has(a)) stack.push(a);
    }
  }
  return graph;
}

/**
 * Walking auth events inside the full conflicted set finds every event of
 * X, except one case: a conflicted state event found in every set's full
 * auth chain (a stale entry, from a partial view of the room) can sit below
 * events outside the full conflicted set. Such an event is in the auth chain
 * of a power event all the same, so it joins X, and it must come before
 * every event of X whose auth chain holds it. `deep` lists these candidates;
 * this finds, once per event of the auth graph, which of them lie below it,
 * and adds them and the ordering edges to the graph. In v2.1 the conflicted
 * state subgraph already fills the gap, so this adds nothing new there.
 */
function addDeepAuthEdges(graph: Map<string, Set<string>>, deep: ReadonlySet<string>, cache: EventCache): void {
  // The deep events strictly below each walked event (undefined: none).
  // Sets are shared between events while nothing needs adding.
  const below = new Map<string, ReadonlySet<string>>();
  const done = new Set<string>();
  const children = (id: string): readonly string[] => cache.get(id)?.authEvents ?? [];
  const visit = (id: string): void => {
    let acc: ReadonlySet<string> | undefined;
    let owned = false;
    const own = (): Set<string> => {
      if (!owned) {
        acc = new Set(acc);
        owned = true;
      }
      return acc as Set<string>;
    };
    for (const a of children(id)) {
      if (deep.has(a) && !acc?.has(a)) own().add(a);
      const sub = below.get(a);
      if (sub === undefined || sub === acc) continue;
      if (acc === undefined) acc = sub;
      else for (const x of sub) if (!acc.has(x)) own().add(x);
    }
    if (acc !== undefined) below.set(id, acc);
  };

  const work = [...graph.keys()];
  while (work.length > 0) {
    const x = work.pop()!;
    postOrder([x], children, visit, done);
    const under = below.get(x);
    if (under === undefined) continue;
    const edges = graph.get(x)!;
    for (const y of under) {
      edges.add(y);
      if (!graph.has(y)) {
        graph.set(y, new Set());
        work.push(y);
      }
    }
  }
}

/**
 * v2.1: the conflicted state subgraph, every event on an auth_events path
 * from one conflicted state event to another (endpoints included): the
 * events of the conflicted events' auth chains from which a conflicted
 * event can be reached. One post-order walk over those auth chains.
 */
export function conflictedSubgraph(conflictedIds: ReadonlySet<string>, cache: EventCache): Set<string> {
  const reaches = new Set<string>();
  const children = (id: string): readonly string[] => cache.get(id)?.authEvents ?? [];
  postOrder(conflictedIds, children, (id) => {
    if (conflictedIds.has(id)) {
      reaches.add(id);
      return;
    }
    for (const a of children(id)) {
      if (reaches.has(a)) {
        reaches.add(id);
        return;
      }
    }
  });
  return reaches;
}
