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
import { OverlayState, splitV2 } from './conflicts.js';
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
  /** The entries steps 1-2 set on top of the initial state. */
  partial?: StateMap;
}

export async function resolveV2(rv: RoomVersion, sets: readonly StateMap[], cache: EventCache, rules: AuthRules, trace?: V2Trace): Promise<StateMap> {
  const v21 = rv.stateRes === 'v2.1';
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

  // Full auth chain of set i: C_i = U ∪ D_i, with U the auth chain of the
  // unconflicted state (in every C_i, and closed under auth chains) and D_i
  // the rest of the auth chain of the set's conflicted events. So the auth
  // difference ∪C_i − ∩C_i is ∪D_i − ∩D_i.
  const shared = await cache.authChainIds(unconflicted.ids());
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
  let through: Set<string> | undefined;
  if (!v21) {
    const deep = new Set<string>();
    for (const id of conflictedIds) if (full.has(id) && inEveryChain(id)) deep.add(id);
    if (deep.size > 0) through = addDeepPaths(graph, full, deep, cache);
  }
  const power = new SenderPower(rv, cache);
  const powerOrder = reverseTopologicalPowerOrder(
    graph,
    (id) => {
      const ev = cache.get(id)!;
      return { id, power: power.of(ev), ts: ev.originServerTs };
    },
    through,
  );

  // 2. Iterative auth checks from the unconflicted state map (v2) or from an
  // empty state map (v2.1).
  const partial = new OverlayState(v21 ? undefined : unconflicted);
  let p = preloadForChecks(rv, powerOrder, partial, cache, rules);
  if (p) await p;
  iterativeAuthChecks(rv, powerOrder, partial, cache, rules);
  if (trace) {
    trace.fullConflictedSet = full;
    trace.powerOrder = powerOrder;
    trace.partial = new Map(partial.overlay);
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
  const out = unconflicted.toMap();
  for (const [k, v] of partial.overlay) if (!unconflicted.has(k)) out.set(k, v);
  return out;
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
 * v2 only. Walking auth events inside the full conflicted set finds every
 * event of X but one kind: a conflicted state event found in every set's
 * full auth chain (a stale entry, from a partial view of the room) can sit
 * below events outside the full conflicted set. Such an event ("deep") is in
 * the auth chain of a power event all the same, so it joins X, and it must
 * come before every event of X whose auth chain holds it.
 *
 * Rather than adding an edge from each event of X to every deep event below
 * it, this adds the paths themselves: the events outside the full conflicted
 * set from which a deep event can be reached become pass-through vertices
 * of the ordering graph (returned), which the sort steps over without
 * listing them. One walk over the auth chains of X.
 *
 * Events outside the full conflicted set are all in every set's auth chain,
 * so below them only deep events of the full conflicted set can be met.
 * In v2.1 the conflicted state subgraph holds every such path already.
 */
function addDeepPaths(graph: Map<string, Set<string>>, full: ReadonlySet<string>, deep: ReadonlySet<string>, cache: EventCache): Set<string> {
  const children = (id: string): readonly string[] => cache.get(id)?.authEvents ?? [];
  // Events outside the full conflicted set with a deep event below them.
  const reaches = new Set<string>();
  const walked = new Set<string>();
  const leads = (a: string): boolean => deep.has(a) || (!full.has(a) && reaches.has(a));
  const visit = (id: string): void => {
    if (full.has(id)) return;
    for (const a of children(id)) {
      if (leads(a)) {
        reaches.add(id);
        return;
      }
    }
  };
  const through = new Set<string>();
  const work = [...graph.keys()];
  while (work.length > 0) {
    const x = work.pop()!;
    const outside = children(x).filter((a) => !full.has(a));
    postOrder(outside, children, visit, walked);
    let edges = graph.get(x);
    if (edges === undefined) {
      edges = new Set();
      graph.set(x, edges);
    }
    for (const a of children(x)) {
      if (!leads(a)) continue;
      edges.add(a);
      if (graph.has(a)) continue;
      if (deep.has(a)) {
        // A deep event joins X, with its auth events in the full conflicted set.
        const own = new Set<string>();
        for (const b of children(a)) if (full.has(b)) own.add(b);
        graph.set(a, own);
        for (const b of own) if (!graph.has(b)) work.push(b);
      } else {
        through.add(a);
        graph.set(a, new Set());
      }
      work.push(a);
    }
  }
  return through;
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
