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

test('an actor is not idle while messages keep coming or while it works, and stops once quiet', async () => {
  const rt = new ActorRuntime();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let stopped = 0;
  const chatty = rt.spawn<number, number>('chatty', async (s, m) => (s ?? 0) + m, { idleMs: 40, afterStop: () => stopped++ });
  // a message every 10 ms for 200 ms: never 40 ms without one
  for (let i = 0; i < 20; i++) {
    assert.ok(chatty.send(1), `message ${i} reached a live actor`);
    await sleep(10);
  }
  assert.ok(chatty.isAlive(), 'alive after 200 ms of messages 10 ms apart');
  // one message whose handling takes 150 ms, well past idleMs
  const slow = rt.spawn<number, number>('slow', async (s, m) => {
    await sleep(m);
    return (s ?? 0) + 1;
  }, { idleMs: 30, afterStop: () => stopped++ });
  assert.ok(slow.send(150));
  await sleep(120);
  assert.ok(slow.isAlive(), 'not stopped in the middle of a handler');
  await sleep(250);
  assert.not.ok(chatty.isAlive(), 'stopped once quiet');
  assert.not.ok(slow.isAlive(), 'stopped once done and quiet');
  assert.is(stopped, 2);
  rt.stop();
});

test('a short idle timeout is honoured after a long one started the sweep', async () => {
  const rt = new ActorRuntime();
  const long = rt.spawn<number, number>('long', async (s, m) => (s ?? 0) + m, { idleMs: 60_000 });
  const short = rt.spawn<number, number>('short', async (s, m) => (s ?? 0) + m, { idleMs: 20 });
  long.send(1);
  short.send(1);
  await new Promise((r) => setTimeout(r, 150));
  assert.not.ok(short.isAlive());
  assert.ok(long.isAlive());
  rt.stop();
  assert.not.ok(long.isAlive());
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
