/**
 * The mix of measured events in each room, decided up front from a seed so
 * a run can be repeated: which slots are messages, which are state changes
 * (and which change), and which are forks (two events off the same prev
 * event, joined again by the next event).
 */

/** A small seeded PRNG (mulberry32): same seed, same sequence. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A state change the tool makes: by the room's creator (topic, name) or by a sender about itself. */
export type StateChange = { kind: 'topic' } | { kind: 'name' } | { kind: 'displayname'; sender: number };

export type Slot =
  | { kind: 'message'; sender: number }
  | { kind: 'state'; change: StateChange }
  /** two topic changes by the creator off the same event: a state conflict for state resolution */
  | { kind: 'fork' };

export interface PlanOptions {
  events: number;
  senders: number;
  stateRatio: number;
  forks: number;
  seed: number;
}

/** How many events a slot stands for. */
export function slotEvents(s: Slot): number {
  return s.kind === 'fork' ? 2 : 1;
}

/** The slots of room `room`: they add up to exactly `events` events. */
export function planRoom(room: number, o: PlanOptions): Slot[] {
  const next = rng((o.seed * 0x9e3779b1) ^ (room + 1) * 0x85ebca6b);
  const slots: Slot[] = [];
  let left = o.events;
  // a fork covers two events: drawn with chance p, its share of events is 2p / (1 + p); solve for p
  const forkChance = o.forks >= 1 ? 1 : o.forks / (2 - o.forks);
  while (left > 0) {
    const r = next();
    if (left >= 2 && o.forks > 0 && r < forkChance) {
      slots.push({ kind: 'fork' });
      left -= 2;
      continue;
    }
    const sender = Math.floor(next() * o.senders);
    if (next() < o.stateRatio) {
      const k = next();
      const change: StateChange = k < 1 / 3 ? { kind: 'topic' } : k < 2 / 3 ? { kind: 'name' } : { kind: 'displayname', sender };
      slots.push({ kind: 'state', change });
    } else {
      slots.push({ kind: 'message', sender });
    }
    left -= 1;
  }
  return slots;
}
