/**
 * How state resolution reads events: the caller's lookup (storage, or a map
 * in tests) behind a cache that batches requests, remembers what is missing,
 * and walks auth chains once. Pure apart from calling the lookup it is given.
 */
import type { MatrixEvent } from '../matrix/event.js';

export type MaybePromise<T> = T | Promise<T>;

export interface StateResLookup {
  /** Fetch events by ID (may be async so storage can serve it); missing ones are absent from the result. */
  events(ids: readonly string[]): MaybePromise<Map<string, MatrixEvent>>;
  /** Optional fast path: the full auth chain (transitive auth_events) of the given events, as IDs. */
  authChain?(ids: readonly string[]): MaybePromise<Set<string>>;
  /** Optional: events known rejected are skipped (treated as not allowed, never used as auth events). */
  isRejected?(id: string): boolean;
}

/** Answers at least this large are kept as layers (see EventCache). */
const LAYER_MIN = 256;
/** How many root events `authChainIds` asks for per lookup call. */
const ROOT_CHUNK = 1024;

export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/**
 * Every event the resolution touches, fetched at most once. `load` asks the
 * lookup for all unknown IDs in one call; `loadAuthClosure` brings in the
 * transitive auth events of some events, one batch per level of the auth
 * graph (or one `authChain` call plus one batch when the store has an index).
 * Once loaded, all graph walks are synchronous.
 */
export class EventCache {
  private readonly lookup: StateResLookup;
  private readonly known = new Map<string, MatrixEvent>();
  /**
   * Large answers of the lookup, kept as they came rather than copied into
   * `known` (building a big hash table costs more than a few extra probes).
   */
  private readonly layers: Map<string, MatrixEvent>[] = [];
  private readonly missing = new Set<string>();
  /** Events whose whole auth chain is loaded. */
  private readonly closed = new Set<string>();

  constructor(lookup: StateResLookup) {
    this.lookup = lookup;
  }

  get(id: string): MatrixEvent | undefined {
    const ev = this.known.get(id);
    if (ev !== undefined || this.layers.length === 0) return ev;
    for (const layer of this.layers) {
      const e = layer.get(id);
      if (e !== undefined) return e.eventId === id ? e : undefined;
    }
    return undefined;
  }

  private has(id: string): boolean {
    if (this.known.has(id) || this.missing.has(id)) return true;
    for (const layer of this.layers) if (layer.has(id)) return true;
    return false;
  }

  rejected(id: string): boolean {
    return this.lookup.isRejected ? this.lookup.isRejected(id) : false;
  }

  /** The event when it is loaded and not known rejected. */
  usable(id: string): MatrixEvent | undefined {
    const ev = this.get(id);
    if (ev === undefined || this.rejected(id)) return undefined;
    return ev;
  }

  /** Loads the IDs not asked for before, in one lookup call. Returns a promise only when the lookup is async. */
  load(ids: Iterable<string>): Promise<void> | undefined {
    const want: string[] = [];
    for (const id of ids) if (!this.has(id)) want.push(id);
    if (want.length === 0) return undefined;
    const r = this.lookup.events(want);
    if (isPromise(r)) return r.then((m) => this.store(want, m));
    this.store(want, r);
    return undefined;
  }

  private store(want: readonly string[], found: Map<string, MatrixEvent>): void {
    if (found.size >= LAYER_MIN) {
      this.layers.push(found);
      if (found.size < want.length) for (const id of want) if (!found.has(id)) this.missing.add(id);
      return;
    }
    for (const id of want) {
      const ev = found.get(id);
      if (ev !== undefined && ev.eventId === id) this.known.set(id, ev);
      else this.missing.add(id);
    }
  }

  /**
   * Loads the given events and every event in their auth chains (as far as
   * the lookup has them).
   */
  async loadAuthClosure(roots: Iterable<string>): Promise<void> {
    const open: string[] = [];
    for (const id of roots) if (!this.closed.has(id)) open.push(id);
    if (open.length === 0) return;

    if (this.lookup.authChain) {
      let chain = this.lookup.authChain(open);
      if (isPromise(chain)) chain = await chain;
      const all = new Set<string>(open);
      for (const id of chain) all.add(id);
      const p = this.load(all);
      if (p) await p;
      for (const id of all) this.closed.add(id);
      return;
    }

    // Level by level: each round loads the auth events of the previous
    // round's events in one batch.
    let frontier = open;
    while (frontier.length > 0) {
      const p = this.load(frontier);
      if (p) await p;
      const next: string[] = [];
      for (const id of frontier) {
        if (this.closed.has(id)) continue;
        this.closed.add(id);
        const ev = this.get(id);
        if (ev === undefined) continue;
        for (const a of ev.authEvents) if (!this.closed.has(a)) next.push(a);
      }
      frontier = next;
    }
  }

  /**
   * The union of the auth chains of `roots` (their auth events, recursively;
   * not the roots themselves), as IDs. Uses the store's index when there is
   * one, otherwise loads the chain and walks it.
   */
  async authChainIds(roots: readonly string[]): Promise<Set<string>> {
    if (this.lookup.authChain) {
      const chain = this.lookup.authChain(roots);
      return isPromise(chain) ? await chain : chain;
    }
    const out = new Set<string>();
    const next: string[] = [];
    const expand = (ev: MatrixEvent): void => {
      for (const a of ev.authEvents) {
        if (out.has(a)) continue;
        out.add(a);
        next.push(a);
      }
    };
    // The roots (a whole room's state, possibly) are only read for their
    // auth events: ask for them in chunks and keep none of them (a lookup
    // answer the size of the room is a big hash table to build, twice over
    // if cached). Events already cached are not asked for again.
    const ask: string[] = [];
    for (const id of roots) {
      const ev = this.get(id);
      if (ev !== undefined) expand(ev);
      else if (!this.missing.has(id)) ask.push(id);
    }
    const answers: MaybePromise<Map<string, MatrixEvent>>[] = [];
    for (let i = 0; i < ask.length; i += ROOT_CHUNK) answers.push(this.lookup.events(ask.slice(i, i + ROOT_CHUNK)));
    const maps = answers.some(isPromise) ? await Promise.all(answers) : (answers as Map<string, MatrixEvent>[]);
    for (const m of maps) for (const [id, ev] of m) if (ev.eventId === id) expand(ev);
    // Below the roots, level by level, each level loaded (and kept) in one batch.
    let frontier = next.splice(0);
    while (frontier.length > 0) {
      const p = this.load(frontier);
      if (p) await p;
      for (const id of frontier) {
        const ev = this.get(id);
        if (ev !== undefined) expand(ev);
      }
      frontier = next.splice(0);
    }
    return out;
  }
}
