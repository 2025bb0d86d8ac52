/**
 * The room version table: every property of a room version that the rest
 * of the code branches on. Values follow the spec's room version pages
 * (rooms/v1.md .. v12.md).
 */
import { RoomServerError } from '../errors.js';

export type RoomVersionId = '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '10' | '11' | '12';

export interface RoomVersion {
  readonly id: RoomVersionId;
  /** State resolution algorithm: v1 (room v1), v2 (v2-v11), v2.1 (v12). */
  readonly stateRes: 'v1' | 'v2' | 'v2.1';
  /**
   * Event ID format: `v1` = the event carries its own `event_id` (`$x:server`);
   * `v3` = `$` + standard unpadded base64 of the reference hash;
   * `v4` = `$` + URL-safe unpadded base64 of the reference hash.
   */
  readonly eventIdFormat: 'v1' | 'v3' | 'v4';
  /** prev_events / auth_events as `[id, {hashes}]` pairs (v1, v2) or plain IDs (v3+). */
  readonly eventRefsWithHashes: boolean;
  /** Redaction algorithm (see shared conformance REDACTION.md). */
  readonly redaction: 'v1' | 'v6' | 'v8' | 'v9' | 'v11';
  /** v1-v2: redactions are checked by the auth rules (redact level or same event ID domain). */
  readonly redactionInAuthRules: boolean;
  /** v1-v5: the special auth rule for `m.room.aliases`. */
  readonly specialCaseAliases: boolean;
  /** v5+: signing keys must be valid at the event's origin_server_ts. */
  readonly enforceKeyValidity: boolean;
  /** v6+: canonical JSON enforced strictly (integers only, within range). */
  readonly strictCanonicalJson: boolean;
  /** v6+: changing `notifications` levels needs the power to do so. */
  readonly notificationsPowerLevels: boolean;
  /** v7+: the `knock` membership and join rule. */
  readonly knocking: boolean;
  /** v8+: the `restricted` join rule and `join_authorised_via_users_server`. */
  readonly restrictedJoins: boolean;
  /** v10+: the `knock_restricted` join rule. */
  readonly knockRestricted: boolean;
  /** v10+: power level values must be JSON integers (no strings, no floats). */
  readonly integerPowerLevels: boolean;
  /** v11+: `redacts` lives in `content`; the create event has no `creator`; no `origin` needed. */
  readonly v11Format: boolean;
  /**
   * v12: the create event has no `room_id`; the room ID is `!` + the create
   * event's ID without `$`; the create event is never listed in auth_events.
   */
  readonly roomIdFromCreateEvent: boolean;
  /** v12: the create event's sender and `additional_creators` have unlimited power. */
  readonly creatorsHaveInfinitePower: boolean;
}

function v(id: RoomVersionId, o: Omit<RoomVersion, 'id'>): RoomVersion {
  // id last: the derived versions spread an earlier version, whose id must not win.
  return Object.freeze({ ...o, id });
}

const base: Omit<RoomVersion, 'id'> = {
  stateRes: 'v2',
  eventIdFormat: 'v4',
  eventRefsWithHashes: false,
  redaction: 'v1',
  redactionInAuthRules: false,
  specialCaseAliases: true,
  enforceKeyValidity: true,
  strictCanonicalJson: false,
  notificationsPowerLevels: false,
  knocking: false,
  restrictedJoins: false,
  knockRestricted: false,
  integerPowerLevels: false,
  v11Format: false,
  roomIdFromCreateEvent: false,
  creatorsHaveInfinitePower: false,
};

const v1 = v('1', { ...base, stateRes: 'v1', eventIdFormat: 'v1', eventRefsWithHashes: true, redactionInAuthRules: true, enforceKeyValidity: false });
const v2 = v('2', { ...base, eventIdFormat: 'v1', eventRefsWithHashes: true, redactionInAuthRules: true, enforceKeyValidity: false });
const v3 = v('3', { ...base, eventIdFormat: 'v3', enforceKeyValidity: false });
const v4 = v('4', { ...base, enforceKeyValidity: false });
const v5 = v('5', { ...base });
const v6 = v('6', { ...base, redaction: 'v6', specialCaseAliases: false, strictCanonicalJson: true, notificationsPowerLevels: true });
const v7 = v('7', { ...v6, knocking: true });
const v8 = v('8', { ...v7, redaction: 'v8', restrictedJoins: true });
const v9 = v('9', { ...v8, redaction: 'v9' });
const v10 = v('10', { ...v9, knockRestricted: true, integerPowerLevels: true });
const v11 = v('11', { ...v10, redaction: 'v11', v11Format: true });
const v12 = v('12', { ...v11, stateRes: 'v2.1', roomIdFromCreateEvent: true, creatorsHaveInfinitePower: true });

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((r) => [r.id, r]),
);

export const DEFAULT_ROOM_VERSION: RoomVersionId = '12';

export function isKnownRoomVersion(id: unknown): id is RoomVersionId {
  return typeof id === 'string' && ROOM_VERSIONS.has(id);
}

/** The properties of a room version; throws M_UNSUPPORTED_ROOM_VERSION for unknown ones. */
export function roomVersion(id: string): RoomVersion {
  const rv = ROOM_VERSIONS.get(id);
  if (!rv) throw new RoomServerError('M_UNSUPPORTED_ROOM_VERSION', `unsupported room version ${JSON.stringify(id)}`);
  return rv;
}
