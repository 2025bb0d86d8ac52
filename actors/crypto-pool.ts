/**
 * ed25519 on worker threads. Signature checks and signing are the largest
 * single cost of an event; on a machine with more than one core they run
 * here, beside the main thread, while the room actors go on with other
 * rooms. Jobs asked for in the same turn of the event loop travel to a
 * worker as one message. With `size` 0 everything runs inline.
 */
import { Worker } from 'node:worker_threads';
import { cpus } from 'node:os';

type Job =
  | { op: 'verify'; publicKey: string; data: Uint8Array; signature: string }
  | { op: 'sign'; seed: Uint8Array; data: Uint8Array };

/*
 * Messages. A batch of jobs travels as one transferred buffer, not as an
 * object per job: structured cloning an object and two byte arrays per
 * job cost more on each side than the batching saved (measured: ~4 us of
 * the main thread per signature). Layout of `buf`: for each job three
 * int32 (op: 0 sign / 1 verify; data length; for a sign job its key slot),
 * then every job's data, one after the other. A verify job's public key
 * and signature (base64 strings) go in `strs`, two per verify job, in job
 * order. Signing keys go once per worker, as { slot, seed }, before the
 * first job that uses them (a port delivers in order); past MAX_KEYS the
 * workers are told to forget them all ({ forgetKeys }) and they are sent
 * again as used. The answer is
 * { id, out } with `out` transferred back: 64 bytes per job, a signature
 * for a sign job, and for a verify job a first byte of 1 (valid) or 0.
 */
const OP_SIGN = 0;
const OP_VERIFY = 1;
const HEADER = 12;
const SIG = 64;
/** Signing keys the workers keep; past this many they are forgotten and sent again when used. */
const MAX_KEYS = 64;

/** The worker's code: plain JavaScript run with `eval`, so it needs no TypeScript loader (the layout's constants are written into it). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPrivateKey, createPublicKey, sign, verify } = require('node:crypto');
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const priv = new Map();
const pub = new Map();
function b64(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) return undefined;
  const u = s.replace(/=+$/, '');
  return u.length % 4 === 1 ? undefined : Buffer.from(u, 'base64');
}
function publicKey(s) {
  let k = pub.get(s);
  if (k !== undefined) return k;
  const raw = b64(s);
  k = null;
  if (raw && raw.length === 32) {
    try { k = createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' }); } catch { k = null; }
  }
  if (pub.size > 10000) pub.clear();
  pub.set(s, k);
  return k;
}
function verifyOne(publicKeyB64, data, signature) {
  const k = publicKey(publicKeyB64);
  const sig = b64(signature);
  if (!k || !sig || sig.length !== 64) return false;
  try { return verify(null, data, k, sig); } catch { return false; }
}
parentPort.on('message', (m) => {
  if (m.forgetKeys) {
    priv.clear();
    return;
  }
  if (m.slot !== undefined) {
    priv.set(m.slot, createPrivateKey({ key: Buffer.concat([PKCS8, Buffer.from(m.seed)]), format: 'der', type: 'pkcs8' }));
    return;
  }
  const head = new Int32Array(m.buf, 0, m.n * 3);
  const out = new Uint8Array(m.n * ${SIG}); // an ArrayBuffer of its own (a pooled Buffer's would take the pool with it when transferred)
  let off = m.n * ${HEADER};
  let s = 0;
  for (let i = 0; i < m.n; i++) {
    const len = head[i * 3 + 1];
    const data = Buffer.from(m.buf, off, len);
    off += len;
    if (head[i * 3] === ${OP_SIGN}) {
      const key = priv.get(head[i * 3 + 2]);
      if (key === undefined) throw new Error('unknown key slot ' + head[i * 3 + 2]);
      out.set(sign(null, data, key), i * ${SIG});
    } else {
      out[i * ${SIG}] = verifyOne(m.strs[s], data, m.strs[s + 1]) ? 1 : 0;
      s += 2;
    }
  }
  parentPort.postMessage({ id: m.id, out: out.buffer }, [out.buffer]);
});
`;
import { signBytes, verifyBytes, type SigningKey } from '../src/matrix/ed25519.js';

interface Pending {
  job: Job;
  /** for sign jobs: the key, so an inline run uses its cached KeyObject */
  key?: SigningKey;
  resolve: (r: boolean | Uint8Array) => void;
  reject: (e: unknown) => void;
}

interface W {
  worker: Worker;
  inFlight: Map<number, Pending[]>;
  jobs: number;
}

/** Most jobs in one message to a worker. */
const CHUNK = 32;

/** A sensible pool size: one worker per core beyond the main thread's. */
export function defaultCryptoWorkers(): number {
  return Math.max(0, Math.min(4, cpus().length - 1));
}

export class CryptoPool {
  private readonly workers: W[] = [];
  private queue: Pending[] = [];
  private scheduled = false;
  private nextId = 1;
  private closed = false;
  /** signing keys sent to the workers, by the slot the jobs name them by */
  private readonly slots = new Map<Uint8Array, number>();

  private started = false;

  constructor(readonly size = defaultCryptoWorkers()) {}

  /** Workers start on the first job: a server that never verifies never pays for them. */
  private start(): void {
    this.started = true;
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      const w: W = { worker, inFlight: new Map(), jobs: 0 };
      worker.on('message', (m: { id: number; out: ArrayBuffer }) => {
        const batch = w.inFlight.get(m.id);
        if (!batch) return;
        w.inFlight.delete(m.id);
        w.jobs -= batch.length;
        if (w.inFlight.size === 0) w.worker.unref();
        const out = Buffer.from(m.out);
        for (let j = 0; j < batch.length; j++) {
          const p = batch[j]!;
          p.resolve(p.job.op === 'sign' ? out.subarray(j * SIG, (j + 1) * SIG) : out[j * SIG] === 1);
        }
      });
      worker.on('error', (e) => this.fail(w, e));
      worker.on('exit', () => this.fail(w, new Error('crypto worker exited')));
      worker.unref();
      this.workers.push(w);
    }
  }

  private fail(w: W, e: unknown): void {
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    // what it held runs inline instead: nothing is lost
    for (const batch of w.inFlight.values()) for (const p of batch) this.runInline(p);
    w.inFlight.clear();
    if (!this.closed && e) process.emitWarning(`crypto worker failed: ${(e as Error).message ?? e}`);
  }

  private runInline(p: Pending): void {
    try {
      const j = p.job;
      p.resolve(j.op === 'verify' ? verifyBytes(j.publicKey, j.data, j.signature) : signBytes(p.key!, j.data));
    } catch (e) {
      p.reject(e);
    }
  }

  private push(job: Job, key?: SigningKey): Promise<boolean | Uint8Array> {
    return new Promise((resolve, reject) => {
      const p: Pending = { job, resolve, reject };
      if (key) p.key = key;
      if (!this.started && !this.closed) this.start();
      if (this.workers.length === 0 || this.closed) return this.runInline(p);
      this.queue.push(p);
      // A full chunk goes at once: when many events arrive in one turn (a
      // group commit releasing hundreds of rooms), the worker starts on the
      // first ones while the main thread is still preparing the rest.
      if (this.queue.length >= CHUNK) return this.flush();
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  /** The slot of a signing key, sent to every worker the first time. */
  private slotOf(seed: Uint8Array): number {
    let slot = this.slots.get(seed);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(seed, slot);
      for (const w of this.workers) w.worker.postMessage({ slot, seed: Uint8Array.from(seed) });
    }
    return slot;
  }

  private flush(): void {
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    if (this.workers.length === 0) {
      for (const p of jobs) this.runInline(p);
      return;
    }
    if (this.slots.size >= MAX_KEYS) {
      // between batches, so no batch names a key slot its worker has forgotten
      this.slots.clear();
      for (const w of this.workers) w.worker.postMessage({ forgetKeys: true });
    }
    // Split across workers, least loaded first, in messages of at most
    // CHUNK jobs: a worker answers each message when it is done, so the
    // first results come back while it works on the rest.
    const per = Math.min(CHUNK, Math.ceil(jobs.length / this.workers.length));
    const ws = [...this.workers].sort((a, b) => a.jobs - b.jobs);
    for (let i = 0, k = 0; i < jobs.length; i += per, k++) {
      const w = ws[k % ws.length]!;
      const batch = jobs.slice(i, i + per);
      const id = this.nextId++;
      w.inFlight.set(id, batch);
      w.jobs += batch.length;
      // referenced only while it holds jobs, so an idle pool never keeps the process alive
      w.worker.ref();
      const { buf, strs } = this.pack(batch);
      w.worker.postMessage({ id, n: batch.length, buf, strs }, [buf]);
    }
  }

  /** A batch of jobs as one buffer (see the layout above). */
  private pack(batch: Pending[]): { buf: ArrayBuffer; strs: string[] } {
    const n = batch.length;
    let size = n * HEADER;
    for (const p of batch) size += p.job.data.byteLength;
    const buf = new ArrayBuffer(size);
    const head = new Int32Array(buf, 0, n * 3);
    const bytes = new Uint8Array(buf);
    const strs: string[] = [];
    let off = n * HEADER;
    for (let i = 0; i < n; i++) {
      const j = batch[i]!.job;
      head[i * 3 + 1] = j.data.byteLength;
      if (j.op === 'sign') {
        head[i * 3] = OP_SIGN;
        head[i * 3 + 2] = this.slotOf(j.seed);
      } else {
        head[i * 3] = OP_VERIFY;
        strs.push(j.publicKey, j.signature);
      }
      bytes.set(j.data, off);
      off += j.data.byteLength;
    }
    return { buf, strs };
  }

  /** Workers running now (0 before the first job, or when all failed). */
  get activeWorkers(): number {
    return this.workers.length;
  }

  async verify(publicKey: string, data: Uint8Array, signature: string): Promise<boolean> {
    return (await this.push({ op: 'verify', publicKey, data, signature })) as boolean;
  }

  async sign(key: SigningKey, data: Uint8Array): Promise<Buffer> {
    // a view of the worker's answer, or signBytes' own Buffer when run inline
    return (await this.push({ op: 'sign', seed: key.seed, data }, key)) as Buffer;
  }

  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers.splice(0);
    for (const w of ws) for (const batch of w.inFlight.values()) for (const p of batch) this.runInline(p);
    await Promise.all(ws.map((w) => w.worker.terminate()));
  }
}
