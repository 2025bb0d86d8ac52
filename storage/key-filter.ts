/**
 * "Is there certainly no record under this key?" for the keys under one
 * prefix, without a database read. Lookups that usually find nothing (the
 * ID of a new event, a new `txn_id`) would otherwise cost a LevelDB read,
 * and a round trip to its thread pool, every time.
 *
 * Keys are filed under a name (a string: the event ID of a string -> NID
 * key, the key's own bytes for a txn key). The filter holds every key under
 * its prefix: the stored ones, added by a scan in the background after it is
 * made (until that scan ends, `absent()` never answers yes), and every key
 * written from then on, added by the writer before the write (a write that
 * fails leaves a name that has no record, which only costs a read).
 */
import type { ClassicLevel } from 'classic-level';
import { StringFilter } from './bloom.js';
import { prefixRange } from './keys.js';

/** A key's bytes after its table byte, one character per byte (distinct keys, distinct names). */
export function keyBytesName(key: Buffer): string {
  return key.toString('latin1', 1);
}

export class KeyFilter {
  private readonly filter = new StringFilter();
  private ready = false;
  private stopped = false;
  private readonly scan: Promise<void>;

  /** `name(key)`: the name a stored key under `prefix` is filed under (what add() and absent() are given). */
  constructor(db: ClassicLevel<Buffer, Buffer>, prefix: Buffer, name: (key: Buffer) => string) {
    this.scan = this.fill(db, prefix, name);
  }

  private async fill(db: ClassicLevel<Buffer, Buffer>, prefix: Buffer, name: (key: Buffer) => string): Promise<void> {
    try {
      // The iterator reads the database as it is now; keys put from now on are added by their writers.
      for await (const k of db.keys({ ...prefixRange(prefix), keyEncoding: 'buffer' })) {
        if (this.stopped) return;
        this.filter.add(name(k));
      }
      if (!this.stopped) this.ready = true;
    } catch {
      // the database closed during the scan: lookups keep reading
    }
  }

  /** Records the name of a key being written (call it before the write). */
  add(name: string): void {
    this.filter.add(name);
  }

  /** True only when no record is filed under this name (the scan has ended and the filter lacks it). */
  absent(name: string): boolean {
    return this.ready && !this.filter.mightHave(name);
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
