/**
 * A small factory for state resolution tests: builds MatrixEvent objects
 * with made-up event IDs and explicit (or state-derived) auth and prev
 * events, for any room version. Not a test file itself.
 */
import type { JsonObject } from '../../src/matrix/json.js';
import type { MatrixEvent } from '../../src/matrix/event.js';
import { roomVersion, type RoomVersion, type RoomVersionId } from '../../src/matrix/room-versions.js';
import { stateKey, type StateMap } from '../../src/matrix/state-key.js';
import { authEventSelection } from '../../src/auth/selection.js';
import { checkAuth } from '../../src/auth/check.js';
import { checkAuthWithAuthEvents } from '../../src/auth/auth-events.js';
import type { AuthStateLookup } from '../../src/auth/types.js';
import type { StateResLookup } from '../../src/stateres/index.js';

export const ALICE = '@alice:a.example';
export const BOB = '@bob:b.example';
export const CAROL = '@carol:c.example';
export const DAVE = '@dave:d.example';
export const EVE = '@eve:e.example';
export const ZARA = '@zara:z.example';

export interface EventSpec {
  id: string;
  type: string;
  sender: string;
  stateKey?: string;
  content: JsonObject;
  auth: readonly string[];
  prev: readonly string[];
  ts?: number;
  depth?: number;
}

export type Expect = 'allowed' | 'denied' | 'any';

export interface SendOptions {
  ts?: number;
  /** Explicit auth events instead of the selection from the branch state. */
  auth?: readonly string[];
  /** Explicit prev events instead of the branch head. */
  prev?: readonly string[];
  /** What the auth rules must say against the branch state (default 'allowed'). */
  expect?: Expect;
}

export class Graph {
  readonly rv: RoomVersion;
  readonly events = new Map<string, MatrixEvent>();
  roomId = '';
  creator = '';
  private clock = 1000;

  constructor(version: RoomVersionId | RoomVersion) {
    this.rv = typeof version === 'string' ? roomVersion(version) : version;
  }

  /** `$name` (v3+) or `$name:example.org` (v1, v2). */
  id(name: string): string {
    return this.rv.eventIdFormat === 'v1' ? `$${name}:example.org` : `$${name}`;
  }

  tick(): number {
    this.clock += 1;
    return this.clock;
  }

  /** Builds and stores an event exactly as specified. */
  add(spec: EventSpec): MatrixEvent {
    const eventId = this.id(spec.id);
    if (this.events.has(eventId)) throw new Error(`duplicate event ${eventId}`);
    const isCreate = spec.type === 'm.room.create';
    if (isCreate) {
      this.roomId = this.rv.roomIdFromCreateEvent ? '!' + eventId.slice(1) : '!room:a.example';
      this.creator = spec.sender;
    }
    const prevEvents = spec.prev.map((p) => this.id(p));
    const authEvents = spec.auth.map((a) => this.id(a));
    let depth = spec.depth;
    if (depth === undefined) {
      depth = 1;
      for (const p of prevEvents) depth = Math.max(depth, (this.events.get(p)?.depth ?? 0) + 1);
    }
    const ts = spec.ts ?? this.tick();
    const json: JsonObject = {
      type: spec.type,
      sender: spec.sender,
      content: spec.content,
      prev_events: prevEvents,
      auth_events: authEvents,
      depth,
      origin_server_ts: ts,
    };
    if (!(isCreate && this.rv.roomIdFromCreateEvent)) json.room_id = this.roomId;
    if (spec.stateKey !== undefined) json.state_key = spec.stateKey;
    if (this.rv.eventIdFormat === 'v1') json.event_id = eventId;
    const ev: MatrixEvent = {
      eventId,
      roomId: this.roomId,
      sender: spec.sender,
      type: spec.type,
      stateKey: spec.stateKey,
      content: spec.content,
      prevEvents,
      authEvents,
      depth,
      originServerTs: ts,
      redacts: undefined,
      roomVersion: this.rv,
      json,
    };
    this.events.set(eventId, ev);
    return ev;
  }

  get(name: string): MatrixEvent {
    const ev = this.events.get(this.id(name));
    if (!ev) throw new Error(`no event ${name}`);
    return ev;
  }

  /** Power levels content: the given users, plus the creator at 100 before v12 (v12 creators must not be listed). */
  powerLevels(users: Record<string, number> = {}, rest: JsonObject = {}): JsonObject {
    const u: JsonObject = {};
    if (!this.rv.creatorsHaveInfinitePower) u[this.creator] = 100;
    for (const [k, v] of Object.entries(users)) u[k] = v;
    return { users: u, ...rest };
  }

  /**
   * The usual start of a room: create, the creator's join, power levels,
   * join rules (`public` by default). Returns the branch after them.
   */
  start(creator = ALICE, joinRule = 'public', extraCreateContent: JsonObject = {}): Branch {
    const createContent: JsonObject = this.rv.v11Format ? { ...extraCreateContent } : { creator, ...extraCreateContent };
    createContent.room_version = this.rv.id;
    this.add({ id: 'CREATE', type: 'm.room.create', sender: creator, stateKey: '', content: createContent, auth: [], prev: [] });
    const b = new Branch(this, new Map([[stateKey('m.room.create', ''), this.id('CREATE')]]), ['CREATE']);
    b.send('IMA', creator, 'm.room.member', creator, { membership: 'join' });
    b.send('IPOWER', creator, 'm.room.power_levels', '', this.powerLevels());
    b.send('IJR', creator, 'm.room.join_rules', '', { join_rule: joinRule });
    return b;
  }

  /** The factory's events as a lookup; `rejected` names events to report rejected. */
  lookup(options: { rejected?: readonly string[]; async?: boolean; index?: boolean } = {}): StateResLookup & { calls: number } {
    const rejected = new Set((options.rejected ?? []).map((r) => this.id(r)));
    const events = this.events;
    const out: StateResLookup & { calls: number } = {
      calls: 0,
      events(ids) {
        out.calls++;
        const m = new Map<string, MatrixEvent>();
        for (const id of ids) {
          const ev = events.get(id);
          if (ev) m.set(id, ev);
        }
        return options.async ? Promise.resolve(m) : m;
      },
      isRejected: (id) => rejected.has(id),
    };
    if (options.index) {
      out.authChain = (ids) => {
        const seen = new Set<string>();
        const stack: string[] = [];
        for (const id of ids) stack.push(...(events.get(id)?.authEvents ?? []));
        while (stack.length > 0) {
          const id = stack.pop()!;
          if (seen.has(id)) continue;
          seen.add(id);
          stack.push(...(events.get(id)?.authEvents ?? []));
        }
        return options.async ? Promise.resolve(seen) : seen;
      };
    }
    return out;
  }

  /** A state map from event names (type and state key read from the events). */
  state(...names: string[]): StateMap {
    const m: StateMap = new Map();
    for (const n of names) {
      const ev = this.get(n);
      m.set(stateKey(ev.type, ev.stateKey!), ev.eventId);
    }
    return m;
  }

  /** Event names of a state's values (the inverse of `id`), sorted, for readable assertions. */
  names(state: StateMap): string[] {
    return [...state.values()].map((id) => this.name(id)).sort();
  }

  name(id: string): string {
    return this.rv.eventIdFormat === 'v1' ? id.slice(1, id.indexOf(':')) : id.slice(1);
  }
}

/** A line of history: its state and head, extended by `send`. */
export class Branch {
  readonly graph: Graph;
  readonly state: StateMap;
  head: string[];

  constructor(graph: Graph, state: StateMap, head: string[]) {
    this.graph = graph;
    this.state = state;
    this.head = head;
  }

  fork(): Branch {
    return new Branch(this.graph, new Map(this.state), [...this.head]);
  }

  lookupOf(state: StateMap): AuthStateLookup {
    const g = this.graph;
    return {
      get: (t, k) => {
        if (t === 'm.room.create' && k === '' && g.rv.roomIdFromCreateEvent) return g.get('CREATE');
        const id = state.get(stateKey(t, k));
        return id === undefined ? undefined : g.events.get(id);
      },
    };
  }

  /**
   * Sends an event on this branch: auth events chosen from the branch state
   * by the auth events selection (unless given), prev events the head. The
   * event must pass its own auth events, and the rules against the branch
   * state must say `expect`; when allowed, a state event updates the state.
   */
  send(name: string, sender: string, type: string, sk: string | undefined, content: JsonObject, opts: SendOptions = {}): MatrixEvent {
    const g = this.graph;
    let auth = opts.auth;
    if (auth === undefined) {
      const sel = authEventSelection({ type, sender, stateKey: sk, content }, g.rv);
      const names: string[] = [];
      for (const [t, k] of sel) {
        const id = this.state.get(stateKey(t, k));
        if (id !== undefined) names.push(g.name(id));
      }
      auth = names;
    }
    const ev = g.add({ id: name, type, sender, stateKey: sk, content, auth, prev: opts.prev ?? this.head, ...(opts.ts !== undefined ? { ts: opts.ts } : {}) });
    const authEvents = ev.authEvents.map((id) => g.events.get(id)!);
    const own = checkAuthWithAuthEvents(ev, authEvents, g.rv.roomIdFromCreateEvent ? { createEvent: g.get('CREATE') } : {});
    const res = checkAuth(ev, this.lookupOf(this.state));
    const expect = opts.expect ?? 'allowed';
    if (expect === 'allowed' && (!own.ok || !res.ok)) {
      throw new Error(`test setup: ${name} not allowed: ${own.ok ? '' : own.message} ${res.ok ? '' : res.message}`);
    }
    if (expect === 'denied' && res.ok) throw new Error(`test setup: ${name} unexpectedly allowed`);
    if (res.ok && own.ok && sk !== undefined) this.state.set(stateKey(type, sk), ev.eventId);
    this.head = [ev.eventId].map((id) => g.name(id));
    return ev;
  }
}
