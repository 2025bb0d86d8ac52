/**
 * The iterative auth checks of state resolution v2 (rooms v2+,
 * "Definitions"): apply a sorted list of state events to a state, one at a
 * time, keeping those the authorization rules allow.
 */
import type { MatrixEvent } from '../matrix/event.js';
import type { RoomVersion } from '../matrix/room-versions.js';
import { stateKey, type StateKeyString } from '../matrix/state-key.js';
import type { AuthResult, AuthStateLookup } from '../auth/types.js';
import type { SelectableEvent, StateEntry } from '../auth/selection.js';
import type { StateReader } from './conflicts.js';
import type { EventCache } from './lookup.js';
import { CREATE, createEventIdOfRoom } from './power.js';

/** The authorization rules state resolution runs (src/auth in production). */
export interface AuthRules {
  checkAuth(event: MatrixEvent, state: AuthStateLookup): AuthResult;
  authEventSelection(event: SelectableEvent, rv: RoomVersion): StateEntry[];
}

const CREATE_KEY = stateKey(CREATE, '');

/** A list of events to check, with the state keys each one's auth needs (worked out once). */
export interface CheckPlan {
  readonly events: readonly MatrixEvent[];
  readonly keys: readonly (readonly StateKeyString[])[];
}

/** The plan for `ids`: loaded state events only, in order. */
export function planChecks(rv: RoomVersion, ids: readonly string[], cache: EventCache, rules: AuthRules): CheckPlan {
  const events: MatrixEvent[] = [];
  const keys: StateKeyString[][] = [];
  for (const id of ids) {
    const ev = cache.get(id);
    if (ev === undefined || ev.stateKey === undefined) continue;
    events.push(ev);
    keys.push(rules.authEventSelection(ev, rv).map(([t, k]) => stateKey(t, k)));
  }
  return { events, keys };
}

/** Loads the events of `state` that the checks of `plan` may read, in one batch. */
export function preloadForChecks(plan: CheckPlan, state: StateReader, cache: EventCache): Promise<void> | undefined {
  const want: string[] = [];
  for (const keys of plan.keys) {
    for (const k of keys) {
      const sid = state.get(k);
      if (sid !== undefined) want.push(sid);
    }
  }
  return cache.load(want);
}

/**
 * The state one event is checked against: its auth events, overlaid by the
 * resolved state's entries. Small (a handful of entries): a list, reused
 * from one event to the next.
 */
class EventAuthState implements AuthStateLookup {
  private readonly keys: StateKeyString[] = [];
  private readonly events: MatrixEvent[] = [];

  clear(): void {
    this.keys.length = 0;
    this.events.length = 0;
  }

  set(k: StateKeyString, ev: MatrixEvent): void {
    const i = this.keys.indexOf(k);
    if (i >= 0) this.events[i] = ev;
    else {
      this.keys.push(k);
      this.events.push(ev);
    }
  }

  get(type: string, key: string): MatrixEvent | undefined {
    const i = this.keys.indexOf(stateKey(type, key));
    return i >= 0 ? this.events[i] : undefined;
  }
}

/**
 * Applies the plan's events in order to `state` (mutated and returned).
 * Each event is checked against its auth events (those not rejected),
 * overlaid by the entries of `state` for the (type, state key) pairs the
 * auth events selection names; in v12 the create event named by the room ID
 * stands in for the create event that auth events no longer list. An event
 * that is not allowed or is known rejected is skipped. The events of `state`
 * the checks read must be loaded (`preloadForChecks`).
 */
export function iterativeAuthChecks<S extends StateReader & { set(k: StateKeyString, v: string): unknown }>(
  rv: RoomVersion,
  plan: CheckPlan,
  state: S,
  cache: EventCache,
  rules: AuthRules,
): S {
  const auth = new EventAuthState();
  plan.events.forEach((ev, n) => {
    if (cache.rejected(ev.eventId)) return;
    auth.clear();
    for (const a of ev.authEvents) {
      const ae = cache.usable(a);
      if (ae !== undefined && ae.stateKey !== undefined) auth.set(stateKey(ae.type, ae.stateKey), ae);
    }
    if (rv.roomIdFromCreateEvent && ev.type !== CREATE) {
      const cid = createEventIdOfRoom(ev.roomId);
      const create = cid === undefined ? undefined : cache.usable(cid);
      if (create !== undefined) auth.set(CREATE_KEY, create);
    }
    for (const key of plan.keys[n]!) {
      const sid = state.get(key);
      if (sid === undefined) continue;
      const se = cache.usable(sid);
      if (se !== undefined) auth.set(key, se);
    }
    if (rules.checkAuth(ev, auth).ok) state.set(stateKey(ev.type, ev.stateKey!), ev.eventId);
  });
  return state;
}
