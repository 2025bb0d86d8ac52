/**
 * Store: the roomserver's storage on LevelDB, the only code that touches the
 * database. Import everything from `storage/index.js`. Room actors use it
 * like this:
 *
 * ```ts
 * const store = await Store.open(dir, { fsync: false });
 *
 * // Inputs are journaled before they are acknowledged (async input):
 * const [seq] = await store.appendJournal([{ event: pdu, kind: 'new' }]);
 *
 * // Processing one event = one commit unit = one atomic write:
 * const u = store.unit();
 * const roomNid  = await u.nid(Ns.ROOM, roomId);          // allocates if new
 * const eventNid = await u.nid(Ns.EVENT, eventId);
 * const typeNid  = await u.nid(Ns.TYPE, 'm.room.member');  // = TYPE_MEMBER
 * const skNid    = await u.nid(Ns.STATE_KEY, userId);
 * const after = await store.deriveSnapshot(u, roomNid, stateBeforeNid, [[typeNid, skNid, eventNid]]);
 * u.putEvent(eventNid, { roomNid, typeNid, stateKeyNid: skNid, sender, depth, originServerTs,
 *   prevEventNids, authEventNids, outlier: false, rejected: false, softFailed: false,
 *   redacted: false, stateBeforeNid }, pduJson);
 * u.putRoom(roomNid, { roomVersion, createEventNid, extremities: [eventNid],
 *   stateSnapshotNid: after, maxDepth, lastOutputPos: 0 });
 * u.appendOutput(roomNid, { type: 'new_room_event', event_nid: eventNid });
 * u.putMembership(roomNid, userId, 'join', eventNid);
 * u.removeJournal(seq);
 * const { outputPositions } = await store.commit(u);        // durable and visible now
 * ```
 *
 * CommitUnit methods (sync unless noted; each validates its input and throws
 * RoomServerError M_INVALID_PARAM with a `storage_*` reason, writing nothing):
 *   nid(ns, s) / nids(ns, strs)            async; NIDs whose new mappings go with this unit
 *   putEvent(eventNid, meta, json?)         metadata (+ JSON object, text or UTF-8 bytes); rewrite to set flags
 *   putRoom(roomNid, record)                lastOutputPos is filled in by the committer
 *   appendOutput(roomNid, jsonOrBytes)      position assigned at commit (CommitResult.outputPositions)
 *   removeJournal(seq)
 *   putMembership(roomNid, userId, membership, eventNid) / deleteMembership(roomNid, userId)
 *   putTxn(sender, txnId, { eventId, status })
 *   addRedaction(targetNid, redactionNid)
 *   listener = { durable(positions) }       told synchronously once durable, in output position order
 *
 * Rules the caller keeps:
 * - NIDs are never 0; 0 means "none" (state key NID 0 = not a state event,
 *   snapshot NID 0 = the empty state, event NID 0 in a state change = remove).
 * - `nid()` allocates in memory. The mapping reaches disk with the first
 *   committed unit that uses the NID (every unit method notices pending
 *   NIDs). Queries use `lookupNid()`, which never allocates.
 * - A room's units are committed in the order they were built (the actor is
 *   the room's only writer). An actor may build and submit its next unit
 *   before the previous commit resolves (pipelining): blocks and snapshots of
 *   uncommitted units are visible at once to later units (so dedup never
 *   makes two NIDs for one content) and are written with the first unit that
 *   needs them.
 * - `loadSnapshot()` returns a shared, cached map: never mutate it.
 * - Reads see a unit's effects once its `commit()` promise resolves.
 * - With `fsync: false` (default) a committed unit survives a killed process
 *   (LevelDB's log is written before the write returns), not a power cut.
 *   With `fsync: true` every group write and journal append is synced.
 * - A failed write (disk full, I/O error) rejects its units with
 *   `storage_write_failed` and every later commit too: reopen the store.
 * - Outputs and journal entries are JSON values or bytes. Outputs should
 *   name events (by NID or ID) rather than copy their JSON, stored already.
 *
 * Store API (async unless noted):
 *   Store.open(dir, opts) / close() (flushes pending commits) / flush()
 *   NIDs:       lookupNid, lookupNids, nid, nids, str, strs, peekNid (sync), peekStr (sync), peekStrs (sync)
 *   events:     getEventMeta, getEventMetas, getEventJson, getEventJsonBytes
 *   state:      loadSnapshot, getStateEntry, deriveSnapshot, snapshotFromState, getSnapshotRecord,
 *               refSnapshot (sync)
 *   rooms:      getRoom, listRooms
 *   outputs:    readOutputs, outputHead (sync)
 *   journal:    appendJournal, readJournal
 *   membership: getMembers, getMembership
 *   txn:        getTxn
 *   redactions: getRedactions, redactionTargets
 *   keys:       putServerKey, getServerKey, listServerKeys, deleteServerKey
 *   writes:     unit() (sync), commit(unit), commitStats (sync), pendingCount (sync)
 *   checks:     checkIntegrity, tableStats, compact
 * Helpers (nids.ts): Ns, TYPE_* and STATE_KEY_EMPTY constants, stateKeyNum,
 * splitStateKeyNum, stateKeyTypeNid, stateKeySkNid.
 */
import { ClassicLevel } from 'classic-level';
import { RoomServerError } from '../src/errors.js';
import type { JsonObject } from '../src/matrix/json.js';
import { BatchGetter } from './batch-get.js';
import { KeyFilter, keyBytesName } from './key-filter.js';
import { GroupCommitter, type CommitResult, type CommitStats } from './group-commit.js';
import { checkIntegrity, type IntegrityReport } from './integrity.js';
import {
  nidKey,
  nidStrKey,
  prefixRange,
  readStr2Key,
  readU64,
  str2Key,
  str2KeyPrefix,
  T_EVENT_JSON,
  T_EVENT_META,
  T_JOURNAL,
  T_MEMBERSHIP,
  T_META,
  T_OUTPUT,
  T_OUTPUT_BY_ROOM,
  T_REDACTION,
  T_ROOM,
  T_SERVER_KEY,
  T_TXN,
  nid2Key,
  u64Value,
} from './keys.js';
import { NidMaps } from './nid-maps.js';
import type { Ns, StateKeyNum } from './nids.js';
import {
  decodeEventJson,
  decodeEventMeta,
  decodeMembership,
  decodeRoom,
  decodeServerKey,
  decodeTagged,
  decodeTxn,
  encodeServerKey,
  encodeTagged,
  type EventMeta,
  type MembershipRecord,
  type RoomRecord,
  type ServerKeyRecord,
  type StoredValue,
  type TxnRecord,
} from './records.js';
import type { SnapshotRecord } from './snapshot-record.js';
import { Snapshots, type StateChange } from './snapshots.js';
import { CommitUnit } from './unit.js';
import { MAX_NICE, watchCompactionThread } from './compaction-priority.js';

export type { CommitResult, CommitStats } from './group-commit.js';
export type { IntegrityReport } from './integrity.js';
export type { EventMeta, RoomRecord, MembershipRecord, TxnRecord, ServerKeyRecord, StoredValue } from './records.js';
export type { StateChange } from './snapshots.js';
export type { SnapshotRecord } from './snapshot-record.js';
export { CommitUnit, type DurableListener } from './unit.js';

/**
 * 2: event metadata records carry the event ID, and an event stored in the
 * same write as its mapping has no NID -> string record. A schema 1 database
 * (every event has a NID -> string record) is read the same way, and marked
 * 2 when opened: code that reads only schema 1 cannot open it afterwards.
 */
export const SCHEMA_VERSION = 2;
/** Older schemas this code reads as they are (see SCHEMA_VERSION). */
const READABLE_SCHEMAS: readonly number[] = [1];

export interface StoreOptions {
  /** Sync every group write and journal append to disk (default false). */
  fsync?: boolean;
  /** Merge concurrent units into one write (default true; false = one write per unit, for comparison). */
  groupCommit?: boolean;
  /** Most units in one group write (default 4096). */
  maxGroupUnits?: number;
  /**
   * With no write in flight, start writing once this many units are waiting
   * rather than at the end of the event loop turn (default 256), so LevelDB
   * works while the rest of a burst is still being built.
   */
  eagerGroupUnits?: number;
  /**
   * Most commit promises resolved per turn of the event loop once a write
   * is done (default 128; 0 = all at once), so that the end of the next
   * write is noticed, and the one after it started, while callers go on.
   * 128 rather than 64 since 2026-11-27 (over WebSocket, 10,000 rooms x 20
   * sends, alternated: events/s higher in 8 of 8 pairs, +85 to +574; p99
   * lower in 2 of 3; in-process sends within the noise, 5 pairs).
   */
  resolveChunk?: number;
  /** Entries per direction and namespace in the NID caches (default 100,000). */
  nidCacheSize?: number;
  /** State entries held by the decoded block cache (default 1,000,000). */
  blockCacheEntries?: number;
  /** State entries held by the loaded snapshot cache (default 1,000,000). */
  snapshotCacheEntries?: number;
  /** LevelDB block cache bytes (default 32 MiB). */
  leveldbCacheSize?: number;
  /** LevelDB write buffer bytes (default 16 MiB). */
  writeBufferSize?: number;
  /**
   * Nice value for LevelDB's compaction thread (Linux; default 19, the
   * lowest priority; 0 = leave it): see compaction-priority.ts. Once per
   * process: the first store opened decides.
   */
  compactionNice?: number;
  /**
   * Keep a filter of every stored event ID (about 10 bits each, filled in
   * the background after open), so that checking a new event ID needs no
   * read (default true).
   */
  eventIdFilter?: boolean;
}

export interface OutputEntry {
  pos: number;
  roomNid: number;
  output: StoredValue;
}

export interface JournalEntry {
  seq: number;
  value: StoredValue;
}

export interface MemberEntry extends MembershipRecord {
  userId: string;
}

export interface ServerKeyEntry extends ServerKeyRecord {
  serverName: string;
  keyId: string;
}

export interface TableStat {
  table: string;
  count: number;
  keyBytes: number;
  valueBytes: number;
}

const TABLE_NAMES: Record<number, string> = {
  0x00: 'meta',
  0x01: 'string->nid',
  0x02: 'nid->string',
  0x10: 'event meta',
  0x11: 'event json',
  0x20: 'state blocks',
  0x21: 'block hashes',
  0x22: 'snapshots',
  0x23: 'snapshot hashes',
  0x30: 'rooms',
  0x40: 'outputs',
  0x41: 'outputs by room',
  0x50: 'journal',
  0x60: 'membership',
  0x61: 'txn ids',
  0x62: 'redactions',
  0x70: 'server keys',
};

const SCHEMA_KEY = Buffer.from([T_META, ...Buffer.from('schema')]);
/** The next journal sequence, written in the same batch as every append (so sequences are never reused). */
const JOURNAL_NEXT_KEY = Buffer.from([T_META, ...Buffer.from('journal_next')]);

function checkPositive(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RoomServerError('M_INVALID_PARAM', `${what} must be a positive integer, got ${String(n)}`, 'storage_bad_nid');
  }
}

export class Store {
  private closed = false;
  private journalNext = 1;
  private journalQueue: Array<{ seqs: number[]; encoded: Buffer[]; resolve: () => void; reject: (e: unknown) => void }> = [];
  private journalWriting = false;

  private constructor(
    /** The database (storage/ internal: tests and the integrity check read it). */
    readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly getter: BatchGetter,
    private readonly maps: NidMaps,
    private readonly snaps: Snapshots,
    private readonly committer: GroupCommitter,
    readonly options: Readonly<Required<Pick<StoreOptions, 'fsync' | 'groupCommit'>>>,
    /** Every stored txn key: a new txn_id (every send has one) is known to be unused without a read. */
    private readonly txns: KeyFilter,
  ) {}

  static async open(dir: string, opts: StoreOptions = {}): Promise<Store> {
    const compaction = await watchCompactionThread(opts.compactionNice ?? MAX_NICE);
    const db = new ClassicLevel<Buffer, Buffer>(dir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      cacheSize: opts.leveldbCacheSize ?? 32 * 1024 * 1024,
      writeBufferSize: opts.writeBufferSize ?? 16 * 1024 * 1024,
    });
    try {
      await db.open();
    } catch (err) {
      throw new RoomServerError('M_UNKNOWN', `cannot open the database at ${dir}: ${String((err as Error)?.message ?? err)}`, 'storage_open_failed');
    }
    let maps: NidMaps | undefined;
    let txns: KeyFilter | undefined;
    try {
      await compaction?.after(db);
      const stored = await db.get(SCHEMA_KEY);
      const schema = stored === undefined ? undefined : readU64(stored, 0);
      if (schema === undefined || READABLE_SCHEMAS.includes(schema)) {
        await db.put(SCHEMA_KEY, u64Value(SCHEMA_VERSION), { sync: true });
      } else if (schema !== SCHEMA_VERSION) {
        throw new RoomServerError('M_UNKNOWN', `database schema ${schema} is not ${SCHEMA_VERSION}`, 'storage_schema');
      }
      const getter = new BatchGetter(db);
      maps = new NidMaps(db, getter, opts.nidCacheSize ?? 100_000, opts.eventIdFilter ?? true);
      await maps.init();
      const snaps = new Snapshots(db, getter, maps, {
        blockCacheEntries: opts.blockCacheEntries ?? 1_000_000,
        stateCacheEntries: opts.snapshotCacheEntries ?? 1_000_000,
      });
      await snaps.init();
      let head = 0;
      for await (const k of db.keys({ ...prefixRange(Buffer.from([T_OUTPUT])), reverse: true, limit: 1 })) head = readU64(k, 1);
      const committer = new GroupCommitter(db, {
        fsync: opts.fsync ?? false,
        group: opts.groupCommit ?? true,
        maxGroupUnits: opts.maxGroupUnits ?? 4096,
        eagerUnits: opts.eagerGroupUnits ?? 256,
        resolveChunk: opts.resolveChunk ?? 128,
      }, head);
      txns = new KeyFilter(db, Buffer.from([T_TXN]), keyBytesName);
      const store = new Store(db, getter, maps, snaps, committer, {
        fsync: opts.fsync ?? false,
        groupCommit: opts.groupCommit ?? true,
      }, txns);
      const mark = await db.get(JOURNAL_NEXT_KEY);
      if (mark !== undefined) store.journalNext = readU64(mark, 0);
      for await (const k of db.keys({ ...prefixRange(Buffer.from([T_JOURNAL])), reverse: true, limit: 1 })) {
        store.journalNext = Math.max(store.journalNext, readU64(k, 1) + 1);
      }
      return store;
    } catch (err) {
      await maps?.stopFilterScan();
      await txns?.stop();
      await db.close().catch(() => {});
      throw err;
    }
  }

  /** Writes every unit submitted so far. */
  flush(): Promise<void> {
    return this.committer.idle();
  }

  /** Flushes pending group commits, then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.committer.idle();
    while (this.journalWriting) await new Promise((r) => setTimeout(r, 1));
    await this.maps.stopFilterScan();
    await this.txns.stop();
    await this.db.close();
  }

  private live(): void {
    if (this.closed) throw new RoomServerError('M_UNKNOWN', 'store is closed', 'storage_closed');
  }

  // ------------------------------------------------------------------ NIDs

  /** The NID of a string, or undefined (never allocates). */
  lookupNid(ns: Ns, s: string): Promise<number | undefined> {
    return this.maps.lookup(ns, s);
  }

  lookupNids(ns: Ns, strs: readonly string[]): Promise<Array<number | undefined>> {
    return this.maps.lookupMany(ns, strs);
  }

  /** See NidMaps.markNew: a string known never to have been stored, so its NID allocates without a read. */
  markNew(ns: Ns, s: string): void {
    this.maps.markNew(ns, s);
  }

  /**
   * The NID of a string, allocated when unknown. The new mapping is written
   * with the first committed unit that uses the NID; prefer `unit.nid()`.
   */
  async nid(ns: Ns, s: string): Promise<number> {
    return this.maps.nid(ns, s);
  }

  async nids(ns: Ns, strs: readonly string[]): Promise<number[]> {
    return this.maps.nids(ns, strs);
  }

  /** The string of a NID, or undefined. */
  str(ns: Ns, nid: number): Promise<string | undefined> {
    return this.maps.str(ns, nid);
  }

  strs(ns: Ns, nids: readonly number[]): Promise<Array<string | undefined>> {
    return this.maps.strs(ns, nids);
  }

  /** The NID if it is in memory (preassigned, cached or pending); sync, never reads the DB. */
  peekNid(ns: Ns, s: string): number | undefined {
    return this.maps.peek(ns, s);
  }

  /** The string if it is in memory; sync. */
  peekStr(ns: Ns, nid: number): string | undefined {
    return this.maps.peekStr(ns, nid);
  }

  /** The strings of NIDs if every one is in memory (sync, never reads the DB), else undefined. */
  peekStrs(ns: Ns, nids: readonly number[]): string[] | undefined {
    return this.maps.peekStrs(ns, nids);
  }

  // ------------------------------------------------------------------ events

  async getEventMeta(eventNid: number): Promise<EventMeta | undefined> {
    checkPositive(eventNid, 'event NID');
    const v = await this.getter.get(nidKey(T_EVENT_META, eventNid));
    return v === undefined ? undefined : decodeEventMeta(v);
  }

  async getEventMetas(eventNids: readonly number[]): Promise<Array<EventMeta | undefined>> {
    if (eventNids.length === 0) return [];
    for (const n of eventNids) checkPositive(n, 'event NID');
    const vals = await this.db.getMany(eventNids.map((n) => nidKey(T_EVENT_META, n)));
    return vals.map((v) => (v === undefined ? undefined : decodeEventMeta(v)));
  }

  async getEventJson(eventNid: number): Promise<JsonObject | undefined> {
    const b = await this.getEventJsonBytes(eventNid);
    return b === undefined ? undefined : decodeEventJson(b);
  }

  /** The event's JSON text as stored (UTF-8). */
  async getEventJsonBytes(eventNid: number): Promise<Buffer | undefined> {
    checkPositive(eventNid, 'event NID');
    return this.getter.get(nidKey(T_EVENT_JSON, eventNid));
  }

  // ------------------------------------------------------------------ state

  /** The state of a snapshot: state key number -> event NID. Shared and cached: do not mutate. */
  async loadSnapshot(snapshotNid: number): Promise<ReadonlyMap<StateKeyNum, number>> {
    if (snapshotNid !== 0) checkPositive(snapshotNid, 'snapshot NID');
    return this.snaps.load(snapshotNid);
  }

  /** One state entry of a snapshot (0 when absent), without loading the whole state. */
  async getStateEntry(snapshotNid: number, typeNid: number, stateKeyNid: number): Promise<number> {
    return this.snaps.entry(snapshotNid, typeNid, stateKeyNid);
  }

  async getSnapshotRecord(snapshotNid: number): Promise<SnapshotRecord> {
    checkPositive(snapshotNid, 'snapshot NID');
    return this.snaps.record(snapshotNid);
  }

  /**
   * The snapshot of base (0 = empty) with changes applied ([typeNid, skNid,
   * eventNid], eventNid 0 = remove; a later change to the same key wins).
   * Returns base itself (no new records) when nothing changes, 0 when the
   * result is empty. New blocks and the snapshot are written with `unit`.
   */
  async deriveSnapshot(unit: CommitUnit, roomNid: number, baseSnapshotNid: number, changes: readonly StateChange[]): Promise<number> {
    this.live();
    checkPositive(roomNid, 'room NID');
    if (baseSnapshotNid !== 0) checkPositive(baseSnapshotNid, 'snapshot NID');
    return this.snaps.derive(unit, roomNid, baseSnapshotNid, changes);
  }

  /**
   * A snapshot of a full state (state key number -> event NID, no zeros).
   * With `baseSnapshotNid`, stores the difference from that snapshot (cheap
   * when the states are close, e.g. after state resolution).
   */
  async snapshotFromState(unit: CommitUnit, roomNid: number, fullState: ReadonlyMap<StateKeyNum, number>, baseSnapshotNid?: number): Promise<number> {
    this.live();
    checkPositive(roomNid, 'room NID');
    return this.snaps.fromState(unit, roomNid, fullState, baseSnapshotNid);
  }

  /** Makes a unit depend on a snapshot it refers to (needed only for snapshots it did not derive itself). */
  refSnapshot(unit: CommitUnit, snapshotNid: number): void {
    this.snaps.refSnapshot(unit, snapshotNid);
  }

  // ------------------------------------------------------------------ rooms

  async getRoom(roomNid: number): Promise<RoomRecord | undefined> {
    checkPositive(roomNid, 'room NID');
    const v = await this.getter.get(nidKey(T_ROOM, roomNid));
    return v === undefined ? undefined : decodeRoom(v);
  }

  /** Every room with a room record. */
  async listRooms(): Promise<number[]> {
    const out: number[] = [];
    for await (const k of this.db.keys(prefixRange(Buffer.from([T_ROOM])))) out.push(readU64(k, 1));
    return out;
  }

  // ------------------------------------------------------------------ outputs

  /** Last written output position (0 = empty log). */
  outputHead(): number {
    return this.committer.outputHead;
  }

  /**
   * Outputs with position > afterPos (at most `limit`, in position order),
   * optionally only those of some rooms.
   */
  async readOutputs(afterPos: number, limit: number, opts: { roomNids?: readonly number[] } = {}): Promise<OutputEntry[]> {
    if (!Number.isSafeInteger(afterPos) || afterPos < 0) {
      throw new RoomServerError('M_INVALID_PARAM', 'afterPos must be a non-negative integer', 'storage_bad_position');
    }
    if (!Number.isSafeInteger(limit) || limit <= 0) return [];
    const head = this.committer.outputHead;
    if (afterPos >= head) return [];
    const out: OutputEntry[] = [];
    if (opts.roomNids === undefined) {
      for await (const [k, v] of this.db.iterator({ gt: nidKey(T_OUTPUT, afterPos), lte: nidKey(T_OUTPUT, head), limit })) {
        const { roomNid, value } = decodeTagged(v);
        out.push({ pos: readU64(k, 1), roomNid, output: value });
      }
      return out;
    }
    const positions: number[] = [];
    for (const roomNid of new Set(opts.roomNids)) {
      checkPositive(roomNid, 'room NID');
      for await (const k of this.db.keys({ gt: nid2Key(T_OUTPUT_BY_ROOM, roomNid, afterPos), lte: nid2Key(T_OUTPUT_BY_ROOM, roomNid, head), limit })) {
        positions.push(readU64(k, 9));
      }
    }
    positions.sort((a, b) => a - b);
    positions.length = Math.min(positions.length, limit);
    const vals = await this.db.getMany(positions.map((p) => nidKey(T_OUTPUT, p)));
    for (let i = 0; i < positions.length; i++) {
      const v = vals[i];
      if (v === undefined) throw new RoomServerError('M_UNKNOWN', `output ${positions[i]} is indexed but missing`, 'storage_corrupt');
      const { roomNid, value } = decodeTagged(v);
      out.push({ pos: positions[i]!, roomNid, output: value });
    }
    return out;
  }

  // ------------------------------------------------------------------ journal

  /**
   * Appends inputs to the journal in a write of its own (synced when fsync
   * is on); resolves with their sequence numbers once durable. Appends that
   * arrive while a journal write is in flight are merged into the next one,
   * so journal writes land in sequence order and a sequence is never reused.
   */
  async appendJournal(values: readonly StoredValue[]): Promise<number[]> {
    this.live();
    if (values.length === 0) return [];
    const encoded = values.map((v) => encodeTagged(0, v));
    const seqs = encoded.map(() => this.journalNext++);
    await new Promise<void>((resolve, reject) => {
      this.journalQueue.push({ seqs, encoded, resolve, reject });
      if (!this.journalWriting) void this.writeJournal();
    });
    return seqs;
  }

  private async writeJournal(): Promise<void> {
    this.journalWriting = true;
    try {
      while (this.journalQueue.length > 0) {
        const group = this.journalQueue;
        this.journalQueue = [];
        const ops: Array<{ type: 'put'; key: Buffer; value: Buffer }> = [];
        let last = 0;
        for (const j of group) {
          for (let i = 0; i < j.seqs.length; i++) ops.push({ type: 'put', key: nidKey(T_JOURNAL, j.seqs[i]!), value: j.encoded[i]! });
          last = Math.max(last, j.seqs[j.seqs.length - 1]!);
        }
        ops.push({ type: 'put', key: JOURNAL_NEXT_KEY, value: u64Value(last + 1) });
        try {
          await this.db.batch(ops, { sync: this.options.fsync });
          for (const j of group) j.resolve();
        } catch (err) {
          const e = new RoomServerError('M_UNKNOWN', `journal write failed: ${String((err as Error)?.message ?? err)}`, 'storage_write_failed');
          for (const j of group) j.reject(e);
        }
      }
    } finally {
      this.journalWriting = false;
    }
  }

  /** Every journal entry still there, in sequence order. */
  async readJournal(): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    for await (const [k, v] of this.db.iterator(prefixRange(Buffer.from([T_JOURNAL])))) {
      out.push({ seq: readU64(k, 1), value: decodeTagged(v).value });
    }
    return out;
  }

  // ------------------------------------------------------------------ membership

  async getMembers(roomNid: number): Promise<MemberEntry[]> {
    checkPositive(roomNid, 'room NID');
    const out: MemberEntry[] = [];
    for await (const [k, v] of this.db.iterator(prefixRange(nidKey(T_MEMBERSHIP, roomNid)))) {
      out.push({ userId: k.toString('utf8', 9), ...decodeMembership(v) });
    }
    return out;
  }

  async getMembership(roomNid: number, userId: string): Promise<MembershipRecord | undefined> {
    checkPositive(roomNid, 'room NID');
    const v = await this.getter.get(nidStrKey(T_MEMBERSHIP, roomNid, userId));
    return v === undefined ? undefined : decodeMembership(v);
  }

  // ------------------------------------------------------------------ txn ids

  async getTxn(sender: string, txnId: string): Promise<TxnRecord | undefined> {
    return this.getTxnNow(sender, txnId);
  }

  /** getTxn, answered at once (no promise) when the txn filter knows the ID is new: every send of a fresh txn ID. */
  getTxnNow(sender: string, txnId: string): undefined | Promise<TxnRecord | undefined> {
    const key = str2Key(T_TXN, sender, txnId);
    if (this.txns.absent(keyBytesName(key))) return undefined;
    return this.getter.get(key).then((v) => (v === undefined ? undefined : decodeTxn(v)));
  }

  // ------------------------------------------------------------------ redactions

  /** Redaction event NIDs indexed for a target event. */
  async getRedactions(targetNid: number): Promise<number[]> {
    checkPositive(targetNid, 'event NID');
    const out: number[] = [];
    for await (const k of this.db.keys(prefixRange(nidKey(T_REDACTION, targetNid)))) out.push(readU64(k, 9));
    return out;
  }

  /** Every event NID that some stored redaction targets (the index is small: one key per redaction). */
  async redactionTargets(): Promise<number[]> {
    const out = new Set<number>();
    for await (const k of this.db.keys(prefixRange(Buffer.from([T_REDACTION])))) out.add(readU64(k, 1));
    return [...out];
  }

  // ------------------------------------------------------------------ server keys

  async putServerKey(serverName: string, keyId: string, rec: ServerKeyRecord): Promise<void> {
    this.live();
    if (typeof rec.publicKey !== 'string' || typeof rec.validUntilTs !== 'number') {
      throw new RoomServerError('M_INVALID_PARAM', 'bad server key record', 'storage_bad_server_key');
    }
    await this.db.put(str2Key(T_SERVER_KEY, serverName, keyId), encodeServerKey(rec), { sync: this.options.fsync });
  }

  async getServerKey(serverName: string, keyId: string): Promise<ServerKeyRecord | undefined> {
    const v = await this.getter.get(str2Key(T_SERVER_KEY, serverName, keyId));
    return v === undefined ? undefined : decodeServerKey(v);
  }

  async deleteServerKey(serverName: string, keyId: string): Promise<void> {
    this.live();
    await this.db.del(str2Key(T_SERVER_KEY, serverName, keyId), { sync: this.options.fsync });
  }

  /** Keys of one server, or of all servers. */
  async listServerKeys(serverName?: string): Promise<ServerKeyEntry[]> {
    const range = serverName === undefined ? prefixRange(Buffer.from([T_SERVER_KEY])) : prefixRange(str2KeyPrefix(T_SERVER_KEY, serverName));
    const out: ServerKeyEntry[] = [];
    for await (const [k, v] of this.db.iterator(range)) {
      const [server, keyId] = readStr2Key(k);
      out.push({ serverName: server, keyId, ...decodeServerKey(v) });
    }
    return out;
  }

  // ------------------------------------------------------------------ writes

  /** A new, empty commit unit. */
  unit(): CommitUnit {
    this.live();
    return new CommitUnit(this.maps, this.txns);
  }

  /**
   * Writes a unit atomically, grouped with the units of other rooms that
   * arrive meanwhile. Resolves once durable (and visible to reads) with the
   * output positions assigned to the unit's outputs.
   */
  commit(unit: CommitUnit): Promise<CommitResult> {
    try {
      this.live();
      // A snapshot a unit names in its records (room head, state before an event) must reach disk with it.
      if (unit.snapshotRefs !== undefined) for (const n of unit.snapshotRefs) this.snaps.refSnapshot(unit, n);
      return this.committer.submit(unit);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  get commitStats(): CommitStats {
    return this.committer.stats;
  }

  /** Pending (allocated, not yet written) NID mappings, blocks and snapshots. */
  pendingCount(): number {
    return this.maps.pendingCount() + this.snaps.pendingCount();
  }

  // ------------------------------------------------------------------ checks and stats

  /** Scans the whole database and checks every reference and invariant (see integrity.ts). */
  checkIntegrity(): Promise<IntegrityReport> {
    return checkIntegrity(this.db);
  }

  /** Entry counts and raw key/value bytes per table (a full scan). */
  async tableStats(): Promise<TableStat[]> {
    const stats = new Map<number, TableStat>();
    for await (const [k, v] of this.db.iterator()) {
      const t = k[0]!;
      let s = stats.get(t);
      if (s === undefined) stats.set(t, (s = { table: TABLE_NAMES[t] ?? `0x${t.toString(16)}`, count: 0, keyBytes: 0, valueBytes: 0 }));
      s.count++;
      s.keyBytes += k.length;
      s.valueBytes += v.length;
    }
    return [...stats.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  }

  /** Compacts the whole key space (LevelDB compactRange). */
  async compact(): Promise<void> {
    await this.flush();
    await this.db.compactRange(Buffer.from([0x00]), Buffer.from([0xff]));
  }
}

