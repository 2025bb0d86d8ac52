/**
 * Storage benchmark. Prints two tables:
 *
 * 1. Commit units per second when many rooms (1,000) commit at once, with
 *    group commit vs one write per unit, with and without fsync. Each room
 *    loops: build a unit for a new event (new event NID, metadata, JSON,
 *    output, room record, journal removal; one event in ten is a join that
 *    derives a snapshot and writes a membership), submit it, repeat. "In
 *    flight/room" 1 = wait for each commit before building the next (as the
 *    room actors do); 4 = a room keeps up to 4 commits in flight
 *    (pipelining). A warm-up load (2 s, not counted) runs first. The event IDs and
 *    JSON texts the units store are made before the clock starts, as the
 *    pipeline hands them to storage ready-made (see PREBUILT_IDS). The first
 *    row is a reference: the same records put straight into LevelDB batches
 *    with no storage layer (what the disk library alone costs on this
 *    machine).
 *    CPU columns: all threads of the process (includes LevelDB's and the
 *    garbage collector's threads) and the main thread, per unit. "Write in
 *    flight": share of the time a LevelDB write was running (near 100%:
 *    LevelDB's write is the bottleneck).
 * 2. Storage efficiency of one room that grows to 10,000 members over
 *    100,000 events (joins and messages; then with extra membership churn):
 *    bytes on disk per event after compaction, and snapshot + block bytes
 *    per event against storing the full state for every event.
 *
 *   node --import tsx bench/storage.ts [--rooms 1000] [--seconds 3] [--repeats 3] [--warmup-seconds 2]
 *                                      [--events 100000] [--members 10000]
 *                                      [--only-group [--depth4] [--no-raw] | --only-efficiency]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ns, Store, stateKeyNum, TYPE_MEMBER, type CommitUnit, type EventMeta } from '../storage/index.js';
import { encodeBlock, blockFromMap } from '../storage/state-block.js';
import { pack } from '../storage/records.js';
import { ClassicLevel } from 'classic-level';
import type { JsonObject } from '../src/matrix/json.js';
import { mainThreadCpuMs } from './main-thread-cpu.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const ROOMS = arg('rooms', 1000);
const SECONDS = arg('seconds', 3);
const EVENTS = arg('events', 100_000);
const MEMBERS = arg('members', 10_000);
const REPEATS = arg('repeats', 3);
const WARMUP_SECONDS = arg('warmup-seconds', 2);

function dirSize(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}

// Random bytes are drawn once; fake IDs, hashes and signatures are slices of them at a moving offset.
const RANDOM = randomBytes(1 << 20);
let randomOff = 0;
function b64(len: number): string {
  if (randomOff + len > RANDOM.length) randomOff = (randomOff * 7 + 13) % 1024;
  const s = RANDOM.toString('base64', randomOff, randomOff + len);
  randomOff += len + 1;
  return s.replace(/=+$/, '');
}
const AUTH_IDS = ['$' + b64(32), '$' + b64(32), '$' + b64(32)];

/** A PDU-shaped object of realistic size (hashes and signatures are random: they do not compress). */
function fakeEvent(roomId: string, n: number, sender: string, type: string, stateKey: string | undefined, content: JsonObject): JsonObject {
  const ev: JsonObject = {
    auth_events: AUTH_IDS,
    content,
    depth: n,
    hashes: { sha256: b64(32) },
    origin_server_ts: 1_700_000_000_000 + n,
    prev_events: ['$' + b64(32)],
    room_id: roomId,
    sender,
    signatures: { 'example.org': { 'ed25519:a_abcd': b64(64) } },
    type,
  };
  if (stateKey !== undefined) ev['state_key'] = stateKey;
  return ev;
}

/**
 * What the units store is made before any clock starts: the event IDs (one
 * per unit, unique within a run) and event JSON texts (a pool the units
 * cycle through; texts are not parsed by storage). In the server the
 * pipeline hands storage an event's ID and canonical JSON text, which it
 * computed anyway to check or build the event: making them is not storage
 * work. The units themselves (NIDs, metadata, snapshots, outputs, room
 * records, journal removals) are built in the timed loop.
 */
let PREBUILT_IDS: string[] = [];
let idNext = 0;
/** Starts a run's event IDs from the first prebuilt one (made on first use: the efficiency runs need none). */
function restartEventIds(): void {
  if (PREBUILT_IDS.length === 0) PREBUILT_IDS = Array.from({ length: Math.max(100_000, 150_000 * SECONDS) }, () => '$' + b64(32));
  idNext = 0;
}
function nextEventId(): string {
  return idNext < PREBUILT_IDS.length ? PREBUILT_IDS[idNext++]! : '$' + b64(32);
}
const TEXT_POOL = 4096;
const MESSAGE_TEXTS = Array.from({ length: TEXT_POOL }, (_, i) =>
  JSON.stringify(fakeEvent('!room:example.org', i, `@user${i}:example.org`, 'm.room.message', undefined, { msgtype: 'm.text', body: `hello number ${i} from @user${i}:example.org` })));
const JOIN_TEXTS = Array.from({ length: TEXT_POOL }, (_, i) =>
  JSON.stringify(fakeEvent('!room:example.org', i, `@user${i}:example.org`, 'm.room.member', `@user${i}:example.org`, { membership: 'join', displayname: `user${i}` })));

interface RoomSim {
  roomId: string;
  roomNid: number;
  n: number;
  snapshot: number;
  lastEvent: number;
  members: number;
}

async function buildUnit(store: Store, r: RoomSim, seq: number): Promise<CommitUnit> {
  const u = store.unit();
  r.n++;
  const eventId = nextEventId();
  const isJoin = r.n % 10 === 0;
  const sender = isJoin ? `@user${r.members}:example.org` : `@user${r.n % (r.members + 1)}:example.org`;
  const eventNid = await u.nid(Ns.EVENT, eventId);
  let typeNid = TYPE_MEMBER;
  let skNid = 0;
  let after = r.snapshot;
  if (isJoin) {
    skNid = await u.nid(Ns.STATE_KEY, sender);
    after = await store.deriveSnapshot(u, r.roomNid, r.snapshot, [[TYPE_MEMBER, skNid, eventNid]]);
    u.putMembership(r.roomNid, sender, 'join', eventNid);
    r.members++;
  } else {
    typeNid = await u.nid(Ns.TYPE, 'm.room.message');
  }
  const json = (isJoin ? JOIN_TEXTS : MESSAGE_TEXTS)[eventNid % TEXT_POOL]!;
  const meta: EventMeta = {
    roomNid: r.roomNid, typeNid, stateKeyNid: skNid, sender, depth: r.n, originServerTs: 1_700_000_000_000 + r.n,
    prevEventNids: r.lastEvent ? [r.lastEvent] : [], authEventNids: [], outlier: false, rejected: false,
    softFailed: false, redacted: false, stateBeforeNid: r.snapshot,
  };
  u.putEvent(eventNid, meta, json);
  u.putRoom(r.roomNid, { roomVersion: '12', createEventNid: r.lastEvent || eventNid, extremities: [eventNid], stateSnapshotNid: after, maxDepth: r.n, lastOutputPos: 0 });
  u.appendOutput(r.roomNid, { type: 'new_room_event', event_nid: eventNid });
  u.removeJournal(seq);
  r.snapshot = after;
  r.lastEvent = eventNid;
  return u;
}

async function throughput(fsync: boolean, group: boolean, depth: number, runSeconds = SECONDS): Promise<{ units: number; seconds: number; writes: number; writeBusy: number; cpuUs: number; mainUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-storage-'));
  const store = await Store.open(dir, { fsync, groupCommit: group });
  restartEventIds();
  const rooms: RoomSim[] = [];
  const setup = store.unit();
  for (let i = 0; i < ROOMS; i++) {
    const roomId = `!room${i}:example.org`;
    rooms.push({ roomId, roomNid: await setup.nid(Ns.ROOM, roomId), n: 0, snapshot: 0, lastEvent: 0, members: 0 });
  }
  for (const r of rooms) setup.putRoom(r.roomNid, { roomVersion: '12', createEventNid: 0, extremities: [], stateSnapshotNid: 0, maxDepth: 0, lastOutputPos: 0 });
  await store.commit(setup);
  // Journal entries the units remove (appended before timing: the journal write belongs to the input
  // path). Units cycle through them: removing a key already removed writes the same tombstone.
  const seqs = await store.appendJournal(Array.from({ length: 20_000 }, (_, i) => ({ input: i })));
  let next = 0;
  const deadline = performance.now() + runSeconds * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const writes0 = store.commitStats.writes;
  const writeMs0 = store.commitStats.writeMs;
  let units = 0;
  // Each room builds a unit, submits it, and waits for it before the next
  // one (depth 1, as the room actors work) or keeps up to `depth` commits in
  // flight (what an actor could do that went on with its next event while
  // the last one is written, answering callers as commits resolve).
  await Promise.all(
    rooms.map(async (r) => {
      const inflight: Array<Promise<unknown>> = [];
      while (performance.now() < deadline) {
        const u = await buildUnit(store, r, seqs[next++ % seqs.length]!);
        inflight.push(store.commit(u).then(() => units++));
        if (inflight.length >= depth) await inflight.shift();
      }
      await Promise.all(inflight);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainMs = mainThreadCpuMs() - main0;
  const writes = store.commitStats.writes - writes0;
  const writeBusy = (store.commitStats.writeMs - writeMs0) / (seconds * 1000);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { units, seconds, writes, writeBusy, cpuUs: (cpu.user + cpu.system) / Math.max(1, units), mainUs: (mainMs * 1000) / Math.max(1, units) };
}

/** [table][u64 n] as the store writes it (for the reference points below). */
function rawKey(t: number, n: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = t;
  k.writeUInt32BE(Math.floor(n / 2 ** 32), 1);
  k.writeUInt32BE(n >>> 0, 5);
  return k;
}

/**
 * The records a message unit writes, as raw key/value pairs (undefined
 * value: a delete): ID map, metadata (with the event ID: the reverse
 * direction of the map), JSON, room record, output, output index, journal
 * removal.
 */
function messageUnitRecords(id: string, n: number, room: number): Array<[Buffer, Buffer | undefined]> {
  return [
    [Buffer.concat([Buffer.from([1, 2]), Buffer.from(id)]), rawKey(0, n).subarray(1)],
    [rawKey(0x10, n), pack([room, 64, 0, '@user:example.org', n, 1_700_000_000_000, [n - 1], [], 0, 3, null, id])],
    [rawKey(0x11, n), Buffer.from(MESSAGE_TEXTS[n % TEXT_POOL]!)],
    [rawKey(0x30, room), pack(['12', 1, [n], 5, n, n])],
    [rawKey(0x40, n), Buffer.from(JSON.stringify({ type: 'new_room_event', event_nid: n }))],
    [Buffer.concat([rawKey(0x41, room), rawKey(0, n).subarray(1)]), Buffer.alloc(0)],
    [rawKey(0x50, n), undefined],
  ];
}

async function openRaw(prefix: string): Promise<{ db: ClassicLevel<Buffer, Buffer>; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', writeBufferSize: 16 * 1024 * 1024 });
  await db.open();
  return { db, dir };
}

/**
 * Reference point: the same records a message unit writes, built and put
 * straight into LevelDB batches of ROOMS units, with one getMany per batch
 * for the new event IDs, and no storage layer at all.
 */
async function rawFloor(): Promise<number> {
  const { db, dir } = await openRaw('bench-storage-raw-');
  restartEventIds();
  let nid = 1;
  let units = 0;
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  while (performance.now() < deadline) {
    const b = db.batch();
    const ids: string[] = [];
    for (let i = 0; i < ROOMS; i++) {
      const id = nextEventId();
      ids.push(id);
      for (const [k, v] of messageUnitRecords(id, nid++, i + 1)) {
        if (v === undefined) b.del(k);
        else b.put(k, v);
      }
    }
    await Promise.all([db.getMany(ids.map((id) => Buffer.from('\x01\x02' + id))), b.write()]);
    units += ROOMS;
  }
  const rate = units / ((performance.now() - t0) / 1000);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/**
 * The ceiling of LevelDB itself on this machine: units encoded before the
 * clock starts (the first `keysPerUnit` of a message unit's records),
 * written as chained batches of ROOMS units, one after another. Only the
 * batch calls and the writes are timed.
 */
async function writeCeiling(keysPerUnit: number): Promise<number> {
  const { db, dir } = await openRaw('bench-storage-ceiling-');
  const BATCHES = 40;
  const batches: Array<Array<[Buffer, Buffer | undefined]>> = [];
  let nid = 1;
  for (let b = 0; b < BATCHES; b++) {
    const ops: Array<[Buffer, Buffer | undefined]> = [];
    for (let i = 0; i < ROOMS; i++) ops.push(...messageUnitRecords('$' + b64(32), nid++, i + 1).slice(0, keysPerUnit));
    batches.push(ops);
  }
  const t0 = performance.now();
  for (const ops of batches) {
    const b = db.batch();
    for (const [k, v] of ops) {
      if (v === undefined) b.del(k);
      else b.put(k, v);
    }
    await b.write();
  }
  const rate = (BATCHES * ROOMS) / ((performance.now() - t0) / 1000);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/**
 * One room growing to MEMBERS members over EVENTS events. `churnEvery`
 * > 0 also turns every n-th other event into a membership change of an
 * existing member (a leave, a rejoin or a profile change: a new member
 * event for the same state key).
 */
async function efficiency(churnEvery: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-storage-eff-'));
  const store = await Store.open(dir);
  const roomId = '!big:example.org';
  const r: RoomSim = { roomId, roomNid: await store.nid(Ns.ROOM, roomId), n: 0, snapshot: 0, lastEvent: 0, members: 0 };
  const state = new Map<number, number>();
  let fullStateEntries = 0; // sum over events of the state size before the event
  let stateEvents = 0;
  const joinEvery = EVENTS / MEMBERS;
  let pending: Array<Promise<unknown>> = [];
  for (let i = 1; i <= EVENTS; i++) {
    fullStateEntries += state.size;
    const u = store.unit();
    r.n = i;
    const eventNid = await u.nid(Ns.EVENT, `$big_${i}`);
    const isJoin = Math.floor(i / joinEvery) !== Math.floor((i - 1) / joinEvery) && r.members < MEMBERS;
    const isChurn = !isJoin && churnEvery > 0 && i % churnEvery === 0 && r.members > 0;
    let after = r.snapshot;
    let typeNid = TYPE_MEMBER;
    let skNid = 0;
    let sender: string;
    if (isJoin || isChurn) {
      sender = isJoin ? `@user${r.members}:example.org` : `@user${Math.floor(Math.random() * r.members)}:example.org`;
      skNid = await u.nid(Ns.STATE_KEY, sender);
      after = await store.deriveSnapshot(u, r.roomNid, r.snapshot, [[TYPE_MEMBER, skNid, eventNid]]);
      state.set(stateKeyNum(TYPE_MEMBER, skNid), eventNid);
      u.putMembership(r.roomNid, sender, 'join', eventNid);
      if (isJoin) r.members++;
      stateEvents++;
    } else {
      sender = `@user${i % Math.max(1, r.members)}:example.org`;
      typeNid = await u.nid(Ns.TYPE, 'm.room.message');
    }
    const json = isJoin || isChurn
      ? fakeEvent(roomId, i, sender, 'm.room.member', sender, { membership: 'join', displayname: sender.slice(1, 9) })
      : fakeEvent(roomId, i, sender, 'm.room.message', undefined, { msgtype: 'm.text', body: `hello number ${i} from ${sender}` });
    u.putEvent(eventNid, {
      roomNid: r.roomNid, typeNid, stateKeyNid: skNid, sender, depth: i, originServerTs: 1_700_000_000_000 + i,
      prevEventNids: r.lastEvent ? [r.lastEvent] : [], authEventNids: [], outlier: false, rejected: false,
      softFailed: false, redacted: false, stateBeforeNid: r.snapshot,
    }, json);
    u.putRoom(r.roomNid, { roomVersion: '12', createEventNid: 1, extremities: [eventNid], stateSnapshotNid: after, maxDepth: i, lastOutputPos: 0 });
    u.appendOutput(r.roomNid, { type: 'new_room_event', event_nid: eventNid });
    r.snapshot = after;
    r.lastEvent = eventNid;
    pending.push(store.commit(u));
    if (pending.length >= 256) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await store.compact();
  const stats = await store.tableStats();
  const pick = (names: string[]) => stats.filter((s) => names.includes(s.table)).reduce((n, s) => n + s.keyBytes + s.valueBytes, 0);
  const snapBytes = pick(['state blocks', 'block hashes', 'snapshots', 'snapshot hashes']);
  const blockCount = stats.find((s) => s.table === 'state blocks')?.count ?? 0;
  const snapCount = stats.find((s) => s.table === 'snapshots')?.count ?? 0;
  const finalEncoded = encodeBlock(blockFromMap(state)).length;
  const bytesPerEntry = finalEncoded / Math.max(1, state.size);
  const check = await store.loadSnapshot(r.snapshot);
  if (check.size !== state.size) throw new Error(`final snapshot has ${check.size} entries, expected ${state.size}`);
  for (const [k, v] of state) if (check.get(k) !== v) throw new Error('final snapshot differs from the expected state');
  await store.close();
  const disk = dirSize(dir);
  rmSync(dir, { recursive: true, force: true });
  return {
    events: EVENTS,
    members: r.members,
    stateEvents: stateEvents,
    diskBytesPerEvent: disk / EVENTS,
    snapshotBlockBytesPerEvent: snapBytes / EVENTS,
    fullStateBytesPerEvent: (fullStateEntries * bytesPerEntry) / EVENTS,
    blocks: blockCount,
    snapshots: snapCount,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ONLY = process.argv.includes('--only-group');
const ONLY_EFFICIENCY = process.argv.includes('--only-efficiency');
const rows: string[][] = [];
if (!ONLY_EFFICIENCY && !process.argv.includes('--no-raw')) {
  const raw: number[] = [];
  for (let i = 0; i < REPEATS; i++) raw.push(await rawFloor());
  rows.push(['raw LevelDB, no storage layer', 'no', String(ROOMS), '-', Math.round(median(raw)).toLocaleString('en-US'), String(ROOMS), '-', '-', '-', raw.map((x) => Math.round(x)).join(' / ')]);
  for (const k of [7, 4]) {
    const ceil: number[] = [];
    for (let i = 0; i < REPEATS; i++) ceil.push(await writeCeiling(k));
    rows.push([`LevelDB writes only, units pre-encoded, ${k} keys/unit`, 'no', String(ROOMS), '-', Math.round(median(ceil)).toLocaleString('en-US'), String(ROOMS), '-', '-', '-', ceil.map((x) => Math.round(x)).join(' / ')]);
  }
}
const CONFIGS: ReadonlyArray<readonly [group: boolean, fsync: boolean, depth: number]> = ONLY
  ? process.argv.includes('--depth4') ? [[true, false, 4]] : [[true, false, 1], [true, false, 4]]
  : [[true, false, 1], [true, false, 4], [false, false, 1], [true, true, 1], [true, true, 4], [false, true, 1]];
// Warm-up, not counted: the first seconds of a process are spent compiling and re-optimizing the
// hot code (the first of three timed runs came out 10-25% slower than the others without it).
if (!ONLY_EFFICIENCY) await throughput(false, true, 1, WARMUP_SECONDS);
for (const [group, fsync, depth] of ONLY_EFFICIENCY ? [] : CONFIGS) {
  const rates: number[] = [];
  const perWrite: number[] = [];
  const cpu: number[] = [];
  const main: number[] = [];
  const busy: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const r = await throughput(fsync, group, depth);
    busy.push(r.writeBusy);
    rates.push(r.units / r.seconds);
    perWrite.push(r.units / Math.max(1, r.writes));
    cpu.push(r.cpuUs);
    main.push(r.mainUs);
  }
  rows.push([
    group ? 'group commit' : 'one write per unit', fsync ? 'yes' : 'no', String(ROOMS), String(depth),
    Math.round(median(rates)).toLocaleString('en-US'), median(perWrite).toFixed(1), median(cpu).toFixed(1), median(main).toFixed(1), `${(100 * median(busy)).toFixed(0)}%`,
    rates.map((x) => Math.round(x)).join(' / '),
  ]);
}
const header = ['mode', 'fsync', 'rooms', 'in flight/room', 'units/s (median)', 'units/write', 'CPU us/unit (all threads)', 'main thread us/unit', 'write in flight', 'runs'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(`commit throughput (${ROOMS} rooms committing concurrently, ${SECONDS}s per run, ${REPEATS} runs)`);
console.log(line(header));
for (const r of rows) console.log(line(r));

if (ONLY) process.exit(0);
const scenarios: Array<[string, Record<string, number>]> = [
  ['joins + messages', await efficiency(0)],
  ['+ membership churn', await efficiency(5)],
];
console.log('');
console.log(`storage efficiency (one room, ${EVENTS.toLocaleString('en-US')} events, growing to ${MEMBERS.toLocaleString('en-US')} members; bytes are raw key + value bytes unless noted)`);
const effRows: Array<[string, (e: Record<string, number>) => string]> = [
  ['state events', (e) => `${e['stateEvents']!.toLocaleString('en-US')} (${((100 * e['stateEvents']!) / e['events']!).toFixed(0)}%)`],
  ['bytes on disk per event (after compaction)', (e) => e['diskBytesPerEvent']!.toFixed(1)],
  ['snapshot + block bytes per event', (e) => e['snapshotBlockBytesPerEvent']!.toFixed(1)],
  ['full state per event (same block encoding)', (e) => e['fullStateBytesPerEvent']!.toFixed(1)],
  ['ratio full state / snapshots', (e) => (e['fullStateBytesPerEvent']! / e['snapshotBlockBytesPerEvent']!).toFixed(0) + 'x'],
  ['state blocks stored', (e) => String(e['blocks'])],
  ['snapshots stored', (e) => String(e['snapshots'])],
];
const w0 = Math.max(...effRows.map((r) => r[0].length));
const colW = scenarios.map(([name, e]) => Math.max(name.length, ...effRows.map(([, f]) => f(e).length)));
console.log(['scenario'.padEnd(w0), ...scenarios.map(([name], i) => name.padStart(colW[i]!))].join('  '));
for (const [label, f] of effRows) console.log([label.padEnd(w0), ...scenarios.map(([, e], i) => f(e).padStart(colW[i]!))].join('  '));
