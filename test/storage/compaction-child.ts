/**
 * Child process of compaction-priority.test.ts: opens a store (the first
 * LevelDB of this process) with the nice value given, writes a few MB and
 * compacts them, and prints as JSON what the parent checks: the thread the
 * store lowered, every thread's nice value, and how much CPU each thread
 * used while LevelDB compacted.
 *
 *   node --import tsx test/storage/compaction-child.ts DIR NICE
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Store, compactionPriority } from '../../storage/index.js';

/** Fields of /proc/self/task/TID/stat after the command name: [utime + stime, nice]. */
function threadStat(tid: string): { ticks: number; nice: number } {
  const s = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime 15, nice 19
  return { ticks: Number(f[11]) + Number(f[12]), nice: Number(f[16]) };
}

function threads(): Map<string, { ticks: number; nice: number }> {
  return new Map(readdirSync('/proc/self/task').map((t) => [t, threadStat(t)]));
}

const [dir, nice] = process.argv.slice(2);
const store = await Store.open(dir!, { compactionNice: Number(nice) });
const before = threads();
const N = 60_000;
for (let i = 0; i < N; i += 500) {
  const batch = store.db.batch();
  for (let k = i; k < i + 500; k++) {
    // incompressible values in scattered key order, so that compactions have bytes to merge
    const value = Buffer.allocUnsafe(1000);
    for (let j = 0; j < value.length; j += 4) value.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, j);
    batch.put(Buffer.from(`\u0099key${String((k * 7919) % N).padStart(6, '0')}`), value);
  }
  await batch.write();
}
await store.db.compactRange(Buffer.from([0x99]), Buffer.from([0x9a]));
const after = threads();
const gained: Record<string, number> = {};
const niceOf: Record<string, number> = {};
for (const [t, s] of after) {
  gained[t] = s.ticks - (before.get(t)?.ticks ?? 0);
  niceOf[t] = s.nice;
}
await store.close();
process.stdout.write(JSON.stringify({ pid: process.pid, priority: compactionPriority() ?? null, nice: niceOf, gained }) + '\n');
