/**
 * State resolution of room version 1 ("State resolution" on the v1 room
 * page). The resolved state R starts as the union of the state sets without
 * the conflicting keys; then the conflicts are settled in passes:
 * `m.room.power_levels`, `m.room.join_rules`, `m.room.member`, the rest.
 *
 * For the first three, the conflicting events of a key are sorted by
 * ascending depth, then descending sha1(event_id); the first goes into R
 * unchecked, and each next one replaces it while the authorization rules
 * allow it in R, until one is refused. For any other key, the event with the
 * highest depth, then lowest sha1(event_id), that the rules allow in R wins.
 *
 * Two points the page leaves open, settled so that the result depends only
 * on the sets' contents (never on the order of the sets or of their keys):
 * - member keys (and the other keys) are each settled against R as it stands
 *   after the previous pass, not against each other's results;
 * - when no event of an "other" key passes, the last one in the order (the
 *   lowest depth) is taken rather than dropping the key, as Synapse does, so
 *   that v1 rooms converge with the servers that host most of them.
 */
import { createHash } from 'node:crypto';
import type { MatrixEvent } from '../matrix/event.js';
import type { RoomVersion } from '../matrix/room-versions.js';
import { stateKey, type StateKeyString, type StateMap } from '../matrix/state-key.js';
import type { AuthStateLookup } from '../auth/types.js';
import { splitV1 } from './conflicts.js';
import { planChecks, preloadForChecks, type AuthRules } from './iterative-auth.js';
import type { EventCache } from './lookup.js';
import { JOIN_RULES, MEMBER, POWER_LEVELS } from './power.js';

const PL_KEY = stateKey(POWER_LEVELS, '');
const JR_KEY = stateKey(JOIN_RULES, '');
const MEMBER_PREFIX = MEMBER + '\u0000';

export async function resolveV1(rv: RoomVersion, sets: readonly StateMap[], cache: EventCache, rules: AuthRules): Promise<StateMap> {
  const { unconflicted, conflicted } = splitV1(sets);
  if (conflicted.size === 0) return unconflicted;

  const ids: string[] = [];
  for (const vs of conflicted.values()) ids.push(...vs);
  let p = cache.load(ids);
  if (p) await p;
  const r: StateMap = new Map(unconflicted);
  p = preloadForChecks(planChecks(rv, ids, cache, rules), r, cache);
  if (p) await p;

  const sha1 = new Map<string, string>();
  const hash = (id: string): string => {
    let h = sha1.get(id);
    if (h === undefined) {
      h = createHash('sha1').update(id, 'utf8').digest('hex');
      sha1.set(id, h);
    }
    return h;
  };
  // Ascending depth, then descending sha1(event_id).
  const ascending = (a: MatrixEvent, b: MatrixEvent): number => {
    if (a.depth !== b.depth) return a.depth < b.depth ? -1 : 1;
    const ha = hash(a.eventId);
    const hb = hash(b.eventId);
    return ha === hb ? 0 : ha > hb ? -1 : 1;
  };
  const candidates = (k: StateKeyString): MatrixEvent[] => {
    const out: MatrixEvent[] = [];
    for (const id of conflicted.get(k) ?? []) {
      const ev = cache.usable(id);
      if (ev !== undefined && ev.stateKey !== undefined) out.push(ev);
    }
    return out.sort(ascending);
  };
  const allowed = (ev: MatrixEvent, base: StateMap, key: StateKeyString, current: string | undefined): boolean => {
    const lookup: AuthStateLookup = {
      get: (t, sk) => {
        const k = stateKey(t, sk);
        const id = k === key ? current : base.get(k);
        return id === undefined ? undefined : cache.usable(id);
      },
    };
    return rules.checkAuth(ev, lookup).ok;
  };
  // Power levels, join rules and members: the first event, then each next
  // one while it is allowed.
  const settleAuthKey = (k: StateKeyString, base: StateMap): string | undefined => {
    const list = candidates(k);
    if (list.length === 0) return undefined;
    let current = list[0]!.eventId;
    for (let i = 1; i < list.length; i++) {
      if (!allowed(list[i]!, base, k, current)) break;
      current = list[i]!.eventId;
    }
    return current;
  };

  for (const k of [PL_KEY, JR_KEY]) {
    if (!conflicted.has(k)) continue;
    const won = settleAuthKey(k, r);
    if (won !== undefined) r.set(k, won);
  }

  const members = new Map<StateKeyString, string>();
  for (const k of conflicted.keys()) {
    if (!k.startsWith(MEMBER_PREFIX)) continue;
    const won = settleAuthKey(k, r);
    if (won !== undefined) members.set(k, won);
  }
  for (const [k, v] of members) r.set(k, v);

  const others = new Map<StateKeyString, string>();
  for (const k of conflicted.keys()) {
    if (k === PL_KEY || k === JR_KEY || k.startsWith(MEMBER_PREFIX)) continue;
    const list = candidates(k).reverse(); // highest depth, then lowest sha1, first
    if (list.length === 0) continue;
    const won = list.find((ev) => allowed(ev, r, k, r.get(k))) ?? list[list.length - 1]!;
    others.set(k, won.eventId);
  }
  for (const [k, v] of others) r.set(k, v);
  return r;
}
