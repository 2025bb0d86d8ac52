/**
 * Parsed events by ID for one room version, from a bounded cache shared by
 * all rooms, then from storage. Auth rules and state resolution work on
 * MatrixEvent objects; parsing stored JSON again on every look-up would
 * dominate their cost.
 *
 * A room actor's source also keeps its room's most used state events (the
 * auth events of its current state) in a small cache of its own: with
 * thousands of busy rooms the shared cache cycles faster than one room
 * comes back, and every event would re-read and re-parse the same power
 * levels and member events. That cache lives and dies with the room's hot
 * state, so its memory follows the number of live rooms.
 */
import type { MatrixEvent } from '../src/matrix/event.js';
import type { JsonObject } from '../src/matrix/json.js';
import type { RoomVersion } from '../src/matrix/room-versions.js';
import { parsePdu } from '../src/matrix/pdu.js';
import type { RoomStore } from './room-store.js';
import { Lru } from './lru.js';

export class EventCache {
  private readonly lru: Lru<string, MatrixEvent>;
  constructor(max = 40_000) {
    this.lru = new Lru(max);
  }
  get(id: string): MatrixEvent | undefined {
    return this.lru.get(id);
  }
  set(e: MatrixEvent): void {
    this.lru.set(e.eventId, e);
  }
  delete(id: string): void {
    this.lru.delete(id);
  }
}

export class EventSource {
  /** the room's own hot events (room actors only; see the module comment) */
  private readonly local: Lru<string, MatrixEvent> | undefined;

  constructor(
    private readonly store: RoomStore,
    private readonly cache: EventCache,
    private readonly rv: RoomVersion,
    localSize = 0,
  ) {
    this.local = localSize > 0 ? new Lru(localSize) : undefined;
  }

  /** A cached event (room cache first, then the shared one), or undefined. */
  cached(id: string): MatrixEvent | undefined {
    const local = this.local;
    if (local === undefined) return this.cache.get(id);
    let e = local.get(id);
    if (e === undefined) {
      e = this.cache.get(id);
      if (e !== undefined && e.stateKey !== undefined) local.add(id, e);
    }
    return e;
  }

  /**
   * Makes an event visible to look-ups (stored, or about to be). Only state
   * events are kept: auth checks and state resolution read those again and
   * again, while a message is rarely read back as an event (a redaction's
   * target, a query), and caching every message would churn the cache and
   * the old generation of the heap for nothing.
   */
  remember(e: MatrixEvent): void {
    if (e.stateKey === undefined) return;
    this.cache.set(e);
    this.local?.set(e.eventId, e);
  }

  /** Drops a cached event (its stored form changed, or its commit failed). */
  forget(id: string): void {
    this.cache.delete(id);
    this.local?.delete(id);
  }

  async get(id: string): Promise<MatrixEvent | undefined> {
    const hit = this.cached(id);
    if (hit) return hit;
    const json = await this.store.getEventJson(id);
    if (!json) return undefined;
    const ev = parseStored(json, this.rv, id);
    if (ev) this.remember(ev);
    return ev;
  }

  async getMany(ids: Iterable<string>): Promise<Map<string, MatrixEvent>> {
    return this.getManyNow(ids);
  }

  /** getMany, without a promise when every event is cached (the common case for a room's auth events). */
  getManyNow(ids: Iterable<string>): Map<string, MatrixEvent> | Promise<Map<string, MatrixEvent>> {
    const out = new Map<string, MatrixEvent>();
    let misses: string[] | undefined;
    for (const id of ids) {
      const hit = this.cached(id);
      if (hit) out.set(id, hit);
      else (misses ??= []).push(id);
    }
    return misses === undefined ? out : this.loadMisses(out, misses);
  }

  private async loadMisses(out: Map<string, MatrixEvent>, misses: string[]): Promise<Map<string, MatrixEvent>> {
    const loaded = await Promise.all(misses.map((id) => this.get(id)));
    for (let i = 0; i < misses.length; i++) {
      const e = loaded[i];
      if (e) out.set(misses[i]!, e);
    }
    return out;
  }
}

/** What a scan of stored JSON would report: nothing (it was checked on the way in). */
const CLEAN_SCAN = { duplicateKeyPath: undefined, nonCanonicalNumberPath: undefined };

/**
 * Stored events were validated on the way in and stored under their ID: the
 * fields are checked again (cheap), but the reference hash, the canonical
 * size and the number walk are not redone (together they were most of the
 * cost of reloading a room's state events). One that no longer parses is
 * treated as absent.
 */
export function parseStored(json: JsonObject, rv: RoomVersion, eventId: string): MatrixEvent | undefined {
  try {
    return parsePdu(json, rv, { knownEventId: eventId, skipSizeCheck: true, scan: CLEAN_SCAN });
  } catch {
    return undefined;
  }
}
