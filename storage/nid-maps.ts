/**
 * The string <-> NID maps of the four namespaces (rooms, events, event
 * types, state keys). Allocation happens in memory: a new string gets the
 * next NID of its namespace at once and its mapping stays pending until the
 * first commit unit that uses it is written (the mapping goes into that same
 * LevelDB batch). The counters are recovered at open from the highest stored
 * NID of each namespace, so there is no counter record that could go stale;
 * NIDs allocated but never written are simply handed out again after a
 * restart, which is safe because nothing on disk refers to them.
 *
 * Concurrent `nid(ns, s)` calls for the same unknown string share one
 * in-flight promise and so yield one NID.
 */
import type { ClassicLevel } from 'classic-level';
import { RoomServerError } from '../src/errors.js';
import type { BatchGetter } from './batch-get.js';
import { nid2StrKey, nidKey, prefixRange, readU64, str2NidKey, T_EVENT_META, T_NID2STR, T_STR2NID, u64Value } from './keys.js';
import { Lru } from './lru.js';
import { KeyFilter } from './key-filter.js';
import { ALL_NS, firstDynamicNid, nidLimit, Ns, nsName, preassigned } from './nids.js';
import { DURABLE, PENDING, PendingItem, type PutFn } from './pending.js';
import { corrupt, decodeEventMeta } from './records.js';

const NO_DEPS: readonly PendingItem[] = [];
/** Most strings remembered as absent per namespace. */
const ABSENT_MAX = 10_000;

class PendingMapping extends PendingItem {
  readonly deps = NO_DEPS;
  readonly opCount = 2;
  /**
   * Events only: the commit unit that stores this event's metadata, which
   * carries the event ID. When that unit is the one writing the mapping, the
   * NID -> string record is left out (the metadata is that direction).
   */
  carrier: object | undefined;
  /**
   * Events only: kept in the caches once durable. A message event's ID is
   * looked up again only as the next event's prev event, which its room
   * remembers (see NidHints in the store adapter): caching every one would
   * fill the large caches with entries read at most once, grow and rehash
   * their tables, and move them all into the old generation of the heap.
   * A later look-up reads the stored mapping (and caches it then).
   */
  cache = true;
  constructor(
    private readonly sp: Namespace,
    readonly nid: number,
    readonly str: string,
    /** The string -> NID key (already built for the lookup that found no mapping). */
    private readonly key: Buffer,
  ) {
    super();
  }

  write(put: PutFn, unit: object | undefined): void {
    put(this.key, u64Value(this.nid));
    if (unit === undefined || unit !== this.carrier) put(nid2StrKey(this.sp.ns, this.nid), this.str);
    this.carrier = undefined;
  }

  onDurable(): void {
    this.state = DURABLE;
    const sp = this.sp;
    sp.pendStr.delete(this.str);
    sp.pendNid.delete(this.nid);
    // A pending mapping is never in the caches (lookups answer from the pending maps first).
    if (!this.cache) return;
    sp.byStr.add(this.str, this.nid);
    sp.byNid.add(this.nid, this.str);
  }
}

class Namespace {
  next = 1;
  readonly limit: number;
  readonly preStr = new Map<string, number>();
  readonly preNid = new Map<number, string>();
  readonly byStr: Lru<string, number>;
  readonly byNid: Lru<number, string>;
  readonly pendStr = new Map<string, PendingMapping>();
  readonly pendNid = new Map<number, PendingMapping>();
  readonly allocating = new Map<string, Promise<number>>();
  /**
   * Strings a read found without a mapping, and none allocated since: the
   * next `nid()` of one allocates at once instead of reading again (an
   * event checked for duplicates on input, then stored). Only allocate()
   * creates mappings, and it removes the string from here.
   */
  readonly absent = new Set<string>();
  /** Reads of `lookup()` in flight per string; `allocated` is set when the string gets a NID meanwhile. */
  readonly reading = new Map<string, { allocated: boolean; n: number }>();
  /**
   * Event IDs only: every string with a mapping (stored or pending) is in
   * this filter once its scan of the stored mappings has ended, so a string
   * it does not have is known to have no NID without a read (a new event
   * arriving on input). Made by init(); every allocation adds to it.
   */
  filter: KeyFilter | undefined;

  constructor(readonly ns: Ns, cacheSize: number, readonly filtered: boolean) {
    this.limit = nidLimit(ns);
    this.byStr = new Lru(cacheSize);
    this.byNid = new Lru(cacheSize);
    for (const [s, n] of preassigned(ns)) {
      this.preStr.set(s, n);
      this.preNid.set(n, s);
    }
  }
}

const LONE_SURROGATE = /\p{Cs}/u;

function checkString(ns: Ns, s: unknown): asserts s is string {
  if (typeof s !== 'string') {
    throw new RoomServerError('M_INVALID_PARAM', `${nsName(ns)} must be a string`, 'storage_bad_string');
  }
  // A lone surrogate has no UTF-8 form: two different strings would share one key.
  if (LONE_SURROGATE.test(s)) {
    throw new RoomServerError('M_INVALID_PARAM', `${nsName(ns)} is not well-formed Unicode`, 'storage_bad_string');
  }
}

/** The string of a NID held in memory (preassigned, pending or cached). */
function knownStr(sp: Namespace, nid: number): string | undefined {
  return (sp.preNid.size !== 0 ? sp.preNid.get(nid) : undefined) ?? (sp.pendNid.size !== 0 ? sp.pendNid.get(nid)?.str : undefined) ?? sp.byNid.get(nid);
}

function checkNid(nid: unknown): asserts nid is number {
  if (typeof nid !== 'number' || !Number.isSafeInteger(nid) || nid <= 0) {
    throw new RoomServerError('M_INVALID_PARAM', `NID must be a positive integer, got ${String(nid)}`, 'storage_bad_nid');
  }
}

export class NidMaps {
  /** the namespaces, in ALL_NS order */
  private readonly spaces: Namespace[] = [];
  /** the same, indexed by their number: every NID look-up starts here */
  private readonly byNs: Array<Namespace | undefined> = [];

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly getter: BatchGetter,
    cacheSize: number,
    /** keep the event ID filter (see Namespace.filter) */
    eventIdFilter = true,
  ) {
    for (const ns of ALL_NS) {
      const sp = new Namespace(ns, cacheSize, eventIdFilter && ns === Ns.EVENT);
      this.spaces.push(sp);
      this.byNs[ns] = sp;
    }
  }

  /** The namespace of a number, or undefined for one that is none. */
  private spaceOf(ns: Ns): Namespace | undefined {
    return typeof ns === 'number' ? this.byNs[ns] : undefined;
  }

  private space(ns: Ns): Namespace {
    const sp = this.spaceOf(ns);
    if (sp === undefined) throw new RoomServerError('M_INVALID_PARAM', `unknown NID namespace ${String(ns)}`, 'storage_bad_namespace');
    return sp;
  }

  /** Recovers the counters and makes sure the preassigned mappings are on disk. */
  async init(): Promise<void> {
    const ops: Array<{ type: 'put'; key: Buffer; value: Buffer }> = [];
    for (const sp of this.spaces) {
      let highest = 0;
      for await (const k of this.db.keys({ ...prefixRange(Buffer.from([T_NID2STR, sp.ns])), reverse: true, limit: 1 })) {
        highest = readU64(k, 2);
      }
      if (sp.ns === Ns.EVENT) {
        // a stored event's metadata record is its NID -> ID direction (see PendingMapping.carrier)
        for await (const k of this.db.keys({ ...prefixRange(Buffer.from([T_EVENT_META])), reverse: true, limit: 1 })) {
          highest = Math.max(highest, readU64(k, 1));
        }
      }
      sp.next = Math.max(highest + 1, firstDynamicNid(sp.ns));
      for (const [s, n] of sp.preStr) {
        const stored = await this.db.get(str2NidKey(sp.ns, s));
        if (stored === undefined) {
          ops.push({ type: 'put', key: str2NidKey(sp.ns, s), value: u64Value(n) });
          ops.push({ type: 'put', key: nid2StrKey(sp.ns, n), value: Buffer.from(s, 'utf8') });
        } else if (readU64(stored, 0) !== n) {
          throw corrupt(`preassigned ${nsName(sp.ns)} NID of ${JSON.stringify(s)}`);
        }
      }
    }
    if (ops.length > 0) await this.db.batch(ops, { sync: true });
    // Strings allocated from now on add themselves; the stored ones are scanned in the background.
    for (const sp of this.spaces) {
      if (sp.filtered) sp.filter = new KeyFilter(this.db, Buffer.from([T_STR2NID, sp.ns]), (k) => k.toString('utf8', 2));
    }
  }

  private filters(): KeyFilter[] {
    return this.spaces.flatMap((sp) => (sp.filter ? [sp.filter] : []));
  }

  /** Settles when the filters hold every stored mapping (or their scans stopped: the database closed). */
  get filterScan(): Promise<void> {
    return Promise.all(this.filters().map((f) => f.scanned)).then(() => undefined);
  }

  /** Ends the background scans (before the database closes); lookups keep reading. */
  async stopFilterScan(): Promise<void> {
    await Promise.all(this.filters().map((f) => f.stop()));
  }

  /** True when `s` certainly has no mapping (the namespace's filter is complete and lacks it). */
  private surelyAbsent(sp: Namespace, s: string): boolean {
    return sp.filter !== undefined && sp.filter.absent(s);
  }

  /** The NID if known in memory (preassigned, cached or pending); never reads the DB. */
  peek(ns: Ns, s: string): number | undefined {
    return this.known(this.space(ns), s);
  }

  /** The string if known in memory; never reads the DB. */
  peekStr(ns: Ns, nid: number): string | undefined {
    return knownStr(this.space(ns), nid);
  }

  /**
   * The NID of a string held in memory. Only strings that passed
   * checkString are ever held, so a hit needs no check (the regular
   * expression is the dearest part of a hit); a miss is checked before it
   * reads or allocates.
   */
  private known(sp: Namespace, s: string): number | undefined {
    if (typeof s !== 'string') return undefined;
    // (the preassigned and pending maps are often empty: no look-up then)
    return (sp.preStr.size !== 0 ? sp.preStr.get(s) : undefined) ?? (sp.pendStr.size !== 0 ? sp.pendStr.get(s)?.nid : undefined) ?? sp.byStr.get(s);
  }

  /** The NID of a string, or undefined when it has none (never allocates). */
  async lookup(ns: Ns, s: string): Promise<number | undefined> {
    const sp = this.space(ns);
    const known = this.known(sp, s);
    if (known !== undefined) return known;
    checkString(ns, s);
    const allocating = sp.allocating.get(s);
    if (allocating !== undefined) return allocating;
    if (this.surelyAbsent(sp, s)) return undefined;
    return this.readNid(sp, s);
  }

  /**
   * Notes a string the caller knows was never stored (the ID of an event
   * this server has just built from fresh content), so that allocating its
   * NID needs no read. It is not looked up first: every path that consults
   * `absent` looks in memory before, so a string known there is never taken
   * for absent (and a new string would miss the large cache twice).
   */
  markNew(ns: Ns, s: string): void {
    const sp = this.space(ns);
    if (sp.reading.has(s)) return;
    if (sp.absent.size >= ABSENT_MAX) sp.absent.clear();
    sp.absent.add(s);
  }

  /** The NID of a string, allocating one (pending until a unit using it commits) when unknown. */
  nid(ns: Ns, s: string): Promise<number> | number {
    const sp = this.space(ns);
    const known = this.known(sp, s);
    if (known !== undefined) return known;
    checkString(ns, s);
    if (sp.absent.has(s)) return this.allocate(sp, s, str2NidKey(sp.ns, s));
    let p = sp.allocating.get(s);
    if (p === undefined && this.surelyAbsent(sp, s)) return this.allocate(sp, s, str2NidKey(sp.ns, s));
    if (p === undefined) {
      const key = str2NidKey(sp.ns, s);
      p = new Promise<number>((resolve, reject) => {
        this.getter.fetch(key, (err, v) => {
          sp.allocating.delete(s);
          if (err !== undefined) return reject(err);
          try {
            resolve(v === undefined ? this.allocate(sp, s, key) : this.found(sp, s, v));
          } catch (e) {
            reject(e);
          }
        });
      });
      sp.allocating.set(s, p);
    }
    return p;
  }

  private found(sp: Namespace, s: string, v: Buffer): number {
    const nid = readU64(v, 0);
    sp.byStr.set(s, nid);
    sp.byNid.set(nid, s);
    return nid;
  }

  private allocate(sp: Namespace, s: string, key: Buffer): number {
    const pend = sp.pendStr.get(s);
    if (pend !== undefined) return pend.nid;
    if (sp.next >= sp.limit) {
      throw new RoomServerError('M_LIMIT_EXCEEDED', `no ${nsName(sp.ns)} NIDs left`, 'storage_nids_exhausted');
    }
    const nid = sp.next++;
    sp.filter?.add(s);
    sp.absent.delete(s);
    const probe = sp.reading.get(s);
    if (probe !== undefined) probe.allocated = true;
    const item = new PendingMapping(sp, nid, s, key);
    sp.pendStr.set(s, item);
    sp.pendNid.set(nid, item);
    return nid;
  }

  private async readNid(sp: Namespace, s: string): Promise<number | undefined> {
    let probe = sp.reading.get(s);
    if (probe === undefined) sp.reading.set(s, (probe = { allocated: false, n: 0 }));
    probe.n++;
    let v: Buffer | undefined;
    try {
      v = await this.getter.get(str2NidKey(sp.ns, s));
    } finally {
      if (--probe.n === 0) sp.reading.delete(s);
    }
    if (v !== undefined) return this.found(sp, s, v);
    // Absent on disk and not allocated since the read began: remember it (bounded).
    if (!probe.allocated && !sp.pendStr.has(s)) {
      if (sp.absent.size >= ABSENT_MAX) sp.absent.clear();
      sp.absent.add(s);
    }
    return undefined;
  }

  async lookupMany(ns: Ns, strs: readonly string[]): Promise<Array<number | undefined>> {
    return Promise.all(strs.map((s) => this.lookup(ns, s)));
  }

  async nids(ns: Ns, strs: readonly string[]): Promise<number[]> {
    return Promise.all(strs.map((s) => this.nid(ns, s)));
  }

  /** The string of a NID, or undefined when the NID is unknown. */
  async str(ns: Ns, nid: number): Promise<string | undefined> {
    checkNid(nid);
    const sp = this.space(ns);
    const known = knownStr(sp, nid);
    if (known !== undefined) return known;
    let s: string | undefined;
    if (ns === Ns.EVENT) {
      // a stored event's ID is in its metadata (a NID -> string record exists only for the others)
      const m = await this.getter.get(nidKey(T_EVENT_META, nid));
      if (m !== undefined) s = decodeEventMeta(m).eventId;
    }
    if (s === undefined) {
      const v = await this.getter.get(nid2StrKey(ns, nid));
      if (v === undefined) return undefined;
      s = v.toString('utf8');
    }
    sp.byNid.set(nid, s);
    sp.byStr.set(s, nid);
    return s;
  }

  /** The strings of NIDs; without a promise per NID when every one is in memory (the common case). */
  strs(ns: Ns, nids: readonly number[]): Promise<Array<string | undefined>> {
    const known = this.spaceOf(ns) !== undefined ? this.peekStrs(ns, nids) : undefined;
    return known !== undefined ? Promise.resolve(known) : Promise.all(nids.map((n) => this.str(ns, n)));
  }

  /** The strings of NIDs if every one is in memory, else undefined; never reads the DB. */
  peekStrs(ns: Ns, nids: readonly number[]): string[] | undefined {
    const sp = this.space(ns);
    const out = new Array<string>(nids.length);
    for (let i = 0; i < nids.length; i++) {
      const s = knownStr(sp, nids[i]!);
      if (s === undefined) return undefined;
      out[i] = s;
    }
    return out;
  }

  /** The pending (not yet written) mapping of a NID, if any: a unit using the NID depends on it. */
  pendingOf(ns: Ns, nid: number): PendingItem | undefined {
    const sp = this.spaceOf(ns);
    return sp === undefined || sp.pendNid.size === 0 ? undefined : sp.pendNid.get(nid);
  }

  /**
   * Notes that `unit` writes the metadata record of an event, which carries
   * its ID: if the event's mapping is still pending and that unit writes
   * it, the mapping needs no NID -> string record. A message event's
   * mapping (`stateEvent` false) is not cached once durable (see
   * PendingMapping.cache).
   */
  carryEventId(nid: number, unit: object, stateEvent: boolean): void {
    const sp = this.space(Ns.EVENT);
    if (sp.pendNid.size === 0) return;
    const m = sp.pendNid.get(nid);
    if (m !== undefined && m.state === PENDING) {
      m.carrier = unit;
      m.cache = stateEvent;
    }
  }

  /** Count of mappings allocated but not yet written (for metrics and tests). */
  pendingCount(): number {
    let n = 0;
    for (const sp of this.spaces) n += sp.pendNid.size;
    return n;
  }

  /** The next NID a namespace would hand out (for tests). */
  nextNid(ns: Ns): number {
    return this.space(ns).next;
  }
}
