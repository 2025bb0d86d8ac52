/** Per-thread CPU of another process, read from /proc (what the load report's "server threads" row is made of). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { threadCpuMs, threadCpuSplit } from '../../bench/main-thread-cpu.js';

test('threadCpuMs(pid): the main thread of a process that burnt 300 ms of CPU on it', async () => {
  if (process.platform !== 'linux') return;
  // burns >= 300 ms of its own CPU on its main thread, says so, then waits to be killed
  const child = spawn(process.execPath, ['-e', "while (process.cpuUsage().user < 300000); process.stdout.write('done'); setInterval(() => {}, 1000);"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await once(child.stdout!, 'data');
    const before = new Map([['main', 0]]);
    const after = threadCpuMs(child.pid!);
    const main = after.get('main');
    assert.ok(main !== undefined && main >= 250, `main thread ${main} ms`);
    // other threads are there, by thread ID, and used far less
    assert.ok(after.size > 1);
    for (const [t, ms] of after) if (t !== 'main') assert.ok(/^\d+$/.test(t) && ms < main, `${t}: ${ms}`);
    // per event: 1,000 events -> µs per event = ms
    const split = threadCpuSplit(before, after, 1000);
    assert.is(split.main, main);
  } finally {
    child.kill('SIGKILL');
  }
  // a process that is gone has no threads to read
  await once(child, 'exit');
  assert.is(threadCpuMs(child.pid!).size, 0);
});

test.run();
