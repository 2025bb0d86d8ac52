/**
 * State computations for one room: the state after an event, the state
 * before a new event from its prev events (state resolution where they
 * differ), and the difference between two states. Works on string-keyed
 * state maps; snapshots are storage's business.
 */
import type { MatrixEvent } from '../src/matrix/event.js';
import type { RoomVersion } from '../src/matrix/room-versions.js';
import { stateKey, type StateMap, type StateKeyString } from '../src/matrix/state-key.js';
import { resolveState } from '../src/stateres/index.js';
import type { AuthStateLookup } from '../src/auth/types.js';
import { authEventSelection } from '../src/auth/selection.js';
import type { EventRecord, RoomStore, StateChanges } from './room-store.js';
export type { StateChanges } from './room-store.js';
import type { EventSource } from './event-source.js';
import { Lru } from './lru.js';
import { stateResSeconds } from '../src/metrics.js';


export function ownEntry(r: Pick<EventRecord, 'stateKey' | 'rejected'>): StateKeyString | undefined {
  return r.rejected ? undefined : r.stateKey;
}

/** Entries of `b` that differ from `a` (adds) and entries of `a` replaced or gone in `b` (removes). */
export function diffStates(a: StateMap, b: StateMap): { adds: string[]; removes: string[]; changes: StateChanges } {
  const adds: string[] = [];
  const removes: string[] = [];
  const changes: StateChanges = [];
  for (const [k, id] of b) {
    const old = a.get(k);
    if (old !== id) {
      adds.push(id);
      changes.push([k, id]);
      if (old !== undefined) removes.push(old);
    }
  }
  for (const [k, id] of a) {
    if (!b.has(k)) {
      removes.push(id);
      changes.push([k, undefined]);
    }
  }
  return { adds, removes, changes };
}

export class RoomStateCalc {
  /** full state after recent events (fork handling); bounded */
  private readonly after = new Lru<string, StateMap>(16);

  constructor(
    readonly roomId: string,
    readonly rv: RoomVersion,
    private readonly store: RoomStore,
    private readonly events: EventSource,
  ) {}

  /** The state after a stored, non-outlier event (its state before, plus itself). */
  async stateAfter(rec: EventRecord): Promise<StateMap> {
    const hit = this.after.get(rec.eventId);
    if (hit) return hit;
    const before = await this.store.loadSnapshot(rec.beforeSnapshot);
    const own = ownEntry(rec);
    let state = before;
    if (own !== undefined) {
      state = new Map(before);
      state.set(own, rec.eventId);
    }
    this.after.set(rec.eventId, state);
    return state;
  }

  rememberAfter(eventId: string, state: StateMap): void {
    this.after.set(eventId, state);
  }

  /** Resolves several states into one with the room version's algorithm. */
  async resolve(states: StateMap[]): Promise<StateMap> {
    if (states.length === 1) return states[0]!;
    const first = states[0]!;
    if (states.every((s) => s === first)) return first;
    const t0 = performance.now();
    const events = this.events;
    const out = await resolveState(this.rv, states, {
      events(ids: readonly string[]) {
        return events.getMany(ids);
      },
    });
    stateResSeconds.observe((performance.now() - t0) / 1000);
    return out;
  }

  /** An auth lookup over a full state, loading only what the event's auth needs. */
  async authLookup(ev: MatrixEvent, state: StateMap, createEvent: MatrixEvent | undefined): Promise<AuthStateLookup> {
    const wanted = authEventSelection(ev, this.rv);
    const ids: string[] = [];
    for (const [t, k] of wanted) {
      const id = state.get(stateKey(t, k));
      if (id !== undefined) ids.push(id);
    }
    const many = this.events.getManyNow(ids);
    const loaded = many instanceof Promise ? await many : many;
    const m = new Map<StateKeyString, MatrixEvent>();
    for (const e of loaded.values()) if (e.stateKey !== undefined) m.set(stateKey(e.type, e.stateKey), e);
    if (createEvent) m.set(stateKey('m.room.create', ''), createEvent);
    return {
      get(type, key) {
        return m.get(stateKey(type, key));
      },
    };
  }
}
