/**
 * "Is there certainly no record under this key?" for one table, without a
 * database read. A lookup that usually finds nothing (a new `txn_id`)
 * would otherwise cost a LevelDB read, and a round trip to its thread pool,
 * every time.
 *
 * The filter holds every key of the table: the stored ones, added by a scan
 * in the background after open (until it ends, `absent()` never answers
 * yes), and every key written from then on, added by the writer when the
 * record is put into a commit unit (before it is on disk; a commit that
 * fails leaves a key that is not there, which only costs a read).
 */
import type { ClassicLevel } from 'classic-level';
import { StringFilter } from './bloom.js';
import { prefixRange } from './keys.js';

/** The key without its table byte, as a string of its bytes (one character per byte: distinct keys, distinct strings). */
function keyString(key: Buffer): string {
  return key.toString('latin1', 1);
}

export class KeyFilter {
  private readonly filter = new StringFilter();
  private ready = false;
  private stopped = false;
  private readonly scan: Promise<void>;

  constructor(db: ClassicLevel<Buffer, Buffer>, table: number) {
    this.scan = this.fill(db, table);
  }

  private async fill(db: ClassicLevel<Buffer, Buffer>, table: number): Promise<void> {
    try {
      // The iterator reads the database as it is now; keys put from now on add themselves.
      for await (const k of db.keys({ ...prefixRange(Buffer.from([table])), keyEncoding: 'buffer' })) {
        if (this.stopped) return;
        this.filter.add(keyString(k));
      }
      if (!this.stopped) this.ready = true;
    } catch {
      // the database closed during the scan: lookups keep reading
    }
  }

  /** Records a key being written (call it before the write). */
  add(key: Buffer): void {
    this.filter.add(keyString(key));
  }

  /** True only when no record has this key (the scan has ended and the filter lacks it). */
  absent(key: Buffer): boolean {
    return this.ready && !this.filter.mightHave(keyString(key));
  }

  /** Settles when the scan has ended (complete, stopped or failed). */
  get scanned(): Promise<void> {
    return this.scan;
  }

  /** Ends the scan (before the database closes); lookups keep reading. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.scan;
  }
}
