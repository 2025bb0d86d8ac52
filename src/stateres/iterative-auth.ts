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

/** Loads the events of `state` that the checks of `ids` may read, in one batch. */
export function preloadForChecks(rv: RoomVersion, ids: readonly string[], state: StateReader, cache: EventCache, rules: AuthRules): Promise<void> | undefined {
  const want: string[] = [];
  for (const id of ids) {
    const ev = cache.get(id);
    if (ev === undefined) continue;
    for (const [t, k] of rules.authEventSelection(ev, rv)) {
      const sid = state.get(stateKey(t, k));
      if (sid !== undefined) want.push(sid);
    }
  }
  return cache.load(want);
}

/**
 * Applies `ids` in order to `state` (mutated and returned). Each event is
 * checked against its auth events (those not rejected), overlaid by the
 * entries of `state` for the (type, state key) pairs the auth events
 * selection names; in v12 the create event named by the room ID stands in
 * for the create event that auth events no longer list. An event that is
 * not allowed, is known rejected, is not loaded or is not a state event is
 * skipped. The events of `state` the checks read must be loaded
 * (`preloadForChecks`).
 */
export function iterativeAuthChecks<S extends StateReader & { set(k: StateKeyString, v: string): unknown }>(
  rv: RoomVersion,
  ids: readonly string[],
  state: S,
  cache: EventCache,
  rules: AuthRules,
): S {
  for (const id of ids) {
    const ev = cache.get(id);
    if (ev === undefined || ev.stateKey === undefined || cache.rejected(id)) continue;
    const auth = new Map<string, MatrixEvent>();
    for (const a of ev.authEvents) {
      const ae = cache.usable(a);
      if (ae !== undefined && ae.stateKey !== undefined) auth.set(stateKey(ae.type, ae.stateKey), ae);
    }
    if (rv.roomIdFromCreateEvent && ev.type !== CREATE) {
      const cid = createEventIdOfRoom(ev.roomId);
      const create = cid === undefined ? undefined : cache.usable(cid);
      if (create !== undefined) auth.set(CREATE_KEY, create);
    }
    for (const [t, k] of rules.authEventSelection(ev, rv)) {
      const key = stateKey(t, k);
      const sid = state.get(key);
      if (sid === undefined) continue;
      const se = cache.usable(sid);
      if (se !== undefined) auth.set(key, se);
    }
    const lookup: AuthStateLookup = { get: (t, k) => auth.get(stateKey(t, k)) };
    if (rules.checkAuth(ev, lookup).ok) state.set(stateKey(ev.type, ev.stateKey), id);
  }
  return state;
}
