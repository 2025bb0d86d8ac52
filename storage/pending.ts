/**
 * A record created in memory (a new NID mapping, a new state block, a new
 * snapshot) that is not on disk yet. It is written in the same LevelDB batch
 * as the first commit unit that depends on it (or an earlier one), never
 * alone: so a crash cannot leave a committed record whose mapping or block
 * is missing, nor a block naming events that were never committed.
 */
export const PENDING = 0;
export const WRITING = 1;
export const DURABLE = 2;
export type PendingState = typeof PENDING | typeof WRITING | typeof DURABLE;

/** value: bytes, or text stored as UTF-8. */
export type PutFn = (key: Buffer, value: Buffer | string) => void;

export abstract class PendingItem {
  state: PendingState = PENDING;
  /** Items that must be written no later than this one (a snapshot's new blocks, a block's new NIDs). */
  abstract readonly deps: readonly PendingItem[];
  /** Number of puts `write` makes. */
  abstract readonly opCount: number;
  /** Emits the puts that make the item durable; `unit` is the commit unit whose dependency it is. */
  abstract write(put: PutFn, unit: object | undefined): void;
  /** Called once the batch holding the item is written: move it from the pending maps to the caches. */
  abstract onDurable(): void;
}
