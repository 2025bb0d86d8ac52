/**
 * The numbers the spec gives the authorization rules in each room version,
 * so a denial can name the rule it comes from (`rule` of AuthResult). The
 * top-level numbering moves: v1-v5 have the `m.room.aliases` rule (4), v6
 * drops it, v12 inserts the room ID rule (2). Sub-rules move too: v8 inserts
 * the `join_authorised_via_users_server` signature rule (member .2) and the
 * restricted join rule, v10 inserts two value-type rules at the start of the
 * power levels rule, v12 the creators rule.
 */
import type { RoomVersion } from '../matrix/room-versions.js';

export interface RuleNumbers {
  readonly create: string;
  /** v12 only: the room ID must be the create event's ID. */
  readonly roomId: string;
  readonly authEvents: string;
  readonly federate: string;
  /** v1-v5 only. */
  readonly aliases: string;
  readonly member: string;
  readonly memberFormat: string;
  readonly authorisedVia: string;
  readonly join: string;
  readonly invite: string;
  readonly leave: string;
  readonly ban: string;
  readonly knock: string;
  readonly unknownMembership: string;
  /** Join sub-rules. */
  readonly joinRestricted: string;
  readonly joinOtherwise: string;
  readonly senderJoined: string;
  readonly thirdPartyInvite: string;
  readonly requiredLevel: string;
  readonly stateKeyUser: string;
  readonly powerLevels: string;
  readonly plIntegers: string;
  readonly plMaps: string;
  readonly plUsers: string;
  readonly plCreators: string;
  readonly plNoPrevious: string;
  readonly plLevels: string;
  readonly plMapsRemoved: string;
  readonly plMapsAdded: string;
  readonly plUsersRemoved: string;
  readonly plUsersAdded: string;
  /** v1-v2 only. */
  readonly redaction: string;
}

const cache = new Map<string, RuleNumbers>();

export function ruleNumbers(rv: RoomVersion): RuleNumbers {
  const hit = cache.get(rv.id);
  if (hit) return hit;
  const v12 = rv.roomIdFromCreateEvent;
  const authEvents = v12 ? 3 : 2;
  const federate = authEvents + 1;
  const aliases = rv.specialCaseAliases ? federate + 1 : 0;
  const member = (aliases || federate) + 1;
  const m = (k: number): string => `${member}.${k}`;
  const o = rv.restrictedJoins ? 1 : 0;
  const join = 2 + o;
  const publicRule = rv.restrictedJoins ? 6 : 5;
  const pl = member + 5;
  const p = (k: number): string => `${pl}.${k}`;
  const users = rv.integerPowerLevels ? 3 : 1;
  const noPrev = users + (v12 ? 2 : 1);
  const nums: RuleNumbers = {
    create: '1',
    roomId: '2',
    authEvents: String(authEvents),
    federate: String(federate),
    aliases: String(aliases),
    member: String(member),
    memberFormat: m(1),
    authorisedVia: m(2),
    join: m(join),
    invite: m(3 + o),
    leave: m(4 + o),
    ban: m(5 + o),
    knock: m(6 + o),
    unknownMembership: m((rv.knocking ? 7 : 6) + o),
    joinRestricted: `${m(join)}.5`,
    joinOtherwise: `${m(join)}.${publicRule + 1}`,
    senderJoined: String(member + 1),
    thirdPartyInvite: String(member + 2),
    requiredLevel: String(member + 3),
    stateKeyUser: String(member + 4),
    powerLevels: String(pl),
    plIntegers: p(1),
    plMaps: p(2),
    plUsers: p(users),
    plCreators: p(users + 1),
    plNoPrevious: p(noPrev),
    plLevels: p(noPrev + 1),
    plMapsRemoved: p(noPrev + 2),
    plMapsAdded: p(noPrev + 3),
    plUsersRemoved: p(noPrev + 4),
    plUsersAdded: p(noPrev + 5),
    redaction: String(member + 6),
  };
  cache.set(rv.id, nums);
  return nums;
}
