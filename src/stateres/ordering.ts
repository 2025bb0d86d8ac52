/**
 * The two orderings of state resolution v2 (rooms v2+, "Definitions"):
 * the reverse topological power ordering and the mainline ordering.
 */
import { RoomServerError } from '../errors.js';
import { compareCodePoints } from '../matrix/canonical-json.js';
import type { MatrixEvent } from '../matrix/event.js';
import type { AuthIndex } from './auth-index.js';
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

/** Vertex kinds of the ordering graph: not in it, an event to order, a pass-through vertex. */
export const NOT_VERTEX = 0;
export const ORDERED = 1;
export const PASS_THROUGH = 2;

/**
 * The reverse topological power ordering of the vertices of `kind` over the
 * auth graph `ix` (ORDERED: an event to order; PASS_THROUGH: a vertex that
 * only carries constraints); an event must come after the vertices among its
 * auth events. Kahn's algorithm, taking at each step the smallest candidate
 * by `comparePowerKeys`; earliest first. A pass-through vertex is passed as
 * soon as everything below it is, and not listed. A cycle (impossible for
 * events that passed their auth checks) is refused with M_INVALID_PARAM.
 */
export function reverseTopologicalPowerOrder(ix: AuthIndex, kind: Uint8Array, key: (i: number) => PowerSortKey): string[] {
  const n = ix.size;
  const waiting = new Int32Array(n);
  // Reverse edges, as lists per vertex (built in one pass, then filled).
  const depCount = new Int32Array(n + 1);
  let vertices = 0;
  for (let i = 0; i < n; i++) {
    if (kind[i] === NOT_VERTEX) continue;
    vertices++;
    for (let k = ix.authStart(i), end = ix.authEnd(i); k < end; k++) {
      const j = ix.authAt(k);
      if (kind[j] === NOT_VERTEX) continue;
      waiting[i]!++;
      depCount[j + 1]!++;
    }
  }
  for (let i = 0; i < n; i++) depCount[i + 1]! += depCount[i]!;
  const deps = new Int32Array(depCount[n]!);
  const fill = depCount.slice(0, n);
  for (let i = 0; i < n; i++) {
    if (kind[i] === NOT_VERTEX) continue;
    for (let k = ix.authStart(i), end = ix.authEnd(i); k < end; k++) {
      const j = ix.authAt(k);
      if (kind[j] !== NOT_VERTEX) deps[fill[j]!++] = i;
    }
  }

  const heap = new MinHeap<Keyed>(comparePowerKeys);
  const out: string[] = [];
  let passed = 0;
  const ready: number[] = [];
  // A vertex with nothing left before it: a pass-through vertex releases its
  // dependents at once, an event waits in the heap for its turn.
  const release = (first: number): void => {
    ready.push(first);
    while (ready.length > 0) {
      const r = ready.pop()!;
      if (kind[r] !== PASS_THROUGH) {
        const k = key(r) as Keyed;
        k.at = r;
        heap.push(k);
        continue;
      }
      passed++;
      for (let d = depCount[r]!, end = depCount[r + 1]!; d < end; d++) if (--waiting[deps[d]!]! === 0) ready.push(deps[d]!);
    }
  };
  for (let i = 0; i < n; i++) if (kind[i] !== NOT_VERTEX && waiting[i] === 0) release(i);
  for (let k = heap.pop(); k !== undefined; k = heap.pop()) {
    out.push(k.id);
    for (let d = depCount[k.at]!, end = depCount[k.at + 1]!; d < end; d++) if (--waiting[deps[d]!]! === 0) release(deps[d]!);
  }
  if (out.length + passed !== vertices) {
    throw new RoomServerError('M_INVALID_PARAM', 'the auth events of the conflicted events form a cycle', 'stateres_auth_cycle');
  }
  return out;
}

interface Keyed extends PowerSortKey {
  at: number;
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
