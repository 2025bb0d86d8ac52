/**
 * The garbage collector's pauses of a process, by kind, counted from
 * `perf_hooks` GC entries. Pauses stop the server's main thread, so every
 * request in flight waits them out: they are what a latency tail is made
 * of on a busy server, and the report shows them beside it.
 *
 * Every entry is counted (an observer callback can carry several). The
 * server's /metrics has the same pauses as a histogram, which has no
 * longest pause; so the tool also totals the entries that metric's observer
 * sees, in its own process for an embedded server and in a server it spawns
 * (server-preload.ts), which reports them over IPC.
 */
import { GC_KIND_NAMES, onGcEntry } from '../../src/metrics.js';

export interface GcKindTotals {
  count: number;
  ms: number;
  /** the longest single pause since the previous reading */
  maxMs: number;
  /** pauses of 10 ms or longer */
  over10ms: number;
}

/** `minor`: young generation; `major`: full collections (their final pause); `incremental`: marking started or finished. */
export type GcTotals = Record<'minor' | 'major' | 'incremental', GcKindTotals>;

function zero(): GcTotals {
  const k = (): GcKindTotals => ({ count: 0, ms: 0, maxMs: 0, over10ms: 0 });
  return { minor: k(), major: k(), incremental: k() };
}

/** Adds one GC entry to the totals; entries of other kinds (weak callbacks) are left out. */
export function addGcEntry(t: GcTotals, kind: number, ms: number): void {
  const name = GC_KIND_NAMES[kind];
  if (name === undefined || name === 'weakcb') return;
  const k = t[name];
  k.count++;
  k.ms += ms;
  if (ms > k.maxMs) k.maxMs = ms;
  if (ms >= 10) k.over10ms++;
}

/** The pauses between two consecutive readings of one process (the later one's `maxMs` is that of the interval). */
export function gcDelta(a: GcTotals, b: GcTotals): GcTotals {
  const d = (x: GcKindTotals, y: GcKindTotals): GcKindTotals => ({ count: y.count - x.count, ms: y.ms - x.ms, maxMs: y.maxMs, over10ms: y.over10ms - x.over10ms });
  return { minor: d(a.minor, b.minor), major: d(a.major, b.major), incremental: d(a.incremental, b.incremental) };
}

let totals: GcTotals | undefined;

/** Starts counting this process's GC pauses (once; later calls do nothing). */
export function watchGc(): void {
  if (totals !== undefined) return;
  const t = (totals = zero());
  // the entries the server's GC metric observes (src/metrics.ts), not a second observer
  onGcEntry((kind, ms) => addGcEntry(t, kind, ms));
}

/**
 * This process's totals so far (a copy), or undefined when watchGc() was
 * not called. Each kind's `maxMs` covers the time since the previous
 * reading, which starts it again.
 */
export function readGcTotals(): GcTotals | undefined {
  if (totals === undefined) return undefined;
  const copy = structuredClone(totals);
  for (const k of Object.values(totals)) k.maxMs = 0;
  return copy;
}
