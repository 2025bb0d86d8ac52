/**
 * CPU time of a process's main thread alone (the process total also
 * counts LevelDB's, the garbage collector's and worker threads), and of
 * each of its threads. Linux only: elsewhere NaN or nothing, and the
 * benchmarks print it as such.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU milliseconds (user + system) a thread of a process has used; throws when it cannot be read. */
function taskCpuMs(tid: string, pid: number = process.pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** CPU milliseconds used so far by this process's main thread. */
export function mainThreadCpuMs(): number {
  try {
    return taskCpuMs(String(process.pid));
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU milliseconds used so far by each thread of a process (this one by
 * default), by thread ID ('main' for the main thread). Linux only:
 * elsewhere, or when the process is gone, empty. Node's other threads all
 * go by the name "node" (V8's collector helpers, libuv's pool, LevelDB's
 * compaction thread, worker threads), so they are told apart by ID only.
 */
export function threadCpuMs(pid: number = process.pid): Map<string, number> {
  const byThread = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byThread;
  }
  for (const t of tasks) {
    try {
      byThread.set(t === String(pid) ? 'main' : t, taskCpuMs(t, pid));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byThread;
}

/**
 * Per-event CPU µs of each thread between two `threadCpuMs()` readings:
 * the main thread first, then the others largest first, e.g.
 * "main 74; others 31, 10, 6, 5".
 */
export function threadCpuPerEvent(before: Map<string, number>, after: Map<string, number>, events: number): string {
  const { main, others } = threadCpuSplit(before, after, events);
  return `main ${main.toFixed(0)}; others ${others.map((us) => us.toFixed(0)).join(', ') || 'none'}`;
}

/**
 * Per-event CPU µs between two `threadCpuMs()` readings: the main thread's,
 * and every other thread's that used at least 0.5 µs, largest first.
 * Readings without a main thread (not Linux) give 0 and no others.
 */
export function threadCpuSplit(before: Map<string, number>, after: Map<string, number>, events: number): { main: number; others: number[] } {
  const per = (t: string) => (((after.get(t) ?? 0) - (before.get(t) ?? 0)) * 1000) / events;
  const others = [...after.keys()]
    .filter((t) => t !== 'main')
    .map(per)
    .filter((us) => us >= 0.5)
    .sort((a, b) => b - a);
  return { main: per('main'), others };
}
