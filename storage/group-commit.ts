/**
 * The single committer. One LevelDB write is in flight at a time; units
 * submitted meanwhile are copied straight into the next (open) native batch,
 * and when the write in flight returns, the open batch is written with all
 * of them (group commit). A unit is never split across writes.
 *
 * Copying at submit time (rather than when the write starts) lets a unit's
 * encoded buffers die young: the garbage collector never has to move them.
 *
 * The committer assigns output positions as units are copied, which is the
 * order batches are written in, so the output log is gap-free. A failed
 * write is fatal: that batch's units and every later one are rejected and
 * the store accepts no more commits (reopen it), so nothing written later
 * can refer to a record of the failed batch.
 *
 * With `group: false` every unit is its own write (for comparison in the
 * benchmark); writes stay serial so the log stays gap-free.
 */
import type { ClassicLevel } from 'classic-level';
import { RoomServerError } from '../src/errors.js';
import { nid2KeyInto, nidKeyInto, T_OUTPUT, T_OUTPUT_BY_ROOM, T_ROOM } from './keys.js';
import { DURABLE, PENDING, WRITING, type PendingItem } from './pending.js';
import { encodeRoom, type RoomRecord } from './records.js';
import type { CommitUnit, DurableListener } from './unit.js';

export interface CommitResult {
  /** The output positions assigned to the unit's outputs, in the order they were appended. */
  readonly outputPositions: number[];
}

export interface CommitterOptions {
  fsync: boolean;
  group: boolean;
  /** Most units in one write. */
  maxGroupUnits: number;
  /** With no write in flight, a batch this full is written at once instead of at the end of the event loop turn. */
  eagerUnits: number;
  /**
   * Most commit promises resolved in one turn of the event loop (see
   * GroupCommitter.settle); 0 = all of a write's at once.
   */
  resolveChunk: number;
}

export interface CommitStats {
  writes: number;
  units: number;
  ops: number;
  /** Time with a write in flight (ms): near the elapsed time means LevelDB's write is the bottleneck. */
  writeMs: number;
}

interface Waiter {
  resolve: (r: CommitResult) => void;
  reject: (e: unknown) => void;
  positions: number[];
  listener: DurableListener | undefined;
}

const EMPTY = Buffer.alloc(0);
/** Key buffers the committer writes keys into and hands to the batch, which copies them (see putScratchKey). */
const SCRATCH_9 = Buffer.allocUnsafeSlow(9);
const SCRATCH_17 = Buffer.allocUnsafeSlow(17);
const NO_POSITIONS: number[] = [];

type ChainedBatch = ReturnType<ClassicLevel<Buffer, Buffer>['batch']>;

/** The native side of classic-level's chained batch (methods its public API wraps). */
interface RawBatch {
  _put?: (k: Buffer, v: Buffer | string) => void;
  _del?: (k: Buffer) => void;
  _write?: (options: { sync: boolean }) => Promise<void>;
  _clear?: () => void;
}

/** Whether a chained batch can be written and cleared natively, so that it can be reused. */
function reusable(b: ChainedBatch): boolean {
  const r = b as unknown as RawBatch;
  return typeof r._put === 'function' && typeof r._del === 'function' && typeof r._write === 'function' && typeof r._clear === 'function';
}

/** Batches above this many bytes are not kept for reuse (their buffer would stay that large). */
const REUSE_MAX_BYTES = 16 * 1024 * 1024;
/** Most idle native batches kept for reuse. */
const REUSE_POOL = 2;

/** A native batch being filled with the units submitted while another write is in flight. */
class OpenBatch {
  readonly batch: ChainedBatch;
  private readonly raw: RawBatch;
  /** written and cleared natively (and reused afterwards), bypassing the public put/write */
  readonly native: boolean;
  private first = true;
  units = 0;
  ops = 0;
  /** about the bytes put (keys and values; strings by length) */
  bytes = 0;
  readonly items: PendingItem[] = [];
  readonly waiters: Waiter[] = [];
  /** The last room record of each room (earlier ones would be overwritten in the same batch anyway). */
  readonly rooms = new Map<number, RoomRecord>();
  /** The last output position of each room in this batch. */
  readonly lastPos = new Map<number, number>();
  readonly put: (k: Buffer, v: Buffer | string) => void;
  readonly del: (k: Buffer) => void;
  /**
   * put() for a key in a scratch buffer that is reused right after: the
   * native batch copies the bytes at once; the public put may keep the key
   * object, so it gets a copy.
   */
  readonly putScratchKey: (k: Buffer, v: Buffer | string) => void;

  /** Adds a pending record (after the ones it depends on) for a unit, unless it is durable or already in a batch. */
  include(item: PendingItem, unit: CommitUnit): void {
    if (item.state !== PENDING) return;
    item.state = WRITING;
    for (const d of item.deps) this.include(d, unit);
    item.write(this.put, unit);
    this.items.push(item);
  }

  constructor(batch: ChainedBatch) {
    this.batch = batch;
    // The chained batch's public put() re-validates and re-encodes every
    // key and value (they are Buffers already). Ops go straight to the
    // native batch when its methods exist (it takes Buffers, and strings as
    // their UTF-8 bytes); such a batch is also written and cleared natively
    // (see GroupCommitter.write). Otherwise only the first op goes through
    // the public put, which keeps the batch's own op count non-zero so that
    // its public write() does not skip it.
    this.raw = batch as unknown as RawBatch;
    this.native = reusable(batch);
    if (this.native) this.first = false;
    this.put = (k, v) => {
      this.ops++;
      this.bytes += k.length + v.length;
      if (this.first || this.raw._put === undefined) {
        this.first = false;
        // The public put turns a string into its UTF-8 bytes (the 'buffer' value encoding).
        this.batch.put(k, v as Buffer);
      } else {
        this.raw._put(k, v);
      }
    };
    this.putScratchKey = (k, v) => (this.native ? this.put(k, v) : this.put(Buffer.from(k), v));
    this.del = (k) => {
      this.ops++;
      if (this.first || this.raw._del === undefined) {
        this.first = false;
        this.batch.del(k);
      } else {
        this.raw._del(k);
      }
    };
  }
}

/**
 * Tells a written unit's listener, then resolves its promise. Units are
 * finished in submission order, which is output position order, so the
 * listeners see positions in order and each hears of its unit before any
 * continuation of that unit's promise runs.
 */
function finish(w: Waiter): void {
  const l = w.listener;
  if (l !== undefined) {
    w.listener = undefined;
    try {
      l.durable(w.positions);
    } catch (err) {
      // the listener's own failure (see DurableListener): the unit is durable all the same
      process.emitWarning(`a commit listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  w.resolve({ outputPositions: w.positions });
}

export class GroupCommitter {
  private readonly batches: OpenBatch[] = [];
  /** The write loop is active (a batch is in flight). */
  private running = false;
  /** A start of the write loop is scheduled for the next turn of the event loop. */
  private scheduled = false;
  private inFlight: OpenBatch | undefined;
  private nextPos: number;
  private head: number;
  private failed: RoomServerError | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Written units whose commit promises are still to be resolved, oldest first (see settle). */
  private settling: Waiter[] = [];
  private settleHead = 0;
  /**
   * Written native batches, cleared, for the next OpenBatch. A fresh
   * native batch grows its buffer from nothing (fresh pages, page faults
   * and copies on every growth) and is freed only when the garbage collector
   * finalizes it; a cleared one keeps its buffer. Measured on this machine:
   * ~9.5 us per 1 KB put into a fresh batch, ~0.6 us into a reused one.
   */
  private readonly idleBatches: ChainedBatch[] = [];
  /** Last output position per room in the batches written or being written (so a room record never names an older one). */
  private readonly lastPosByRoom = new Map<number, number>();
  readonly stats: CommitStats = { writes: 0, units: 0, ops: 0, writeMs: 0 };

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly opts: CommitterOptions,
    outputHead: number,
  ) {
    this.nextPos = outputHead + 1;
    this.head = outputHead;
  }

  /** Last durable output position (0 when the log is empty). */
  get outputHead(): number {
    return this.head;
  }

  submit(unit: CommitUnit): Promise<CommitResult> {
    unit.seal();
    if (this.failed !== undefined) return Promise.reject(this.failed);
    let ob = this.batches[this.batches.length - 1];
    const cap = this.opts.group ? this.opts.maxGroupUnits : 1;
    if (ob === undefined || ob === this.inFlight || ob.units >= cap) {
      ob = new OpenBatch(this.idleBatches.pop() ?? this.db.batch());
      this.batches.push(ob);
    }
    const promise = new Promise<CommitResult>((resolve, reject) => {
      ob.waiters.push({ resolve, reject, positions: NO_POSITIONS, listener: unit.listener });
    });
    this.copy(ob, unit);
    if (!this.running) {
      if (ob.units >= this.opts.eagerUnits) {
        // Enough for a write: start it now, so LevelDB works while the rest of this turn's units are built.
        void this.run();
      } else if (!this.scheduled) {
        // Let the units produced in this turn of the event loop join the first write.
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          if (!this.running) void this.run();
        });
      }
    }
    return promise;
  }

  /** Copies a unit (and the pending records it needs) into an open batch. */
  private copy(ob: OpenBatch, unit: CommitUnit): void {
    const { put, del } = ob;
    if (unit.deps !== undefined) for (const d of unit.deps) ob.include(d, unit);
    if (unit.outputs.length > 0) {
      const positions: number[] = [];
      for (const o of unit.outputs) {
        const pos = this.nextPos++;
        positions.push(pos);
        ob.lastPos.set(o.roomNid, pos);
        ob.putScratchKey(nidKeyInto(SCRATCH_9, T_OUTPUT, pos), o.bytes);
        ob.putScratchKey(nid2KeyInto(SCRATCH_17, T_OUTPUT_BY_ROOM, o.roomNid, pos), EMPTY);
      }
      ob.waiters[ob.waiters.length - 1]!.positions = positions;
    }
    if (unit.rooms !== undefined) {
      for (const [roomNid, rec] of unit.rooms) {
        ob.rooms.delete(roomNid);
        ob.rooms.set(roomNid, rec);
      }
    }
    const u = unit.ops;
    for (let i = 0; i < u.length; i += 2) {
      const v = u[i + 1];
      const k = u[i] as Buffer; // keys are always bytes
      if (v === null) del(k);
      else put(k, v!);
    }
    ob.units++;
    // The native batch holds copies now: let the unit's buffers go.
    unit.release();
  }

  /** Resolves once every unit submitted so far is written (or failed). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.batches.length > 0) {
        this.inFlight = this.batches[0]!;
        await this.write(this.inFlight);
        this.batches.shift();
      }
    } finally {
      this.inFlight = undefined;
      this.running = false;
      this.maybeIdle();
    }
  }

  /** A write is scheduled or running, or written units wait for their promises to be resolved. */
  private get busy(): boolean {
    return this.running || this.scheduled || this.settleHead < this.settling.length;
  }

  /** Wakes idle() callers once the committer is no longer busy. */
  private maybeIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Resolves the commit promises of a written batch, in submission order,
   * at most resolveChunk of them per turn of the event loop. Each
   * resolution runs its caller's continuation (a room actor's next steps:
   * replies, outputs, often the next unit) before the turn ends; resolving
   * thousands in one turn kept the event loop from noticing that the next
   * write had finished, so LevelDB sat idle until they were all done.
   * Promises of a later batch never resolve before those of an earlier one.
   */
  private settle(ws: Waiter[]): void {
    const chunk = this.opts.resolveChunk;
    const queued = this.settleHead < this.settling.length;
    if (!queued && (chunk <= 0 || ws.length <= chunk)) {
      for (const w of ws) finish(w);
      return;
    }
    for (const w of ws) this.settling.push(w);
    if (!queued) this.settleChunk();
  }

  private readonly settleChunk = (): void => {
    const q = this.settling;
    const end = Math.min(q.length, this.settleHead + this.opts.resolveChunk);
    for (; this.settleHead < end; this.settleHead++) {
      const w = q[this.settleHead]!;
      q[this.settleHead] = undefined as unknown as Waiter; // let it go once resolved
      finish(w);
    }
    if (this.settleHead < q.length) {
      // under steady load the queue may never empty: drop the resolved front now and then
      if (this.settleHead >= 4096 && this.settleHead * 2 >= q.length) {
        q.splice(0, this.settleHead);
        this.settleHead = 0;
      }
      setImmediate(this.settleChunk);
      return;
    }
    this.settling = [];
    this.settleHead = 0;
    this.maybeIdle();
  };

  private async write(ob: OpenBatch): Promise<void> {
    if (this.failed !== undefined) {
      for (const w of ob.waiters) w.reject(this.failed);
      await ob.batch.close().catch(() => {});
      return;
    }
    try {
      // Every earlier batch is on disk: the positions known now are exactly those up to this batch.
      for (const [roomNid, pos] of ob.lastPos) this.lastPosByRoom.set(roomNid, pos);
      for (const [roomNid, rec] of ob.rooms) {
        const last = this.lastPosByRoom.get(roomNid);
        if (last !== undefined && last > rec.lastOutputPos) rec.lastOutputPos = last;
        ob.putScratchKey(nidKeyInto(SCRATCH_9, T_ROOM, roomNid), encodeRoom(rec));
      }
      const t0 = performance.now();
      if (ob.native) await (ob.batch as unknown as Required<RawBatch>)._write({ sync: this.opts.fsync });
      else await ob.batch.write({ sync: this.opts.fsync });
      this.stats.writeMs += performance.now() - t0;
    } catch (err) {
      this.failed =
        err instanceof RoomServerError
          ? err
          : new RoomServerError('M_UNKNOWN', `storage write failed: ${String((err as Error)?.message ?? err)}`, 'storage_write_failed');
      for (const it of ob.items) it.state = PENDING;
      for (const w of ob.waiters) w.reject(this.failed);
      await ob.batch.close().catch(() => {});
      return;
    }
    if (ob.native) {
      if (ob.bytes <= REUSE_MAX_BYTES && this.idleBatches.length < REUSE_POOL) {
        (ob.batch as unknown as Required<RawBatch>)._clear();
        this.idleBatches.push(ob.batch);
      } else {
        // not kept: close it, so the database lets go of it (a natively written batch is still open)
        void ob.batch.close().catch(() => {});
      }
    }
    for (const it of ob.items) {
      it.state = DURABLE;
      it.onDurable();
    }
    let last = this.head;
    for (const w of ob.waiters) if (w.positions.length > 0) last = w.positions[w.positions.length - 1]!;
    this.head = last;
    this.stats.writes++;
    this.stats.units += ob.units;
    this.stats.ops += ob.ops;
    this.settle(ob.waiters);
  }
}
