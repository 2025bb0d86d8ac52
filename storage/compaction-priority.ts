/**
 * LevelDB compacts on one background thread of its own, shared by every
 * database in the process. Under load it competes for the cores with the
 * main thread, whose turns every request waits for: on a 2-core machine
 * serving 10,000 requests/s it takes ~23% of a core, in bursts of several
 * hundred milliseconds. Run at a lower priority (a higher nice value), it
 * still gets every idle moment of the cores but yields them to the
 * threads requests wait on. Compaction cannot fall behind for long: when
 * it does, LevelDB slows and then stops writes, which leaves the main
 * thread idle and the cores to it.
 *
 * Node names none of its threads, so the thread is found by elimination:
 * the threads of the process are listed before the database opens and
 * again after a compaction has been asked for (which starts the thread if
 * opening did not); exactly one new thread is it. When more or none
 * appear (another library opened a LevelDB first, or a thread started
 * meanwhile) nothing is changed. Linux only (a nice value per thread).
 * Once per process: the first store opened decides.
 */
import { readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';
import type { ClassicLevel } from 'classic-level';

export interface CompactionPriority {
  /** The compaction thread's ID, when it was found and its priority set. */
  readonly tid: number | undefined;
  /** Why it was not (when tid is undefined). */
  readonly reason?: string;
}

/** Highest nice value (lowest priority) on Linux. */
export const MAX_NICE = 19;

let attempt: CompactionPriority | undefined;

/** The outcome of the process's attempt, if one was made. */
export function compactionPriority(): CompactionPriority | undefined {
  return attempt;
}

function threadIds(): Set<string> | undefined {
  try {
    return new Set(readdirSync('/proc/self/task'));
  } catch {
    return undefined;
  }
}

function newThreads(before: Set<string>): string[] {
  const now = threadIds() ?? new Set<string>();
  return [...now].filter((t) => !before.has(t));
}

/** A key range no table uses (every key starts with a table byte below 0xff). */
const UNUSED = Buffer.from([0xff, 0xff]);

/**
 * Call before opening the first database with the nice value to give its
 * compaction thread (0 = leave it); then call `after` with the open
 * database. Resolves to undefined when nothing is to be done.
 */
export async function watchCompactionThread(nice: number): Promise<{ after(db: ClassicLevel<Buffer, Buffer>): Promise<CompactionPriority> } | undefined> {
  if (nice <= 0 || attempt !== undefined || process.platform !== 'linux') return undefined;
  // an asynchronous file operation starts libuv's thread pool (if it is not running yet), so that opening the database adds no threads of its own
  await stat('/proc/self/task').catch(() => undefined);
  const before = threadIds();
  if (before === undefined) return undefined;
  return {
    async after(db) {
      if (attempt !== undefined) return attempt;
      let fresh = newThreads(before);
      if (fresh.length === 0) {
        // Opening scheduled no compaction, so the thread has not started: a
        // compaction of a key range nothing uses forces a (here empty)
        // memtable flush, which starts it, and waits for nothing else.
        try {
          await db.compactRange(UNUSED, UNUSED);
        } catch (e) {
          attempt = { tid: undefined, reason: `cannot start it: ${(e as Error).message}` };
          return attempt;
        }
        fresh = newThreads(before);
      }
      if (fresh.length !== 1) {
        attempt = { tid: undefined, reason: fresh.length === 0 ? 'no thread started with the database' : `${fresh.length} threads started with the database` };
        return attempt;
      }
      const tid = Number(fresh[0]);
      try {
        // only ever lowered: a process already running at a higher nice value keeps it for this thread too
        setPriority(tid, Math.max(getPriority(tid), Math.min(nice, MAX_NICE)));
        attempt = { tid };
      } catch (e) {
        attempt = { tid: undefined, reason: `cannot set its priority: ${(e as Error).message}` };
      }
      return attempt;
    },
  };
}
