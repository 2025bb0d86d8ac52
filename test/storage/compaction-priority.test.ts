/**
 * The store lowers the priority of LevelDB's compaction thread (see
 * storage/compaction-priority.ts). Each case runs in a child process of its
 * own, whose first LevelDB is the store under test (the thread is one per
 * process), and checks through /proc which thread got the nice value and
 * that it is the one that did the compaction work.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.js';

const child = fileURLToPath(new URL('./compaction-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

interface ChildReport {
  pid: number;
  priority: { tid?: number; reason?: string } | null;
  nice: Record<string, number>;
  gained: Record<string, number>;
}

function runChild(nice: number): Promise<ChildReport> {
  const dir = tempDir('compaction');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', child, dir, String(nice)], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as ChildReport);
    });
  });
}

const linux = process.platform === 'linux';

test('the compaction thread gets the nice value, and only it; it is the thread that compacts', async () => {
  if (!linux) return;
  const r = await runChild(19);
  const tid = r.priority?.tid;
  assert.type(tid, 'number', `no thread found: ${JSON.stringify(r.priority)}`);
  assert.is(r.nice[String(tid)], 19);
  // every other thread keeps the process's own nice value (0 unless the test runs under nice)
  const base = r.nice[String(r.pid)];
  for (const [t, n] of Object.entries(r.nice)) if (t !== String(tid)) assert.is(n, base, `thread ${t} has nice ${n}, the process ${base}`);
  // the writes and the compaction: of the threads other than the main one, the lowered thread worked the most
  const others = Object.entries(r.gained).filter(([t]) => t !== String(r.pid) && t !== String(tid));
  const mine = r.gained[String(tid)]!;
  assert.ok(mine >= 5, `the lowered thread used ${mine} ticks`);
  for (const [t, g] of others) assert.ok(g < mine, `thread ${t} used ${g} ticks, the lowered one ${mine}`);
});

test('nice 0 leaves every thread as it is', async () => {
  if (!linux) return;
  const r = await runChild(0);
  assert.is(r.priority, null);
  const base = r.nice[String(r.pid)];
  for (const [t, n] of Object.entries(r.nice)) assert.is(n, base, `thread ${t} has nice ${n}, the process ${base}`);
});

test('a nice value above 19 is capped at 19', async () => {
  if (!linux) return;
  const r = await runChild(40);
  const tid = r.priority?.tid;
  assert.type(tid, 'number');
  assert.is(r.nice[String(tid)], 19);
});

test.run();
