/**
 * The single committer. Units of many rooms are queued; one LevelDB write is
 * in flight at a time, and while it is, the next units gather; then they are
 * all written in one batch (group commit). A unit is never split across
 * writes. The committer assigns output positions in write order, so the
 * output log is gap-free: positions are handed out only while forming the
 * batch that writes them, and taken back if that write fails.
 *
 * With `group: false` every unit is its own write (for comparison in the
 * benchmark); writes stay serial so the log stays gap-free.
 */
import type { ClassicLevel } from 'classic-level';
import { RoomServerError } from '../src/errors.js';
import { nid2Key, nidKey, T_OUTPUT, T_OUTPUT_BY_ROOM, T_ROOM } from './keys.js';
import { DURABLE, PENDING, WRITING, type PendingItem } from './pending.js';
import { encodeRoom, type RoomRecord } from './records.js';
import type { CommitUnit } from './unit.js';

export interface CommitResult {
  /** The output positions assigned to the unit's outputs, in the order they were appended. */
  readonly outputPositions: number[];
}

interface Queued {
  unit: CommitUnit;
  resolve: (r: CommitResult) => void;
  reject: (e: unknown) => void;
}

const EMPTY = Buffer.alloc(0);

export interface CommitterOptions {
  fsync: boolean;
  group: boolean;
  /** Most units in one write. */
  maxGroupUnits: number;
}

export interface CommitStats {
  writes: number;
  units: number;
  ops: number;
}

export class GroupCommitter {
  private queue: Queued[] = [];
  private running = false;
  private nextPos: number;
  private head: number;
  private idleWaiters: Array<() => void> = [];
  /** Last output position assigned per room (so a room record never names an older one). */
  private readonly lastPosByRoom = new Map<number, number>();
  readonly stats: CommitStats = { writes: 0, units: 0, ops: 0 };

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly opts: CommitterOptions,
    outputHead: number,
    /** Called after each successful write with the new output head. */
    private readonly onWritten: (head: number) => void = () => {},
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
    return new Promise((resolve, reject) => {
      this.queue.push({ unit, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Let the units produced in this turn of the event loop join the first write.
        setImmediate(() => void this.run());
      }
    });
  }

  /** Resolves once every unit submitted so far is written (or failed). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const take = this.opts.group ? this.opts.maxGroupUnits : 1;
        const group = this.queue.splice(0, take);
        await this.write(group);
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async write(group: Queued[]): Promise<void> {
    const batch = this.db.batch();
    // The chained batch's public put() re-validates and re-encodes every
    // key and value (they are Buffers already); after the first op (which
    // keeps the batch's own op count non-zero so write() does not skip it)
    // the ops go straight to the native batch when that method exists.
    const raw = batch as unknown as { _put?: (k: Buffer, v: Buffer) => void; _del?: (k: Buffer) => void };
    let first = true;
    const put = (k: Buffer, v: Buffer): void => {
      if (first || raw._put === undefined) {
        first = false;
        batch.put(k, v);
      } else {
        raw._put(k, v);
      }
    };
    const del = (k: Buffer): void => {
      if (first || raw._del === undefined) {
        first = false;
        batch.del(k);
      } else {
        raw._del(k);
      }
    };
    const items: PendingItem[] = [];
    const include = (item: PendingItem): void => {
      if (item.state !== PENDING) return;
      item.state = WRITING;
      for (const d of item.deps) include(d);
      item.write(put);
      items.push(item);
    };
    const posBefore = this.nextPos;
    const results: number[][] = [];
    // The last room record of each room in the group (earlier ones would be overwritten in the same batch).
    const rooms = new Map<number, RoomRecord>();
    const lastPosBefore = new Map<number, number | undefined>();
    let ops = 0;
    try {
      for (const { unit } of group) {
        if (unit.deps !== undefined) for (const d of unit.deps) include(d);
        const positions: number[] = [];
        for (const o of unit.outputs) {
          const pos = this.nextPos++;
          positions.push(pos);
          if (!lastPosBefore.has(o.roomNid)) lastPosBefore.set(o.roomNid, this.lastPosByRoom.get(o.roomNid));
          this.lastPosByRoom.set(o.roomNid, pos);
          put(nidKey(T_OUTPUT, pos), o.bytes);
          put(nid2Key(T_OUTPUT_BY_ROOM, o.roomNid, pos), EMPTY);
        }
        if (unit.rooms !== undefined) {
          for (const [roomNid, rec] of unit.rooms) {
            rooms.delete(roomNid);
            rooms.set(roomNid, rec);
          }
        }
        const u = unit.ops;
        for (let i = 0; i < u.length; i += 2) {
          const v = u[i + 1];
          if (v === null) del(u[i]!);
          else put(u[i]!, v!);
        }
        ops += u.length / 2 + unit.outputs.length * 2;
        results.push(positions);
        // The native batch holds copies now: let the unit's buffers go before the write returns.
        unit.release();
      }
      for (const [roomNid, rec] of rooms) {
        const last = this.lastPosByRoom.get(roomNid);
        if (last !== undefined && last > rec.lastOutputPos) rec.lastOutputPos = last;
        put(nidKey(T_ROOM, roomNid), encodeRoom(rec));
      }
      ops += rooms.size;
      for (const it of items) ops += it.opCount;
      await batch.write({ sync: this.opts.fsync });
    } catch (err) {
      this.nextPos = posBefore;
      for (const [room, pos] of lastPosBefore) {
        if (pos === undefined) this.lastPosByRoom.delete(room);
        else this.lastPosByRoom.set(room, pos);
      }
      for (const it of items) it.state = PENDING;
      await batch.close().catch(() => {});
      const e = err instanceof RoomServerError ? err : new RoomServerError('M_UNKNOWN', `storage write failed: ${String((err as Error)?.message ?? err)}`, 'storage_write_failed');
      for (const q of group) q.reject(e);
      return;
    }
    for (const it of items) {
      it.state = DURABLE;
      it.onDurable();
    }
    this.head = this.nextPos - 1;
    this.stats.writes++;
    this.stats.units += group.length;
    this.stats.ops += ops;
    this.onWritten(this.head);
    for (let i = 0; i < group.length; i++) group[i]!.resolve({ outputPositions: results[i]! });
  }
}
