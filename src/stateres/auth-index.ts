/**
 * The auth graph of the events a resolution works on, numbered: each loaded
 * event reachable from the roots by auth events gets an index, and its auth
 * events become a slice of one integer array. The graph walks of v2 (auth
 * difference, conflicted state subgraph, power ordering) then run on typed
 * arrays instead of string-keyed sets, which is what keeps tens of thousands
 * of events cheap.
 */
import type { MatrixEvent } from '../matrix/event.js';
import type { EventCache } from './lookup.js';

export class AuthIndex {
  readonly ids: string[] = [];
  readonly events: MatrixEvent[] = [];
  private readonly index = new Map<string, number>();
  /** Auth events of i: edges[start[i] .. start[i + 1]), loaded ones only. */
  private start = new Int32Array(0);
  private edges = new Int32Array(0);

  get size(): number {
    return this.ids.length;
  }

  /** Numbers the loaded events of `roots` and of their auth chains. */
  static build(cache: EventCache, roots: Iterable<string>): AuthIndex {
    const ix = new AuthIndex();
    const starts: number[] = [];
    const edges: number[] = [];
    const add = (id: string): number => {
      let i = ix.index.get(id);
      if (i !== undefined) return i;
      const ev = cache.get(id);
      if (ev === undefined) return -1;
      i = ix.ids.length;
      ix.index.set(id, i);
      ix.ids.push(id);
      ix.events.push(ev);
      return i;
    };
    for (const r of roots) add(r);
    // Breadth first: every numbered event gets its edges in index order.
    for (let i = 0; i < ix.ids.length; i++) {
      starts.push(edges.length);
      for (const a of ix.events[i]!.authEvents) {
        const j = add(a);
        if (j >= 0 && j !== i) edges.push(j);
      }
    }
    starts.push(edges.length);
    ix.start = Int32Array.from(starts);
    ix.edges = Int32Array.from(edges);
    return ix;
  }

  indexOf(id: string): number | undefined {
    return this.index.get(id);
  }

  /** Calls `f` with the index of each auth event of `i` (loaded ones). */
  forEachAuth(i: number, f: (j: number) => void): void {
    const end = this.start[i + 1]!;
    for (let k = this.start[i]!; k < end; k++) f(this.edges[k]!);
  }

  authStart(i: number): number {
    return this.start[i]!;
  }

  authEnd(i: number): number {
    return this.start[i + 1]!;
  }

  authAt(k: number): number {
    return this.edges[k]!;
  }

  /**
   * Post-order over the auth graph from `roots`: `visit(i)` once per event
   * reached (roots included), after all of its auth events. `done` marks
   * visited events (non-zero) across calls. A cycle's back edge is ignored.
   */
  postOrder(roots: Iterable<number>, visit: (i: number) => void, done: Uint8Array): void {
    const active = 1;
    const finished = 2;
    const stack: number[] = [];
    const cursor: number[] = [];
    for (const root of roots) {
      if (done[root] !== 0) continue;
      done[root] = active;
      stack.push(root);
      cursor.push(this.start[root]!);
      while (stack.length > 0) {
        const top = stack.length - 1;
        const i = stack[top]!;
        const k = cursor[top]!;
        if (k < this.start[i + 1]!) {
          cursor[top] = k + 1;
          const j = this.edges[k]!;
          if (done[j] === 0) {
            done[j] = active;
            stack.push(j);
            cursor.push(this.start[j]!);
          }
          continue;
        }
        stack.pop();
        cursor.pop();
        done[i] = finished;
        visit(i);
      }
    }
  }
}
