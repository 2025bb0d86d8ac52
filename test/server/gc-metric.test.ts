/** The /metrics series of GC pauses counts every collection (src/metrics.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { registry } from '../../src/metrics.js';

async function minorCount(): Promise<number> {
  const m = await registry.getSingleMetric('nodejs_gc_duration_seconds')!.get();
  const v = (m.values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>).find((x) => x.metricName === 'nodejs_gc_duration_seconds_count' && x.labels.kind === 'minor');
  return v?.value ?? 0;
}

test('every young collection is counted, also when one observer callback carries many', async () => {
  let seen = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
      if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) seen++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  await new Promise((r) => setTimeout(r, 20));
  const before = await minorCount();
  seen = 0;
  // many young collections in one stretch without yielding: their entries arrive together
  let n = 0;
  for (let i = 0; i < 300; i++) n += Array.from({ length: 20_000 }, (_, j) => ({ j })).length;
  assert.is(n, 6_000_000);
  await new Promise((r) => setTimeout(r, 100));
  obs.disconnect();
  const after = await minorCount();
  assert.ok(seen >= 5, `collections seen: ${seen}`);
  assert.is(after - before, seen);
});

test('the series is exposed once, under its usual name and kinds', async () => {
  const text = await registry.metrics();
  assert.is(text.split('\n').filter((l) => l === '# TYPE nodejs_gc_duration_seconds histogram').length, 1);
  assert.match(text, /^nodejs_gc_duration_seconds_count\{kind="minor"\} \d+$/m);
});

test.run();
