/**
 * Parsed events by ID for one room version, from a bounded cache shared by
 * all rooms, then from storage. Auth rules and state resolution work on
 * MatrixEvent objects; parsing stored JSON again on every look-up would
 * dominate their cost.
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
  constructor(
    private readonly store: RoomStore,
    private readonly cache: EventCache,
    private readonly rv: RoomVersion,
  ) {}

  async get(id: string): Promise<MatrixEvent | undefined> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const json = await this.store.getEventJson(id);
    if (!json) return undefined;
    const ev = parseStored(json, this.rv);
    if (ev) this.cache.set(ev);
    return ev;
  }

  async getMany(ids: Iterable<string>): Promise<Map<string, MatrixEvent>> {
    const out = new Map<string, MatrixEvent>();
    const misses: string[] = [];
    for (const id of ids) {
      const hit = this.cache.get(id);
      if (hit) out.set(id, hit);
      else misses.push(id);
    }
    if (misses.length) {
      const loaded = await Promise.all(misses.map((id) => this.get(id)));
      for (let i = 0; i < misses.length; i++) {
        const e = loaded[i];
        if (e) out.set(misses[i]!, e);
      }
    }
    return out;
  }
}

/** Stored events were validated on the way in; one that no longer parses is treated as absent. */
function parseStored(json: JsonObject, rv: RoomVersion): MatrixEvent | undefined {
  try {
    return parsePdu(json, rv);
  } catch {
    return undefined;
  }
}
