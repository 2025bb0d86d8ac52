/**
 * The rules about an event's `auth_events` list (rule 2 of v1-v11, rules 2
 * and 3 of v12), and the state lookup built from the list that the rest of
 * the rules (check.ts) run against. Pure.
 *
 * v12: the create event is never listed; the room ID names it. The caller
 * passes it separately (`createEvent`), the check proves that the room ID is
 * `!` + its event ID and that it is not rejected, and the lookup includes it.
 */
import type { MatrixEvent } from '../matrix/event.js';
import { stateKey } from '../matrix/state-key.js';
import type { AuthResult, AuthStateLookup } from './types.js';
import { authEventSelection } from './selection.js';
import { ruleNumbers } from './rule-numbers.js';
import { checkAuth, type CheckAuthOptions } from './check.js';

/** A state lookup over a map keyed by `stateKey(type, key)`. */
export class MapStateLookup implements AuthStateLookup {
  readonly map: ReadonlyMap<string, MatrixEvent>;
  constructor(map: ReadonlyMap<string, MatrixEvent>) {
    this.map = map;
  }
  get(type: string, key: string): MatrixEvent | undefined {
    return this.map.get(stateKey(type, key));
  }
}

export const EMPTY_STATE: AuthStateLookup = new MapStateLookup(new Map());

/**
 * A state lookup from a list of state events (later entries win on the same
 * type and state key), plus the create event when given (v12 auth events do
 * not list it). Events without a state key are ignored.
 */
export function authStateFromEvents(events: Iterable<MatrixEvent>, createEvent?: MatrixEvent): MapStateLookup {
  const map = new Map<string, MatrixEvent>();
  if (createEvent) map.set(stateKey('m.room.create', ''), createEvent);
  for (const ev of events) {
    if (ev.stateKey === undefined) continue;
    map.set(stateKey(ev.type, ev.stateKey), ev);
  }
  return new MapStateLookup(map);
}

export interface AuthEventsOptions {
  /** Which auth events (by event ID) were themselves rejected. */
  readonly rejected?: ReadonlySet<string> | ((eventId: string) => boolean);
  /** v12: the room's create event (its ID is the room ID). Ignored before v12. */
  readonly createEvent?: MatrixEvent;
}

export type AuthEventsResult =
  | { readonly ok: true; readonly state: MapStateLookup }
  | { readonly ok: false; readonly code: string; readonly rule: string; readonly message: string };

function deny(code: string, rule: string, message: string): AuthEventsResult {
  return { ok: false, code, rule, message };
}

function isRejected(rejected: AuthEventsOptions['rejected'], id: string): boolean {
  if (!rejected) return false;
  return typeof rejected === 'function' ? rejected(id) : rejected.has(id);
}

/** The supplied event with this ID (the last one, should it be supplied twice). */
function suppliedEvent(authEvents: readonly MatrixEvent[], id: string): MatrixEvent | undefined {
  for (let i = authEvents.length - 1; i >= 0; i--) if (authEvents[i]!.eventId === id) return authEvents[i];
  return undefined;
}

/**
 * Checks the auth events of `event`. `authEvents` are the events its
 * `auth_events` names, in any order; each listed ID must be supplied and
 * nothing else. On success returns the state to run `checkAuth` against.
 *
 * In order: (v12) the room ID is `!` + the ID of the supplied, not rejected
 * create event; no two entries share a (type, state key); every entry is one
 * the auth events selection would pick (a listed v12 create event fails
 * here); no entry was rejected; (v1-v11) a create event is among them; every
 * entry is in the event's room.
 *
 * The create event itself is not checked here: its auth events are
 * irrelevant to rule 1, so it gets an empty state.
 */
export function checkAuthEvents(event: MatrixEvent, authEvents: readonly MatrixEvent[], options: AuthEventsOptions = {}): AuthEventsResult {
  const rv = event.roomVersion;
  const n = ruleNumbers(rv);
  if (event.type === 'm.room.create') return { ok: true, state: new MapStateLookup(new Map()) };

  // An event lists a handful of auth events: plain scans, no maps or sets.
  const listed = event.authEvents;
  for (const ev of authEvents) {
    if (!listed.includes(ev.eventId)) return deny('auth_event_not_listed', n.authEvents, `${ev.eventId} was supplied but is not in auth_events`);
  }
  for (const id of listed) {
    if (suppliedEvent(authEvents, id) === undefined) return deny('missing_auth_event', n.authEvents, `auth event ${id} was not supplied`);
  }

  let createEvent: MatrixEvent | undefined;
  if (rv.roomIdFromCreateEvent) {
    createEvent = options.createEvent;
    if (!createEvent || createEvent.type !== 'm.room.create' || createEvent.stateKey !== '') {
      return deny('missing_create_event', n.roomId, 'the room create event was not supplied');
    }
    if (event.roomId !== '!' + createEvent.eventId.slice(1)) {
      return deny('room_id_mismatch', n.roomId, `room ID ${event.roomId} is not the create event ${createEvent.eventId}`);
    }
    if (isRejected(options.rejected, createEvent.eventId)) {
      return deny('rejected_auth_event', n.roomId, 'the room create event was rejected');
    }
  }

  const r = n.authEvents;
  // The list in its own order; the same ID twice is a duplicate entry.
  const entries = listed.map((id) => suppliedEvent(authEvents, id)!);
  for (let i = 0; i < entries.length; i++) {
    const ev = entries[i]!;
    if (ev.stateKey === undefined) continue;
    for (let j = 0; j < i; j++) {
      const other = entries[j]!;
      if (other.stateKey === ev.stateKey && other.type === ev.type) {
        return deny('duplicate_auth_event', `${r}.1`, `two auth events for (${ev.type}, ${JSON.stringify(ev.stateKey)})`);
      }
    }
  }

  const allowed = authEventSelection(event, rv);
  for (const ev of entries) {
    if (rv.roomIdFromCreateEvent && ev.type === 'm.room.create') {
      return deny('create_event_listed', `${r}.2`, 'the create event must not be listed in auth_events in this room version');
    }
    if (ev.stateKey === undefined || !allowed.some(([t, k]) => t === ev.type && k === ev.stateKey)) {
      return deny('unexpected_auth_event', `${r}.2`, `auth event ${ev.eventId} (${ev.type}, ${JSON.stringify(ev.stateKey ?? null)}) is not one the selection picks`);
    }
  }

  for (const ev of entries) {
    if (isRejected(options.rejected, ev.eventId)) return deny('rejected_auth_event', `${r}.3`, `auth event ${ev.eventId} was rejected`);
  }

  if (!rv.roomIdFromCreateEvent && !entries.some((ev) => ev.type === 'm.room.create' && ev.stateKey === '')) {
    return deny('missing_create_event', `${r}.4`, 'no m.room.create among the auth events');
  }

  for (const ev of entries) {
    if (ev.roomId !== event.roomId) return deny('auth_event_wrong_room', `${r}.5`, `auth event ${ev.eventId} is in room ${ev.roomId}`);
  }

  return { ok: true, state: authStateFromEvents(entries, createEvent) };
}

/**
 * The whole check "is this event allowed by its own auth events": the
 * auth-events list rules, then the rest of the rules against the state the
 * list forms. The create event is checked by rule 1 alone.
 */
export function checkAuthWithAuthEvents(
  event: MatrixEvent,
  authEvents: readonly MatrixEvent[],
  options: AuthEventsOptions & CheckAuthOptions = {},
): AuthResult {
  const res = checkAuthEvents(event, authEvents, options);
  if (!res.ok) return res;
  return checkAuth(event, res.state, options);
}

