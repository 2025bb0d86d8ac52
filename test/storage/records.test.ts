import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeEventJson,
  decodeEventMeta,
  decodeMembership,
  decodeRoom,
  decodeServerKey,
  decodeTagged,
  decodeTxn,
  encodeEventJson,
  encodeEventMeta,
  encodeMembership,
  encodeRoom,
  encodeServerKey,
  encodeTagged,
  encodeTxn,
  pack,
  taggedValue,
  type EventMeta,
} from '../../storage/records.js';
import { RoomServerError } from '../../src/errors.js';

function meta(over: Partial<EventMeta> = {}): EventMeta {
  return {
    roomNid: 3,
    typeNid: 5,
    stateKeyNid: 77,
    sender: '@alice:example.org',
    depth: 12,
    originServerTs: 1_700_000_000_123,
    prevEventNids: [10, 11],
    authEventNids: [1, 2, 4],
    outlier: false,
    rejected: false,
    softFailed: false,
    redacted: false,
    stateBeforeNid: 9,
    ...over,
  };
}

function corrupt(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RoomServerError);
    assert.is((e as RoomServerError).reason, 'storage_corrupt');
    return;
  }
  assert.unreachable('expected storage_corrupt');
}

test('event metadata round trips with every flag combination', () => {
  for (let flags = 0; flags < 16; flags++) {
    const m = meta({ outlier: !!(flags & 1), rejected: !!(flags & 2), softFailed: !!(flags & 4), redacted: !!(flags & 8) });
    assert.equal(decodeEventMeta(encodeEventMeta(m)), m);
  }
  const rejected = meta({ rejected: true, rejectReason: 'not allowed by auth events', stateBeforeNid: 0, stateKeyNid: 0 });
  assert.equal(decodeEventMeta(encodeEventMeta(rejected)), rejected);
  const big = meta({ roomNid: 2 ** 40, prevEventNids: [2 ** 52], depth: 2 ** 53 - 1 });
  assert.equal(decodeEventMeta(encodeEventMeta(big)), big);
  // the event ID, with and without a reject reason before it; a record without one (schema 1) reads back without
  const withId = meta({ eventId: '$abc:x' });
  assert.equal(decodeEventMeta(encodeEventMeta(withId)), withId);
  const both = meta({ rejected: true, rejectReason: 'bad', eventId: '$abc:x' });
  assert.equal(decodeEventMeta(encodeEventMeta(both)), both);
  assert.equal(decodeEventMeta(encodeEventMeta(withId, '$given')), { ...withId, eventId: '$given' });
  assert.is('eventId' in decodeEventMeta(encodeEventMeta(meta())), false);
});

test('room, membership, txn and server key records round trip', () => {
  const room = { roomVersion: '12', createEventNid: 1, extremities: [5, 9], stateSnapshotNid: 44, maxDepth: 17, lastOutputPos: 123456 };
  assert.equal(decodeRoom(encodeRoom(room)), room);
  assert.equal(decodeMembership(encodeMembership({ membership: 'join', eventNid: 99 })), { membership: 'join', eventNid: 99 });
  assert.equal(decodeTxn(encodeTxn({ eventId: '$abc', status: 'accepted' })), { eventId: '$abc', status: 'accepted' });
  assert.equal(decodeServerKey(encodeServerKey({ publicKey: 'AbC', validUntilTs: 0 })), { publicKey: 'AbC', validUntilTs: 0 });
});

test('caller JSON keeps a __proto__ key, floats and unicode exactly', () => {
  const json = JSON.parse('{"content":{"__proto__":{"x":1},"body":"☃ 𝄞","n":1.5,"big":9007199254740991},"type":"m.room.message"}');
  const out = decodeEventJson(encodeEventJson(json));
  assert.is(JSON.stringify(out), JSON.stringify(json));
  const content = out['content'] as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(content, '__proto__'), '__proto__ stays an own property');
  assert.is(Object.getPrototypeOf(content), Object.prototype);
  // Text and bytes inputs are stored as given.
  assert.is(encodeEventJson('{"a":1}').toString(), '{"a":1}');
  assert.is(encodeEventJson(Buffer.from('{"b":2}')).toString(), '{"b":2}');

  assert.is(taggedValue(42, { a: 1 }), '42:{"a":1}', 'JSON outputs are stored as readable text');
  const tagged = decodeTagged(encodeTagged(42, json));
  assert.is(tagged.roomNid, 42);
  assert.is(JSON.stringify(tagged.value), JSON.stringify(json));
  const bytes = decodeTagged(encodeTagged(2 ** 33, Buffer.from([0, 1, 255])));
  assert.is(bytes.roomNid, 2 ** 33);
  assert.ok(Buffer.isBuffer(bytes.value) && bytes.value.equals(Buffer.from([0, 1, 255])));
  assert.equal(decodeTagged(encodeTagged(0, [1, 'x', null, true])).value, [1, 'x', null, true]);
});

test('malformed stored values are typed storage errors', () => {
  corrupt(() => decodeEventMeta(pack(['x'])));
  corrupt(() => decodeEventMeta(pack([1, 2, 3, 4, 5, 6, 'prev', [], 0, 0])));
  corrupt(() => decodeEventMeta(pack([1, 2, 3, 's', 5, 6, [], [], 0, 0, null, 42])));
  corrupt(() => decodeRoom(pack({ a: 1 })));
  corrupt(() => decodeMembership(pack([1, 2])));
  corrupt(() => decodeTxn(pack(['a'])));
  corrupt(() => decodeServerKey(pack([1, 'x'])));
  corrupt(() => decodeEventJson(Buffer.from('[1,2]')));
  corrupt(() => decodeEventJson(Buffer.from('{nope')));
  corrupt(() => decodeTagged(Buffer.from([7, 1, 0x7b])));
  corrupt(() => decodeTagged(Buffer.from([0, 1, 0x7b])));
});

test.run();
