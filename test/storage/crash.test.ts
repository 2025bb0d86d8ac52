/**
 * Crash test: a child process (crash-writer.ts) commits units for many rooms
 * in a loop and is killed with SIGKILL at random moments, again and again on
 * the same database. After every kill the database is reopened and checked:
 * - the integrity scan is clean: no NID names two strings and no string has
 *   two NIDs; every reference resolves (snapshot -> blocks -> events,
 *   event -> snapshot, room -> snapshot and extremities, output -> room);
 *   output positions have no gaps;
 * - every acknowledged journal entry is either still there (and its event
 *   not committed) or its event is fully committed (NID, metadata, JSON,
 *   state-before snapshot, output);
 * - every output names a committed event;
 * - each room's current snapshot equals the state replayed from its
 *   committed events, the membership index agrees, and the room record's
 *   last output position is the room's last output.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ns, Store, stateKeyNum, TYPE_MEMBER, type EventMeta } from '../../storage/index.js';
import { tempDir } from './helpers.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 21);
const ROOMS = 16;
const writer = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Ack {
  seq: number;
  input: { room: number; eventId: string; op: string; user: string };
}

interface Writer {
  /** Resolves once the child was killed after it got going (rejects if it ended on its own). */
  run(delayMs: number): Promise<void>;
  /** Kills the child whatever it is doing (cleanup). */
  kill(): void;
}

/** Starts a writer that loads its modules and waits; run() lets it open the store and kills it later. */
function startWriter(dir: string, ackFile: string, seed: number): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, ackFile, String(seed)], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: (() => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (onReady !== undefined && out.includes('ready')) {
      onReady();
      onReady = undefined;
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return {
    kill: () => void child.kill('SIGKILL'),
    async run(delayMs: number): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      onReady = () => (timer = setTimeout(() => child.kill('SIGKILL'), delayMs));
      if (out.includes('ready')) onReady();
      child.stdin.write('go\n');
      const { code, signal } = await closed;
      clearTimeout(guard);
      if (timer !== undefined) clearTimeout(timer);
      if (!(signal === 'SIGKILL' && timer !== undefined)) throw new Error(`writer ended on its own (code ${code}, signal ${signal}): ${err || out}`);
    },
  };
}

function readAcks(file: string): Ack[] {
  if (!existsSync(file)) return [];
  const acks: Ack[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      acks.push(JSON.parse(line) as Ack);
    } catch {
      // A line cut by the kill: its append was not acknowledged to anyone yet.
    }
  }
  return acks;
}

async function check(dir: string, acks: Ack[]): Promise<{ events: number; journal: number; outputs: number }> {
  const store = await Store.open(dir);
  try {
    const report = await store.checkIntegrity();
    assert.ok(report.ok, report.problems.join('\n'));

    // Every committed event has an output (the writer appends one per event): load them all at once.
    const outputs = await store.readOutputs(0, 1e9);
    assert.is(outputs.length, store.outputHead());
    const outputByEvent = new Map<number, number>();
    const lastOutputOfRoom = new Map<number, number>();
    for (const o of outputs) {
      outputByEvent.set((o.output as { event_nid: number }).event_nid, o.pos);
      lastOutputOfRoom.set(o.roomNid, o.pos);
    }
    const eventNids = [...outputByEvent.keys()];
    const metaList = await store.getEventMetas(eventNids);
    const jsonList = await Promise.all(eventNids.map((n) => store.getEventJson(n)));
    const metas = new Map<number, EventMeta>();
    const jsons = new Map<number, { event_id: string; op: string; user: string }>();
    eventNids.forEach((n, i) => {
      assert.ok(metaList[i] !== undefined, `output names committed event ${n}`);
      assert.ok(jsonList[i] !== undefined, `event ${n} has JSON`);
      metas.set(n, metaList[i]!);
      jsons.set(n, jsonList[i] as unknown as { event_id: string; op: string; user: string });
    });
    const committedIds = new Map([...jsons].map(([n, j]) => [j.event_id, n]));

    const journal = new Map((await store.readJournal()).map((j) => [j.seq, j.value as unknown as Ack['input']]));
    for (const [, input] of journal) assert.not.ok(committedIds.has(input.eventId), `journaled ${input.eventId} is not committed yet`);
    const ackNids = await store.lookupNids(Ns.EVENT, acks.map((a) => a.input.eventId));
    acks.forEach(({ seq, input }, i) => {
      const left = journal.get(seq);
      if (left !== undefined) {
        assert.is(left.eventId, input.eventId, `journal entry ${seq} holds the acknowledged input`);
        return;
      }
      // Removed from the journal: the event must be fully committed.
      const nid = ackNids[i];
      assert.ok(nid !== undefined, `acknowledged ${input.eventId} has a NID`);
      assert.is(committedIds.get(input.eventId), nid, `acknowledged ${input.eventId} is committed with an output`);
    });

    // Replay every room from its create event along the prev chain.
    let events = 0;
    const states = new Map<number, Promise<ReadonlyMap<number, number>>>();
    const load = (nid: number) => {
      let p = states.get(nid);
      if (p === undefined) states.set(nid, (p = store.loadSnapshot(nid)));
      return p;
    };
    for (let i = 0; i < ROOMS; i++) {
      const roomNid = await store.lookupNid(Ns.ROOM, `!crash${i}:test`);
      if (roomNid === undefined) continue;
      const room = await store.getRoom(roomNid);
      if (room === undefined) continue;
      const chain: number[] = [];
      for (let cur = room.extremities[0]; cur !== undefined; cur = metas.get(cur)!.prevEventNids[0]) {
        assert.ok(metas.has(cur), `event ${cur} on the chain of room ${i} is committed`);
        chain.push(cur);
      }
      chain.reverse();
      assert.is(chain[0], room.createEventNid);
      events += chain.length;
      const expected = new Map<number, number>();
      const membership = new Map<string, { membership: string; eventNid: number }>();
      const before = await Promise.all(chain.map((n) => load(metas.get(n)!.stateBeforeNid)));
      chain.forEach((nid, j) => {
        const m = metas.get(nid)!;
        assert.is(m.roomNid, roomNid);
        assert.equal(new Map(before[j]!), expected, `state before event ${nid} in room ${i}`);
        const json = jsons.get(nid)!;
        if (json.op !== 'msg') {
          const key = stateKeyNum(TYPE_MEMBER, m.stateKeyNid);
          if (json.op === 'join') expected.set(key, nid);
          else expected.delete(key);
          membership.set(json.user, { membership: json.op === 'join' ? 'join' : 'leave', eventNid: nid });
        }
      });
      assert.equal(new Map(await store.loadSnapshot(room.stateSnapshotNid)), expected);
      const members = await store.getMembers(roomNid);
      assert.equal(new Map(members.map((x) => [x.userId, { membership: x.membership, eventNid: x.eventNid }])), membership);
      assert.is(room.lastOutputPos, lastOutputOfRoom.get(roomNid) ?? 0, `room ${i} names its last output`);
      assert.is(room.maxDepth, chain.length);
    }
    assert.is(events, metas.size, 'every committed event is on its room chain');
    return { events, journal: journal.size, outputs: outputs.length };
  } finally {
    await store.close();
  }
}

test(`killed ${KILLS} times at random moments, the store reopens consistent`, async () => {
  const dir = tempDir('crash');
  const db = join(dir, 'db');
  const ackFile = join(dir, 'acks.ndjson');
  const started = Date.now();
  let last = { events: 0, journal: 0, outputs: 0 };
  let grew = 0;
  let spawnMs = 0;
  let checkMs = 0;
  let next: Writer | undefined;
  try {
    next = startWriter(db, ackFile, 1);
    for (let k = 0; k < KILLS; k++) {
      const delay = 30 + Math.floor(Math.random() * 200);
      const t0 = Date.now();
      await next.run(delay);
      const t1 = Date.now();
      // The next writer loads while this run's database is checked; it opens the store only after.
      if (k + 1 < KILLS) next = startWriter(db, ackFile, k + 2);
      const now = await check(db, readAcks(ackFile));
      spawnMs += t1 - t0;
      checkMs += Date.now() - t1;
      if (now.events > last.events) grew++;
      assert.ok(now.events >= last.events, 'committed events never disappear');
      assert.ok(now.outputs >= last.outputs, 'outputs never disappear');
      last = now;
    }
    assert.ok(grew >= KILLS / 3, `the writer made progress in most runs (${grew} of ${KILLS})`);
    assert.ok(last.events > 100, `${last.events} events committed`);
    console.log(`  ${KILLS} kills in ${((Date.now() - started) / 1000).toFixed(1)}s (writer runs ${(spawnMs / 1000).toFixed(1)}s, checks ${(checkMs / 1000).toFixed(1)}s): ${last.events} events, ${last.outputs} outputs, ${last.journal} journal entries left`);
  } finally {
    next?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
