/**
 * One run of the load: set the rooms up (create, senders join), then send
 * the measured events of every room with `concurrency` requests in flight,
 * timing each request (send -> reply) and each output (send -> arrival on
 * a subscription opened before the load), then wait for outputs still on
 * their way, read the server's memory and disk, and check through queries
 * that the server holds exactly what it acknowledged.
 */
import { loadavg } from 'node:os';
import type { InputEvent, InputResult, Output } from '../../src/api.js';
import { RoomServerError } from '../../src/errors.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import { generateServerKey } from '../../src/matrix/keys.js';
import type { LoadOptions } from './options.js';
import { planRoom, type Slot } from './plan.js';
import { runRooms } from './pool.js';
import type { Progress } from './progress.js';
import { RoomModel, type AckedEvent } from './room-model.js';
import { buildRemoteRoom, messageContent, remoteUser, stateChangeEvent, type BuiltRoom } from './remote-room.js';
import { Samples, type Summary } from './stats.js';
import { threadCpuSplit } from '../main-thread-cpu.js';
import type { MemorySample, Target } from './target.js';
import { gcDelta, type GcTotals } from './gc-pauses.js';
import { verifyRooms, type VerifyResult } from './verify.js';

export interface PhaseResult {
  /** events the server accepted in the phase */
  events: number;
  requests: number;
  seconds: number;
  eventsPerSec: number;
}

export interface LoadResult {
  options: LoadOptions;
  target: string;
  serverName: string;
  rooms: number;
  /** measured events the plan asked for (rooms x events) */
  planned: number;
  setup: PhaseResult & { rooms: number };
  load: PhaseResult;
  latencyMs: Summary;
  lagMs: Summary & { expected: number; missing: number };
  /** input statuses of every acknowledged event (setup and load) */
  statuses: Record<string, number>;
  /** failed requests by error code (`M_LIMIT_EXCEEDED (retried)` counts retries that later went through) */
  errors: Record<string, number>;
  /** events never sent because an earlier event of their room failed (input mode) */
  skipped: number;
  memory: {
    source: string;
    baseline?: MemorySample;
    afterSetup?: MemorySample;
    after?: MemorySample;
    heapPerRoomBytes?: number;
    rssPerRoomBytes?: number;
  };
  disk: { source: string; bytes?: number; events: number; bytesPerEvent?: number };
  /** seconds spent building and signing events before the run (input mode) */
  buildSeconds: number;
  verification?: VerifyResult;
  interrupted: boolean;
  /** the machine's 1-minute load average when the measured phase started and ended (other work shows here) */
  loadAverage: { start: number; end: number };
  /**
   * CPU microseconds per event of the measured phase: the server's process
   * and the load tool's (when they are one process, `server` covers both and
   * `tool` is absent). On a small machine the tool's share is taken from
   * the server.
   */
  cpuPerEventUs?: { server: number; tool?: number };
  /**
   * The server's CPU microseconds per event of the measured phase by thread
   * (Linux, a server in the tool's process or one it started): its main
   * thread, which runs every room actor, the gateway and the store's
   * bookkeeping, and each other thread that worked (V8's collector
   * helpers, libuv's pool, LevelDB's compaction thread, the crypto worker),
   * largest first. `shared` when the server's main thread is the tool's.
   */
  threadCpuUs?: { main: number; others: number[]; shared: boolean };
  /**
   * The server process's garbage collection pauses during the measured
   * phase (a server in the tool's process or one it started; `shared` when
   * that process is the tool's own).
   */
  gcPauses?: GcTotals & { shared: boolean };
}

const RETRY_LIMIT = 200;

function bump(map: Record<string, number>, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}

function codeOf(e: unknown): string {
  if (e instanceof RoomServerError) return e.reason === 'connection_lost' || e.reason === 'timeout' ? `${e.code} (${e.reason})` : e.code;
  return 'exception';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunContext {
  target: Target;
  progress: Progress;
  aborted: () => boolean;
  /** called with a line to show (warnings); default: nothing */
  note?: (line: string) => void;
}

/** Runs the load once against `ctx.target` (which the caller opens and closes). */
export async function runLoad(o: LoadOptions, ctx: RunContext): Promise<LoadResult> {
  const { target, progress } = ctx;
  const rv = roomVersion(o.roomVersion);
  const runId = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let skipped = 0;
  const roomIdx = Array.from({ length: o.rooms }, (_, i) => i);
  const models = roomIdx.map((i) => new RoomModel(i, ''));
  const plans: Slot[][] = roomIdx.map((i) => planRoom(i, o));

  /** Sends with retries while the server says M_LIMIT_EXCEEDED (its backpressure). */
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof RoomServerError && e.code === 'M_LIMIT_EXCEEDED' && attempt < RETRY_LIMIT && !ctx.aborted()) {
          bump(errors, 'M_LIMIT_EXCEEDED (retried)');
          await sleep(Math.min(200, 5 * (attempt + 1)));
          continue;
        }
        throw e;
      }
    }
  };

  // ---- input mode: every event built and signed before anything is timed
  let built: BuiltRoom[] = [];
  let buildSeconds = 0;
  const server = { name: `remote-${runId}.bench`, key: generateServerKey() };
  if (o.mode === 'input') {
    const t = performance.now();
    progress.start('build', o.rooms);
    const ts = Date.now();
    built = roomIdx.map((i) => {
      const b = buildRemoteRoom(i, plans[i]!, { rv, server, senders: o.senders, runId, ts });
      progress.add(1);
      return b;
    });
    progress.stop();
    buildSeconds = (performance.now() - t) / 1000;
    for (const m of models) m.roomId = built[m.index]!.roomId;
    await target.addServerKey(server.name, server.key.keyId, server.key.publicKeyBase64);
  }

  // ---- outputs: per room counts, and lag of the measured events
  const outputsByRoom = new Map<string, number>();
  const lagStart = new Map<string, number>();
  const lags = new Samples(o.rooms * o.events);
  const onOutput = (out: Output): void => {
    const now = performance.now();
    outputsByRoom.set(out.room_id, (outputsByRoom.get(out.room_id) ?? 0) + 1);
    if (out.type !== 'new_room_event') return;
    const key = o.mode === 'send' ? out.txn_id : out.event_id;
    if (key === undefined) return;
    const t0 = lagStart.get(key);
    if (t0 === undefined) return;
    lagStart.delete(key);
    lags.add(now - t0);
  };
  const closeSub = await target.subscribe(onOutput);

  const memory: LoadResult['memory'] = { source: target.memorySource };
  const safeMemory = async (): Promise<MemorySample | undefined> => {
    try {
      return await target.memory();
    } catch (e) {
      ctx.note?.(`memory not read: ${(e as Error).message}`);
      return undefined;
    }
  };
  const baseline = await safeMemory();
  if (baseline) memory.baseline = baseline;
  const diskBefore = await target.diskBytes();
  const headBefore = await target.outputHead();

  const record = (m: RoomModel, group: AckedEvent[], results: InputResult[]): boolean => {
    const ok: AckedEvent[] = [];
    let allOk = true;
    for (let i = 0; i < group.length; i++) {
      const r = results[i];
      const st = r?.status ?? 'missing';
      bump(statuses, st);
      if (st === 'accepted') ok.push(group[i]!);
      else {
        allOk = false;
        m.failed++;
      }
    }
    if (ok.length) m.apply(ok);
    return allOk;
  };

  // ---- setup
  const creator = remoteUser(target.serverName, 'creator');
  const localSender = (i: number) => remoteUser(target.serverName, i);
  const setupStart = performance.now();
  let setupRequests = 0;
  let setupEvents = 0;
  let setupRooms = 0;
  progress.start('setup', o.rooms);
  if (o.mode === 'send') {
    const nextJoin = new Array<number>(o.rooms).fill(-1);
    const dead = new Set<number>();
    await runRooms(roomIdx, { concurrency: o.concurrency, aborted: ctx.aborted }, async (i) => {
      const m = models[i]!;
      const j = nextJoin[i]!;
      setupRequests++;
      try {
        if (j < 0) {
          const r = await call(() => target.createRoom(i, { creator, preset: 'public_chat', roomVersion: o.roomVersion }));
          m.roomId = r.room_id;
          const kinds: Array<[string, string]> = [['m.room.create', ''], ['m.room.member', creator], ['m.room.power_levels', ''], ['m.room.join_rules', ''], ['m.room.history_visibility', '']];
          r.event_ids.forEach((id, k) => {
            const [type, stateKey] = kinds[k] ?? ['unknown', `extra${k}`];
            m.apply([{ id, type, stateKey, content: {} }]);
          });
          bump(statuses, 'accepted', r.event_ids.length);
          setupEvents += r.event_ids.length;
        } else {
          const user = localSender(j);
          const r = await call(() => target.send(i, { roomId: m.roomId, sender: user, type: 'm.room.member', stateKey: user, content: { membership: 'join' }, txnId: `${runId}.${i}.join${j}` }));
          if (record(m, [{ id: r.event_id, type: 'm.room.member', stateKey: user, content: { membership: 'join' } }], [r])) setupEvents++;
        }
      } catch (e) {
        bump(errors, codeOf(e));
        if (j < 0) {
          dead.add(i);
          return false;
        }
      }
      nextJoin[i] = j + 1;
      const more = nextJoin[i]! < o.senders;
      if (!more) {
        setupRooms++;
        progress.add(1);
      }
      return more;
    });
    for (const i of dead) {
      skipped += o.events;
      plans[i] = [];
    }
  } else {
    await runRooms(roomIdx, { concurrency: o.concurrency, aborted: ctx.aborted }, async (i) => {
      const m = models[i]!;
      const b = built[i]!;
      setupRequests++;
      try {
        const r = await call(() => target.input(i, b.setup.map((e) => ({ event: e.pdu }))));
        let ok = true;
        b.setup.forEach((e, k) => {
          if (!record(m, [e], [r.results[k]!])) ok = false;
        });
        setupEvents += m.accepted.length;
        if (ok) setupRooms++;
        else {
          skipped += o.events;
          plans[i] = [];
        }
      } catch (e) {
        bump(errors, codeOf(e));
        skipped += o.events;
        plans[i] = [];
      }
      progress.add(1);
      return false;
    });
  }
  progress.stop();
  const setupSeconds = (performance.now() - setupStart) / 1000;
  const afterSetup = await safeMemory();
  if (afterSetup) memory.afterSetup = afterSetup;

  // ---- the measured load
  const latencies = new Samples(o.rooms * o.events);
  const nextSlot = new Array<number>(o.rooms).fill(0);
  let loadRequests = 0;
  let loadEvents = 0;
  const planned = o.rooms * o.events;
  progress.start('load', planned - skipped);
  const loadAvgStart = loadavg()[0]!;
  const cpuServer0 = await target.cpuSeconds().catch(() => undefined);
  const gc0 = await target.gcPauses().catch(() => undefined);
  const threads0 = target.threadCpuMs();
  const cpuTool0 = process.cpuUsage();
  const loadStart = performance.now();
  let loadEnd = loadStart;
  await runRooms(
    roomIdx.filter((i) => plans[i]!.length > 0),
    { concurrency: o.concurrency, aborted: ctx.aborted },
    async (i) => {
      const m = models[i]!;
      const k = nextSlot[i]!++;
      const slots = plans[i]!;
      let ok = true;
      loadRequests++;
      if (o.mode === 'send') {
        const slot = slots[k]!;
        const txnId = `${runId}.${i}.${k}`;
        const f =
          slot.kind === 'message'
            ? { sender: localSender(slot.sender), type: 'm.room.message', stateKey: undefined, content: messageContent(i, k + 1) }
            : slot.kind === 'state'
              ? stateChangeEvent(slot.change, k + 1, creator, localSender)
              : undefined;
        if (!f) throw new Error('forks are input mode only');
        const t0 = performance.now();
        lagStart.set(txnId, t0);
        try {
          const r = await call(() =>
            target.send(i, { roomId: m.roomId, sender: f.sender, type: f.type, ...(f.stateKey !== undefined ? { stateKey: f.stateKey } : {}), content: f.content, txnId }),
          );
          loadEnd = performance.now();
          latencies.add(loadEnd - t0);
          if (record(m, [{ id: r.event_id, type: f.type, stateKey: f.stateKey, content: f.content }], [r])) loadEvents++;
          else lagStart.delete(txnId);
        } catch (e) {
          lagStart.delete(txnId);
          bump(errors, codeOf(e));
        }
        progress.add(1);
      } else {
        const group = built[i]!.steps[k]!;
        const t0 = performance.now();
        for (const e of group) lagStart.set(e.id, t0);
        const events: InputEvent[] = group.map((e) => ({ event: e.pdu }));
        try {
          const r = await call(() => target.input(i, events));
          loadEnd = performance.now();
          latencies.add(loadEnd - t0);
          ok = record(m, group, r.results);
          loadEvents += r.results.filter((x) => x.status === 'accepted').length;
          r.results.forEach((x, j) => x.status !== 'accepted' && lagStart.delete(group[j]!.id));
        } catch (e) {
          for (const ev of group) lagStart.delete(ev.id);
          bump(errors, codeOf(e));
          ok = false;
        }
        progress.add(group.length);
        if (!ok) {
          // the rest of the room builds on this event: sending it would only park
          for (let j = k + 1; j < slots.length; j++) skipped += built[i]!.steps[j]!.length;
          return false;
        }
      }
      return nextSlot[i]! < slots.length;
    },
  );
  progress.stop();
  const loadAvgEnd = loadavg()[0]!;
  const cpuTool = process.cpuUsage(cpuTool0);
  const threads1 = target.threadCpuMs();
  const cpuServer1 = await target.cpuSeconds().catch(() => undefined);
  const gc1 = await target.gcPauses().catch(() => undefined);
  const gcPauses = gc0 && gc1 ? { ...gcDelta(gc0, gc1), shared: cpuServer1?.shared ?? false } : undefined;
  let cpuPerEventUs: LoadResult['cpuPerEventUs'];
  if (cpuServer0 !== undefined && cpuServer1 !== undefined && loadEvents > 0) {
    const server = ((cpuServer1.seconds - cpuServer0.seconds) * 1e6) / loadEvents;
    cpuPerEventUs = cpuServer1.shared ? { server } : { server, tool: (cpuTool.user + cpuTool.system) / loadEvents };
  }
  let threadCpuUs: LoadResult['threadCpuUs'];
  if (threads0.has('main') && threads1.has('main') && loadEvents > 0) {
    threadCpuUs = { ...threadCpuSplit(threads0, threads1, loadEvents), shared: cpuServer1?.shared ?? false };
  }
  const loadSeconds = Math.max(1e-6, (loadEnd - loadStart) / 1000);

  // ---- outputs still on their way
  const drainUntil = performance.now() + o.drainSeconds * 1000;
  while (lagStart.size > 0 && performance.now() < drainUntil && !ctx.aborted()) await sleep(20);
  const missing = lagStart.size;
  // the outputs of setup events (not timed) may still be arriving too
  const acceptedTotal = models.reduce((n, m) => n + m.accepted.length, 0);
  const outputTotal = () => models.reduce((n, m) => n + (outputsByRoom.get(m.roomId) ?? 0), 0);
  while (outputTotal() < acceptedTotal && performance.now() < drainUntil && !ctx.aborted()) await sleep(20);

  const after = await safeMemory();
  if (after) memory.after = after;
  // per room the run actually made (fewer than asked when setup failed or the run was stopped)
  const madeRooms = models.filter((m) => m.accepted.length > 0).length;
  if (baseline && after && madeRooms > 0) {
    memory.heapPerRoomBytes = (after.heapUsedBytes - baseline.heapUsedBytes) / madeRooms;
    memory.rssPerRoomBytes = (after.rssBytes - baseline.rssBytes) / madeRooms;
  }
  const diskAfter = await target.diskBytes();
  const disk: LoadResult['disk'] =
    diskAfter === undefined || diskBefore === undefined
      ? { source: 'skipped: the server\'s data directory is not known (give --data-dir for a server on this machine; /metrics has no storage size)', events: acceptedTotal }
      : {
          source: `files under ${target.dataDir} (LevelDB log and tables, no compaction forced)`,
          bytes: diskAfter - diskBefore,
          events: acceptedTotal,
          ...(acceptedTotal > 0 ? { bytesPerEvent: (diskAfter - diskBefore) / acceptedTotal } : {}),
        };

  let verification: VerifyResult | undefined;
  if (o.verify && !ctx.aborted()) {
    progress.start('verify', 1);
    const headAfter = await target.outputHead();
    verification = await verifyRooms(target, models, {
      verifyRooms: o.verifyRooms,
      verifyStates: o.verifyStates,
      verifyEvents: o.verifyEvents,
      seed: o.seed,
      outputsByRoom,
      outputHeadDelta: headAfter - headBefore,
      progress,
    });
    progress.stop();
  }
  await closeSub();

  const latencyMs = latencies.summary();
  const lagSummary = lags.summary();
  return {
    options: o,
    target: target.description,
    serverName: target.serverName,
    rooms: o.rooms,
    planned,
    setup: { rooms: setupRooms, events: setupEvents, requests: setupRequests, seconds: setupSeconds, eventsPerSec: setupEvents / Math.max(1e-6, setupSeconds) },
    load: { events: loadEvents, requests: loadRequests, seconds: loadSeconds, eventsPerSec: loadEvents / loadSeconds },
    latencyMs,
    lagMs: { ...lagSummary, expected: lagSummary.count + missing, missing },
    statuses,
    errors,
    skipped,
    memory,
    disk,
    buildSeconds,
    ...(verification ? { verification } : {}),
    interrupted: ctx.aborted(),
    loadAverage: { start: loadAvgStart, end: loadAvgEnd },
    ...(cpuPerEventUs ? { cpuPerEventUs } : {}),
    ...(threadCpuUs ? { threadCpuUs } : {}),
    ...(gcPauses ? { gcPauses } : {}),
  };
}
