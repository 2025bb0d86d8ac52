/**
 * Coalesces point reads: every read issued during one turn of the event
 * loop goes to LevelDB as one `getMany` (one trip to the thread pool instead
 * of one per key). Many room actors asking for NIDs at once is the common
 * case this serves.
 */
import type { ClassicLevel } from 'classic-level';

export type GetCallback = (err: unknown, value: Buffer | undefined) => void;

export class BatchGetter {
  private keys: Buffer[] = [];
  private callbacks: GetCallback[] = [];
  private scheduled = false;

  constructor(private readonly db: ClassicLevel<Buffer, Buffer>) {}

  /** Reads a key with the next batch; the callback gets the value or undefined. */
  fetch(key: Buffer, cb: GetCallback): void {
    this.keys.push(key);
    this.callbacks.push(cb);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      this.fetch(key, (err, v) => (err === undefined ? resolve(v) : reject(err)));
    });
  }

  private readonly flush = (): void => {
    const keys = this.keys;
    const callbacks = this.callbacks;
    this.keys = [];
    this.callbacks = [];
    this.scheduled = false;
    if (keys.length === 0) return;
    this.db.getMany(keys).then(
      (values) => {
        for (let i = 0; i < callbacks.length; i++) callbacks[i]!(undefined, values[i] ?? undefined);
      },
      (err: unknown) => {
        for (const cb of callbacks) cb(err ?? new Error('read failed'), undefined);
      },
    );
  };
}
