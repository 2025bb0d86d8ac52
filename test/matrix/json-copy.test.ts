// copyWith: the shallow copy with one key set that replaces `{ ...obj, key: value }` on hot paths.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { copyWith, type JsonObject } from '../../src/matrix/json.js';
import { prepareEventSigning } from '../../src/matrix/signing.js';
import { roomVersion } from '../../src/matrix/room-versions.js';

test('copyWith: the same keys, order and values as the spread form, original untouched', () => {
  const src: JsonObject = { type: 'm.room.message', hashes: { sha256: 'old' }, depth: 3 };
  const out = copyWith(src, 'hashes', { sha256: 'new' });
  const spread = { ...src, hashes: { sha256: 'new' } };
  assert.equal(Object.keys(out), Object.keys(spread));
  assert.equal(out, spread);
  assert.equal(src.hashes, { sha256: 'old' });
  const added = copyWith(src, 'signatures', {});
  assert.equal(Object.keys(added), ['type', 'hashes', 'depth', 'signatures']);
});

// V8's own answer to "do these objects share a hidden class?" (natives syntax, enabled for this check only)
setFlagsFromString('--allow-natives-syntax');
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
setFlagsFromString('--no-allow-natives-syntax');

test('events prepared for signing share hidden classes (no new class per event)', () => {
  const rv = roomVersion('10');
  const out: JsonObject[] = [];
  // events of several shapes pass the same call site, as in a busy server
  for (let i = 0; i < 400; i++) {
    const pdu: JsonObject = { type: i % 2 ? 'm.room.message' : 'm.room.topic', sender: '@a:x.test', depth: i, origin_server_ts: 1_700_000_000_000 + i, prev_events: [], auth_events: [] };
    if (i % 2 === 0) pdu.state_key = '';
    if (i % 3 === 0) pdu.room_id = '!r:x.test';
    pdu.content = { body: String(i) };
    out.push(prepareEventSigning(pdu, rv).pdu);
  }
  let shared = 0;
  for (let i = 6; i < out.length; i++) if (sameMap(out[i]!, out[i - 6]!)) shared++;
  assert.is(shared, out.length - 6);
});

test.run();
