/**
 * The final check: the server holds exactly what it acknowledged. Through
 * the query ops only (the same as any client could), per room: depth,
 * forward extremities, number of state entries and joined members; for a
 * sample of rooms the full current state; for a sample of acknowledged
 * events that each exists, accepted and not an outlier; and from the
 * output stream, that every room's outputs match its accepted events and
 * the log grew by exactly that many.
 */
import { RoomServerError } from '../../src/errors.js';
import { rng } from './plan.js';
import { runRooms, sampleIndices } from './pool.js';
import type { Progress } from './progress.js';
import type { RoomModel } from './room-model.js';
import type { TargetQueries } from './target.js';

export interface Check {
  name: string;
  /** items checked (rooms or events) */
  checked: number;
  /** of how many there are (more than `checked` when sampled) */
  of: number;
  failed: number;
  /** the first few failures, in words */
  examples: string[];
}

export interface VerifyResult {
  ok: boolean;
  checks: Check[];
}

export interface VerifyOptions {
  verifyRooms: number;
  verifyStates: number;
  verifyEvents: number;
  seed: number;
  /** outputs received per room ID on the subscription opened before the run */
  outputsByRoom: ReadonlyMap<string, number>;
  /** how far the output log head moved during the run */
  outputHeadDelta: number;
  progress?: Progress;
  /** queries in flight at once */
  concurrency?: number;
}

const MAX_EXAMPLES = 5;
const EVENT_CHUNK = 200;

class CheckBuilder implements Check {
  checked = 0;
  failed = 0;
  examples: string[] = [];
  constructor(
    readonly name: string,
    readonly of: number,
  ) {}
  pass(): void {
    this.checked++;
  }
  fail(what: string): void {
    this.checked++;
    this.failed++;
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(what);
  }
  result(): Check {
    return { name: this.name, checked: this.checked, of: this.of, failed: this.failed, examples: this.examples };
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function errText(e: unknown): string {
  return e instanceof RoomServerError ? `${e.code}: ${e.message}` : String(e);
}

export async function verifyRooms(target: { query: TargetQueries }, rooms: readonly RoomModel[], o: VerifyOptions): Promise<VerifyResult> {
  const q = target.query;
  const random = rng(o.seed ^ 0x5eed);
  const live = rooms.filter((m) => m.roomId !== '' && m.accepted.length > 0);
  const conc = o.concurrency ?? 32;

  // per room: depth, extremities, state size, members
  const roomCheck = new CheckBuilder('rooms: depth, latest events, state size, joined members', live.length);
  const sample = sampleIndices(live.length, o.verifyRooms, random).map((i) => live[i]!);
  o.progress?.start('verify', sample.length + Math.min(o.verifyStates, live.length));
  await runRooms(
    sample.map((_, i) => i),
    { concurrency: conc },
    async (i) => {
      const m = sample[i]!;
      try {
        const [latest, info] = await Promise.all([q.latest(m.roomId), q.room(m.roomId)]);
        const problems: string[] = [];
        if (latest.depth !== m.depth) problems.push(`depth ${latest.depth}, expected ${m.depth}`);
        if (!sameSet(latest.latest_event_ids, m.extremities)) problems.push(`latest ${JSON.stringify(latest.latest_event_ids)}, expected ${JSON.stringify(m.extremities)}`);
        if (info.state_events !== m.state.size) problems.push(`${info.state_events} state entries, expected ${m.state.size}`);
        if (info.joined_members !== m.members) problems.push(`${info.joined_members} joined members, expected ${m.members}`);
        if (problems.length) roomCheck.fail(`${m.roomId}: ${problems.join('; ')}`);
        else roomCheck.pass();
      } catch (e) {
        roomCheck.fail(`${m.roomId}: ${errText(e)}`);
      }
      o.progress?.add(1);
      return false;
    },
  );

  // full current state of a sample of rooms
  const stateCheck = new CheckBuilder('rooms: full current state', live.length);
  const stateSample = sampleIndices(live.length, o.verifyStates, random).map((i) => live[i]!);
  await runRooms(
    stateSample.map((_, i) => i),
    { concurrency: conc },
    async (i) => {
      const m = stateSample[i]!;
      try {
        const r = await q.state(m.roomId, { idsOnly: true });
        const ids = new Set('state_ids' in r ? r.state_ids : []);
        const problems: string[] = [];
        if (ids.size !== m.state.size) problems.push(`${ids.size} entries, expected ${m.state.size}`);
        for (const [k, candidates] of m.state) {
          if (!candidates.some((c) => ids.has(c))) problems.push(`${k.replace('\u0000', '/')} is none of ${candidates.join(', ')}`);
        }
        if (problems.length) stateCheck.fail(`${m.roomId}: ${problems.slice(0, 3).join('; ')}`);
        else stateCheck.pass();
      } catch (e) {
        stateCheck.fail(`${m.roomId}: ${errText(e)}`);
      }
      o.progress?.add(1);
      return false;
    },
  );

  // acknowledged events exist, accepted
  const all: string[] = [];
  for (const m of live) for (const id of m.accepted) all.push(id);
  const eventCheck = new CheckBuilder('events: every acknowledged event is stored as accepted', all.length);
  const ids = sampleIndices(all.length, o.verifyEvents, random).map((i) => all[i]!);
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += EVENT_CHUNK) chunks.push(ids.slice(i, i + EVENT_CHUNK));
  await runRooms(
    chunks.map((_, i) => i),
    { concurrency: Math.min(conc, 8) },
    async (c) => {
      const chunk = chunks[c]!;
      try {
        const r = await q.event(chunk);
        const byId = new Map(r.events.map((e) => [e.event_id, e]));
        for (const id of chunk) {
          const e = byId.get(id);
          if (!e) eventCheck.fail(`${id}: missing`);
          else if (e.status !== 'accepted' || e.outlier) eventCheck.fail(`${id}: status ${e.status}${e.outlier ? ' (outlier)' : ''}`);
          else eventCheck.pass();
        }
      } catch (e) {
        for (const id of chunk) eventCheck.fail(`${id}: ${errText(e)}`);
      }
      return false;
    },
  );

  // outputs: each room's count, and the log as a whole
  const outputCheck = new CheckBuilder('outputs: one new_room_event per accepted event, per room', live.length);
  let accepted = 0;
  for (const m of live) {
    accepted += m.accepted.length;
    const got = o.outputsByRoom.get(m.roomId) ?? 0;
    if (got !== m.accepted.length) outputCheck.fail(`${m.roomId}: ${got} outputs, ${m.accepted.length} accepted events`);
    else outputCheck.pass();
  }
  const logCheck = new CheckBuilder('output log: head moved by the number of accepted events', 1);
  if (o.outputHeadDelta === accepted) logCheck.pass();
  else logCheck.fail(`head moved by ${o.outputHeadDelta}, ${accepted} events accepted (other traffic on the server?)`);
  o.progress?.stop();

  const checks = [roomCheck, stateCheck, eventCheck, outputCheck, logCheck].map((c) => c.result());
  return { ok: checks.every((c) => c.failed === 0), checks };
}
