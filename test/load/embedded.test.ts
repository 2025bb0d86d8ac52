/**
 * The tool on a small load in-process: the report's numbers must match what
 * the server holds, read back independently after the run (the data dir is
 * reopened by a new RoomServer and its output log replayed from 0).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bench/load/main.js';
import type { JsonReport } from '../../bench/load/report.js';
import { RoomServer } from '../../src/server.js';
import { rootLogger } from '../../src/log.js';
import { stateResolutionTime } from '../../src/metrics.js';
import type { NewRoomEventOutput, Output } from '../../src/api.js';
import { captureIo } from './io.js';

rootLogger.level = process.env.LOG_LEVEL ?? 'silent';
const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'rs-load-test-'));
  dirs.push(d);
  return d;
}

/** Every output the server's log holds, replayed from position 0. */
async function replay(rs: RoomServer): Promise<NewRoomEventOutput[]> {
  const head = rs.outputHead();
  const out: NewRoomEventOutput[] = [];
  if (head === 0) return out;
  const sub = rs.subscribe({ from: 0 });
  for await (const o of sub as AsyncIterable<Output>) {
    if (o.type === 'new_room_event') out.push(o);
    if (o.pos >= head) break;
  }
  sub.close();
  return out;
}

function byRoom(outs: NewRoomEventOutput[]): Map<string, NewRoomEventOutput[]> {
  const m = new Map<string, NewRoomEventOutput[]>();
  for (const o of outs) m.set(o.room_id, [...(m.get(o.room_id) ?? []), o]);
  return m;
}

test('send mode, 5 rooms x 10 events: counts, latency samples, outputs and verification agree with the stored rooms', async () => {
  const dir = temp();
  const jsonFile = join(temp(), 'report.json');
  const io = captureIo();
  const r = await main(['--embedded', '--rooms', '5', '--events', '10', '--senders', '2', '--state-ratio', '0.3', '--data-dir', dir, '--json', jsonFile, '--no-progress'], io);
  assert.is(r.code, 0, io.stderr());
  const run = r.runs[0]!;
  assert.is(run.planned, 50);
  assert.is(run.load.events, 50);
  assert.is(run.load.requests, 50);
  assert.is(run.latencyMs.count, 50, 'one latency sample per request');
  assert.ok(run.latencyMs.p50 <= run.latencyMs.p95 && run.latencyMs.p95 <= run.latencyMs.p99 && run.latencyMs.p99 <= run.latencyMs.max);
  assert.ok(run.latencyMs.p50 > 0);
  assert.is(run.lagMs.count, 50, 'every measured event arrived on the subscription');
  assert.is(run.lagMs.missing, 0);
  // create_room makes 5 events, then 2 joins per room
  assert.is(run.setup.rooms, 5);
  assert.is(run.setup.events, 5 * 7);
  assert.equal(run.statuses, { accepted: 85 });
  assert.equal(run.errors, {});
  assert.ok(run.verification?.ok, JSON.stringify(run.verification));
  assert.ok(run.load.eventsPerSec > 0);
  assert.ok(run.memory.after && run.memory.after.heapUsedBytes > 0);
  assert.ok(run.disk.bytes !== undefined && run.disk.bytes > 0, 'disk measured from the data dir');
  assert.is(run.disk.events, 85);
  // GC pauses of the tool's own process, which is the server's
  assert.ok(run.gcPauses?.shared === true && run.gcPauses.minor.count >= 0, JSON.stringify(run.gcPauses));

  // the printed report carries the same numbers
  const text = io.stdout();
  assert.match(text, /events\/s\s+[\d,]+ {2}\(50 of 50 events accepted/);
  assert.match(text, /input latency ms\s+p50 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+/);
  assert.match(text, /output lag ms\s+p50 [\d.]+ {2}p99 [\d.]+/);
  assert.match(text, /heap per room/);
  assert.match(text, /disk per event/);
  assert.match(text, /errors\s+none/);
  assert.match(text, /verification\s+OK/);

  // and the JSON file, with options and machine
  const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as JsonReport;
  assert.is(json.tool, 'roomserver-load');
  assert.is(json.options.rooms, 5);
  assert.ok(json.machine.cores >= 1 && json.machine.cpu.length > 0 && json.machine.node.startsWith('v'));
  assert.is(json.runs[0]!.load.events, 50);

  // what the server holds, read independently
  const rs = await RoomServer.open({ dataDir: dir, serverName: 'bench.test' });
  try {
    const outs = await replay(rs);
    assert.is(outs.length, 85, 'the log holds exactly the acknowledged events');
    const rooms = byRoom(outs);
    assert.is(rooms.size, 5);
    for (const [roomId, evs] of rooms) {
      assert.is(evs.length, 17);
      const latest = await rs.query.latest(roomId);
      assert.is(latest.depth, 17);
      assert.equal(latest.latest_event_ids, [evs[evs.length - 1]!.event_id]);
      const info = await rs.query.room(roomId);
      assert.is(info.joined_members, 3, 'creator and two senders');
      const msgs = evs.filter((e) => e.event.type === 'm.room.message');
      assert.ok(msgs.every((e) => e.txn_id !== undefined), 'measured sends carry their txn_id');
    }
    const measured = outs.filter((o) => o.txn_id !== undefined && !o.txn_id.includes('.join'));
    assert.is(measured.length, 50);
  } finally {
    await rs.close();
  }
});

test('input mode with forks and state: signed remote events are accepted, branches are merged, state resolution runs', async () => {
  const dir = temp();
  const before = (await stateResolutionTime.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  const io = captureIo();
  const r = await main(['--embedded', '--mode', 'input', '--rooms', '4', '--events', '12', '--forks', '0.5', '--state-ratio', '0.3', '--senders', '2', '--data-dir', dir, '--no-progress', '--seed', '3'], io);
  assert.is(r.code, 0, io.stdout() + io.stderr());
  const run = r.runs[0]!;
  assert.is(run.load.events, 48);
  assert.ok(run.verification?.ok, JSON.stringify(run.verification?.checks));
  assert.is(run.lagMs.count, 48);
  assert.ok(run.load.requests < 48, 'fork branches travel together in one request');
  assert.is(run.latencyMs.count, run.load.requests);
  const after = (await stateResolutionTime.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  assert.ok(after > before, 'the server resolved state');

  const rs = await RoomServer.open({ dataDir: dir, serverName: 'bench.test' });
  try {
    const outs = await replay(rs);
    // setup: create, creator join, power levels, join rules, history visibility, two sender joins
    assert.is(outs.length, 4 * (7 + 12));
    const senders = new Set(outs.map((o) => String(o.event.sender).split(':')[1]));
    assert.is(senders.size, 1, 'all events come from the simulated remote server');
    assert.ok([...senders][0]!.endsWith('.bench'));
    // a pair of branches is joined by the next event, or by both branches of a fork that follows at once
    const merges = new Set(outs.filter((o) => (o.event.prev_events as unknown[]).length === 2).map((o) => JSON.stringify([...(o.event.prev_events as string[])].sort())));
    const forkSlots = run.load.events - run.load.requests; // each fork request carries one event more
    const endsOnFork = [...byRoom(outs).values()].filter((evs) => (evs[evs.length - 1]!.event.prev_events as unknown[]).length === 1 && evs[evs.length - 2]!.event.type === 'm.room.topic' && evs[evs.length - 1]!.event.type === 'm.room.topic' && JSON.stringify(evs[evs.length - 1]!.event.prev_events) === JSON.stringify(evs[evs.length - 2]!.event.prev_events)).length;
    assert.is(merges.size + endsOnFork, forkSlots, 'every fork is joined by the next event (or is the last thing in its room)');
    assert.ok(forkSlots > 0);
  } finally {
    await rs.close();
  }
});

test('room version 1 rooms (event IDs in the event, hashed references) work in both modes', async () => {
  for (const mode of ['send', 'input']) {
    const io = captureIo();
    const r = await main(['--embedded', '--mode', mode, '--room-version', '1', '--rooms', '2', '--events', '5', '--no-progress'], io);
    assert.is(r.code, 0, `${mode}: ${io.stdout()}${io.stderr()}`);
    assert.is(r.runs[0]!.load.events, 10);
    assert.ok(r.runs[0]!.verification?.ok);
  }
});

test('a sweep runs once per value, each on a fresh server, and prints one row per run', async () => {
  const io = captureIo();
  const r = await main(['--embedded', '--sweep', 'rooms=2,3', '--events', '2', '--senders', '1', '--no-progress', '--verify-states', '1'], io);
  assert.is(r.code, 0, io.stderr());
  assert.equal(r.runs.map((x) => x.rooms), [2, 3]);
  assert.equal(r.runs.map((x) => x.load.events), [4, 6]);
  // each run saw only its own events: setup is 6 events per room with one sender
  assert.equal(r.runs.map((x) => x.statuses.accepted), [2 * 8, 3 * 8]);
  const text = io.stdout();
  assert.match(text, /sweep\s+rooms = 2, 3/);
  assert.match(text, /^rooms\s+events\s+events\/s\s+load avg\s+p50 ms/m);
  assert.match(text, /^2\s+4\s+[\d,]+/m);
  assert.match(text, /^3\s+6\s+[\d,]+/m);
});

test('stopped part way (Ctrl-C): the report covers what ran, says so, and the exit code is 1', async () => {
  const io = captureIo();
  let calls = 0;
  const r = await main(['--embedded', '--rooms', '3', '--events', '50', '--no-progress'], { ...io, aborted: () => ++calls > 40 });
  assert.is(r.code, 1);
  const run = r.runs[0]!;
  assert.ok(run.interrupted);
  assert.ok(run.load.events > 0 && run.load.events < 150, `ran ${run.load.events} events`);
  assert.is(run.latencyMs.count, run.load.requests);
  assert.is(run.verification, undefined);
  assert.match(io.stdout(), /INTERRUPTED/);
  assert.match(io.stdout(), /verification\s+skipped \(interrupted\)/);
});

test.after(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test.run();
