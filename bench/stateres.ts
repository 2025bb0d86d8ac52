/**
 * State resolution benchmark. Prints, in one run:
 *  (a) a two-way fork of a room with 10,000 members where each side changed
 *      10 state entries;
 *  (b) 1,000 conflicted events over a shared auth chain of 20,000 events
 *      (and b-deep, where the kicks make v2.1 replay the whole chain).
 * for room v11 (state resolution v2) and v12 (v2.1), with a synchronous
 * in-memory lookup and with an asynchronous one (every call a promise, as a
 * store would answer). Reports the median, min and max of several runs.
 *
 *   node --import tsx bench/stateres.ts [runs] [only: a | b | a11 | b12 | b-deep12 ...]
 */
import { performance } from 'node:perf_hooks';
import type { JsonObject } from '../src/matrix/json.js';
import type { MatrixEvent } from '../src/matrix/event.js';
import { roomVersion, type RoomVersion } from '../src/matrix/room-versions.js';
import { stateKey, type StateMap } from '../src/matrix/state-key.js';
import { authEventSelection } from '../src/auth/selection.js';
import { AUTH_RULES, EventCache, resolveState, type StateResLookup } from '../src/stateres/index.js';
import { resolveV2, type V2Trace } from '../src/stateres/v2.js';

const RUNS = Number(process.argv[2] ?? 15);
const ONLY = process.argv[3] ?? '';

class Room {
  readonly rv: RoomVersion;
  readonly events = new Map<string, MatrixEvent>();
  roomId = '';
  private n = 0;
  private ts = 1_700_000_000_000;

  constructor(rv: RoomVersion) {
    this.rv = rv;
  }

  /** Builds an event whose auth events are the selection from `state`; applies it to `state`. */
  send(state: StateMap, prev: string[], sender: string, type: string, sk: string | undefined, content: JsonObject): string {
    const eventId = `$e${this.n++}`;
    const isCreate = type === 'm.room.create';
    if (isCreate) this.roomId = this.rv.roomIdFromCreateEvent ? '!' + eventId.slice(1) : '!bench:example.org';
    const authEvents: string[] = [];
    for (const [t, k] of authEventSelection({ type, sender, stateKey: sk, content }, this.rv)) {
      const id = state.get(stateKey(t, k));
      if (id !== undefined) authEvents.push(id);
    }
    let depth = 1;
    for (const p of prev) depth = Math.max(depth, this.events.get(p)!.depth + 1);
    const json: JsonObject = { type, sender, content, prev_events: prev, auth_events: authEvents, depth, origin_server_ts: ++this.ts };
    if (!(isCreate && this.rv.roomIdFromCreateEvent)) json.room_id = this.roomId;
    if (sk !== undefined) json.state_key = sk;
    this.events.set(eventId, {
      eventId,
      roomId: this.roomId,
      sender,
      type,
      stateKey: sk,
      content,
      prevEvents: prev,
      authEvents,
      depth,
      originServerTs: this.ts,
      redacts: undefined,
      roomVersion: this.rv,
      json,
    });
    if (sk !== undefined) state.set(stateKey(type, sk), eventId);
    prev.splice(0, prev.length, eventId);
    return eventId;
  }

  pl(users: Record<string, number>, creator: string): JsonObject {
    const u: JsonObject = this.rv.creatorsHaveInfinitePower ? {} : { [creator]: 100 };
    for (const [k, v] of Object.entries(users)) u[k] = v;
    return { users: u };
  }

  lookup(async: boolean): StateResLookup {
    const events = this.events;
    return {
      events(ids) {
        const m = new Map<string, MatrixEvent>();
        for (const id of ids) {
          const ev = events.get(id);
          if (ev !== undefined) m.set(id, ev);
        }
        return async ? Promise.resolve(m) : m;
      },
    };
  }
}

const ALICE = '@alice:example.org';
const user = (i: number): string => `@user${i}:example.org`;

function start(room: Room): { state: StateMap; prev: string[] } {
  const state: StateMap = new Map();
  const prev: string[] = [];
  room.send(state, prev, ALICE, 'm.room.create', '', room.rv.v11Format ? { room_version: room.rv.id } : { creator: ALICE, room_version: room.rv.id });
  room.send(state, prev, ALICE, 'm.room.member', ALICE, { membership: 'join' });
  room.send(state, prev, ALICE, 'm.room.power_levels', '', room.pl({}, ALICE));
  room.send(state, prev, ALICE, 'm.room.join_rules', '', { join_rule: 'public' });
  return { state, prev };
}

/** (a) 10,000 members; each side of the fork changes 10 state entries. */
function bigRoomFork(rv: RoomVersion): { room: Room; sets: StateMap[] } {
  const room = new Room(rv);
  const { state, prev } = start(room);
  for (let i = 0; i < 10_000; i++) room.send(state, prev, user(i), 'm.room.member', user(i), { membership: 'join' });
  room.send(state, prev, ALICE, 'm.room.power_levels', '', room.pl({ [user(0)]: 50, [user(1)]: 50 }, ALICE));

  const s1 = new Map(state);
  const p1 = [...prev];
  room.send(s1, p1, ALICE, 'm.room.power_levels', '', room.pl({ [user(0)]: 50, [user(1)]: 0 }, ALICE));
  room.send(s1, p1, ALICE, 'm.room.topic', '', { topic: 'side one' });
  room.send(s1, p1, ALICE, 'm.room.name', '', { name: 'one' });
  for (let i = 10; i < 14; i++) room.send(s1, p1, user(i), 'm.room.member', user(i), { membership: 'leave' });
  room.send(s1, p1, ALICE, 'm.room.member', user(20), { membership: 'ban' });
  room.send(s1, p1, ALICE, 'm.room.join_rules', '', { join_rule: 'invite' });
  room.send(s1, p1, user(0), 'm.room.member', user(21), { membership: 'leave' });

  const s2 = new Map(state);
  const p2 = [...prev];
  room.send(s2, p2, user(1), 'm.room.member', user(30), { membership: 'leave' });
  room.send(s2, p2, user(1), 'm.room.member', user(31), { membership: 'ban' });
  room.send(s2, p2, user(1), 'm.room.topic', '', { topic: 'side two' });
  for (let i = 40; i < 45; i++) room.send(s2, p2, user(i), 'm.room.member', user(i), { membership: 'join', displayname: `u${i}` });
  room.send(s2, p2, ALICE, 'm.room.history_visibility', '', { history_visibility: 'shared' });
  room.send(s2, p2, ALICE, 'm.room.name', '', { name: 'two' });
  return { room, sets: [s1, s2] };
}

/**
 * (b) 1,000 conflicted events over a shared auth chain of 20,000 events: an
 * admin (user 0) changes the power levels 10,000 times, updating their own
 * member event in between, so the last power levels event has all 20,000 in
 * its auth chain; 2,000 other members joined along the way. Then a fork
 * with 500 state events per side: power level changes, kicks, joins and
 * room state.
 *
 * `kickChainMembers` (b-deep): the chain is instead 10,000 joins, each new
 * member handing power on in a power levels event that cites their join,
 * and the kicks hit those members. A kicked member's join is then a
 * conflicted event deep in every auth chain, and v2.1's conflicted state
 * subgraph holds the whole chain above it: 20,000 events replayed.
 */
function deepChainFork(rv: RoomVersion, kickChainMembers: boolean): { room: Room; sets: StateMap[] } {
  const room = new Room(rv);
  const { state, prev } = start(room);
  room.send(state, prev, user(0), 'm.room.member', user(0), { membership: 'join' });
  room.send(state, prev, ALICE, 'm.room.power_levels', '', room.pl({ [user(0)]: 100 }, ALICE));
  if (kickChainMembers) {
    for (let i = 1; i < 10_000; i++) {
      room.send(state, prev, user(i), 'm.room.member', user(i), { membership: 'join' });
      room.send(state, prev, user(i - 1), 'm.room.power_levels', '', room.pl({ [user(i)]: 100 }, ALICE));
    }
  } else {
    for (let i = 1; i < 10_000; i++) {
      if (i % 5 === 0) room.send(state, prev, user(i), 'm.room.member', user(i), { membership: 'join' });
      room.send(state, prev, user(0), 'm.room.member', user(0), { membership: 'join', displayname: `admin ${i}` });
      room.send(state, prev, user(0), 'm.room.power_levels', '', room.pl({ [user(0)]: 100, [user(5)]: i % 50 }, ALICE));
    }
  }
  const top = kickChainMembers ? 9_999 : 0;
  const sides: StateMap[] = [];
  for (const side of [0, 1]) {
    const s = new Map(state);
    const p = [...prev];
    const base = 100_000 + side * 1000;
    for (let j = 0; j < 500; j++) {
      switch (j % 10) {
        case 0:
          room.send(s, p, ALICE, 'm.room.power_levels', '', room.pl({ [user(top)]: 100, [user(base + j)]: 10 }, ALICE));
          break;
        case 1: {
          const target = kickChainMembers ? side * 2_000 + j : 10 * (side * 500 + j);
          room.send(s, p, ALICE, 'm.room.member', user(target), { membership: 'leave' });
          break;
        }
        case 2:
        case 3:
        case 4:
        case 5:
          room.send(s, p, user(base + j), 'm.room.member', user(base + j), { membership: 'join' });
          break;
        default:
          room.send(s, p, ALICE, 'org.example.state', `k${side}-${j}`, { j });
      }
    }
    sides.push(s);
  }
  return { room, sets: sides };
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

async function measure(room: Room, sets: StateMap[], async: boolean): Promise<number[]> {
  for (let i = 0; i < 3; i++) await resolveState(room.rv, sets, room.lookup(async)); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await resolveState(room.rv, sets, room.lookup(async));
    times.push(performance.now() - t0);
  }
  return times;
}

const rows: string[][] = [['case', 'room', 'lookup', 'events', 'conflicted', 'full set', 'median ms', 'min ms', 'max ms', 'target']];
for (const [name, build, target] of [
  ['(a) 10k members, 10+10 changes', bigRoomFork, 20],
  ['(b) 1000 conflicted, 20k auth chain', (rv: RoomVersion) => deepChainFork(rv, false), 1000],
  ['(b-deep) same, kicks of chain members', (rv: RoomVersion) => deepChainFork(rv, true), 1000],
] as const) {
  for (const v of ['11', '12'] as const) {
    if (!(name.slice(1, name.indexOf(')')) + v).startsWith(ONLY)) continue;
    const rv = roomVersion(v);
    const { room, sets } = build(rv);
    const trace: V2Trace = {};
    await resolveV2(rv, sets, new EventCache(room.lookup(false)), AUTH_RULES, trace);
    let conflicted = 0;
    for (const [k, val] of sets[0]!) if (sets[1]!.get(k) !== val) conflicted++;
    for (const k of sets[1]!.keys()) if (!sets[0]!.has(k)) conflicted++;
    for (const async of [false, true]) {
      const s = stats(await measure(room, sets, async));
      rows.push([
        name,
        `v${v}`,
        async ? 'async' : 'sync',
        String(room.events.size),
        String(conflicted),
        String(trace.fullConflictedSet!.size),
        s.median.toFixed(2),
        s.min.toFixed(2),
        s.max.toFixed(2),
        `< ${target}${s.median < target ? ' ok' : ' MISSED'}`,
      ]);
    }
  }
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log(`(${RUNS} runs each after 3 warm-up runs; node ${process.version})`);
