/**
 * The tool over WebSocket: against a server this test starts
 * (`rs.listen({port: 0})`), and against a server process the tool spawns.
 * The report must agree with what the server holds, asked directly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../bench/load/main.js';
import { RoomServer } from '../../src/server.js';
import { rootLogger } from '../../src/log.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import type { Output } from '../../src/api.js';
import { captureIo } from './io.js';

rootLogger.level = process.env.LOG_LEVEL ?? 'silent';
const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'rs-load-ws-'));
  dirs.push(d);
  return d;
}

let rs: RoomServer;
let gw: Gateway;
let dataDir: string;
const seen = new Map<string, number>();

test.before(async () => {
  dataDir = temp();
  rs = await RoomServer.open({ dataDir, serverName: 'load.test' });
  gw = await rs.listen({ host: '127.0.0.1', port: 0, heartbeatMs: 0 });
  // an independent witness of everything the server outputs
  rs.subscribe({}, (o: Output) => seen.set(o.room_id, (seen.get(o.room_id) ?? 0) + 1));
});

test.after(async () => {
  await rs.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test('send mode over 2 connections: the report matches the server, memory comes from /metrics, disk is skipped without a data dir', async () => {
  seen.clear();
  const headBefore = rs.outputHead();
  const io = captureIo();
  const r = await main(['--target', gw.url, '--rooms', '6', '--events', '8', '--connections', '2', '--concurrency', '4', '--no-progress'], io);
  assert.is(r.code, 0, io.stdout() + io.stderr());
  const run = r.runs[0]!;
  assert.is(run.serverName, 'load.test', 'the server name is asked from the server');
  assert.is(run.load.events, 48);
  assert.is(run.latencyMs.count, 48);
  assert.is(run.lagMs.count, 48);
  assert.ok(run.verification?.ok, JSON.stringify(run.verification?.checks));

  const accepted = run.statuses.accepted!;
  assert.is(accepted, 6 * (5 + 2) + 48);
  assert.is(rs.outputHead() - headBefore, accepted, 'the log moved by what the tool counted');
  assert.is(seen.size, 6, 'six rooms made');
  for (const [roomId, n] of seen) {
    assert.is(n, 15);
    const latest = await rs.query.latest(roomId);
    assert.is(latest.depth, 15);
    assert.is((await rs.query.room(roomId)).joined_members, 3);
  }

  assert.ok(run.memory.after && run.memory.after.rssBytes > 0 && run.memory.after.heapUsedBytes > 0);
  assert.match(run.memory.source, /\/metrics/);
  // the server here runs in the test's own process: the tool sees its CPU rise with its own
  assert.ok(run.cpuPerEventUs && run.cpuPerEventUs.server > 0 && (run.cpuPerEventUs.tool ?? 0) > 0, JSON.stringify(run.cpuPerEventUs));
  assert.match(io.stdout(), /CPU per event\s+server \d[\d,]* µs .*load tool \d[\d,]* µs/);
  assert.is(run.memory.after.afterGc, false, 'a server the tool did not start cannot be asked to collect');
  assert.is(run.disk.bytes, undefined);
  assert.match(run.disk.source, /^skipped/);
  assert.match(io.stdout(), /disk per event\s+skipped/);
  assert.is(run.gcPauses, undefined, 'a server the tool did not start does not report its GC pauses');
  assert.not.match(io.stdout(), /GC pauses/);
});

test('input mode in msgpack frames with the data dir given: signatures checked, disk measured', async () => {
  seen.clear();
  const io = captureIo();
  const r = await main(['--target', gw.url, '--mode', 'input', '--binary', '--rooms', '3', '--events', '6', '--forks', '0.3', '--data-dir', dataDir, '--no-progress'], io);
  assert.is(r.code, 0, io.stdout() + io.stderr());
  const run = r.runs[0]!;
  assert.is(run.load.events, 18);
  assert.ok(run.verification?.ok);
  assert.ok(run.disk.bytes !== undefined && run.disk.bytesPerEvent !== undefined && run.disk.bytesPerEvent > 0);
  let total = 0;
  for (const n of seen.values()) total += n;
  assert.is(total, run.statuses.accepted);
});

test('a wrong address fails cleanly with exit code 1', async () => {
  const io = captureIo();
  const r = await main(['--target', 'ws://127.0.0.1:1/', '--rooms', '1', '--no-progress'], io);
  assert.is(r.code, 1);
  assert.match(io.stderr(), /cannot reach the server/);
});

test('--spawn: a server process of its own, memory after a forced GC, disk from its data dir', async () => {
  const io = captureIo();
  const r = await main(['--spawn', '--rooms', '3', '--events', '4', '--senders', '1', '--connections', '1', '--no-progress'], io);
  assert.is(r.code, 0, io.stdout() + io.stderr());
  const run = r.runs[0]!;
  assert.is(run.load.events, 12);
  assert.ok(run.verification?.ok);
  assert.match(run.target, /server process started by the tool/);
  assert.is(run.memory.after?.afterGc, true);
  assert.ok(run.disk.bytesPerEvent !== undefined && run.disk.bytesPerEvent > 0);
  if (process.platform === 'linux') {
    // the spawned process's threads, read from /proc (10 ms ticks: a run this small may round its main thread to 0)
    const th = run.threadCpuUs;
    assert.ok(th !== undefined && !th.shared && th.main >= 0, JSON.stringify(th));
    assert.ok(th.others.every((us, i) => us > 0 && (i === 0 || us <= th.others[i - 1]!)), JSON.stringify(th.others));
    assert.match(io.stdout(), /server threads\s+main \d[\d,]* µs \(\d+(\.\d)?% busy\)/);
  }
  // the spawned server counts its own GC pauses and sends them over IPC
  const g = run.gcPauses;
  assert.ok(g !== undefined && !g.shared, JSON.stringify(g));
  for (const k of [g.minor, g.major, g.incremental]) assert.ok(k.count >= 0 && k.ms >= 0 && k.over10ms <= k.count, JSON.stringify(g));
  assert.match(io.stdout(), /server GC pauses\s+young /);
});

test.run();
