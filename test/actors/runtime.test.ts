import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ActorRuntime } from '../../actors/runtime.js';

test('messages are handled one at a time in order, state carried', async () => {
  const rt = new ActorRuntime();
  const seen: number[] = [];
  let active = 0;
  let maxActive = 0;
  const done = new Promise<void>((resolve) => {
    const a = rt.spawn<number, number>('ordered', async (s, m) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      seen.push(m);
      active--;
      if (m === 19) resolve();
      return (s ?? 0) + m;
    });
    for (let i = 0; i < 20; i++) a.send(i);
  });
  await done;
  assert.equal(seen, Array.from({ length: 20 }, (_, i) => i));
  assert.is(maxActive, 1);
  rt.stop();
});

test('a throwing handler fails that message only; state resets and later messages run', async () => {
  const rt = new ActorRuntime();
  const errors: unknown[] = [];
  const states: Array<number | undefined> = [];
  await new Promise<void>((resolve) => {
    const a = rt.spawn<number, number>(
      'crashy',
      async (s, m) => {
        states.push(s);
        if (m === 2) throw new Error('boom');
        if (m === 4) resolve();
        return (s ?? 0) + m;
      },
      { onError: (e, m) => errors.push([String((e as Error).message), m]) },
    );
    for (const m of [1, 2, 3, 4]) a.send(m);
  });
  assert.equal(errors, [['boom', 2]]);
  // state before msg 3 was dropped (reload from storage), so undefined
  assert.equal(states, [undefined, 1, undefined, 3]);
  rt.stop();
});

test('messages sent while the actor works (from its own handler too) run in order, and a throwing onError loses none', async () => {
  const rt = new ActorRuntime();
  const seen: number[] = [];
  await new Promise<void>((resolve) => {
    const a = rt.spawn<number, number>(
      'busy',
      async (s, m) => {
        await new Promise((r) => setImmediate(r));
        seen.push(m);
        if (m < 3000) a.send(m + 1000); // queued behind what is already waiting
        if (m === 7) throw new Error('bad message');
        if (seen.length === 40) resolve();
        return (s ?? 0) + 1;
      },
      {
        onError: () => {
          throw new Error('onError itself fails');
        },
      },
    );
    for (let i = 0; i < 10; i++) a.send(i);
  });
  const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => [i]).concat(
    [1000, 2000, 3000].flatMap((k) => Array.from({ length: 10 }, (_, i) => i + k)),
  );
  assert.equal(seen, expected);
  rt.stop();
});

test('idle actors stop; send reports false so the caller respawns', async () => {
  const rt = new ActorRuntime();
  let stoppedWith: number | undefined = -1;
  const a = rt.spawn<number, number>('idle', async (s, m) => (s ?? 0) + m, { idleMs: 20, afterStop: (s) => (stoppedWith = s) });
  assert.ok(a.send(5));
  await new Promise((r) => setTimeout(r, 80));
  assert.not.ok(a.isAlive());
  assert.is(stoppedWith, 5);
  assert.is(a.send(1), false);
  rt.stop();
});

test('stopping the runtime stops its actors (no idle timer keeps the process alive)', async () => {
  const rt = new ActorRuntime();
  const a = rt.spawn<number, number>('long-idle', async (s, m) => (s ?? 0) + m, { idleMs: 60_000 });
  a.send(1);
  await new Promise((r) => setTimeout(r, 10));
  rt.stop();
  assert.not.ok(a.isAlive());
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout');
  assert.is(timers.length, 0);
});

test('invalid actor names are refused', () => {
  const rt = new ActorRuntime();
  assert.throws(() => rt.spawn('!room:server', async () => undefined));
  rt.stop();
});

test.run();
