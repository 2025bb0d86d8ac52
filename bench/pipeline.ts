/**
 * In-process pipeline benchmark (embedder API), one run:
 *  (a) `send`: events built and signed here, N rooms x M events;
 *  (b) `input`: the same shape of load pre-signed by another server, so
 *      every event's signature is verified;
 *  beside them the bare ed25519 sign/s and verify/s of this machine,
 *  measured in the same run; and
 *  (c) heap per idle (passivated) room after creating many rooms.
 *
 * Before each of (a) and (b) is timed, the same server runs a warm-up load
 * on other rooms (default 100 rooms x 20 events, not counted): a server is a
 * long-running process, and the figures are meant to be its steady state,
 * not the first seconds in which V8 is still compiling and re-optimizing the
 * hot code (measured: most optimizations of a fresh process happen in its
 * first ~2.5 s of load). `--warmup-rooms 0` times a cold process instead.
 *
 *   node --expose-gc --import tsx bench/pipeline.ts [--rooms 1000] [--events 100] [--idle-rooms 100000]
 *                                                  [--warmup-rooms 100] [--warmup-events 20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { RoomServer } from '../src/server.js';
import { buildPdu, buildCreateEvent } from '../actors/local-events.js';
import { generateServerKey } from '../src/matrix/keys.js';
import { roomVersion } from '../src/matrix/room-versions.js';
import { computeEventId } from '../src/matrix/event-id.js';
import type { JsonObject } from '../src/matrix/json.js';
import type { SigningKey } from '../src/matrix/ed25519.js';
import { mainThreadCpuMs, threadCpuMs, threadCpuPerEvent } from './main-thread-cpu.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const ROOMS = arg('rooms', 1000);
const EVENTS = arg('events', 100);
const IDLE_ROOMS = arg('idle-rooms', 100_000);
const WARMUP_ROOMS = arg('warmup-rooms', 100);
const WARMUP_EVENTS = arg('warmup-events', 20);
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const RV = roomVersion('10');

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function bareCrypto(ms = 1500): { signPerSec: number; verifyPerSec: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const data = Buffer.alloc(700, 7);
  const sig = sign(null, data, privateKey);
  let n = 0;
  let t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 100; i++) sign(null, data, privateKey);
    n += 100;
  }
  const signPerSec = (n * 1000) / (performance.now() - t0);
  n = 0;
  t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 100; i++) verify(null, data, publicKey, sig);
    n += 100;
  }
  return { signPerSec, verifyPerSec: (n * 1000) / (performance.now() - t0) };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
}


/** Runs `perRoom(room)` for every room at once; returns per-request latencies and wall time. */
async function drive(rooms: string[], perRoom: (room: string, i: number) => Promise<void>, n: number): Promise<{ lat: number[]; secs: number; cpuUs: number; mainUs: number; threads: string }> {
  const lat: number[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const m0 = mainThreadCpuMs();
  const t0s = threadCpuMs();
  await Promise.all(
    rooms.map(async (room) => {
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        await perRoom(room, i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const c = process.cpuUsage(c0);
  return { lat: lat.sort((a, b) => a - b), secs: (performance.now() - t0) / 1000, cpuUs: c.user + c.system, mainUs: (mainThreadCpuMs() - m0) * 1000, threads: threadCpuPerEvent(t0s, threadCpuMs(), rooms.length * n) };
}

const ALICE = '@alice:remote.test';

/** One room's events as remote.test would send them: create, join, power levels, join rules, then messages. */
function remoteRoom(key: SigningKey, n: number, seq: number): { roomId: string; events: JsonObject[] } {
  const create = buildCreateEvent(RV, ALICE, `!bench${seq}:remote.test`, 'remote.test', key);
  const roomId = `!bench${seq}:remote.test`;
  const ids: Record<string, string> = { create: computeEventId(create, RV) };
  const events = [create];
  let prev = ids.create!;
  let depth = 1;
  const add = (type: string, content: JsonObject, stateKey: string | undefined, auth: string[]) => {
    const pdu = buildPdu(RV, { roomId, sender: ALICE, type, stateKey, content, prevEvents: [{ id: prev }], authEvents: auth.map((id) => ({ id })), depth: ++depth }, 'remote.test', key);
    prev = computeEventId(pdu, RV);
    events.push(pdu);
    return prev;
  };
  ids.join = add('m.room.member', { membership: 'join' }, ALICE, [ids.create!]);
  ids.pl = add('m.room.power_levels', { users: { [ALICE]: 100 } }, '', [ids.create!, ids.join!]);
  ids.jr = add('m.room.join_rules', { join_rule: 'public' }, '', [ids.create!, ids.join!, ids.pl!]);
  for (let i = events.length; i < n; i++) add('m.room.message', { msgtype: 'm.text', body: `message ${i} ${'x'.repeat(200)}` }, undefined, [ids.create!, ids.join!, ids.pl!]);
  return { roomId, events };
}

async function main(): Promise<void> {
  console.log(`pipeline benchmark: ${ROOMS} rooms x ${EVENTS} events; ${cpus().length} x ${cpus()[0]?.model}; node ${process.version}`);
  console.log(
    WARMUP_ROOMS > 0
      ? `each of (a) and (b) timed after a warm-up of ${WARMUP_ROOMS} other rooms x ${WARMUP_EVENTS} events on the same server (not counted)`
      : 'no warm-up: (a) and (b) timed from a cold process',
  );
  const crypto1 = bareCrypto();

  // (a) send
  let sendRun = { lat: [] as number[], secs: NaN, cpuUs: NaN, mainUs: NaN, threads: '' };
  if (ONLY === undefined || ONLY === 'send') {
  const dirA = tmp();
  const a = await RoomServer.open({ dataDir: dirA, serverName: 'a.test' });
  const createRooms = async (n: number): Promise<string[]> => {
    const rooms: string[] = [];
    for (let i = 0; i < n; i += 100) {
      rooms.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => a.createRoom({ creator: '@alice:a.test', roomVersion: '10', preset: 'public_chat' })))).map((r) => r.room_id));
    }
    return rooms;
  };
  const sendOne = async (room: string, i: number): Promise<void> => {
    const r = await a.send({ roomId: room, sender: '@alice:a.test', type: 'm.room.message', content: { msgtype: 'm.text', body: `message ${i} ${'x'.repeat(200)}` } });
    if (r.status !== 'accepted') throw new Error(`send ${r.status}`);
  };
  if (WARMUP_ROOMS > 0) await drive(await createRooms(WARMUP_ROOMS), sendOne, WARMUP_EVENTS);
  const roomsA = await createRooms(ROOMS);
  sendRun = await drive(roomsA, sendOne, EVENTS);
  await a.close();
  rmSync(dirA, { recursive: true, force: true });
  }

  // (b) input of events signed by another server
  const key = generateServerKey();
  let inputRun = { lat: [] as number[], secs: NaN, cpuUs: NaN, mainUs: NaN, threads: '' };
  if (ONLY === undefined || ONLY === 'input') {
  const built = Array.from({ length: ROOMS }, (_, i) => remoteRoom(key, EVENTS, i));
  const dirB = tmp();
  const b = await RoomServer.open({ dataDir: dirB, serverName: 'b.test' });
  b.addServerKey('remote.test', key.keyId, key.publicKeyBase64);
  const inputAll = async (rooms: Array<{ roomId: string; events: JsonObject[] }>, n: number) => {
    const byRoom = new Map(rooms.map((r) => [r.roomId, r.events]));
    return drive(
      [...byRoom.keys()],
      async (room, i) => {
        const r = await b.input([{ event: byRoom.get(room)![i]! }]);
        if (r.results[0]!.status !== 'accepted') throw new Error(`input ${JSON.stringify(r.results[0])}`);
      },
      n,
    );
  };
  if (WARMUP_ROOMS > 0) await inputAll(Array.from({ length: WARMUP_ROOMS }, (_, i) => remoteRoom(key, WARMUP_EVENTS, 500_000 + i)), WARMUP_EVENTS);
  inputRun = await inputAll(built, EVENTS);
  await b.close();
  rmSync(dirB, { recursive: true, force: true });
  }

  const crypto2 = bareCrypto();
  const signPerSec = (crypto1.signPerSec + crypto2.signPerSec) / 2;
  const verifyPerSec = (crypto1.verifyPerSec + crypto2.verifyPerSec) / 2;
  const total = ROOMS * EVENTS;
  const sendRate = total / sendRun.secs;
  const inputRate = total / inputRun.secs;

  const cpuPer = (r: { cpuUs: number }) => (r.cpuUs / total).toFixed(0);
  const mainPer = (r: { mainUs: number; secs: number }) => `${(r.mainUs / total).toFixed(0)} (${((100 * r.mainUs) / 1e6 / r.secs).toFixed(0)}% busy)`;
  const rows: string[][] = [
    ['run', 'events/s', 'p50 ms', 'p99 ms', 'CPU µs/event', 'main thread µs/event', 'vs bare crypto'],
    ['(a) send (sign locally)', sendRate.toFixed(0), pct(sendRun.lat, 50).toFixed(2), pct(sendRun.lat, 99).toFixed(2), cpuPer(sendRun), mainPer(sendRun), `${((100 * sendRate) / signPerSec).toFixed(0)}% of sign/s`],
    ['(b) input (verify)', inputRate.toFixed(0), pct(inputRun.lat, 50).toFixed(2), pct(inputRun.lat, 99).toFixed(2), cpuPer(inputRun), mainPer(inputRun), `${((100 * inputRate) / verifyPerSec).toFixed(0)}% of verify/s`],
    ['bare ed25519 sign', signPerSec.toFixed(0), '', '', (1e6 / signPerSec).toFixed(0), '', ''],
    ['bare ed25519 verify', verifyPerSec.toFixed(0), '', '', (1e6 / verifyPerSec).toFixed(0), '', ''],
  ];
  printTable(rows);
  // the other threads: the crypto worker (signing/verifying), V8's collector helpers, libuv's pool (LevelDB writes), LevelDB's compaction
  if (sendRun.threads) console.log(`(a) CPU µs per event by thread: ${sendRun.threads}`);
  if (inputRun.threads) console.log(`(b) CPU µs per event by thread: ${inputRun.threads}`);

  // (c) heap per idle room
  if (IDLE_ROOMS > 0) {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) console.log('(c) skipped: run with node --expose-gc to measure heap per idle room');
    else {
      const dirC = tmp();
      const c = await RoomServer.open({ dataDir: dirC, serverName: 'c.test', idleTimeoutMs: 500 });
      c.addServerKey('remote.test', key.keyId, key.publicKeyBase64);
      // warm up caches and code paths, then measure from a settled heap
      const warm = Array.from({ length: 2000 }, (_, i) => remoteRoom(key, 2, 1_000_000 + i));
      for (const r of warm) await c.input(r.events.map((event) => ({ event })));
      await new Promise((r) => setTimeout(r, 1500));
      gc();
      const before = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      for (let i = 0; i < IDLE_ROOMS; i += 500) {
        const batch = Array.from({ length: Math.min(500, IDLE_ROOMS - i) }, (_, j) => remoteRoom(key, 2, 2_000_000 + i + j));
        await Promise.all(batch.map((r) => c.input(r.events.map((event) => ({ event })))));
      }
      const created = (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 2000));
      gc();
      await new Promise((r) => setTimeout(r, 200));
      gc();
      const after = process.memoryUsage().heapUsed;
      const stats = c.stats();
      printTable([
        ['idle rooms', 'created in s', 'live actors after idle', 'heap delta MB', 'heap per idle room'],
        [String(IDLE_ROOMS), created.toFixed(1), String(stats.liveActors), ((after - before) / 1048576).toFixed(1), `${((after - before) / IDLE_ROOMS).toFixed(0)} B`],
      ]);
      await c.close();
      rmSync(dirC, { recursive: true, force: true });
    }
  }
}

function printTable(rows: string[][]): void {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const [k, r] of rows.entries()) {
    console.log('| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |');
    if (k === 0) console.log('| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |');
  }
}

await main();
