// Canonical texts cut from or spliced into one encoding of an event: the
// content hash input and the stored text must equal encoding them afresh.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalJson, canonicalJsonWithout, canonicalObjectText, withMembers, withoutMembers } from '../../src/matrix/canonical-json.js';
import { contentHashCanonicalJson, contentHashTextOf, CONTENT_HASH_OMITS } from '../../src/matrix/hashes.js';
import { parsePduDetailed } from '../../src/matrix/pdu.js';
import { canonicalTextOfSigned, prepareEventSigning, attachEventSignature } from '../../src/matrix/signing.js';
import { buildPdu } from '../../actors/local-events.js';
import { generateServerKey } from '../../src/matrix/keys.js';
import { signBytes } from '../../src/matrix/ed25519.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import type { JsonObject } from '../../src/matrix/json.js';

const OBJECTS: JsonObject[] = [
  {},
  { a: 1 },
  { z: { y: [1, 'x', null], b: true }, a: 'first', m: -0, k: 1.5 },
  { '\ue000': 1, '\ud83d\ude00': 2, b: 3, unsigned: { age: 1 }, hashes: { sha256: 'h' }, signatures: { s: { k: 'v' } } },
  { hashes: { sha256: 'h' } },
  { signatures: {}, unsigned: {}, hashes: {} },
  { type: 't', content: { body: 'x' }, unsigned: { age: 5 }, depth: 3, hashes: { sha256: 'abc' }, auth_events: [], origin_server_ts: 1, signatures: { a: { 'ed25519:1': 's' } } },
  { a: 1, skipped: undefined as unknown as null, c: 2 },
];

test('canonicalObjectText: the text is canonicalJson, the offsets start each member', () => {
  for (const o of OBJECTS) {
    const t = canonicalObjectText(o);
    assert.is(t.text, canonicalJson(o));
    assert.is(t.keys.length, t.starts.length);
    t.keys.forEach((k, i) => assert.ok(t.text.startsWith(JSON.stringify(k) + ':', t.starts[i]!), `member ${k} at ${t.starts[i]}`));
  }
});

test('withoutMembers equals encoding without those keys, for every subset of omitted keys', () => {
  const subsets: string[][] = [[], ['a'], ['b'], ['z'], ['a', 'k'], ['hashes'], ['unsigned'], ['signatures', 'hashes'], [...CONTENT_HASH_OMITS], ['\ue000', 'b'], ['a', 'm', 'z', 'k']];
  for (const o of OBJECTS) {
    for (const omit of [...subsets, Object.keys(o)]) {
      assert.is(withoutMembers(canonicalObjectText(o), omit), canonicalJsonWithout(o, omit), `${JSON.stringify(o)} without ${omit}`);
    }
  }
});

test('contentHashTextOf equals the content hash input encoded afresh, with and without the left-out keys', () => {
  for (const o of OBJECTS) assert.is(contentHashTextOf(canonicalObjectText(o)), contentHashCanonicalJson(o), JSON.stringify(o));
});

test('withMembers equals encoding the object with the keys added; an existing key is refused', () => {
  for (const o of OBJECTS) {
    const add: JsonObject = {};
    for (const k of ['hashes', 'signatures', 'aa', '\uffff', '0']) if (!(k in o)) add[k] = { v: [k, 1] };
    assert.is(withMembers(canonicalObjectText(o), add), canonicalJson({ ...o, ...add }), JSON.stringify(o));
  }
  assert.throws(() => withMembers(canonicalObjectText({ a: 1 }), { a: 2 }), /already a member/);
});

test('withMembers splicing in front of, between and after the members, for every subset of added keys', () => {
  // keys sorting first, between others, last, and integer-like; no unit >= U+D800 (the splicing path)
  const candidates = ['0', 'aa', 'b', 'hashes', 'signatures', 'zz'];
  for (const o of OBJECTS) {
    const free = candidates.filter((k) => !(k in o));
    for (let mask = 0; mask < 1 << free.length; mask++) {
      const add: JsonObject = {};
      free.forEach((k, i) => {
        if (mask & (1 << i)) add[k] = { v: [k, i], w: 'x"y' };
      });
      const got = withMembers(canonicalObjectText(o), add);
      assert.is(got, canonicalJson({ ...o, ...add }), `${JSON.stringify(o)} + ${Object.keys(add)}`);
      assert.equal(JSON.parse(got), JSON.parse(canonicalJson({ ...o, ...add })));
    }
  }
});

const key = generateServerKey();
const rv = roomVersion('10');
function remoteEvent(): JsonObject {
  return buildPdu(
    rv,
    { roomId: '!r:remote.test', sender: '@u:remote.test', type: 'm.room.message', content: { body: 'hi', msgtype: 'm.text', n: 7 }, prevEvents: [{ id: '$' + 'p'.repeat(43) }], authEvents: [{ id: '$' + 'a'.repeat(43) }], depth: 4 },
    'remote.test',
    key,
  );
}

test('parsing an event keeps its canonical text, and cuts the content hash input from it', () => {
  const pdu = remoteEvent();
  // keys in reverse order and an unsigned section, as a peer may send them
  const shuffled: JsonObject = {};
  for (const k of Object.keys(pdu).reverse()) shuffled[k] = pdu[k]!;
  shuffled.unsigned = { age: 12 };
  const d = parsePduDetailed(shuffled, rv);
  assert.is(d.event.text, canonicalJson(shuffled));
  assert.is(d.contentCanonical, contentHashCanonicalJson(shuffled));
  // events read back from storage are not re-encoded
  assert.is(parsePduDetailed(shuffled, rv, { skipSizeCheck: true, knownEventId: d.event.eventId }).event.text, undefined);
});

test('an event signed here: the text spliced after signing is the canonical JSON of the signed event', () => {
  const pdu = remoteEvent();
  delete pdu.hashes;
  delete pdu.signatures;
  const prepared = prepareEventSigning(pdu, rv);
  attachEventSignature(prepared.pdu, undefined, 'remote.test', key.keyId, signBytes(key, prepared.signedBytes));
  assert.is(canonicalTextOfSigned(prepared), canonicalJson(prepared.pdu));
  assert.is(prepared.contentCanonical, contentHashCanonicalJson(prepared.pdu));
  // an event that already carries signatures is not spliced (the store encodes it instead)
  const again = prepareEventSigning(prepared.pdu, rv);
  assert.is(again.content, undefined);
  assert.is(again.contentCanonical, contentHashCanonicalJson(prepared.pdu));
});

test.run();
