/**
 * State blocks and snapshots on disk: content-addressed interning (a block or
 * snapshot with the same bytes always gets the same NID, also while the first
 * one is still pending in memory), loading with caches, and the derivation
 * policy that keeps snapshots small:
 *
 * - A snapshot derived from a base reuses all of the base's blocks and adds
 *   one small delta block with the changes.
 * - Deltas are merged like a binary counter: while the newest delta is at
 *   least as large as the one below it, the two become one. So there are
 *   about log2(changes) deltas, and each entry is rewritten about that many
 *   times; the intermediate merges are never stored.
 * - When the deltas hold more than a quarter of the base (or 64 blocks would
 *   be exceeded) they are folded into the base: the state is partitioned by
 *   a hash of the state key into 2^bucketBits buckets and only the buckets
 *   whose keys changed are rewritten. An unchanged bucket keeps its block, so
 *   later snapshots and forks keep sharing it.
 */
import type { ClassicLevel } from 'classic-level';
import { RoomServerError } from '../src/errors.js';
import type { BatchGetter } from './batch-get.js';
import { hashKey, nidKey, prefixRange, readU64, T_BLOCK, T_BLOCK_HASH, T_SNAPSHOT, T_SNAPSHOT_HASH, u64Value } from './keys.js';
import { Lru, WeightedLru } from './lru.js';
import type { NidMaps } from './nid-maps.js';
import { Ns, splitStateKeyNum, stateKeyNum, type StateKeyNum } from './nids.js';
import { DURABLE, PENDING, PendingItem, type PutFn } from './pending.js';
import {
  applyBlock,
  blockFromChanges,
  blockFromMap,
  blockGet,
  contentHash,
  decodeBlock,
  EMPTY_BLOCK,
  encodeBlock,
  mergeBlocks,
  type StateBlock,
} from './state-block.js';
import { bucketOf, decodeSnapshot, encodeSnapshot, MAX_BLOCKS, type SnapshotRecord } from './snapshot-record.js';
import type { CommitUnit } from './unit.js';

/** A state change: set (type, state key) to an event, or remove it (event NID 0). */
export type StateChange = readonly [typeNid: number, stateKeyNid: number, eventNid: number];

/** Tuning of the snapshot layout (exported for tests and the benchmark). */
export const SNAPSHOT_TUNING = {
  /** Entries a base bucket aims for. */
  bucketTarget: 256,
  /** At most 2^maxBucketBits buckets (so half of the 64 blocks stay free for deltas). */
  maxBucketBits: 5,
  /** Fold when the deltas hold more than max(foldMin, baseSize / foldDivisor) entries. */
  foldMin: 64,
  foldDivisor: 4,
};

const EMPTY_STATE: ReadonlyMap<StateKeyNum, number> = new Map();

class PendingBlock extends PendingItem {
  readonly opCount = 2;
  constructor(
    private readonly owner: Snapshots,
    readonly nid: number,
    readonly hash: Buffer,
    readonly hk: string,
    readonly bytes: Buffer,
    readonly block: StateBlock,
    readonly deps: readonly PendingItem[],
  ) {
    super();
  }

  write(put: PutFn): void {
    put(nidKey(T_BLOCK, this.nid), this.bytes);
    put(hashKey(T_BLOCK_HASH, this.hash), u64Value(this.nid));
  }

  onDurable(): void {
    this.state = DURABLE;
    this.owner.blockDurable(this);
  }
}

class PendingSnapshot extends PendingItem {
  readonly opCount = 2;
  constructor(
    private readonly owner: Snapshots,
    readonly nid: number,
    readonly hash: Buffer,
    readonly hk: string,
    readonly bytes: Buffer,
    readonly record: SnapshotRecord,
    readonly deps: readonly PendingItem[],
  ) {
    super();
  }

  write(put: PutFn): void {
    put(nidKey(T_SNAPSHOT, this.nid), this.bytes);
    put(hashKey(T_SNAPSHOT_HASH, this.hash), u64Value(this.nid));
  }

  onDurable(): void {
    this.state = DURABLE;
    this.owner.snapshotDurable(this);
  }
}

interface Loaded {
  nid?: number;
  block: StateBlock;
}

export function chooseBucketBits(size: number, oldBits: number | undefined): number {
  const { bucketTarget, maxBucketBits } = SNAPSHOT_TUNING;
  const ideal = size <= bucketTarget ? 0 : Math.min(maxBucketBits, Math.ceil(Math.log2(size / bucketTarget)));
  if (oldBits !== undefined && Math.abs(ideal - oldBits) <= 1) return oldBits;
  return ideal;
}

function bucketOfKey(k: StateKeyNum, bits: number): number {
  const [t, sk] = splitStateKeyNum(k);
  return bucketOf(t, sk, bits);
}

/** Splits a block (sorted) into per-bucket blocks. */
function partition(b: StateBlock, bits: number): Map<number, StateBlock> {
  const idx = new Map<number, number[]>();
  for (let i = 0; i < b.keys.length; i++) {
    const bucket = bucketOfKey(b.keys[i]!, bits);
    let list = idx.get(bucket);
    if (list === undefined) idx.set(bucket, (list = []));
    list.push(i);
  }
  const out = new Map<number, StateBlock>();
  for (const [bucket, list] of idx) {
    const keys = new Float64Array(list.length);
    const events = new Float64Array(list.length);
    for (let j = 0; j < list.length; j++) {
      keys[j] = b.keys[list[j]!]!;
      events[j] = b.events[list[j]!]!;
    }
    out.set(bucket, { keys, events });
  }
  return out;
}

export interface SnapshotCaches {
  blockCacheEntries: number;
  stateCacheEntries: number;
}

/** Adds an item that is still pending to a set of dependencies. */
function addPending(deps: Set<PendingItem>, p: PendingItem | undefined): void {
  if (p !== undefined && p.state === PENDING) deps.add(p);
}

export class Snapshots {
  private nextBlock = 1;
  private nextSnapshot = 1;
  private readonly blockCache: WeightedLru<number, StateBlock>;
  private readonly recordCache = new Lru<number, SnapshotRecord>(65536);
  private readonly stateCache: WeightedLru<number, ReadonlyMap<StateKeyNum, number>>;
  private readonly blockByHash = new Lru<string, number>(262144);
  private readonly snapshotByHash = new Lru<string, number>(262144);
  private readonly pendBlockByHash = new Map<string, PendingBlock>();
  private readonly pendBlockByNid = new Map<number, PendingBlock>();
  private readonly pendSnapByHash = new Map<string, PendingSnapshot>();
  private readonly pendSnapByNid = new Map<number, PendingSnapshot>();
  private readonly interning = new Map<string, Promise<number>>();

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly getter: BatchGetter,
    private readonly maps: NidMaps,
    caches: SnapshotCaches,
  ) {
    this.blockCache = new WeightedLru(caches.blockCacheEntries);
    this.stateCache = new WeightedLru(caches.stateCacheEntries);
  }

  async init(): Promise<void> {
    for await (const k of this.db.keys({ ...prefixRange(Buffer.from([T_BLOCK])), reverse: true, limit: 1 })) {
      this.nextBlock = readU64(k, 1) + 1;
    }
    for await (const k of this.db.keys({ ...prefixRange(Buffer.from([T_SNAPSHOT])), reverse: true, limit: 1 })) {
      this.nextSnapshot = readU64(k, 1) + 1;
    }
  }

  // ------------------------------------------------------------ reading

  async record(nid: number): Promise<SnapshotRecord> {
    const pend = this.pendSnapByNid.get(nid);
    if (pend !== undefined) return pend.record;
    const cached = this.recordCache.get(nid);
    if (cached !== undefined) return cached;
    const v = await this.getter.get(nidKey(T_SNAPSHOT, nid));
    if (v === undefined) throw new RoomServerError('M_NOT_FOUND', `no snapshot ${nid}`, 'storage_missing_snapshot');
    const rec = decodeSnapshot(v);
    this.recordCache.set(nid, rec);
    return rec;
  }

  async block(nid: number): Promise<StateBlock> {
    const pend = this.pendBlockByNid.get(nid);
    if (pend !== undefined) return pend.block;
    const cached = this.blockCache.get(nid);
    if (cached !== undefined) return cached;
    const v = await this.getter.get(nidKey(T_BLOCK, nid));
    if (v === undefined) throw new RoomServerError('M_NOT_FOUND', `no state block ${nid}`, 'storage_missing_block');
    const b = decodeBlock(v);
    this.blockCache.set(nid, b, b.keys.length + 1);
    return b;
  }

  /** The full state of a snapshot (shared and cached: do not mutate; copy with `new Map(m)`). */
  async load(nid: number): Promise<ReadonlyMap<StateKeyNum, number>> {
    if (nid === 0) return EMPTY_STATE;
    const cached = this.stateCache.get(nid);
    if (cached !== undefined) return cached;
    const rec = await this.record(nid);
    const blocks = await Promise.all(rec.blocks.map((b) => this.block(b)));
    const m = new Map<StateKeyNum, number>();
    for (const b of blocks) applyBlock(m, b);
    this.stateCache.set(nid, m, m.size + 1);
    return m;
  }

  /** One entry of a snapshot without building the whole state (0 when absent). */
  async entry(nid: number, typeNid: number, stateKeyNid: number): Promise<number> {
    if (nid === 0) return 0;
    const k = stateKeyNum(typeNid, stateKeyNid);
    const cached = this.stateCache.peek(nid);
    if (cached !== undefined) return cached.get(k) ?? 0;
    const rec = await this.record(nid);
    // Newest block first: the first block that mentions the key decides (0 = removed).
    for (let i = rec.blocks.length - 1; i >= 0; i--) {
      const ev = blockGet(await this.block(rec.blocks[i]!), k);
      if (ev !== undefined) return ev;
    }
    return 0;
  }

  // ------------------------------------------------------------ deriving

  /**
   * The snapshot of `base` (0 = empty) with `changes` applied. Returns `base`
   * itself when nothing changes (no new records), 0 when the result is empty.
   */
  async derive(unit: CommitUnit, roomNid: number, baseNid: number, changes: readonly StateChange[]): Promise<number> {
    let delta = blockFromChanges(changes);
    unit.ref(Ns.ROOM, roomNid);
    const base = baseNid === 0 ? undefined : await this.record(baseNid);
    if (base !== undefined && base.roomNid !== roomNid) {
      throw new RoomServerError('M_INVALID_PARAM', `snapshot ${baseNid} belongs to another room`, 'storage_snapshot_room');
    }
    // Drop changes that change nothing when the base state is at hand.
    const known = baseNid === 0 ? EMPTY_STATE : this.stateCache.peek(baseNid);
    if (known !== undefined) delta = withoutNoOps(delta, known);
    if (delta.keys.length === 0) {
      if (baseNid !== 0) this.touchSnapshot(unit, baseNid);
      return baseNid;
    }
    unit.refBlock(delta);

    const baseCount = base?.baseCount ?? 0;
    const stack: Loaded[] = [];
    if (base !== undefined) {
      const nids = base.blocks.slice(baseCount);
      const blocks = await Promise.all(nids.map((n) => this.block(n)));
      for (let i = 0; i < nids.length; i++) stack.push({ nid: nids[i]!, block: blocks[i]! });
    }
    stack.push({ block: delta });
    while (stack.length >= 2) {
      const top = stack[stack.length - 1]!;
      const below = stack[stack.length - 2]!;
      if (top.block.keys.length < below.block.keys.length) break;
      const atBottom = baseCount === 0 && stack.length === 2;
      stack.splice(stack.length - 2, 2, { block: mergeBlocks(below.block, top.block, atBottom) });
    }
    if (stack.length === 1 && baseCount === 0 && stack[0]!.block.keys.length === 0) return 0;

    let deltaEntries = 0;
    for (const s of stack) deltaEntries += s.block.keys.length;
    const baseSize = base?.baseSize ?? 0;
    const { foldMin, foldDivisor } = SNAPSHOT_TUNING;
    if (baseCount + stack.length > MAX_BLOCKS || deltaEntries > Math.max(foldMin, baseSize / foldDivisor)) {
      return this.fold(unit, roomNid, base, stack);
    }
    const deltaNids: number[] = [];
    for (const s of stack) {
      if (s.nid !== undefined) {
        this.touchBlock(unit, s.nid);
        deltaNids.push(s.nid);
      } else {
        deltaNids.push(await this.internBlock(unit, s.block));
      }
    }
    const baseNids = base?.blocks.slice(0, baseCount) ?? [];
    for (const n of baseNids) this.touchBlock(unit, n);
    return this.internSnapshot(unit, {
      roomNid,
      bucketBits: base?.bucketBits ?? 0,
      baseCount,
      baseSize,
      blocks: [...baseNids, ...deltaNids],
    });
  }

  /** Folds the deltas into the base buckets, rewriting only the buckets they touch. */
  private async fold(unit: CommitUnit, roomNid: number, base: SnapshotRecord | undefined, stack: Loaded[]): Promise<number> {
    let overlay: StateBlock = EMPTY_BLOCK;
    for (const s of stack) overlay = mergeBlocks(overlay, s.block, false);
    const baseCount = base?.baseCount ?? 0;
    const baseNids = base?.blocks.slice(0, baseCount) ?? [];
    const baseBlocks = await Promise.all(baseNids.map((n) => this.block(n)));
    let added = 0;
    for (let i = 0; i < overlay.events.length; i++) if (overlay.events[i] !== 0) added++;
    const bits = chooseBucketBits((base?.baseSize ?? 0) + added, baseCount > 0 ? base!.bucketBits : undefined);

    const buckets: Loaded[] = [];
    if (baseCount > 0 && bits === base!.bucketBits) {
      const old = new Map<number, Loaded>();
      for (let i = 0; i < baseBlocks.length; i++) {
        const b = baseBlocks[i]!;
        if (b.keys.length > 0) old.set(bucketOfKey(b.keys[0]!, bits), { nid: baseNids[i]!, block: b });
      }
      const changed = partition(overlay, bits);
      for (let bucket = 0; bucket < 2 ** bits; bucket++) {
        const prev = old.get(bucket);
        const ch = changed.get(bucket);
        if (ch === undefined) {
          if (prev !== undefined) buckets.push(prev);
          continue;
        }
        const merged = mergeBlocks(prev?.block ?? EMPTY_BLOCK, ch, true);
        if (merged.keys.length > 0) buckets.push({ block: merged });
      }
    } else {
      const full = new Map<StateKeyNum, number>();
      for (const b of baseBlocks) applyBlock(full, b);
      applyBlock(full, overlay);
      const parts = partition(blockFromMap(full, true), bits);
      for (let bucket = 0; bucket < 2 ** bits; bucket++) {
        const p = parts.get(bucket);
        if (p !== undefined) buckets.push({ block: p });
      }
    }
    return this.snapshotOfBuckets(unit, roomNid, bits, buckets);
  }

  private async snapshotOfBuckets(unit: CommitUnit, roomNid: number, bits: number, buckets: Loaded[]): Promise<number> {
    if (buckets.length === 0) return 0;
    const nids = await Promise.all(
      buckets.map((b) => {
        if (b.nid !== undefined) {
          this.touchBlock(unit, b.nid);
          return b.nid;
        }
        return this.internBlock(unit, b.block);
      }),
    );
    let size = 0;
    for (const b of buckets) size += b.block.keys.length;
    return this.internSnapshot(unit, { roomNid, bucketBits: bits, baseCount: nids.length, baseSize: size, blocks: nids });
  }

  /**
   * A snapshot of a full state (state key number -> event NID). With a
   * `base` snapshot, stores only the difference from it (derive); without,
   * builds bucket blocks, which share the unchanged buckets of other
   * snapshots of the room.
   */
  async fromState(
    unit: CommitUnit,
    roomNid: number,
    state: ReadonlyMap<StateKeyNum, number>,
    baseNid?: number,
  ): Promise<number> {
    unit.ref(Ns.ROOM, roomNid);
    if (baseNid !== undefined && baseNid !== 0) {
      const old = await this.load(baseNid);
      const changes: StateChange[] = [];
      for (const [k, ev] of state) {
        if (old.get(k) !== ev) {
          const [t, sk] = splitStateKeyNum(k);
          changes.push([t, sk, ev]);
        }
      }
      for (const k of old.keys()) {
        if (!state.has(k)) {
          const [t, sk] = splitStateKeyNum(k);
          changes.push([t, sk, 0]);
        }
      }
      return this.derive(unit, roomNid, baseNid, changes);
    }
    const changes: StateChange[] = [];
    for (const [k, ev] of state) {
      const [t, sk] = splitStateKeyNum(k);
      changes.push([t, sk, ev]);
    }
    const full = blockFromChanges(changes);
    const filtered = mergeBlocks(EMPTY_BLOCK, full, true);
    unit.refBlock(filtered);
    const bits = chooseBucketBits(filtered.keys.length, undefined);
    const parts = partition(filtered, bits);
    const buckets: Loaded[] = [];
    for (let bucket = 0; bucket < 2 ** bits; bucket++) {
      const p = parts.get(bucket);
      if (p !== undefined) buckets.push({ block: p });
    }
    return this.snapshotOfBuckets(unit, roomNid, bits, buckets);
  }

  // ------------------------------------------------------------ interning

  private touchBlock(unit: CommitUnit, nid: number): void {
    unit.addDep(this.pendBlockByNid.get(nid));
  }

  private touchSnapshot(unit: CommitUnit, nid: number): void {
    unit.addDep(this.pendSnapByNid.get(nid));
  }

  /** Makes a unit that refers to a snapshot depend on it while it is pending. */
  refSnapshot(unit: CommitUnit, nid: number): void {
    if (nid !== 0) this.touchSnapshot(unit, nid);
  }

  private blockDeps(b: StateBlock): PendingItem[] {
    const deps = new Set<PendingItem>();
    if (this.maps.pendingCount() > 0) {
      for (let i = 0; i < b.keys.length; i++) {
        const [t, sk] = splitStateKeyNum(b.keys[i]!);
        addPending(deps, this.maps.pendingOf(Ns.TYPE, t));
        addPending(deps, this.maps.pendingOf(Ns.STATE_KEY, sk));
        if (b.events[i] !== 0) addPending(deps, this.maps.pendingOf(Ns.EVENT, b.events[i]!));
      }
    }
    return [...deps];
  }

  /**
   * Whether a block names an event NID that is not durable yet. Such a block
   * cannot be on disk: a NID allocated in this run is above every NID stored
   * before it, and a block is written no earlier than the NIDs it names, so
   * a copy would still be pending too, and pending blocks are always found
   * in memory. Its hash needs no database lookup.
   */
  private namesPendingEvent(block: StateBlock): boolean {
    if (this.maps.pendingCount() === 0) return false;
    const events = block.events;
    for (let i = 0; i < events.length; i++) {
      if (events[i] !== 0 && this.maps.pendingOf(Ns.EVENT, events[i]!) !== undefined) return true;
    }
    return false;
  }

  private async internBlock(unit: CommitUnit, block: StateBlock): Promise<number> {
    const bytes = encodeBlock(block);
    const hash = contentHash(bytes);
    const hk = hash.toString('latin1');
    const nid = await this.intern('b' + hk, () => this.pendBlockByHash.get(hk)?.nid ?? this.blockByHash.get(hk), hashKey(T_BLOCK_HASH, hash), (found) => {
      if (found !== undefined) {
        this.blockByHash.set(hk, found);
        return found;
      }
      const nid = this.nextBlock++;
      const item = new PendingBlock(this, nid, hash, hk, bytes, block, this.blockDeps(block));
      this.pendBlockByHash.set(hk, item);
      this.pendBlockByNid.set(nid, item);
      return nid;
    }, this.namesPendingEvent(block));
    this.touchBlock(unit, nid);
    return nid;
  }

  private async internSnapshot(unit: CommitUnit, record: SnapshotRecord): Promise<number> {
    if (record.blocks.length > MAX_BLOCKS) {
      throw new RoomServerError('M_UNKNOWN', `snapshot of ${record.blocks.length} blocks`, 'storage_snapshot_too_long');
    }
    const bytes = encodeSnapshot(record);
    const hash = contentHash(bytes);
    const hk = hash.toString('latin1');
    const nid = await this.intern('s' + hk, () => this.pendSnapByHash.get(hk)?.nid ?? this.snapshotByHash.get(hk), hashKey(T_SNAPSHOT_HASH, hash), (found) => {
      if (found !== undefined) {
        this.snapshotByHash.set(hk, found);
        return found;
      }
      const nid = this.nextSnapshot++;
      const deps: PendingItem[] = [];
      const room = this.maps.pendingOf(Ns.ROOM, record.roomNid);
      if (room !== undefined) deps.push(room);
      for (const b of record.blocks) {
        const p = this.pendBlockByNid.get(b);
        if (p !== undefined) deps.push(p);
      }
      const item = new PendingSnapshot(this, nid, hash, hk, bytes, record, deps);
      this.pendSnapByHash.set(hk, item);
      this.pendSnapByNid.set(nid, item);
      return nid;
      // a snapshot naming a pending block is new for the same reason as such a block
    }, record.blocks.some((b) => this.pendBlockByNid.has(b)));
    this.touchSnapshot(unit, nid);
    for (const b of record.blocks) this.touchBlock(unit, b);
    return nid;
  }

  /**
   * Content hash -> NID, with one in-flight lookup per hash so concurrent
   * units never allocate two NIDs for the same content.
   */
  private intern(
    key: string,
    known: () => number | undefined,
    dbKey: Buffer,
    resolve: (found: number | undefined) => number,
    fresh: boolean,
  ): Promise<number> | number {
    const k = known();
    if (k !== undefined) return k;
    let p = this.interning.get(key);
    // Content that names something still pending cannot be on disk (see internBlock): no read.
    if (p === undefined && fresh) return resolve(undefined);
    if (p === undefined) {
      p = (async () => {
        try {
          const v = await this.getter.get(dbKey);
          const again = known();
          if (again !== undefined) return again;
          return resolve(v === undefined ? undefined : readU64(v, 0));
        } finally {
          this.interning.delete(key);
        }
      })();
      this.interning.set(key, p);
    }
    return p;
  }

  pendingCount(): number {
    return this.pendBlockByNid.size + this.pendSnapByNid.size;
  }

  /** A pending block reached disk (internal: called by the item). */
  blockDurable(item: PendingBlock): void {
    this.pendBlockByHash.delete(item.hk);
    this.pendBlockByNid.delete(item.nid);
    this.blockByHash.set(item.hk, item.nid);
    this.blockCache.set(item.nid, item.block, item.block.keys.length + 1);
  }

  /** A pending snapshot reached disk (internal: called by the item). */
  snapshotDurable(item: PendingSnapshot): void {
    this.pendSnapByHash.delete(item.hk);
    this.pendSnapByNid.delete(item.nid);
    this.snapshotByHash.set(item.hk, item.nid);
    this.recordCache.set(item.nid, item.record);
  }
}

function withoutNoOps(delta: StateBlock, state: ReadonlyMap<StateKeyNum, number>): StateBlock {
  let keep = 0;
  const mask = new Uint8Array(delta.keys.length);
  for (let i = 0; i < delta.keys.length; i++) {
    const cur = state.get(delta.keys[i]!) ?? 0;
    if (cur !== delta.events[i]) {
      mask[i] = 1;
      keep++;
    }
  }
  if (keep === delta.keys.length) return delta;
  const keys = new Float64Array(keep);
  const events = new Float64Array(keep);
  let j = 0;
  for (let i = 0; i < delta.keys.length; i++) {
    if (mask[i]) {
      keys[j] = delta.keys[i]!;
      events[j] = delta.events[i]!;
      j++;
    }
  }
  return { keys, events };
}
