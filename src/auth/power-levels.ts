/**
 * Power levels: parsing `m.room.power_levels` content per room version, the
 * defaults that apply without one, room creators, and the lookups the
 * authorization rules use (a user's level, the level needed to send an event
 * type, the invite/kick/ban/redact levels). Pure.
 *
 * Values:
 * - v10+: only JSON integers (within the canonical JSON range) are valid; a
 *   present value of any other type (string, float, null, ...) makes the
 *   event invalid (rules 9.1-9.3 of v10).
 * - v1-v9: `users` values must be integers or strings that are integers
 *   (rule 10.1 of v1). For the other values the spec says nothing; we take
 *   what the existing servers take: integers, strings holding an integer
 *   (`" 50"`, `"+50"`, `"-1"`), and finite floats truncated toward zero (v1-v5
 *   can carry floats; from v6 canonical JSON refuses them at parse time).
 *   Any other value (booleans, null, objects, "fifty") cannot be given a
 *   level, so the event is invalid.
 * - `notifications` only counts from v6 (rules 9.4/9.5 of v6); before that
 *   it is ignored.
 *
 * Defaults (server-server API "Definitions"; the m.room.power_levels event
 * schema): users_default 0, events_default 0, state_default 50, ban 50,
 * kick 50, redact 50, invite 0, notifications.room 50. The same defaults
 * apply when the room has no power levels event at all (the schema's
 * current text: state_default is 50 "if there is no m.room.power_levels
 * event" as well). Without a power levels event the room creator has 100 in
 * v1-v11; in v12 the creators (create sender + `additional_creators`) have
 * infinite power, with or without one.
 */
import type { JsonObject, JsonValue } from '../matrix/json.js';
import { isJsonObject } from '../matrix/json.js';
import { MAX_SAFE } from '../matrix/canonical-json.js';
import type { MatrixEvent } from '../matrix/event.js';
import type { RoomVersion } from '../matrix/room-versions.js';
import type { AuthStateLookup } from './types.js';
import { isValidUserId } from './user-id.js';

/** The seven top-level level properties the power-level change rules walk. */
export const LEVEL_KEYS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;
export type LevelKey = (typeof LEVEL_KEYS)[number];

export const DEFAULT_LEVELS: Readonly<Record<LevelKey, number>> = Object.freeze({
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  redact: 50,
  kick: 50,
  invite: 0,
});

/** The level of the room creator when the room has no power levels event (v1-v11). */
export const CREATOR_DEFAULT_LEVEL = 100;
/** The default level for `notifications.room`. */
export const DEFAULT_ROOM_NOTIFICATION_LEVEL = 50;

/**
 * The explicit content of a power levels event: only what the event says
 * (absent keys are absent), with values as numbers. The change rules need
 * to see what was added, changed or removed, so defaults are not filled in.
 */
export interface PowerLevelsContent {
  readonly levels: Readonly<Partial<Record<LevelKey, number>>>;
  readonly users: ReadonlyMap<string, number>;
  readonly events: ReadonlyMap<string, number>;
  /** Empty before v6 (ignored there). */
  readonly notifications: ReadonlyMap<string, number>;
}

export type PowerLevelsParseResult =
  | { readonly ok: true; readonly content: PowerLevelsContent }
  | { readonly ok: false; readonly field: string; readonly message: string };

const INT_STRING = /^\s*[+-]?[0-9]+\s*$/;

/**
 * One power level value as the room version reads it; undefined when the
 * value is not a valid level. `users` values before v10 must be integers or
 * integer strings (floats refused, rule 10.1); `allowFloat` covers the other
 * pre-v10 values.
 */
export function parsePowerLevelValue(v: JsonValue | undefined, rv: RoomVersion, allowFloat = true): number | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return undefined;
    let n: number;
    if (Number.isInteger(v)) n = v;
    else if (!rv.integerPowerLevels && allowFloat) n = Math.trunc(v);
    else return undefined;
    if (n > MAX_SAFE || n < -MAX_SAFE) return undefined;
    return n === 0 ? 0 : n; // no -0
  }
  if (typeof v === 'string' && !rv.integerPowerLevels && INT_STRING.test(v)) {
    const n = Number(v.trim());
    if (!Number.isSafeInteger(n)) return undefined;
    return n === 0 ? 0 : n;
  }
  return undefined;
}

function has(o: JsonObject, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/**
 * Parses power levels content. `strict` (used for the event being
 * authorised) reports the first invalid value; otherwise invalid values are
 * skipped as if absent (used for events already in state, which passed the
 * strict check when they were accepted).
 */
export function parsePowerLevelsContent(content: JsonObject, rv: RoomVersion, strict = true): PowerLevelsParseResult {
  const levels: Partial<Record<LevelKey, number>> = {};
  for (const k of LEVEL_KEYS) {
    if (!has(content, k)) continue;
    const n = parsePowerLevelValue(content[k], rv);
    if (n === undefined) {
      if (strict) return { ok: false, field: k, message: `${k} is not an integer${rv.integerPowerLevels ? '' : ' or a string holding one'}` };
      continue;
    }
    levels[k] = n;
  }

  const maps: Record<'events' | 'notifications', Map<string, number>> = { events: new Map(), notifications: new Map() };
  for (const name of ['events', 'notifications'] as const) {
    if (name === 'notifications' && !rv.notificationsPowerLevels) continue;
    if (!has(content, name)) continue;
    const obj = content[name];
    if (!isJsonObject(obj)) {
      if (strict) return { ok: false, field: name, message: `${name} is not an object` };
      continue;
    }
    for (const [key, value] of Object.entries(obj)) {
      const n = parsePowerLevelValue(value, rv);
      if (n === undefined) {
        if (strict) return { ok: false, field: `${name}.${key}`, message: `${name}[${JSON.stringify(key)}] is not an integer` };
        continue;
      }
      maps[name].set(key, n);
    }
  }

  const users = new Map<string, number>();
  if (has(content, 'users')) {
    const obj = content.users;
    if (!isJsonObject(obj)) {
      if (strict) return { ok: false, field: 'users', message: 'users is not an object' };
    } else {
      for (const [userId, value] of Object.entries(obj)) {
        if (!isValidUserId(userId)) {
          if (strict) return { ok: false, field: 'users', message: `users key ${JSON.stringify(userId)} is not a valid user ID` };
          continue;
        }
        const n = parsePowerLevelValue(value, rv, false);
        if (n === undefined) {
          if (strict) return { ok: false, field: `users.${userId}`, message: `users[${JSON.stringify(userId)}] is not an integer` };
          continue;
        }
        users.set(userId, n);
      }
    }
  }

  return { ok: true, content: { levels, users, events: maps.events, notifications: maps.notifications } };
}

/**
 * The room creators: v12: the create event's sender plus the valid user IDs
 * in `content.additional_creators`; v11: the sender; v1-v10: `content.creator`.
 */
export function roomCreators(createEvent: MatrixEvent | undefined, rv: RoomVersion): string[] {
  if (!createEvent) return [];
  if (rv.creatorsHaveInfinitePower) {
    const out = [createEvent.sender];
    const extra = createEvent.content.additional_creators;
    if (Array.isArray(extra)) {
      for (const u of extra) if (isValidUserId(u) && !out.includes(u)) out.push(u);
    }
    return out;
  }
  if (rv.v11Format) return [createEvent.sender];
  const c = createEvent.content.creator;
  return typeof c === 'string' ? [c] : [];
}

/**
 * The parsed content of a power levels event found in state, cached per
 * event object: the same event authorises many events, and big rooms have
 * big `users` maps. Events are immutable once parsed.
 */
const stateContentCache = new WeakMap<MatrixEvent, PowerLevelsContent>();

function stateContent(plEvent: MatrixEvent, rv: RoomVersion): PowerLevelsContent {
  let c = stateContentCache.get(plEvent);
  if (c === undefined || plEvent.roomVersion !== rv) {
    const parsed = parsePowerLevelsContent(plEvent.content, rv, false);
    if (!parsed.ok) throw new Error('lenient power levels parsing cannot fail');
    c = parsed.content;
    if (plEvent.roomVersion === rv) stateContentCache.set(plEvent, c);
  }
  return c;
}

/** The effective power levels of a room at some state: explicit values, defaults and creators. */
export class RoomPowerLevels {
  readonly rv: RoomVersion;
  /** The explicit content, undefined when there is no power levels event. */
  readonly content: PowerLevelsContent | undefined;
  /** v12: users with infinite power. v1-v11: the creator (100 only without a power levels event). */
  readonly creators: ReadonlySet<string>;

  constructor(content: PowerLevelsContent | undefined, creators: Iterable<string>, rv: RoomVersion) {
    this.rv = rv;
    this.content = content;
    this.creators = new Set(creators);
  }

  /** From the `m.room.power_levels` and `m.room.create` events of a state. */
  static fromState(state: AuthStateLookup, rv: RoomVersion): RoomPowerLevels {
    return RoomPowerLevels.fromEvents(state.get('m.room.power_levels', ''), state.get('m.room.create', ''), rv);
  }

  static fromEvents(plEvent: MatrixEvent | undefined, createEvent: MatrixEvent | undefined, rv: RoomVersion): RoomPowerLevels {
    return new RoomPowerLevels(plEvent ? stateContent(plEvent, rv) : undefined, roomCreators(createEvent, rv), rv);
  }

  /** A top-level level (`ban`, `kick`, `invite`, ...) with its default. */
  level(key: LevelKey): number {
    return this.content?.levels[key] ?? DEFAULT_LEVELS[key];
  }

  get ban(): number {
    return this.level('ban');
  }
  get kick(): number {
    return this.level('kick');
  }
  get invite(): number {
    return this.level('invite');
  }
  get redact(): number {
    return this.level('redact');
  }

  /** A user's power level; Infinity for v12 creators. */
  userLevel(userId: string): number {
    if (this.rv.creatorsHaveInfinitePower && this.creators.has(userId)) return Infinity;
    if (!this.content) return this.creators.has(userId) ? CREATOR_DEFAULT_LEVEL : DEFAULT_LEVELS.users_default;
    return this.content.users.get(userId) ?? this.level('users_default');
  }

  /** The *required power level* to send an event of this type. */
  sendLevel(type: string, isState: boolean): number {
    const explicit = this.content?.events.get(type);
    if (explicit !== undefined) return explicit;
    return this.level(isState ? 'state_default' : 'events_default');
  }

  /** The level for a `notifications` key (`room` defaults to 50). */
  notificationLevel(key: string): number | undefined {
    return this.content?.notifications.get(key) ?? (key === 'room' ? DEFAULT_ROOM_NOTIFICATION_LEVEL : undefined);
  }
}

/** Shortcut: the power level of a user at a state. */
export function userPowerLevel(state: AuthStateLookup, rv: RoomVersion, userId: string): number {
  return RoomPowerLevels.fromState(state, rv).userLevel(userId);
}
