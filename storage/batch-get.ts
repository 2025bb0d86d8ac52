/**
 * Coalesces point reads: every `get` issued during one turn of the event
 * loop goes to LevelDB as one `getMany` (one trip to the thread pool instead
 * of one per key). Many room actors asking for NIDs at once is the common
 * case this serves.
 */
import type { ClassicLevel } from 'classic-level';

interface Waiter {
  key: Buffer;
  resolve: (v: Buffer | undefined) => void;
  reject: (e: unknown) => void;
}

export class BatchGetter {
  private queue: Waiter[] = [];
  private scheduled = false;

  constructor(private readonly db: ClassicLevel<Buffer, Buffer>) {}

  get(key: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    if (batch.length === 0) return;
    this.db.getMany(batch.map((w) => w.key)).then(
      (values) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(values[i] ?? undefined);
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
