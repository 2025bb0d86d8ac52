/** Counting the collector's pauses for the load report (bench/load/gc-pauses.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants } from 'node:perf_hooks';
import { addGcEntry, gcDelta, readGcTotals, watchGc, type GcTotals } from '../../bench/load/gc-pauses.js';

function zero(): GcTotals {
  return { minor: { count: 0, ms: 0, maxMs: 0, over10ms: 0 }, major: { count: 0, ms: 0, maxMs: 0, over10ms: 0 }, incremental: { count: 0, ms: 0, maxMs: 0, over10ms: 0 } };
}

test('entries add up by kind: count, time, longest, pauses of 10 ms or more; weak callbacks are left out', () => {
  const t = zero();
  addGcEntry(t, constants.NODE_PERFORMANCE_GC_MINOR, 4);
  addGcEntry(t, constants.NODE_PERFORMANCE_GC_MINOR, 12.5);
  addGcEntry(t, constants.NODE_PERFORMANCE_GC_MINOR, 10);
  addGcEntry(t, constants.NODE_PERFORMANCE_GC_MAJOR, 30);
  addGcEntry(t, constants.NODE_PERFORMANCE_GC_INCREMENTAL, 1);
  addGcEntry(t, constants.NODE_PERFORMANCE_GC_WEAKCB, 99);
  assert.equal(t.minor, { count: 3, ms: 26.5, maxMs: 12.5, over10ms: 2 });
  assert.equal(t.major, { count: 1, ms: 30, maxMs: 30, over10ms: 1 });
  assert.equal(t.incremental, { count: 1, ms: 1, maxMs: 1, over10ms: 0 });
});

test('the delta of two readings: counts and times subtract, the longest is the later reading\'s', () => {
  const a = zero();
  addGcEntry(a, constants.NODE_PERFORMANCE_GC_MINOR, 50);
  const b = structuredClone(a);
  b.minor.maxMs = 0; // a reading starts the longest-pause figure again
  addGcEntry(b, constants.NODE_PERFORMANCE_GC_MINOR, 3);
  addGcEntry(b, constants.NODE_PERFORMANCE_GC_MINOR, 11);
  const d = gcDelta(a, b);
  assert.equal(d.minor, { count: 2, ms: 14, maxMs: 11, over10ms: 1 });
  assert.equal(d.major, { count: 0, ms: 0, maxMs: 0, over10ms: 0 });
});

test('watching this process: young collections are counted, and each reading starts the longest pause again', async () => {
  assert.is(readGcTotals(), undefined, 'nothing before watchGc()');
  watchGc();
  const before = readGcTotals()!;
  // enough short-lived objects to fill the young generation many times over
  let keep = 0;
  for (let i = 0; i < 200; i++) keep += Array.from({ length: 20_000 }, (_, j) => ({ j })).length;
  assert.is(keep, 4_000_000);
  await new Promise((r) => setTimeout(r, 50)); // observers are told after the fact
  const after = readGcTotals()!;
  assert.ok(after.minor.count > before.minor.count, JSON.stringify({ before, after }));
  assert.ok(after.minor.ms > before.minor.ms && after.minor.maxMs > 0);
  const again = readGcTotals()!;
  assert.is(again.minor.maxMs, 0, 'no pause since the last reading');
  assert.is(again.minor.count, after.minor.count);
  assert.equal(gcDelta(after, again).minor.count, 0);
});

test.run();
