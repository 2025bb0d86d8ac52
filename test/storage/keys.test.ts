import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkU64,
  hashKey,
  nid2Key,
  nid2StrKey,
  nidKey,
  nidStrKey,
  prefixEnd,
  prefixRange,
  readStr2Key,
  readU64,
  str2Key,
  str2KeyPrefix,
  str2NidKey,
  T_EVENT_META,
  T_NID2STR,
  T_OUTPUT_BY_ROOM,
  T_STR2NID,
  T_TXN,
  u64Value,
  writeU64,
} from '../../storage/keys.js';
import { ByteReader, ByteWriter, unzigzag, varintLength, writeVarint, zigzag } from '../../storage/varint.js';
import { RoomServerError } from '../../src/errors.js';

const EDGE = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];

function throwsCode(fn: () => unknown, reason: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RoomServerError, 'a RoomServerError');
    assert.is((e as RoomServerError).reason, reason);
    return;
  }
  assert.unreachable(`expected ${reason}`);
}

test('u64 big-endian round trip at the edges', () => {
  for (const n of EDGE) {
    const b = Buffer.alloc(8);
    writeU64(b, 0, n);
    assert.is(readU64(b, 0), n);
    assert.is(readU64(u64Value(n), 0), n);
    assert.is(b.readBigUInt64BE(0), BigInt(n), `matches the BigInt encoding for ${n}`);
  }
});

test('NID keys sort in numeric order (255 < 256 < 65536 < 2^32 ...)', () => {
  const nums = [...EDGE];
  for (let i = 0; i < 500; i++) nums.push(Math.floor(Math.random() * 2 ** (1 + Math.floor(Math.random() * 52))));
  const keys = nums.map((n) => nidKey(T_EVENT_META, n));
  const byBytes = [...keys].sort(Buffer.compare).map((k) => readU64(k, 1));
  const byNumber = [...nums].sort((a, b) => a - b);
  assert.equal(byBytes, byNumber);
  assert.ok(Buffer.compare(nidKey(T_EVENT_META, 255), nidKey(T_EVENT_META, 256)) < 0);
  assert.ok(Buffer.compare(nidKey(T_EVENT_META, 256), nidKey(T_EVENT_META, 65536)) < 0);
});

test('two-part keys sort by the first number, then the second', () => {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < 300; i++) pairs.push([Math.floor(Math.random() * 1000), Math.floor(Math.random() * 2 ** 40)]);
  pairs.push([1, 2 ** 32], [1, 255], [2, 0], [256, 1]);
  const sortedBytes = pairs.map(([a, b]) => nid2Key(T_OUTPUT_BY_ROOM, a, b)).sort(Buffer.compare).map((k) => [readU64(k, 1), readU64(k, 9)]);
  const sortedNum = [...pairs].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  assert.equal(sortedBytes, sortedNum);
});

test('bad numbers are refused with a typed error', () => {
  for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
    throwsCode(() => checkU64(bad), 'storage_bad_number');
    throwsCode(() => nidKey(T_EVENT_META, bad), 'storage_bad_number');
  }
});

test('string keys: layout and round trip', () => {
  assert.equal([...str2NidKey(3, 'm.room.member')], [T_STR2NID, 3, ...Buffer.from('m.room.member')]);
  const k = nid2StrKey(2, 258);
  assert.is(k[0], T_NID2STR);
  assert.is(k[1], 2);
  assert.is(readU64(k, 2), 258);
  const mk = nidStrKey(0x60, 7, '@ü:example.org');
  assert.is(readU64(mk, 1), 7);
  assert.is(mk.toString('utf8', 9), '@ü:example.org');
  for (const [a, b] of [['@alice:x', 'txn1'], ['', ''], ['ab', 'c'], ['a', 'bc'], ['☃', '𝄞']] as const) {
    const key = str2Key(T_TXN, a, b);
    assert.equal(readStr2Key(key), [a, b]);
    assert.ok(key.subarray(0, str2KeyPrefix(T_TXN, a).length).equals(str2KeyPrefix(T_TXN, a)));
  }
  // The length prefix keeps ("ab","c") and ("a","bc") apart.
  assert.not.ok(str2Key(T_TXN, 'ab', 'c').equals(str2Key(T_TXN, 'a', 'bc')));
  assert.equal([...hashKey(0x21, Buffer.from([9, 8]))], [0x21, 9, 8]);
});

test('prefix ranges cover exactly the keys with the prefix', () => {
  assert.equal([...prefixEnd(Buffer.from([0x01, 0xff]))], [0x02]);
  assert.equal([...prefixEnd(Buffer.from([0x41, 0, 0, 5]))], [0x41, 0, 0, 6]);
  const r = prefixRange(nidKey(0x41, 5));
  const inside = nid2Key(0x41, 5, Number.MAX_SAFE_INTEGER);
  const after = nid2Key(0x41, 6, 0);
  const before = nid2Key(0x41, 4, Number.MAX_SAFE_INTEGER);
  assert.ok(Buffer.compare(inside, r.gte) >= 0 && Buffer.compare(inside, r.lt) < 0);
  assert.ok(Buffer.compare(after, r.lt) >= 0);
  assert.ok(Buffer.compare(before, r.gte) < 0);
});

test('varints round trip up to 2^53 and report their length', () => {
  const w = new ByteWriter(1);
  for (const n of EDGE) w.varint(n);
  const bytes = w.finish();
  const r = new ByteReader(bytes);
  for (const n of EDGE) assert.is(r.varint(), n);
  assert.ok(r.done);
  let total = 0;
  for (const n of EDGE) total += varintLength(n);
  assert.is(bytes.length, total);
  for (const n of EDGE) {
    const b = Buffer.alloc(8);
    const end = writeVarint(b, 0, n);
    assert.is(end, varintLength(n));
    assert.is(new ByteReader(b.subarray(0, end)).varint(), n);
  }
  assert.is(varintLength(127), 1);
  assert.is(varintLength(128), 2);
});

test('zigzag round trip', () => {
  for (const n of [0, 1, -1, 2, -2, 1000, -1000, 2 ** 40, -(2 ** 40)]) assert.is(unzigzag(zigzag(n)), n);
  assert.equal([0, -1, 1, -2, 2].map(zigzag), [0, 1, 2, 3, 4]);
});

test('a truncated varint is a typed storage error', () => {
  throwsCode(() => new ByteReader(Buffer.from([0x80, 0x80])).varint(), 'storage_corrupt');
  throwsCode(() => readU64(Buffer.from([1, 2, 3]), 0), 'storage_corrupt');
});

test.run();
