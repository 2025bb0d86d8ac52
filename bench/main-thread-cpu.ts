/**
 * CPU time of this process's main thread alone (the process total also
 * counts LevelDB's, the garbage collector's and worker threads). Linux
 * only: elsewhere NaN, and the benchmarks print it as such.
 */
import { readFileSync } from 'node:fs';

/** CPU milliseconds used so far by this process's main thread. */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}
