/**
 * A commit unit: everything one processed event touches, written in one
 * LevelDB batch (never split). Build it with `store.unit()`, fill it, then
 * `await store.commit(unit)`. Every value is validated and encoded when it is
 * added, so a unit that reaches the committer cannot fail half way.
 *
 * The unit notices every NID it is given: when a NID (or a block or snapshot)
 * is still pending (allocated in memory, not yet on disk), its record is
 * written in the same batch as the unit.
 */
import { RoomServerError } from '../src/errors.js';
import type { JsonObject } from '../src/matrix/json.js';
import {
  checkU64,
  nid2Key,
  nidKey,
  nidStrKey,
  str2Key,
  T_EVENT_JSON,
  T_EVENT_META,
  T_JOURNAL,
  T_MEMBERSHIP,
  T_REDACTION,
  T_TXN,
} from './keys.js';
import { keyBytesName, type KeyFilter } from './key-filter.js';
import type { NidMaps } from './nid-maps.js';
import { Ns } from './nids.js';
import { PENDING, type PendingItem } from './pending.js';
import {
  encodeEventMeta,
  encodeMembership,
  encodeTxn,
  eventJsonValue,
  taggedValue,
  type EventMeta,
  type RoomRecord,
  type StoredValue,
  type TxnRecord,
  type WriteValue,
} from './records.js';
import { splitStateKeyNum } from './nids.js';
import type { StateBlock } from './state-block.js';

const EMPTY = Buffer.alloc(0);

function positive(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RoomServerError('M_INVALID_PARAM', `${what} must be a positive integer NID, got ${String(n)}`, 'storage_bad_nid');
  }
}

function nidOrZero(n: number, what: string): void {
  if (n !== 0) positive(n, what);
}

/**
 * Gets a unit's output positions once its write is durable, just before
 * the commit promise resolves. The committer calls listeners in commit
 * order, write after write, so across all units they see output positions
 * in increasing order with no gaps: the place to publish outputs from (the
 * continuations of commit promises have no such order).
 * An error thrown by a listener is not the committer's: it becomes a process
 * warning, and the unit's promise resolves as usual.
 */
export interface DurableListener {
  durable(outputPositions: readonly number[]): void;
}

export class CommitUnit {
  /** Alternating key (bytes), value (bytes or UTF-8 text; null = delete). Internal to storage/. */
  readonly ops: Array<Buffer | string | null> = [];
  /** Pending records this unit needs on disk. Internal to storage/. */
  deps: PendingItem[] | undefined;
  /** Outputs to append, in order; positions are assigned by the committer. Internal to storage/. */
  readonly outputs: Array<{ roomNid: number; bytes: WriteValue }> = [];
  /** Room records to write (the committer fills in lastOutputPos). Internal to storage/. */
  rooms: Array<[number, RoomRecord]> | undefined;
  /** Snapshot NIDs named by the unit's records (resolved to pending snapshots at commit). Internal. */
  snapshotRefs: number[] | undefined;
  /**
   * Told, synchronously, once the unit is durable, with its output positions
   * (see DurableListener). Set before commit.
   */
  listener: DurableListener | undefined;
  private submitted = false;

  constructor(
    private readonly maps: NidMaps,
    /** the store's filter of txn keys (every key put is added to it) */
    private readonly txns?: KeyFilter,
  ) {}

  private open(): void {
    if (this.submitted) {
      throw new RoomServerError('M_UNKNOWN', 'commit unit already submitted', 'storage_unit_submitted');
    }
  }

  /** Marks the unit as handed to the committer (internal). */
  seal(): void {
    this.open();
    this.submitted = true;
  }

  /** Drops the encoded records once the committer has copied them into a batch (internal). */
  release(): void {
    this.ops.length = 0;
    this.outputs.length = 0;
    this.deps = undefined;
  }

  get isSealed(): boolean {
    return this.submitted;
  }

  private put(key: Buffer, value: WriteValue): void {
    this.ops.push(key, value);
  }

  private del(key: Buffer): void {
    this.ops.push(key, null);
  }

  /** Records a dependency on a pending item (internal). */
  addDep(item: PendingItem | undefined): void {
    // Duplicates are harmless: the committer writes an item once.
    if (item !== undefined && item.state === PENDING) (this.deps ??= []).push(item);
  }

  /** Notes that the unit uses a NID of a namespace (its mapping is written with the unit if pending). */
  ref(ns: Ns, nid: number): void {
    if (nid !== 0) this.addDep(this.maps.pendingOf(ns, nid));
  }

  /** Notes every NID a state block refers to (internal). */
  refBlock(b: StateBlock): void {
    for (let i = 0; i < b.keys.length; i++) {
      const [t, sk] = splitStateKeyNum(b.keys[i]!);
      this.ref(Ns.TYPE, t);
      this.ref(Ns.STATE_KEY, sk);
      this.ref(Ns.EVENT, b.events[i]!);
    }
  }

  /**
   * The NID of a string (allocated if unknown). A new mapping is written with
   * this unit (or an earlier one that uses it too). Every other method that
   * takes a NID also notices pending ones, so NIDs from `store.nid()` work.
   */
  nid(ns: Ns, s: string): Promise<number> {
    let r: number | Promise<number>;
    try {
      r = this.nidNow(ns, s);
    } catch (err) {
      return Promise.reject(err);
    }
    return typeof r === 'number' ? Promise.resolve(r) : r;
  }

  /**
   * `nid()` without a promise when the NID is known in memory (the common
   * case): a number, or a promise when the maps must read the database.
   */
  nidNow(ns: Ns, s: string): number | Promise<number> {
    this.open();
    const r = this.maps.nid(ns, s);
    if (typeof r === 'number') {
      this.ref(ns, r);
      return r;
    }
    return r.then((nid) => {
      this.ref(ns, nid);
      return nid;
    });
  }

  /** `nids()` without a promise when every NID is known in memory. */
  nidsNow(ns: Ns, strs: readonly string[]): number[] | Promise<number[]> {
    this.open();
    const out = new Array<number>(strs.length);
    for (let i = 0; i < strs.length; i++) {
      const r = this.maps.nid(ns, strs[i]!);
      if (typeof r !== 'number') return this.nids(ns, strs);
      this.ref(ns, r);
      out[i] = r;
    }
    return out;
  }

  async nids(ns: Ns, strs: readonly string[]): Promise<number[]> {
    this.open();
    const nids = await this.maps.nids(ns, strs);
    for (const n of nids) this.ref(ns, n);
    return nids;
  }

  /**
   * Stores an event's metadata and (when given) its JSON. The JSON may be
   * the object, or its JSON text as a string or UTF-8 bytes. Calling it again
   * for a stored event (to set flags) rewrites the metadata; omit `json` to
   * leave the stored JSON as it is.
   */
  putEvent(eventNid: number, meta: EventMeta, json?: JsonObject | string | Uint8Array): void {
    this.open();
    positive(eventNid, 'event NID');
    positive(meta.roomNid, 'room NID');
    positive(meta.typeNid, 'type NID');
    nidOrZero(meta.stateKeyNid, 'state key NID');
    nidOrZero(meta.stateBeforeNid, 'snapshot NID');
    for (const n of meta.prevEventNids) positive(n, 'prev event NID');
    for (const n of meta.authEventNids) positive(n, 'auth event NID');
    if (typeof meta.sender !== 'string') throw new RoomServerError('M_INVALID_PARAM', 'sender must be a string', 'storage_bad_meta');
    if (!Number.isFinite(meta.depth) || !Number.isFinite(meta.originServerTs)) {
      throw new RoomServerError('M_INVALID_PARAM', 'depth and origin_server_ts must be numbers', 'storage_bad_meta');
    }
    // The record carries the event ID (the NID -> ID direction of the mapping): when the mapping is
    // still pending, it is written with this unit and needs no NID -> string record of its own.
    const known = this.maps.peekStr(Ns.EVENT, eventNid);
    const eventId = meta.eventId ?? known;
    if (typeof eventId !== 'string') {
      throw new RoomServerError('M_INVALID_PARAM', `the event ID of event NID ${eventNid} is not known: give meta.eventId`, 'storage_bad_meta');
    }
    if (known !== undefined && known !== eventId) {
      throw new RoomServerError('M_INVALID_PARAM', `event NID ${eventNid} is ${known}, not ${eventId}`, 'storage_bad_meta');
    }
    this.maps.carryEventId(eventNid, this, meta.stateKeyNid !== 0);
    this.ref(Ns.EVENT, eventNid);
    this.ref(Ns.ROOM, meta.roomNid);
    this.ref(Ns.TYPE, meta.typeNid);
    this.ref(Ns.STATE_KEY, meta.stateKeyNid);
    for (const n of meta.prevEventNids) this.ref(Ns.EVENT, n);
    for (const n of meta.authEventNids) this.ref(Ns.EVENT, n);
    if (meta.stateBeforeNid !== 0) (this.snapshotRefs ??= []).push(meta.stateBeforeNid);
    this.put(nidKey(T_EVENT_META, eventNid), encodeEventMeta(meta, eventId));
    if (json !== undefined) this.put(nidKey(T_EVENT_JSON, eventNid), eventJsonValue(json));
  }

  /** Writes the room record (the committer sets lastOutputPos when the unit appends outputs for the room). */
  putRoom(roomNid: number, room: RoomRecord): void {
    this.open();
    positive(roomNid, 'room NID');
    nidOrZero(room.createEventNid, 'create event NID');
    nidOrZero(room.stateSnapshotNid, 'snapshot NID');
    for (const n of room.extremities) positive(n, 'extremity NID');
    checkU64(room.lastOutputPos, 'lastOutputPos');
    if (typeof room.roomVersion !== 'string' || !Number.isFinite(room.maxDepth)) {
      throw new RoomServerError('M_INVALID_PARAM', 'bad room record', 'storage_bad_room');
    }
    this.ref(Ns.ROOM, roomNid);
    this.ref(Ns.EVENT, room.createEventNid);
    for (const n of room.extremities) this.ref(Ns.EVENT, n);
    if (room.stateSnapshotNid !== 0) (this.snapshotRefs ??= []).push(room.stateSnapshotNid);
    // A later record of the same room wins (the committer keeps the last one).
    (this.rooms ??= []).push([roomNid, { ...room, extremities: [...room.extremities] }]);
  }

  /**
   * Appends an output for a room; the committer assigns its position (see
   * CommitResult.outputPositions). Prefer small outputs that name events by
   * NID or ID over copies of the event JSON, which is stored once already.
   */
  appendOutput(roomNid: number, output: StoredValue): void {
    this.open();
    positive(roomNid, 'room NID');
    this.ref(Ns.ROOM, roomNid);
    this.outputs.push({ roomNid, bytes: taggedValue(roomNid, output) });
  }

  /** Removes a journal entry in the same write (the input it held is now processed). */
  removeJournal(seq: number): void {
    this.open();
    positive(seq, 'journal sequence');
    this.del(nidKey(T_JOURNAL, seq));
  }

  putMembership(roomNid: number, userId: string, membership: string, eventNid: number): void {
    this.open();
    positive(roomNid, 'room NID');
    positive(eventNid, 'event NID');
    if (typeof userId !== 'string' || typeof membership !== 'string') {
      throw new RoomServerError('M_INVALID_PARAM', 'user ID and membership must be strings', 'storage_bad_membership');
    }
    this.ref(Ns.ROOM, roomNid);
    this.ref(Ns.EVENT, eventNid);
    this.put(nidStrKey(T_MEMBERSHIP, roomNid, userId), encodeMembership({ membership, eventNid }));
  }

  deleteMembership(roomNid: number, userId: string): void {
    this.open();
    positive(roomNid, 'room NID');
    this.del(nidStrKey(T_MEMBERSHIP, roomNid, userId));
  }

  /** Records the outcome of a (sender, txn_id) send, for idempotent retries. */
  putTxn(sender: string, txnId: string, rec: TxnRecord): void {
    this.open();
    if (typeof sender !== 'string' || typeof txnId !== 'string' || typeof rec.eventId !== 'string' || typeof rec.status !== 'string') {
      throw new RoomServerError('M_INVALID_PARAM', 'bad txn record', 'storage_bad_txn');
    }
    const key = str2Key(T_TXN, sender, txnId);
    const value = encodeTxn(rec);
    this.txns?.add(keyBytesName(key));
    this.put(key, value);
  }

  /** Indexes a redaction by its target (the target may not be known yet). */
  addRedaction(targetNid: number, redactionNid: number): void {
    this.open();
    positive(targetNid, 'redaction target NID');
    positive(redactionNid, 'redaction NID');
    this.ref(Ns.EVENT, targetNid);
    this.ref(Ns.EVENT, redactionNid);
    this.put(nid2Key(T_REDACTION, targetNid, redactionNid), EMPTY);
  }

  /** True when the unit holds nothing to write. */
  get isEmpty(): boolean {
    return this.ops.length === 0 && this.outputs.length === 0 && (this.rooms?.length ?? 0) === 0 && (this.deps?.length ?? 0) === 0;
  }
}
