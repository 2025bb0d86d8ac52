/**
 * Random room graphs for property tests: forks, random membership, power
 * level, join rule and topic events, and merges through state resolution.
 * Not a test file itself.
 */
import type { JsonObject } from '../../src/matrix/json.js';
import type { RoomVersionId } from '../../src/matrix/room-versions.js';
import type { StateMap } from '../../src/matrix/state-key.js';
import { resolveState } from '../../src/stateres/index.js';
import { ALICE, BOB, CAROL, DAVE, EVE, ZARA, Branch, Graph } from './factory.js';

const USERS = [ALICE, BOB, CAROL, DAVE, EVE, ZARA];

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/**
 * A random room: a trunk that forks into up to four branches, each sending
 * random membership, power level, join rule and topic events (sent whether
 * or not the branch state allows them; only allowed ones change the
 * state), with occasional merges of two branches through state resolution.
 * Timestamps come from a small range so ties happen.
 */
export async function randomRoom(v: RoomVersionId, seed: number): Promise<{ g: Graph; sets: StateMap[] }> {
  const r = mulberry32(seed);
  const g = new Graph(v);
  const trunk = g.start(ALICE, pick(r, ['public', 'invite']));
  let n = 0;
  const ts = (): number => 2000 + Math.floor(r() * 40);
  const send = (b: Branch, sender: string, type: string, sk: string | undefined, content: JsonObject): void => {
    b.send(`E${n++}`, sender, type, sk, content, { expect: 'any', ts: ts() });
  };
  const step = (b: Branch): void => {
    const sender = r() < 0.5 ? ALICE : pick(r, USERS);
    const target = pick(r, USERS);
    switch (Math.floor(r() * 9)) {
      case 0:
      case 1:
        send(b, target, 'm.room.member', target, { membership: 'join' });
        break;
      case 2:
        send(b, sender, 'm.room.member', target, { membership: pick(r, ['leave', 'ban', 'invite']) });
        break;
      case 3:
      case 4: {
        const users: Record<string, number> = {};
        for (const u of USERS) if (u !== ALICE && r() < 0.5) users[u] = pick(r, [0, 10, 50, 75, 100]);
        send(b, sender, 'm.room.power_levels', '', g.powerLevels(users, r() < 0.3 ? { ban: pick(r, [10, 50, 80]) } : {}));
        break;
      }
      case 5:
        send(b, sender, 'm.room.join_rules', '', { join_rule: pick(r, ['public', 'invite']) });
        break;
      case 6:
        send(b, sender, 'm.room.member', sender, { membership: 'leave' });
        break;
      default:
        send(b, sender, pick(r, ['m.room.topic', 'm.room.name']), '', { x: n });
    }
  };
  for (let i = 0; i < 4; i++) send(trunk, USERS[i + 1]!, 'm.room.member', USERS[i + 1]!, { membership: 'join' });
  const branches: Branch[] = [trunk];
  const steps = 10 + Math.floor(r() * 25);
  for (let i = 0; i < steps; i++) {
    const roll = r();
    if (roll < 0.15 && branches.length < 4) {
      branches.push(pick(r, branches).fork());
    } else if (roll < 0.22 && branches.length > 1) {
      const a = pick(r, branches);
      const b = pick(r, branches.filter((x) => x !== a));
      const merged = await resolveState(g.rv, [a.state, b.state], g.lookup());
      a.state.clear();
      for (const [k, val] of merged) a.state.set(k, val);
      a.head = [...new Set([...a.head, ...b.head])];
    } else {
      step(pick(r, branches));
    }
  }
  while (branches.length < 2) branches.push(branches[0]!.fork());
  step(branches[1]!);
  return { g, sets: branches.map((b) => new Map(b.state)) };
}
