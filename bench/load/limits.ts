/**
 * The machine's bare limits, on one core, with nothing else of the server
 * around them: ed25519 signatures and verifications per second over a
 * typical event's canonical JSON (node:crypto, as the server uses), and
 * LevelDB puts per second written in batches (classic-level, as the
 * server's group commit writes). A result divided by the limit that bounds
 * it says how much of the machine the server turns into events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import { canonicalJson } from '../../src/matrix/canonical-json.js';
import { generateSigningKey, signBytes, verifyBytes } from '../../src/matrix/ed25519.js';
import { encodeBase64 } from '../../src/matrix/base64.js';
import { median } from './stats.js';

export interface Limits {
  signPerSec: number;
  verifyPerSec: number;
  levelPutPerSec: number;
  /** puts per batch and bytes per value of the LevelDB measurement */
  levelBatch: number;
  levelValueBytes: number;
  /** bytes signed / verified */
  signedBytes: number;
}

/** A message event's canonical JSON, the size the server signs and verifies. */
function sampleEventBytes(): Buffer {
  return Buffer.from(
    canonicalJson({
      auth_events: ['$' + 'a'.repeat(43), '$' + 'b'.repeat(43)],
      content: { body: 'bench message 1 in room 1: the quick brown fox jumps over the lazy dog', msgtype: 'm.text' },
      depth: 12,
      hashes: { sha256: 'h'.repeat(43) },
      origin_server_ts: 1_700_000_000_000,
      prev_events: ['$' + 'p'.repeat(43)],
      room_id: '!' + 'r'.repeat(43),
      sender: '@bench-u1:bench.test',
      type: 'm.room.message',
    }),
  );
}

/** Runs `op` in slices for about `seconds`, and returns operations per second (median of the slices). */
function rate(seconds: number, op: () => void): number {
  const slices = 5;
  const per: number[] = [];
  for (let s = 0; s < slices; s++) {
    const end = performance.now() + (seconds * 1000) / slices;
    let n = 0;
    const t0 = performance.now();
    let now = t0;
    while (now < end) {
      for (let i = 0; i < 64; i++) op();
      n += 64;
      now = performance.now();
    }
    per.push(n / ((now - t0) / 1000));
  }
  return median(per);
}

export async function measureLimits(seconds = 1): Promise<Limits> {
  const key = generateSigningKey('ed25519:bench');
  const data = sampleEventBytes();
  const sig = encodeBase64(signBytes(key, data));
  const signPerSec = rate(seconds, () => signBytes(key, data));
  const verifyPerSec = rate(seconds, () => {
    if (!verifyBytes(key.publicKeyBase64, data, sig)) throw new Error('ed25519 self-check failed');
  });

  const dir = mkdtempSync(join(tmpdir(), 'rs-bench-limits-'));
  const batch = 1000;
  const valueBytes = 400;
  let levelPutPerSec = 0;
  try {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const value = randomBytes(valueBytes);
    let seq = 0;
    const rates: number[] = [];
    for (let s = 0; s < 5; s++) {
      const end = performance.now() + (seconds * 1000) / 5;
      const t0 = performance.now();
      let n = 0;
      while (performance.now() < end) {
        const ops = new Array(batch);
        for (let i = 0; i < batch; i++) {
          const k = Buffer.allocUnsafe(9);
          k[0] = 0x42;
          k.writeBigUInt64BE(BigInt(seq++), 1);
          // vary the value a little so compression cannot cheat
          value.writeUInt32BE(seq, 0);
          ops[i] = { type: 'put', key: k, value: Buffer.from(value) };
        }
        await db.batch(ops);
        n += batch;
      }
      rates.push(n / ((performance.now() - t0) / 1000));
    }
    levelPutPerSec = median(rates);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { signPerSec, verifyPerSec, levelPutPerSec, levelBatch: batch, levelValueBytes: valueBytes, signedBytes: data.length };
}
