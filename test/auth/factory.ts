/**
 * Test factory for the auth rules: builds MatrixEvent objects directly
 * (without parsePdu) and keeps a room's state so tests can say "alice is
 * joined, the join rule is knock, now check this event".
 *
 * Event IDs: `$eN:server` for v1/v2 (server = the sender's), a made-up
 * hash-shaped `$` + base64url(sha256(counter)) from v3. v12 room IDs are
 * derived from the create event's ID as the spec says.
 */
import { createHash } from 'node:crypto';
import type { JsonObject } from '../../src/matrix/json.js';
import type { MatrixEvent } from '../../src/matrix/event.js';
import { roomVersion, type RoomVersion, type RoomVersionId } from '../../src/matrix/room-versions.js';
import { stateKey as sk } from '../../src/matrix/state-key.js';
import type { AuthResult, AuthStateLookup } from '../../src/auth/types.js';
import { checkAuth, type CheckAuthOptions } from '../../src/auth/check.js';
import * as assert from 'uvu/assert';

export const ALL_VERSIONS: RoomVersionId[] = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];

let counter = 0;

export function domain(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}

export interface EventSpec {
  type: string;
  sender: string;
  stateKey?: string;
  content?: JsonObject;
  prevEvents?: string[];
  authEvents?: string[];
  roomId?: string;
  eventId?: string;
  redacts?: string;
  /** Extra top-level JSON fields (signatures, ...). */
  json?: JsonObject;
  /** v12 create: put a room_id into the JSON anyway (to test rule 1.2). */
  withRoomIdInJson?: boolean;
}

export function newEventId(rv: RoomVersion, sender: string): string {
  counter += 1;
  if (rv.eventIdFormat === 'v1') return `$e${counter}:${domain(sender)}`;
  const h = createHash('sha256').update(`event-${counter}`).digest();
  return '$' + (rv.eventIdFormat === 'v3' ? h.toString('base64').replace(/=+$/, '') : h.toString('base64url'));
}

export function makeEvent(rv: RoomVersion, spec: EventSpec): MatrixEvent {
  const eventId = spec.eventId ?? newEventId(rv, spec.sender);
  const isV12Create = rv.roomIdFromCreateEvent && spec.type === 'm.room.create';
  const roomId = spec.roomId ?? (isV12Create ? '!' + eventId.slice(1) : `!room${counter}:` + domain(spec.sender));
  const content = spec.content ?? {};
  const json: JsonObject = {
    type: spec.type,
    sender: spec.sender,
    content,
    prev_events: spec.prevEvents ?? [],
    auth_events: spec.authEvents ?? [],
    depth: 1,
    origin_server_ts: 0,
    ...(spec.json ?? {}),
  };
  if (!isV12Create || spec.withRoomIdInJson) json.room_id = roomId;
  if (rv.eventIdFormat === 'v1') json.event_id = eventId;
  if (spec.stateKey !== undefined) json.state_key = spec.stateKey;
  if (spec.redacts !== undefined) {
    if (rv.v11Format) content.redacts = spec.redacts;
    else json.redacts = spec.redacts;
  }
  return {
    eventId,
    roomId,
    sender: spec.sender,
    type: spec.type,
    stateKey: spec.stateKey,
    content,
    prevEvents: spec.prevEvents ?? [],
    authEvents: spec.authEvents ?? [],
    depth: 1,
    originServerTs: 0,
    redacts: spec.redacts,
    roomVersion: rv,
    json,
  };
}

/** A state lookup over a plain map. */
export class StateMapLookup implements AuthStateLookup {
  readonly map = new Map<string, MatrixEvent>();
  get(type: string, key: string): MatrixEvent | undefined {
    return this.map.get(sk(type, key));
  }
  set(ev: MatrixEvent): void {
    if (ev.stateKey === undefined) throw new Error('not a state event');
    this.map.set(sk(ev.type, ev.stateKey), ev);
  }
  delete(type: string, key: string): void {
    this.map.delete(sk(type, key));
  }
}

export interface RoomOptions {
  creator?: string;
  /** Extra create content (merged; `creator` is filled for v1-v10 unless given). */
  createContent?: JsonObject;
  /** Do not add the creator's join. */
  noCreatorJoin?: boolean;
}

/** A room under construction: its version, create event and current state. */
export class TestRoom {
  readonly rv: RoomVersion;
  readonly creator: string;
  readonly create: MatrixEvent;
  readonly roomId: string;
  readonly state = new StateMapLookup();
  /** The latest event ID, used as the default prev event. */
  last: string;

  constructor(version: RoomVersionId, opts: RoomOptions = {}) {
    this.rv = roomVersion(version);
    this.creator = opts.creator ?? '@alice:a.test';
    const content: JsonObject = { room_version: version, ...(opts.createContent ?? {}) };
    if (!this.rv.v11Format && !('creator' in content)) content.creator = this.creator;
    this.create = makeEvent(this.rv, { type: 'm.room.create', sender: this.creator, stateKey: '', content });
    this.roomId = this.create.roomId;
    this.state.set(this.create);
    this.last = this.create.eventId;
    if (!opts.noCreatorJoin) this.add({ type: 'm.room.member', sender: this.creator, stateKey: this.creator, content: { membership: 'join' } });
  }

  /** Builds an event in this room (not added to state). */
  event(spec: EventSpec): MatrixEvent {
    return makeEvent(this.rv, { roomId: this.roomId, prevEvents: [this.last], ...spec });
  }

  /** Builds an event and puts it into the state (as if accepted). */
  add(spec: EventSpec): MatrixEvent {
    const ev = this.event(spec);
    if (ev.stateKey !== undefined) this.state.set(ev);
    this.last = ev.eventId;
    return ev;
  }

  /** Sets a user's membership directly (sender defaults to the user). */
  member(user: string, membership: string, sender = user, extra: JsonObject = {}): MatrixEvent {
    return this.add({ type: 'm.room.member', sender, stateKey: user, content: { membership, ...extra } });
  }

  joinRules(rule: string, sender = this.creator): MatrixEvent {
    return this.add({ type: 'm.room.join_rules', sender, stateKey: '', content: { join_rule: rule } });
  }

  powerLevels(content: JsonObject, sender = this.creator): MatrixEvent {
    return this.add({ type: 'm.room.power_levels', sender, stateKey: '', content });
  }

  /** checkAuth of a new event against the current state. */
  check(spec: EventSpec, options?: CheckAuthOptions): AuthResult {
    return checkAuth(this.event(spec), this.state, options);
  }

  /** Shorthand: a membership event `sender` sends about `target`. */
  checkMember(sender: string, target: string, membership: string, extra: JsonObject = {}, options?: CheckAuthOptions): AuthResult {
    return this.check({ type: 'm.room.member', sender, stateKey: target, content: { membership, ...extra } }, options);
  }
}

/** `users` content giving the creator 100 before v12 (v12 creators must not be listed). */
export function adminUsers(v: string, creator = '@alice:a.test'): JsonObject {
  return v === '12' ? {} : { [creator]: 100 };
}

/** The versions from `from` to `to` inclusive. */
export function versions(from: number, to = 12): RoomVersionId[] {
  return ALL_VERSIONS.filter((v) => Number(v) >= from && Number(v) <= to);
}

/** Formats a result for assertion messages. */
export function show(r: AuthResult): string {
  return r.ok ? 'allowed' : `${r.code} (rule ${r.rule}): ${r.message}`;
}

/** Asserts the result allows. */
export function allowed(r: { ok: boolean; code?: string; rule?: string; message?: string }, what: string): void {
  assert.ok(r.ok, `${what}: expected allowed, got ${r.ok ? 'allowed' : `${r.code} (rule ${r.rule}): ${r.message}`}`);
}

/** Asserts the result denies with `code` (and `rule`, when given). */
export function denied(r: { ok: boolean; code?: string; rule?: string; message?: string }, code: string, what: string, rule?: string): void {
  assert.ok(!r.ok, `${what}: expected ${code}, got allowed`);
  assert.is(r.code, code, `${what}: code (${r.message})`);
  if (rule !== undefined) assert.is(r.rule, rule, `${what}: rule (${r.message})`);
}
