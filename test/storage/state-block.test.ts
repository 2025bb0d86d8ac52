import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applyBlock,
  blockFromChanges,
  blockFromMap,
  blockGet,
  contentHash,
  decodeBlock,
  encodeBlock,
  mergeBlocks,
  type StateBlock,
} from '../../storage/state-block.js';
import { bucketOf, decodeSnapshot, encodeSnapshot, keyHash, MAX_BLOCKS } from '../../storage/snapshot-record.js';
import {
  splitStateKeyNum,
  STATE_KEY_NID_LIMIT,
  stateKeyNum,
  stateKeySkNid,
  stateKeyTypeNid,
  TYPE_NID_LIMIT,
} from '../../storage/nids.js';
import { Lru, WeightedLru } from '../../storage/lru.js';
import { RoomServerError } from '../../src/errors.js';

function rnd(n: number): number {
  return Math.floor(Math.random() * n);
}

function randomChanges(n: number, withRemovals: boolean): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < n; i++) {
    const t = rnd(4) === 0 ? rnd(TYPE_NID_LIMIT) : 1 + rnd(8);
    const sk = rnd(3) === 0 ? rnd(STATE_KEY_NID_LIMIT) : 1 + rnd(500);
    const ev = withRemovals && rnd(5) === 0 ? 0 : 1 + (rnd(3) === 0 ? rnd(2 ** 50) : rnd(100_000));
    out.push([t, sk, ev]);
  }
  return out;
}

function toMap(b: StateBlock): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < b.keys.length; i++) m.set(b.keys[i]!, b.events[i]!);
  return m;
}

test('state key numbers pack (type, state key) and sort like the pair', () => {
  assert.is(stateKeyNum(5, 7), 5 * 2 ** 32 + 7);
  for (const [t, sk] of [[0, 0], [1, 1], [TYPE_NID_LIMIT - 1, STATE_KEY_NID_LIMIT - 1], [123, 2 ** 31]] as const) {
    const k = stateKeyNum(t, sk);
    assert.equal(splitStateKeyNum(k), [t, sk]);
    assert.is(stateKeyTypeNid(k), t);
    assert.is(stateKeySkNid(k), sk);
  }
  assert.ok(stateKeyNum(1, STATE_KEY_NID_LIMIT - 1) < stateKeyNum(2, 0));
  for (const [t, sk] of [[TYPE_NID_LIMIT, 0], [0, STATE_KEY_NID_LIMIT], [-1, 0], [1.5, 0]]) {
    assert.throws(() => stateKeyNum(t!, sk!), (e: unknown) => e instanceof RoomServerError && e.reason === 'storage_bad_nid');
  }
});

test('blocks round trip through their compact encoding', () => {
  for (let round = 0; round < 200; round++) {
    const b = blockFromChanges(randomChanges(rnd(300), true));
    const bytes = encodeBlock(b);
    const back = decodeBlock(bytes);
    assert.equal([...back.keys], [...b.keys]);
    assert.equal([...back.events], [...b.events]);
  }
  const empty = decodeBlock(encodeBlock(blockFromChanges([])));
  assert.is(empty.keys.length, 0);
});

test('a block of members takes a few bytes per entry', () => {
  const changes: Array<[number, number, number]> = [];
  for (let i = 0; i < 10_000; i++) changes.push([5, 1000 + i, 50_000 + i * 10]);
  const bytes = encodeBlock(blockFromChanges(changes));
  assert.ok(bytes.length / 10_000 < 5, `${bytes.length / 10_000} bytes per entry`);
});

test('decoding refuses unsorted or truncated blocks', () => {
  const b = blockFromChanges([[1, 2, 3], [1, 5, 6]]);
  const bytes = encodeBlock(b);
  assert.throws(() => decodeBlock(bytes.subarray(0, bytes.length - 1)), (e: unknown) => e instanceof RoomServerError);
  assert.throws(() => decodeBlock(Buffer.concat([bytes, Buffer.from([0])])), (e: unknown) => e instanceof RoomServerError && e.reason === 'storage_corrupt');
  // Two entries with the same key (second state key delta 0) are not sorted strictly.
  assert.throws(() => decodeBlock(Buffer.from([2, 1, 2, 5, 0, 0, 5])), (e: unknown) => e instanceof RoomServerError && e.reason === 'storage_corrupt');
  // An event delta below zero is not an event NID.
  assert.throws(() => decodeBlock(Buffer.from([1, 1, 2, 2])), (e: unknown) => e instanceof RoomServerError && e.reason === 'storage_corrupt');
});

test('blockFromChanges sorts and lets the later change to a key win', () => {
  const b = blockFromChanges([[2, 1, 10], [1, 9, 11], [2, 1, 12], [1, 3, 0]]);
  assert.equal([...b.keys], [stateKeyNum(1, 3), stateKeyNum(1, 9), stateKeyNum(2, 1)]);
  assert.equal([...b.events], [0, 11, 12]);
  assert.is(blockGet(b, stateKeyNum(2, 1)), 12);
  assert.is(blockGet(b, stateKeyNum(1, 3)), 0);
  assert.is(blockGet(b, stateKeyNum(7, 7)), undefined);
});

test('merging blocks matches applying them in order', () => {
  for (let round = 0; round < 200; round++) {
    const a = blockFromChanges(randomChanges(rnd(100), true));
    const b = blockFromChanges(randomChanges(rnd(100), true));
    const keep = mergeBlocks(a, b, false);
    const model = toMap(a);
    for (const [k, v] of toMap(b)) model.set(k, v);
    assert.equal(toMap(keep), model);
    const dropped = mergeBlocks(a, b, true);
    const state = new Map<number, number>();
    applyBlock(state, a);
    applyBlock(state, b);
    const onlyLive = new Map([...model].filter(([, v]) => v !== 0));
    assert.equal(toMap(dropped), onlyLive);
    for (let i = 1; i < dropped.keys.length; i++) assert.ok(dropped.keys[i - 1]! < dropped.keys[i]!);
    // applyBlock drops removed keys: applying both in order gives the merged block without removals.
    assert.is(state.size, onlyLive.size);
    for (const [k, v] of onlyLive) assert.is(state.get(k), v);
  }
});

test('blockFromMap drops removals only when asked', () => {
  const m = new Map([[stateKeyNum(1, 1), 5], [stateKeyNum(1, 2), 0]]);
  assert.is(blockFromMap(m).keys.length, 2);
  assert.is(blockFromMap(m, true).keys.length, 1);
});

test('content hashes are equal exactly when the bytes are', () => {
  const a = encodeBlock(blockFromChanges([[1, 2, 3], [4, 5, 6]]));
  const b = encodeBlock(blockFromChanges([[4, 5, 6], [1, 2, 3]]));
  const c = encodeBlock(blockFromChanges([[1, 2, 3], [4, 5, 7]]));
  assert.ok(contentHash(a).equals(contentHash(b)));
  assert.not.ok(contentHash(a).equals(contentHash(c)));
  assert.is(contentHash(a).length, 16);
});

test('snapshot records round trip and refuse more than 64 blocks', () => {
  const rec = { roomNid: 9, bucketBits: 5, baseCount: 3, baseSize: 1234, blocks: [100, 101, 102, 7, 2 ** 40, 3] };
  assert.equal(decodeSnapshot(encodeSnapshot(rec)), rec);
  const empty = { roomNid: 1, bucketBits: 0, baseCount: 0, baseSize: 0, blocks: [] };
  assert.equal(decodeSnapshot(encodeSnapshot(empty)), empty);
  const tooMany = { ...rec, baseCount: 0, blocks: Array.from({ length: MAX_BLOCKS + 1 }, (_, i) => i + 1) };
  assert.throws(() => decodeSnapshot(encodeSnapshot(tooMany)), (e: unknown) => e instanceof RoomServerError && e.reason === 'storage_corrupt');
  // Consecutive block NIDs cost one byte each.
  const run = { roomNid: 1, bucketBits: 5, baseCount: 32, baseSize: 10_000, blocks: Array.from({ length: 32 }, (_, i) => 5000 + i) };
  assert.ok(encodeSnapshot(run).length < 45);
});

test('bucket choice: stable, nested when the bucket count doubles, and spread out', () => {
  const counts = new Array(32).fill(0);
  for (let sk = 1; sk <= 32_000; sk++) {
    const b5 = bucketOf(5, sk, 5);
    counts[b5]++;
    assert.is(bucketOf(5, sk, 4), b5 >>> 1);
    assert.is(bucketOf(5, sk, 0), 0);
    assert.is(keyHash(5, sk), keyHash(5, sk));
  }
  for (const c of counts) assert.ok(c > 700 && c < 1300, `bucket size ${c}`);
});

test('Lru keeps recently read entries and stays bounded', () => {
  const c = new Lru<number, string>(100);
  for (let i = 0; i < 1000; i++) {
    c.set(i, String(i));
    assert.is(c.get(0), '0', 'entry 0 is read every round, so it stays');
    assert.ok(c.size <= 100);
  }
  assert.is(c.get(999), '999');
  assert.is(c.get(1), undefined);
  c.delete(0);
  assert.is(c.get(0), undefined);
  const w = new WeightedLru<number, string>(100);
  for (let i = 0; i < 100; i++) w.set(i, 'x', 7);
  assert.ok(w.totalWeight <= 100);
  w.set(1000, 'too big', 80);
  assert.is(w.peek(1000), undefined, 'an entry heavier than a generation is not cached');
});

test.run();
