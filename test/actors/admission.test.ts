import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Admission } from '../../actors/admission.js';
import { RoomServerError } from '../../src/errors.js';

test('async admission refuses past the per-room bound, other rooms still fit', () => {
  const a = new Admission({ maxPerRoom: 2, maxInFlight: 10, maxInFlightBytes: 1e9 });
  assert.ok(a.tryAcquire('!a', 1));
  assert.ok(a.tryAcquire('!a', 1));
  assert.not.ok(a.tryAcquire('!a', 1));
  assert.ok(a.tryAcquire('!b', 1));
  a.release('!a', 1);
  assert.ok(a.tryAcquire('!a', 1));
});

test('global in-flight and byte bounds', () => {
  const a = new Admission({ maxPerRoom: 100, maxInFlight: 2, maxInFlightBytes: 100 });
  assert.ok(a.tryAcquire('!a', 10));
  assert.ok(a.tryAcquire('!b', 10));
  assert.not.ok(a.tryAcquire('!c', 10));
  a.release('!a', 10);
  assert.not.ok(a.tryAcquire('!c', 95), 'bytes bound');
  assert.ok(a.tryAcquire('!c', 90));
});

test('one input always fits, however big', () => {
  const a = new Admission({ maxPerRoom: 1, maxInFlight: 1, maxInFlightBytes: 10 });
  assert.ok(a.tryAcquire('!a', 1000));
});

test('sync callers wait in order and get in when places free', async () => {
  const a = new Admission({ maxPerRoom: 10, maxInFlight: 1, maxInFlightBytes: 1e9 });
  assert.ok(a.tryAcquire('!a', 1));
  const order: string[] = [];
  const w1 = a.acquire('!b', 1).then(() => order.push('b'));
  const w2 = a.acquire('!c', 1).then(() => order.push('c'));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(order, []);
  assert.equal(a.stats.waiting, 2);
  a.release('!a', 1);
  await w1;
  assert.equal(order, ['b']);
  a.release('!b', 1);
  await w2;
  assert.equal(order, ['b', 'c']);
});

test('a waiting caller fails with M_LIMIT_EXCEEDED at its deadline', async () => {
  const a = new Admission({ maxPerRoom: 1, maxInFlight: 10, maxInFlightBytes: 1e9 });
  assert.ok(a.tryAcquire('!a', 1));
  try {
    await a.acquire('!a', 1, 20);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, RoomServerError);
    assert.is((e as RoomServerError).code, 'M_LIMIT_EXCEEDED');
  }
  assert.is(a.stats.waiting, 0);
});

test('close refuses waiters and new admissions', async () => {
  const a = new Admission({ maxPerRoom: 1, maxInFlight: 10, maxInFlightBytes: 1e9 });
  assert.ok(a.tryAcquire('!a', 1));
  const w = a.acquire('!a', 1);
  a.close();
  await w.then(() => assert.unreachable(), (e) => assert.is(e.code, 'M_LIMIT_EXCEEDED'));
  assert.throws(() => a.tryAcquire('!b', 1), (e: RoomServerError) => e.code === 'M_LIMIT_EXCEEDED');
});

test.run();
