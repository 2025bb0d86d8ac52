/**
 * Event core benchmark: the full check of a typical ~1 KB signed event
 * (strict parse from bytes + parsePdu validation + event ID + signature
 * verify + content hash check) next to a bare ed25519 `crypto.verify` of
 * the same signed bytes, and the stages on their own. Several rounds;
 * medians reported. Rates are per second of this process's CPU time.
 *
 *   node --import tsx bench/event-core.ts [rounds=9] [ms per measurement=300]
 */
import { verify } from 'node:crypto';
import { roomVersion } from '../src/matrix/room-versions.js';
import { signingKeyFromSeed, publicKeyFromBase64 } from '../src/matrix/ed25519.js';
import { signEvent, verifyEventSignatures, type KeyLookup } from '../src/matrix/signing.js';
import { checkPduBytes } from '../src/matrix/check.js';
import { scanJson } from '../src/matrix/strict-json.js';
import { parsePdu, parsePduBytes } from '../src/matrix/pdu.js';
import { checkContentHash, contentHashCanonicalJson } from '../src/matrix/hashes.js';
import { redactedCanonicalJson } from '../src/matrix/redaction.js';
import { canonicalJson } from '../src/matrix/canonical-json.js';
import { decodeBase64 } from '../src/matrix/base64.js';
import type { JsonObject } from '../src/matrix/json.js';

const rounds = Number(process.argv[2] ?? 9);
const msPer = Number(process.argv[3] ?? 300);

const rv = roomVersion('11');
const key = signingKeyFromSeed('ed25519:a_bench', Buffer.alloc(32, 42));
const lookup: KeyLookup = (s, k) => (s === 'example.org' && k === 'ed25519:a_bench' ? key.publicKeyBase64 : undefined);
const body =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ' +
  'Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure ' +
  'dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.';
const pdu = signEvent(
  {
    room_id: '!OGEhHVWSdvArJzumhm:example.org',
    sender: '@alice.bench:example.org',
    type: 'm.room.message',
    content: { body, msgtype: 'm.text', 'm.mentions': {} },
    prev_events: ['$ZUM7PLvWPdcbS0vR9iDXsMwLXmsJU1PPu5ZTdGr3vsk'],
    auth_events: ['$CaxMCuTGJHdBHUDkcKpb4w5Iz6V9ek0hq3gwdgKSSwk', '$Cs0IYyatmSh8A7BdAEkX9Ab0yx8umnJGKhS5BfgxPdc', '$tg6w7Nb9i9rOw6MTqlfzumo-wHHfqAbf4ny35BeMo0k'],
    depth: 12345,
    origin_server_ts: 1732000000000,
    origin: 'example.org',
    unsigned: { age: 1234 },
  },
  'example.org',
  key,
  rv,
);
const bytes = Buffer.from(JSON.stringify(pdu));
const signedBytes = Buffer.from(redactedCanonicalJson(pdu, rv));
const sigB64 = ((pdu.signatures as JsonObject)['example.org'] as JsonObject)['ed25519:a_bench'] as string;
const sig = decodeBase64(sigB64)!;
const pub = publicKeyFromBase64(key.publicKeyBase64)!;

// sanity: the full check passes
const first = checkPduBytes(bytes, rv, lookup);
if (!first.ok || !first.contentHashOk) throw new Error('benchmark event does not check');

let sink = 0;
/**
 * CPU time of this process in µs (user + system). The machine is shared:
 * wall time would count the time other processes hold the cores; CPU time
 * counts only ours.
 */
function cpu(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** ops per CPU second of f over about msPer ms of CPU time (after a short warm-up). */
function measure(f: () => unknown): number {
  for (let i = 0; i < 200; i++) f();
  let n = 0;
  const start = cpu();
  let elapsed = 0;
  while (elapsed < msPer * 1000) {
    for (let i = 0; i < 100; i++) {
      if (f()) sink++;
    }
    n += 100;
    elapsed = cpu() - start;
  }
  return n / (elapsed / 1e6);
}

const parsed = JSON.parse(bytes.toString('utf8')) as JsonObject;
const cases: Array<[string, () => unknown]> = [
  ['bare ed25519 crypto.verify', () => verify(null, signedBytes, pub, sig)],
  ['full check (bytes -> checked event)', () => checkPduBytes(bytes, rv, lookup).ok],
  ['  strict parse (scanJson)', () => scanJson(bytes).value],
  ['  JSON.parse(bytes.toString())', () => JSON.parse(bytes.toString('utf8'))],
  ['  parsePdu (validate + event ID)', () => parsePdu(parsed, rv).eventId],
  ['  parsePduBytes', () => parsePduBytes(bytes, rv).eventId],
  ['  content hash check', () => checkContentHash(parsed)],
  ['  redacted canonical JSON', () => redactedCanonicalJson(parsed, rv).length],
  ['  content-hash canonical JSON', () => contentHashCanonicalJson(parsed).length],
  ['  canonicalJson(whole event)', () => canonicalJson(parsed).length],
  ['  verifyEventSignatures (alone)', () => verifyEventSignatures(parsed, rv, lookup).ok],
];

/**
 * The ratio is measured with the two interleaved in small chunks, so that
 * load from other processes hits both alike; stages are measured apart.
 */
function interleaved(a: () => unknown, b: () => unknown): [opsA: number, opsB: number] {
  for (let i = 0; i < 200; i++) {
    a();
    b();
  }
  let ta = 0;
  let tb = 0;
  let n = 0;
  while (ta + tb < msPer * 2000) {
    const t0 = cpu();
    for (let i = 0; i < 50; i++) if (a()) sink++;
    const t1 = cpu();
    for (let i = 0; i < 50; i++) if (b()) sink++;
    const t2 = cpu();
    ta += t1 - t0;
    tb += t2 - t1;
    n += 50;
  }
  return [n / (ta / 1e6), n / (tb / 1e6)];
}

const results = new Map<string, number[]>();
const push = (name: string, v: number) => {
  const arr = results.get(name) ?? [];
  arr.push(v);
  results.set(name, arr);
};
const [bareCase, fullCase] = [cases[0]!, cases[1]!];
const ratios: number[] = [];
// Warm up every case first, so the rounds measure optimised code.
for (const [, f] of cases) for (let i = 0; i < 3000; i++) f();
for (let r = 0; r < rounds; r++) {
  const [bareOps, fullOps] = interleaved(bareCase[1], fullCase[1]);
  push(bareCase[0], bareOps);
  push(fullCase[0], fullOps);
  ratios.push(bareOps / fullOps);
  for (const [name, f] of cases.slice(2)) push(name, measure(f));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

console.log(`event: ${bytes.length} bytes JSON (room v${rv.id}, m.room.message), signed text ${signedBytes.length} bytes; ${rounds} rounds; medians`);
console.log('');
console.log('case'.padEnd(40) + 'ops/cpu-s'.padStart(12) + 'µs/op'.padStart(10));
console.log('-'.repeat(62));
for (const [name] of cases) {
  const ops = median(results.get(name)!);
  console.log(name.padEnd(40) + Math.round(ops).toLocaleString('en').padStart(12) + (1e6 / ops).toFixed(2).padStart(10));
}
console.log('-'.repeat(62));
console.log(`full check cost / bare verify cost: median ${median(ratios).toFixed(3)} (rounds: ${ratios.map((x) => x.toFixed(2)).join(' ')}; target <= 1.3)`);
if (sink < 0) console.log(sink);
