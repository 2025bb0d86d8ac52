/** The report's text and JSON, the memory flatness verdict of a sweep, the /metrics reader, and the limits. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fmtBytes, fmtInt, jsonReport, machineInfo, memoryFlatness, renderRun, renderSweep } from '../../bench/load/report.js';
import { DEFAULTS } from '../../bench/load/options.js';
import type { LoadResult } from '../../bench/load/driver.js';
import { measureLimits } from '../../bench/load/limits.js';
import { httpUrl, parsePrometheus } from '../../bench/load/server-probe.js';

function result(rooms: number, heapPerRoom: number, over: Partial<LoadResult> = {}): LoadResult {
  const base: LoadResult = {
    options: { ...DEFAULTS, rooms, events: 20 },
    target: 'embedded (RoomServer in the load process)',
    serverName: 'bench.test',
    rooms,
    planned: rooms * 20,
    setup: { rooms, events: rooms * 7, requests: rooms * 3, seconds: 2, eventsPerSec: (rooms * 7) / 2 },
    load: { events: rooms * 20, requests: rooms * 20, seconds: 4, eventsPerSec: (rooms * 20) / 4 },
    latencyMs: { count: rooms * 20, mean: 3, p50: 2.5, p95: 7.25, p99: 12.5, max: 40 },
    lagMs: { count: rooms * 20, mean: 4, p50: 3.5, p95: 8, p99: 15, max: 50, expected: rooms * 20, missing: 0 },
    statuses: { accepted: rooms * 27 },
    errors: {},
    skipped: 0,
    memory: {
      source: 'test',
      baseline: { rssBytes: 100e6, heapUsedBytes: 20e6, afterGc: true },
      after: { rssBytes: 100e6 + rooms * heapPerRoom * 2, heapUsedBytes: 20e6 + rooms * heapPerRoom, afterGc: true },
      heapPerRoomBytes: heapPerRoom,
      rssPerRoomBytes: heapPerRoom * 2,
    },
    disk: { source: 'files', bytes: rooms * 27 * 500, events: rooms * 27, bytesPerEvent: 500 },
    buildSeconds: 0,
    verification: { ok: true, checks: [{ name: 'rooms: depth', checked: rooms, of: rooms, failed: 0, examples: [] }] },
    interrupted: false,
    loadAverage: { start: 1.5, end: 2.25 },
  };
  return { ...base, ...over };
}

const machine = machineInfo(new Date('2025-01-02T03:04:05Z'));

test('formatting', () => {
  assert.is(fmtInt(1234567.4), '1,234,567');
  assert.is(fmtBytes(512), '512 B');
  assert.is(fmtBytes(2048), '2.0 KB');
  assert.is(fmtBytes(5 * 1024 * 1024), '5.0 MB');
  assert.is(fmtBytes(-2048), '-2.0 KB');
});

test('one run: every figure the issue asks for is in the table', () => {
  const text = renderRun(result(1000, 30_000, { errors: { 'M_LIMIT_EXCEEDED (retried)': 3 }, statuses: { accepted: 26_999, rejected: 1 } }), machine);
  assert.match(text, /^load\s+1,000 rooms x 20 events, --mode send/m);
  assert.match(text, /^machine\s+.+x \d+ cores, .+ Node v\d+/m);
  assert.match(text, /2025-01-02 03:04 UTC; load average 1\.5 -> 2\.3 during the measured phase/);
  assert.match(text, /events\/s\s+5,000 {2}\(20,000 of 20,000 events accepted in 4\.0 s/);
  assert.match(text, /input latency ms\s+p50 2\.50 {2}p95 7\.25 {2}p99 12\.5 {2}max 40\.0/);
  assert.match(text, /output lag ms\s+p50 3\.50 {2}p99 15\.0/);
  assert.match(text, /server RSS\s+152\.6 MB {2}\(57\.2 MB over the run\)/);
  assert.match(text, /server heap used\s+47\.7 MB {2}\(28\.6 MB over the run\), after a full GC/);
  assert.match(text, /heap per room\s+29\.3 KB {2}\(RSS per room 58\.6 KB\)/);
  assert.match(text, /disk per event\s+500 B/);
  assert.match(text, /errors\s+M_LIMIT_EXCEEDED \(retried\) 3, status rejected 1/);
  assert.match(text, /verification\s+OK/);
});

test('a failed verification is shown with its examples', () => {
  const text = renderRun(
    result(10, 1000, { verification: { ok: false, checks: [{ name: 'events: stored', checked: 5, of: 9, failed: 1, examples: ['$x: missing'] }] } }),
    machine,
  );
  assert.match(text, /verification\s+FAILED/);
  assert.match(text, /FAIL {2}events: stored: 5 of 9 \(sample\), 1 wrong/);
  assert.match(text, /\$x: missing/);
});

test('limits: the run as a share of the limit that bounds it', () => {
  const limits = { signPerSec: 20_000, verifyPerSec: 10_000, levelPutPerSec: 500_000, levelBatch: 1000, levelValueBytes: 400, signedBytes: 300 };
  const send = renderRun(result(1000, 1), machine, limits);
  assert.match(send, /ed25519 sign\/s \(1 core\)\s+20,000\s+events\/s = 25% of it \(send/);
  assert.match(send, /LevelDB put\/s \(batches of 1,000\)\s+500,000\s+events\/s = 1\.0% of it/);
  const input = renderRun(result(1000, 1, { options: { ...DEFAULTS, rooms: 1000, mode: 'input' } }), machine, limits);
  assert.match(input, /ed25519 verify\/s \(1 core\)\s+10,000\s+events\/s = 50% of it \(input/);
});

test('server threads: the main thread and the others per event, with how busy each kept its core', () => {
  // 5,000 events/s: 100 µs per event is 50% of a core
  const r = result(1000, 1, { cpuPerEventUs: { server: 200, tool: 40 }, threadCpuUs: { main: 100, others: [40, 30, 3], shared: false } });
  const text = renderRun(r, { ...machine, cores: 2 });
  assert.match(text, /server threads\s+main 100 µs \(50% busy\); others 40 \(20%\), 30 \(15%\), 3 µs per event/);
  assert.match(text, /^threads: from \/proc/m);
  const limits = { signPerSec: 20_000, verifyPerSec: 10_000, levelPutPerSec: 500_000, levelBatch: 1000, levelValueBytes: 400, signedBytes: 300 };
  const withLimits = renderRun(r, { ...machine, cores: 2 }, limits);
  // (200 + 40) µs x 5,000 events/s = 1.2 cores of 2
  assert.match(withLimits, /CPU cores \(2\)\s+1\.20 of them busy = 60% \(server and load tool\)/);
  assert.match(withLimits, /server main thread \(1 core\)\s+50% busy: room actors/);
  // the tool in the server's process: said so, and no row without the readings
  const shared = renderRun(result(1000, 1, { cpuPerEventUs: { server: 300 }, threadCpuUs: { main: 150, others: [], shared: true } }), { ...machine, cores: 2 }, limits);
  assert.match(shared, /server threads\s+main 150 µs \(75% busy, load tool included\); others none µs per event/);
  assert.match(shared, /1\.50 of them busy = 75% \(server, load tool included\)/);
  assert.match(shared, /75% busy \(shared with the load tool\)/);
  const none = renderRun(result(1000, 1), machine, limits);
  assert.not.match(none, /server threads|^threads:|CPU cores|main thread/m);
});

test('server GC pauses: per kind, with the share of the measured phase they took', () => {
  // the measured phase lasts 4 s
  const gcPauses = {
    minor: { count: 30, ms: 400, maxMs: 25, over10ms: 12 },
    major: { count: 1, ms: 40, maxMs: 40, over10ms: 1 },
    incremental: { count: 0, ms: 0, maxMs: 0, over10ms: 0 },
    shared: false,
  };
  const text = renderRun(result(1000, 1, { gcPauses }), machine);
  assert.match(text, /server GC pauses\s+young 30: 400 ms \(10% of the run\), longest 25\.0 ms, 12 of 10 ms or more; full 1: 40 ms \(1\.0% of the run\), longest 40\.0 ms; marking none$/m);
  const shared = renderRun(result(1000, 1, { gcPauses: { ...gcPauses, shared: true } }), machine);
  assert.match(shared, /marking none \(load tool included\)$/m);
  assert.not.match(renderRun(result(1000, 1), machine), /GC pauses/);
});

test('sweep: one row per size and the memory-per-room verdict from 1,000 rooms up', () => {
  const runs = [result(10, 900_000), result(1000, 30_000), result(10_000, 40_000), result(100_000, 50_000)];
  const text = renderSweep(runs, 'rooms', machine);
  assert.match(text, /^rooms\s+events\s+events\/s/m);
  assert.match(text, /^100,000\s+2,000,000\s+500,000\s+1\.5-2\.3\s+2\.50\s+7\.25\s+12\.5/m);
  assert.match(memoryFlatness(runs, 'rooms')!, /1,000 to 100,000 rooms: 29\.3 KB -> 48\.8 KB \(min 29\.3 KB, max 48\.8 KB\), largest\/smallest = 1\.67x, flat within 2x/);
  assert.match(memoryFlatness([result(1000, 10_000), result(100_000, 30_000)], 'rooms')!, /3\.00x, NOT flat within 2x: it grows/);
  assert.match(memoryFlatness([result(1000, 30_000), result(100_000, 3_000)], 'rooms')!, /10\.00x, NOT flat within 2x: it falls/);
  assert.is(memoryFlatness(runs, 'events'), undefined);
  // a run stopped part way says nothing about memory per room
  const stopped = [...runs.slice(0, 3), result(100_000, 5_000, { interrupted: true })];
  assert.match(memoryFlatness(stopped, 'rooms')!, /1,000 to 10,000 rooms/);
  assert.match(renderSweep(stopped, 'rooms', machine), /^100,000\s.*interrupted$/m);
});

test('JSON report: options, machine, runs, limits', () => {
  const j = jsonReport(DEFAULTS, [result(10, 1)], machine);
  const back = JSON.parse(JSON.stringify(j));
  assert.is(back.tool, 'roomserver-load');
  assert.is(back.machine.date, '2025-01-02T03:04:05.000Z');
  assert.is(back.options.rooms, DEFAULTS.rooms);
  assert.is(back.runs[0].load.events, 200);
  assert.not.ok('limits' in back);
});

test('Prometheus text and the metrics address', () => {
  const m = parsePrometheus('# HELP x\n# TYPE x gauge\nprocess_resident_memory_bytes 123456\nnodejs_heap_size_used_bytes 7.5e6\nfoo{a="b c"} 3\nbad line\n');
  assert.is(m.get('process_resident_memory_bytes'), 123456);
  assert.is(m.get('nodejs_heap_size_used_bytes'), 7.5e6);
  assert.is(m.get('foo{a="b c"}'), 3);
  assert.is(httpUrl('ws://127.0.0.1:7770/?access_token=x', '/metrics'), 'http://127.0.0.1:7770/metrics');
  assert.is(httpUrl('wss://h.example:443/', '/health'), 'https://h.example/health');
});

test('limits are measured: positive rates on this machine', async () => {
  const l = await measureLimits(0.1);
  assert.ok(l.signPerSec > 100, `sign/s ${l.signPerSec}`);
  assert.ok(l.verifyPerSec > 100, `verify/s ${l.verifyPerSec}`);
  assert.ok(l.levelPutPerSec > 1000, `put/s ${l.levelPutPerSec}`);
  assert.ok(l.signedBytes > 200);
});

test.run();
