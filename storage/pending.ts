/**
 * A record created in memory (a new NID mapping, a new state block, a new
 * snapshot) that is not on disk yet. It is written in the same LevelDB batch
 * as the first commit unit that depends on it (or an earlier one), never
 * alone: so a crash cannot leave a mapping or block that no committed record
 * needed, nor a committed record whose mapping or block is missing.
 */
export const PENDING = 0;
export const WRITING = 1;
export const DURABLE = 2;

export interface PendingItem {
  /** Puts that make the item durable. */
  readonly ops: ReadonlyArray<readonly [Buffer, Buffer]>;
  /** Items that must be written no later than this one (a snapshot's new blocks, a block's new NIDs). */
  readonly deps: readonly PendingItem[];
  state: typeof PENDING | typeof WRITING | typeof DURABLE;
  /** Called once the batch holding the item is written: move it from the pending maps to the caches. */
  readonly onDurable: () => void;
}
