/** The event mix, percentiles, sampling, the room pool and the progress bar. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planRoom, rng, slotEvents, type Slot } from '../../bench/load/plan.js';
import { percentile, Samples, summarize, median } from '../../bench/load/stats.js';
import { runRooms, sampleIndices } from '../../bench/load/pool.js';
import { Progress, formatSeconds } from '../../bench/load/progress.js';
import { RoomModel } from '../../bench/load/room-model.js';

const base = { events: 20, senders: 3, stateRatio: 0.2, forks: 0, seed: 1 };

test('a room plan adds up to exactly --events events, forks counting two', () => {
  for (const events of [0, 1, 2, 3, 19, 20, 101]) {
    for (const forks of [0, 0.3, 1]) {
      const slots = planRoom(5, { ...base, events, forks });
      assert.is(slots.reduce((n, s) => n + slotEvents(s), 0), events, `events ${events} forks ${forks}`);
    }
  }
});

test('the plan is the same for the same seed and room, and differs across rooms and seeds', () => {
  assert.equal(planRoom(3, base), planRoom(3, base));
  assert.not.equal(planRoom(3, base), planRoom(4, base));
  assert.not.equal(planRoom(3, base), planRoom(3, { ...base, seed: 2 }));
});

test('state ratio, fork share and senders are honoured over many rooms', () => {
  const all: Slot[] = [];
  for (let r = 0; r < 400; r++) all.push(...planRoom(r, { ...base, events: 50, stateRatio: 0.3, forks: 0.2 }));
  const events = all.reduce((n, s) => n + slotEvents(s), 0);
  const forkEvents = all.filter((s) => s.kind === 'fork').length * 2;
  const linear = all.filter((s) => s.kind !== 'fork');
  const state = linear.filter((s) => s.kind === 'state').length;
  assert.ok(Math.abs(forkEvents / events - 0.2) < 0.03, `fork share ${forkEvents / events}`);
  assert.ok(Math.abs(state / linear.length - 0.3) < 0.03, `state share ${state / linear.length}`);
  const senders = new Set(linear.flatMap((s) => (s.kind === 'message' ? [s.sender] : s.kind === 'state' && s.change.kind === 'displayname' ? [s.change.sender] : [])));
  assert.equal([...senders].sort(), [0, 1, 2]);
  assert.is(planRoom(1, { ...base, stateRatio: 0 }).filter((s) => s.kind !== 'message').length, 0);
});

test('rng: deterministic, in [0, 1)', () => {
  const a = rng(42);
  const b = rng(42);
  for (let i = 0; i < 1000; i++) {
    const x = a();
    assert.is(x, b());
    assert.ok(x >= 0 && x < 1);
  }
});

test('percentiles are nearest-rank over every sample', () => {
  const s = new Samples(4); // grows past its first capacity
  for (let i = 100; i >= 1; i--) s.add(i);
  const sum = s.summary();
  assert.is(sum.count, 100);
  assert.is(sum.p50, 50);
  assert.is(sum.p95, 95);
  assert.is(sum.p99, 99);
  assert.is(sum.max, 100);
  assert.is(sum.mean, 50.5);
  assert.is(percentile([], 0.5), 0);
  assert.equal(summarize([7]), { count: 1, mean: 7, p50: 7, p95: 7, p99: 7, max: 7 });
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 2, 3]), 2.5);
});

test('sampleIndices: k distinct indices below n, all of them when k >= n', () => {
  assert.equal(sampleIndices(5, 10, rng(1)), [0, 1, 2, 3, 4]);
  const s = sampleIndices(1000, 50, rng(1));
  assert.is(s.length, 50);
  assert.is(new Set(s).size, 50);
  assert.ok(s.every((i, j) => i >= 0 && i < 1000 && (j === 0 || i > s[j - 1]!)));
});

test('runRooms: every step of every room runs, in order per room, one at a time per room, within the bound', async () => {
  const steps = [3, 1, 4, 1, 5, 9, 2, 6];
  const seen: number[][] = steps.map(() => []);
  const busy = new Set<number>();
  let inFlight = 0;
  let peak = 0;
  await runRooms(steps.map((_, i) => i), { concurrency: 3 }, async (room) => {
    assert.not.ok(busy.has(room), 'a room never has two steps in flight');
    busy.add(room);
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    seen[room]!.push(seen[room]!.length);
    busy.delete(room);
    inFlight--;
    return seen[room]!.length < steps[room]!;
  });
  steps.forEach((n, room) => assert.equal(seen[room], Array.from({ length: n }, (_, i) => i)));
  assert.is(peak, 3);
});

test('runRooms stops taking steps once aborted', async () => {
  let n = 0;
  await runRooms([0, 1, 2], { concurrency: 2, aborted: () => n >= 5 }, async () => {
    n++;
    return true; // would run forever
  });
  assert.ok(n >= 5 && n <= 6, `ran ${n} steps`);
});

test('RoomModel: linear events move the single extremity; fork branches leave both candidates for the key', () => {
  const m = new RoomModel(0, '!r');
  m.apply([{ id: '$c', type: 'm.room.create', stateKey: '', content: {}, prevs: [], depth: 1 }]);
  m.apply([{ id: '$m', type: 'm.room.member', stateKey: '@a:x', content: {} }]); // send mode: no prevs known
  assert.equal(m.extremities, ['$m']);
  assert.is(m.depth, 2);
  m.apply([
    { id: '$a', type: 'm.room.topic', stateKey: '', content: {}, prevs: ['$m'], depth: 3 },
    { id: '$b', type: 'm.room.topic', stateKey: '', content: {}, prevs: ['$m'], depth: 3 },
  ]);
  assert.equal(m.extremities.sort(), ['$a', '$b']);
  assert.equal(m.state.get('m.room.topic\u0000'), ['$a', '$b']);
  assert.is(m.depth, 3);
  m.apply([{ id: '$x', type: 'm.room.message', content: {}, prevs: ['$a', '$b'], depth: 4 }]);
  assert.equal(m.extremities, ['$x']);
  assert.is(m.members, 1);
  assert.is(m.state.size, 3);
  assert.equal(m.accepted, ['$c', '$m', '$a', '$b', '$x']);
});

test('progress: silent when not a terminal, a redrawn line with rate and ETA on one', async () => {
  let quiet = '';
  const p1 = new Progress({ write: (s) => ((quiet += s), true), isTTY: false });
  p1.start('load', 10);
  p1.add(5);
  p1.stop();
  assert.is(quiet, '');

  let tty = '';
  const p2 = new Progress({ write: (s) => ((tty += s), true), isTTY: true, columns: 120 }, undefined, 10);
  p2.start('load', 1000);
  p2.add(250);
  await new Promise((r) => setTimeout(r, 40));
  const line = p2.line();
  p2.stop();
  assert.match(line, /^load\s+\[######\.+\] 250\/1,000 /);
  assert.match(line, /\/s {2}ETA /);
  assert.ok(tty.includes('\r\x1b[2K'), 'redraws in place');
  assert.ok(tty.includes('250/1,000'));
  assert.is(formatSeconds(75), '1m15s');
  assert.is(formatSeconds(3.25), '3.3s');
});

test.run();
