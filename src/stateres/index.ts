/**
 * State resolution: the state before an event whose prev events disagree.
 * Room v1 uses the v1 algorithm, v2-v11 state resolution v2, v12 v2.1 (see
 * v1.ts and v2.ts). Pure: events come from the caller's lookup.
 *
 * Readings of the spec worth knowing (each explained where it is coded):
 * - v2 step 1 orders X by the auth DAG itself: an event comes after every
 *   event of X in its auth chain, even one reached only through events
 *   outside the full conflicted set (v2.ts, powerEventGraph). Synapse and
 *   ruma link only direct auth events inside the full conflicted set, which
 *   can differ in v2 when a conflicted event lies in every auth chain; in
 *   v2.1 both readings give the same order.
 * - m.room.create is not a power event (the spec's definition), unlike in
 *   Synapse and ruma; it only matters when a state set lacks it.
 * - v1: member keys and other keys are settled each against the state left
 *   by the previous pass, so the result does not depend on key order; an
 *   "other" key none of whose events passes keeps the lowest one (v1.ts).
 * - Events the lookup reports rejected are never applied nor used as auth
 *   events; events it does not have are left out.
 */
import { RoomServerError } from '../errors.js';
import type { RoomVersion } from '../matrix/room-versions.js';
import type { StateMap } from '../matrix/state-key.js';
import { checkAuth } from '../auth/check.js';
import { authEventSelection } from '../auth/selection.js';
import type { AuthRules } from './iterative-auth.js';
import { EventCache, type StateResLookup } from './lookup.js';
import { resolveV1 } from './v1.js';
import { resolveV2 } from './v2.js';

export type { StateResLookup, MaybePromise } from './lookup.js';
export type { AuthRules } from './iterative-auth.js';
export { EventCache } from './lookup.js';
export { isPowerEvent } from './power.js';

/** The authorization rules of src/auth. */
const authRules: AuthRules = {
  checkAuth: (event, state) => checkAuth(event, state),
  authEventSelection,
};
export const AUTH_RULES: AuthRules = Object.freeze(authRules);

/**
 * Resolves the given state sets (maps of (type, state key) to event ID)
 * into one with the algorithm of the room version. The result does not
 * depend on the order of the sets. Events the lookup does not have are left
 * out of the conflicted events (they cannot be checked); events it reports
 * rejected are never applied nor used as auth events. `rules` replaces the
 * authorization rules (tests).
 */
export async function resolveState(
  rv: RoomVersion,
  stateSets: readonly StateMap[],
  lookup: StateResLookup,
  rules: AuthRules = AUTH_RULES,
): Promise<StateMap> {
  if (stateSets.length === 0) return new Map();
  if (stateSets.length === 1) return new Map(stateSets[0]);
  const cache = new EventCache(lookup);
  switch (rv.stateRes) {
    case 'v1':
      return resolveV1(rv, stateSets, cache, rules);
    case 'v2':
    case 'v2.1':
      return resolveV2(rv, stateSets, cache, rules);
    default:
      throw new RoomServerError('M_UNSUPPORTED_ROOM_VERSION', `no state resolution algorithm ${JSON.stringify(rv.stateRes)}`);
  }
}
