/**
 * The two orderings of state resolution v2 (rooms v2+, "Definitions"):
 * the reverse topological power ordering and the mainline ordering.
 */
import { RoomServerError } from '../errors.js';
import { compareCodePoints } from '../matrix/canonical-json.js';
import type { MatrixEvent } from '../matrix/event.js';
import { MinHeap } from './heap.js';
import type { EventCache } from './lookup.js';
import { powerLevelsAuthEvent } from './power.js';

export interface PowerSortKey {
  readonly id: string;
  /** The sender's power level (Infinity for v12 creators). */
  readonly power: number;
  readonly ts: number;
}

/** x < y: greater sender power level, then smaller origin_server_ts, then smaller event ID. */
export function comparePowerKeys(x: PowerSortKey, y: PowerSortKey): number {
  if (x.power !== y.power) return x.power > y.power ? -1 : 1;
  if (x.ts !== y.ts) return x.ts < y.ts ? -1 : 1;
  return compareCodePoints(x.id, y.id);
}

/**
 * The reverse topological power ordering of the events of `graph` (event ID
 * -> the IDs it must come after, its auth events within the set): Kahn's
 * algorithm, taking at each step the smallest candidate by
 * `comparePowerKeys`. Earliest first. Edges to IDs outside the graph are
 * ignored. Vertices in `through` only carry ordering constraints: they are
 * passed as soon as everything below them is, and not listed. A cycle
 * (impossible for events that passed their auth checks) is refused with
 * M_INVALID_PARAM.
 */
export function reverseTopologicalPowerOrder(
  graph: ReadonlyMap<string, ReadonlySet<string>>,
  key: (id: string) => PowerSortKey,
  through?: ReadonlySet<string>,
): string[] {
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  const heap = new MinHeap<PowerSortKey>(comparePowerKeys);
  for (const [id, before] of graph) {
    let n = 0;
    for (const b of before) {
      if (b === id || !graph.has(b)) continue;
      n++;
      const list = dependents.get(b);
      if (list === undefined) dependents.set(b, [id]);
      else list.push(id);
    }
    waiting.set(id, n);
  }
  const out: string[] = [];
  let passed = 0;
  const ready: string[] = [];
  // A vertex with nothing left below it: a pass-through vertex releases its
  // dependents at once, an event waits in the heap for its turn.
  const release = (id: string): void => {
    ready.push(id);
    while (ready.length > 0) {
      const r = ready.pop()!;
      if (through === undefined || !through.has(r)) {
        heap.push(key(r));
        continue;
      }
      passed++;
      for (const d of dependents.get(r) ?? []) {
        const n = waiting.get(d)! - 1;
        waiting.set(d, n);
        if (n === 0) ready.push(d);
      }
    }
  };
  for (const [id, n] of waiting) if (n === 0) release(id);
  for (let k = heap.pop(); k !== undefined; k = heap.pop()) {
    out.push(k.id);
    const deps = dependents.get(k.id);
    if (deps === undefined) continue;
    for (const d of deps) {
      const n = waiting.get(d)! - 1;
      waiting.set(d, n);
      if (n === 0) release(d);
    }
  }
  if (out.length + passed !== graph.size) {
    throw new RoomServerError('M_INVALID_PARAM', 'the auth events of the conflicted events form a cycle', 'stateres_auth_cycle');
  }
  return out;
}

/**
 * The mainline ordering of `ids` based on the power levels event `pl`
 * (undefined: no power levels event, every position is infinite). The
 * mainline of P0 is P0, the power levels event among its auth events P1,
 * and so on. The mainline position of an event e is the index i of the
 * first Pi met walking e's power levels auth events (e itself excluded),
 * or infinity. Sorted by: greater position first, then smaller
 * origin_server_ts, then smaller event ID. Needs the auth chains of `pl`
 * and of the events loaded; IDs that are not loaded are left out.
 */
export function mainlineOrder(ids: Iterable<string>, pl: string | undefined, cache: EventCache): string[] {
  // Position of every power levels event met so far: on the mainline, its
  // index; off it, the position of the first mainline event below it.
  const position = new Map<string, number>();
  let p = pl === undefined ? undefined : cache.get(pl);
  for (let i = 0; p !== undefined && !position.has(p.eventId); i++) {
    position.set(p.eventId, i);
    p = powerLevelsAuthEvent(p, cache);
  }

  const positionOf = (ev: MatrixEvent): number => {
    const walked = new Set<string>();
    let cur = powerLevelsAuthEvent(ev, cache);
    let pos = Infinity;
    while (cur !== undefined) {
      const known = position.get(cur.eventId);
      if (known !== undefined) {
        pos = known;
        break;
      }
      if (walked.has(cur.eventId)) break; // a cycle: no mainline below
      walked.add(cur.eventId);
      cur = powerLevelsAuthEvent(cur, cache);
    }
    for (const w of walked) position.set(w, pos);
    return pos;
  };

  const keyed: { id: string; pos: number; ts: number }[] = [];
  for (const id of ids) {
    const ev = cache.get(id);
    if (ev === undefined) continue;
    keyed.push({ id, pos: positionOf(ev), ts: ev.originServerTs });
  }
  keyed.sort((x, y) => {
    if (x.pos !== y.pos) return x.pos > y.pos ? -1 : 1;
    if (x.ts !== y.ts) return x.ts < y.ts ? -1 : 1;
    return compareCodePoints(x.id, y.id);
  });
  return keyed.map((k) => k.id);
}
