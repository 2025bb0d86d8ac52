// The subscription hub against an in-memory output log (the hub only needs
// "read from position" and "head"; storage's log is tested in test/storage).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SubscriptionHub, type OutputLog } from '../../src/subscriptions.js';
import type { Output } from '../../src/api.js';

class MemLog implements OutputLog {
  items: Output[] = [];
  reads = 0;
  async read(after: number, limit: number, rooms?: ReadonlySet<string>): Promise<Output[]> {
    this.reads++;
    await new Promise((r) => setImmediate(r));
    return this.items.filter((o) => o.pos > after && (!rooms || rooms.has(o.room_id))).slice(0, limit);
  }
  head(): number {
    return this.items.length ? this.items[this.items.length - 1]!.pos : 0;
  }
  append(hub: SubscriptionHub, room: string, type: Output['type'] = 'old_room_event'): Output {
    const o = { type, pos: this.head() + 1, room_id: room, event: {} } as Output;
    this.items.push(o);
    hub.publish([o]);
    return o;
  }
}

async function take(it: AsyncIterator<Output>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value.pos);
  return out;
}

test('live subscriber sees outputs from now on, in order', async () => {
  const log = new MemLog();
  const hub = new SubscriptionHub(log);
  log.append(hub, '!a');
  const sub = hub.subscribe({});
  assert.is(sub.head, 1);
  for (let i = 0; i < 5; i++) log.append(hub, '!a');
  assert.equal(await take(sub[Symbol.asyncIterator](), 5), [2, 3, 4, 5, 6]);
  sub.close();
});

test('from: 0 replays the whole log, then continues live without gaps or duplicates', async () => {
  const log = new MemLog();
  const hub = new SubscriptionHub(log);
  for (let i = 0; i < 1500; i++) log.append(hub, i % 2 ? '!a' : '!b');
  const sub = hub.subscribe({ from: 0 });
  const it = sub[Symbol.asyncIterator]();
  const first = await take(it, 1000);
  for (let i = 0; i < 10; i++) log.append(hub, '!a');
  const rest = await take(it, 510);
  const all = [...first, ...rest];
  assert.equal(all, Array.from({ length: 1510 }, (_, i) => i + 1));
  sub.close();
});

test('room and type filters; positions stay increasing', async () => {
  const log = new MemLog();
  const hub = new SubscriptionHub(log);
  const sub = hub.subscribe({ rooms: ['!a'], types: ['new_room_event'] });
  log.append(hub, '!a', 'new_room_event');
  log.append(hub, '!b', 'new_room_event');
  log.append(hub, '!a', 'old_room_event');
  log.append(hub, '!a', 'new_room_event');
  assert.equal(await take(sub[Symbol.asyncIterator](), 2), [1, 4]);
  sub.close();
});

test('a slow consumer falls back to the log and catches up with everything once', async () => {
  const log = new MemLog();
  const hub = new SubscriptionHub(log);
  const slow = hub.subscribe({});
  const fast = hub.subscribe({});
  const fastSeen: number[] = [];
  const fastDone = (async () => {
    for await (const o of fast) {
      fastSeen.push(o.pos);
      if (o.pos === 5000) break;
    }
  })();
  // publish far more than the live buffer holds while `slow` does not pull
  for (let i = 0; i < 5000; i++) {
    log.append(hub, '!a');
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  await fastDone;
  assert.is(fastSeen.length, 5000);
  const readsBefore = log.reads;
  const got = await take(slow[Symbol.asyncIterator](), 5000);
  assert.equal(got, Array.from({ length: 5000 }, (_, i) => i + 1));
  assert.ok(log.reads > readsBefore, 'caught up from the log');
  // and then live again
  log.append(hub, '!a');
  assert.equal(await take(slow[Symbol.asyncIterator](), 1), [5001]);
  slow.close();
});

test('close ends the iterator', async () => {
  const log = new MemLog();
  const hub = new SubscriptionHub(log);
  const sub = hub.subscribe({});
  const p = sub[Symbol.asyncIterator]().next();
  sub.close();
  assert.is((await p).done, true);
  assert.is(hub.size, 0);
});

test.run();
