/**
 * The crypto worker thread: verifies and signs batches of ed25519 jobs for
 * crypto-pool.ts, so the main thread keeps running room actors meanwhile.
 * Messages: { id, jobs: Job[] } in, { id, results: (boolean | Uint8Array)[] } out.
 */
import { parentPort } from 'node:worker_threads';
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { verifyBytes } from '../src/matrix/ed25519.js';

export type Job =
  | { op: 'verify'; publicKey: string; data: Uint8Array; signature: string }
  | { op: 'sign'; seed: Uint8Array; data: Uint8Array };

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const keys = new Map<string, KeyObject>();

function privateKey(seed: Uint8Array): KeyObject {
  const k = Buffer.from(seed).toString('base64');
  let key = keys.get(k);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    if (keys.size > 64) keys.clear();
    keys.set(k, key);
  }
  return key;
}

parentPort!.on('message', (msg: { id: number; jobs: Job[] }) => {
  const results = msg.jobs.map((j) => (j.op === 'verify' ? verifyBytes(j.publicKey, j.data, j.signature) : new Uint8Array(sign(null, j.data, privateKey(j.seed)))));
  parentPort!.postMessage({ id: msg.id, results });
});
