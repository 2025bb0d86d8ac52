/**
 * Missing prev events. An event whose prev events we lack is parked
 * (bounded per room by count and bytes) while the gap is fetched from peers
 * outside the actor, so the room keeps processing other inputs. Parked
 * events are retried when events arrive, in depth order, and rejected with
 * `missing_prev_events` once their deadline passes.
 */
import type { InputResult } from '../src/api.js';
import type { RoomVersion } from '../src/matrix/room-versions.js';
import type { JsonObject } from '../src/matrix/json.js';
import type { PreparedInput, Reply } from './messages.js';
import type { MatrixEvent } from '../src/matrix/event.js';
import type { RoomDeps } from './room-actor.js';

export interface ParkLimits {
  /** parked events per room */
  maxEvents: number;
  /** bytes of parked events per room */
  maxBytes: number;
  /** time limit for one call to a peer (ms) */
  peerCallMs: number;
}

export const DEFAULT_PARK_LIMITS: ParkLimits = { maxEvents: 1_000, maxBytes: 16 * 1024 * 1024, peerCallMs: 10_000 };

export interface Parked {
  input: PreparedInput;
  reply: Reply<InputResult>;
  bytes: number;
}

export class ParkedEvents {
  private readonly items = new Map<string, Parked[]>();
  private count = 0;
  private bytes = 0;
  private readonly fetching = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private nextDeadline = Infinity;

  constructor(
    private readonly limits: ParkLimits,
    /** asks the room actor to run its parked events again (deadlines) */
    private readonly wake: () => void,
    /** told of every change in the number of parked events */
    private readonly onCount: (delta: number) => void = () => {},
  ) {}

  get size(): number {
    return this.count;
  }

  /** Parks an input; refuses it at once (rejected) past the room's bounds. */
  add(input: PreparedInput, reply: Reply<InputResult>): void {
    const bytes = Buffer.byteLength(JSON.stringify(input.event.json));
    if (this.count + 1 > this.limits.maxEvents || this.bytes + bytes > this.limits.maxBytes) {
      reply.resolve({ event_id: input.event.eventId, status: 'rejected', reason: 'too_many_parked_events' });
      return;
    }
    const list = this.items.get(input.event.eventId);
    const p = { input, reply, bytes };
    if (list) list.push(p);
    else this.items.set(input.event.eventId, [p]);
    this.count += 1;
    this.bytes += bytes;
    this.onCount(1);
    this.schedule(input.deadline);
  }

  private schedule(deadline: number): void {
    if (deadline >= this.nextDeadline) return;
    this.nextDeadline = deadline;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nextDeadline = Infinity;
      this.wake();
    }, Math.max(0, deadline - Date.now()) + 5);
  }

  private remove(id: string): Parked[] {
    const list = this.items.get(id) ?? [];
    this.items.delete(id);
    for (const p of list) {
      this.count -= 1;
      this.bytes -= p.bytes;
    }
    if (list.length) this.onCount(-list.length);
    return list;
  }

  takeExpired(now: number): Parked[] {
    const out: Parked[] = [];
    let next = Infinity;
    for (const [id, list] of [...this.items]) {
      if (list[0]!.input.deadline <= now) out.push(...this.remove(id));
      else next = Math.min(next, list[0]!.input.deadline);
    }
    if (next < Infinity) this.schedule(next);
    return out;
  }

  /** Removes and returns the parked inputs whose dependencies are met, oldest first. */
  async takeReady(isReady: (input: PreparedInput) => Promise<boolean>): Promise<Parked[]> {
    const ready: Parked[] = [];
    for (const [id, list] of [...this.items]) {
      if (await isReady(list[0]!.input)) ready.push(...this.remove(id));
    }
    ready.sort((a, b) => byDepth(a.input, b.input));
    return ready;
  }

  /** True when no fetch for this event is running yet (and marks one as running). */
  startFetch(eventId: string): boolean {
    if (this.fetching.has(eventId)) return false;
    this.fetching.add(eventId);
    return true;
  }

  fetchDone(eventId: string): void {
    this.fetching.delete(eventId);
  }

  /** Fails everything (shutdown). */
  drain(reason: string): void {
    for (const id of [...this.items.keys()]) {
      for (const p of this.remove(id)) p.reply.resolve({ event_id: id, status: 'rejected', reason });
    }
    if (this.timer) clearTimeout(this.timer);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`peer call timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

function noteFailure(backoff: RoomDeps['backoff'], server: string): void {
  const prev = backoff.get(server);
  const delay = Math.min(prev ? prev.delay * 2 : 1_000, 60_000);
  backoff.set(server, { until: Date.now() + delay, delay });
}

export interface GapFetch {
  deps: RoomDeps;
  roomId: string;
  rv: RoomVersion;
  servers: string[];
  earliest: string[];
  latest: string;
  deadline: number;
  isKnown: (id: string) => Promise<boolean>;
  /** the parked event */
  event: MatrixEvent;
  /** false for outliers and events given with their state: only auth events are wanted */
  needPrevs: boolean;
}

/**
 * Asks peers for the events between our forward extremities and `latest`.
 * If the oldest fetched event's prev events are known, the gap closed and
 * the events are returned as `new` inputs in order. Otherwise the state
 * before the oldest one is taken from `state_ids` (its unknown events
 * fetched as outliers) and the oldest is returned as `old` with that state,
 * followed by the rest.
 */
export async function fetchGap(g: GapFetch): Promise<PreparedInput[]> {
  const peers = g.deps.peers;
  if (!peers) return [];
  const authOutliers = await fetchAuthChain(g);
  if (!g.needPrevs) return authOutliers;
  let prevsMissing = false;
  for (const p of g.event.prevEvents) if (!(await g.isKnown(p))) prevsMissing = true;
  if (!prevsMissing) return authOutliers;
  for (const server of g.servers) {
    if (Date.now() > g.deadline) return authOutliers;
    const timeLeft = Math.max(1, Math.min(g.deps.park.peerCallMs, g.deadline - Date.now()));
    let pdus: JsonObject[];
    try {
      pdus = await withTimeout(
        peers.missingEvents(server, { roomId: g.roomId, earliestEvents: g.earliest, latestEvents: [g.latest], limit: 20 }),
        timeLeft,
      );
      g.deps.backoff.delete(server);
    } catch {
      noteFailure(g.deps.backoff, server);
      continue;
    }
    const fetched = prepareAll(g, pdus, 'new', server);
    if (fetched.length === 0) continue;
    const ids = new Set(fetched.map((p) => p.event.eventId));
    const oldest = fetched[0]!;
    let closed = true;
    for (const p of oldest.event.prevEvents) {
      if (!ids.has(p) && !(await g.isKnown(p))) {
        closed = false;
        break;
      }
    }
    if (closed) return [...authOutliers, ...fetched];
    try {
      const st = await withTimeout(peers.stateIds(server, g.roomId, oldest.event.eventId), timeLeft);
      const wanted = [...new Set([...st.auth_chain_ids, ...st.pdu_ids])];
      const unknown: string[] = [];
      for (const id of wanted) if (!(await g.deps.store.getEvent(id))) unknown.push(id);
      const outliers = unknown.length ? prepareAll(g, await withTimeout(peers.events(server, unknown), timeLeft), 'outlier', server) : [];
      oldest.kind = 'old';
      oldest.stateEventIds = st.pdu_ids;
      return [...authOutliers, ...outliers, ...fetched];
    } catch {
      noteFailure(g.deps.backoff, server);
    }
  }
  return authOutliers;
}

/** The event's auth chain from the first peer that has it, when some of its auth events are unknown. */
async function fetchAuthChain(g: GapFetch): Promise<PreparedInput[]> {
  let missing = false;
  for (const id of g.event.authEvents) if (!(await g.deps.store.getEvent(id))) missing = true;
  if (!missing) return [];
  for (const server of g.servers) {
    if (Date.now() > g.deadline) return [];
    const timeLeft = Math.max(1, Math.min(g.deps.park.peerCallMs, g.deadline - Date.now()));
    try {
      const chain = await withTimeout(g.deps.peers!.eventAuth(server, g.roomId, g.event.eventId), timeLeft);
      g.deps.backoff.delete(server);
      const out: PreparedInput[] = [];
      for (const p of prepareAll(g, chain, 'outlier', server)) if (!(await g.deps.store.getEvent(p.event.eventId))) out.push(p);
      return out;
    } catch {
      noteFailure(g.deps.backoff, server);
    }
  }
  return [];
}

function prepareAll(g: GapFetch, pdus: JsonObject[], kind: PreparedInput['kind'], origin: string): PreparedInput[] {
  return preparePeerEvents(g.deps, g.rv, pdus, kind, { origin, deadline: g.deadline });
}

/** Oldest first: by depth, then event ID. */
export function byDepth(a: PreparedInput, b: PreparedInput): number {
  return a.event.depth - b.event.depth || (a.event.eventId < b.event.eventId ? -1 : 1);
}

/** Parses and hash-checks events a peer sent, skipping malformed ones, oldest first. */
export function preparePeerEvents(
  deps: Pick<RoomDeps, 'prepare'>,
  rv: RoomVersion,
  pdus: JsonObject[],
  kind: PreparedInput['kind'],
  extra?: Partial<PreparedInput>,
): PreparedInput[] {
  const out: PreparedInput[] = [];
  for (const pdu of pdus) {
    try {
      out.push(deps.prepare(pdu, rv, kind, extra));
    } catch {
      // a malformed event from a peer is skipped
    }
  }
  return out.sort(byDepth);
}
