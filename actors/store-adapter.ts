/**
 * The room actors' storage interface (room-store.ts) over storage/: event
 * IDs and string-keyed state maps on this side, NIDs, blocks and snapshots
 * on the other. Decoded records and state maps are cached (bounded): the
 * same few snapshots and events are read again and again by a busy room.
 */
import type { Output, InputStatus } from '../src/api.js';
import type { JsonObject } from '../src/matrix/json.js';
import { copyWith } from '../src/matrix/json.js';
import { stateKey, splitStateKey, type StateKeyString, type StateMap } from '../src/matrix/state-key.js';
import type { Store } from '../storage/store.js';
import type { CommitUnit, DurableListener } from '../storage/unit.js';
import { Ns, splitStateKeyNum } from '../storage/nids.js';
import type { EventMeta } from '../storage/records.js';
import type { EventRecord, NidHints, PendingOutput, RoomHead, RoomStore, StateChanges, Unit } from './room-store.js';
import type { OutputLog } from '../src/subscriptions.js';
import { Lru } from './lru.js';
import { commitLatency } from '../src/metrics.js';
import { attachEventText } from '../src/output-text.js';

/** What the output log stores: events by NID, never a second copy of their JSON. */
type StoredOutput =
  | { t: 'n'; e: number; a: string[]; r: string[]; l: string[]; w: boolean; x?: string }
  | { t: 'o'; e: number }
  | { t: 'r'; e: number; by: number };

/** Most event NIDs a room's hints map holds (past it the map starts again from empty). */
const HINTS_MAX = 64;

function hint(h: NidHints, eventId: string, nid: number): void {
  if (h.events.size >= HINTS_MAX) h.events.clear();
  h.events.set(eventId, nid);
}

/** An event's NID for a unit: the room's hint, else the store's (which then becomes a hint). */
function hintedNid(su: CommitUnit, h: NidHints | undefined, id: string): number | Promise<number> {
  if (h !== undefined) {
    // (a mapping still on its way to disk goes with every unit whose records name its NID)
    if (id === h.lastId) return h.lastNid;
    const n = h.events.get(id);
    if (n !== undefined) return n;
  }
  const r = su.nidNow(Ns.EVENT, id);
  if (h !== undefined && typeof r === 'number') hint(h, id, r);
  return r;
}

/** hintedNid for each, as an array when all are known in memory. */
function hintedNids(su: CommitUnit, h: NidHints | undefined, ids: readonly string[]): number[] | Promise<number[]> {
  if (h === undefined) return su.nidsNow(Ns.EVENT, ids);
  const out = new Array<number>(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const r = hintedNid(su, h, ids[i]!);
    if (typeof r !== 'number') return su.nids(Ns.EVENT, ids);
    out[i] = r;
  }
  return out;
}

/** One commit's work for the moment its unit is durable (see StoreAdapter.durable). */
class CommitDone implements DurableListener {
  constructor(
    private readonly adapter: StoreAdapter,
    readonly ev: Unit['event'],
    readonly redacted: ReadonlyArray<{ eventId: string; rec: EventRecord }>,
    readonly outs: readonly PendingOutput[],
    readonly t0: number,
  ) {}

  durable(positions: readonly number[]): void {
    this.adapter.durable(this, positions);
  }
}

export class StoreAdapter implements RoomStore, OutputLog {
  private readonly records = new Lru<string, EventRecord>(40_000);
  private readonly states = new Lru<number, StateMap>(64);
  /**
   * Where committed outputs go, in position order, the moment their unit is
   * durable (the server's subscription hub).
   */
  outputsTo: { publish(outputs: readonly Output[]): void } | undefined;

  constructor(readonly store: Store) {}

  // ---------------------------------------------------------------------------
  // reads

  async getRoom(roomId: string): Promise<RoomHead | undefined> {
    const roomNid = await this.store.lookupNid(Ns.ROOM, roomId);
    if (!roomNid) return undefined;
    const r = await this.store.getRoom(roomNid);
    if (!r) return undefined;
    const [createEventId, ...extremities] = await this.eventIds([r.createEventNid, ...r.extremities]);
    return {
      roomId,
      roomVersion: r.roomVersion,
      createEventId: createEventId!,
      extremities,
      currentSnapshot: r.stateSnapshotNid,
      depth: r.maxDepth,
    };
  }

  /** The event IDs of NIDs, without a promise per NID when every one is in memory (the common case). */
  private eventIds(nids: readonly number[]): Promise<string[]> {
    const known = this.store.peekStrs(Ns.EVENT, nids);
    return known !== undefined ? Promise.resolve(known) : this.readEventIds(nids);
  }

  private async readEventIds(nids: readonly number[]): Promise<string[]> {
    const strs = await this.store.strs(Ns.EVENT, nids);
    return strs.map((s: string | undefined, i: number) => {
      if (s === undefined) throw new Error(`event NID ${nids[i]} has no event ID`);
      return s;
    });
  }

  async getEvent(eventId: string): Promise<EventRecord | undefined> {
    const hit = this.records.get(eventId);
    if (hit) return hit;
    const nid = this.eventNid(eventId) ?? (await this.store.lookupNid(Ns.EVENT, eventId));
    if (!nid) return undefined;
    const meta = await this.store.getEventMeta(nid);
    if (!meta) return undefined;
    const rec = await this.toRecord(eventId, meta);
    this.records.set(eventId, rec);
    return rec;
  }

  /** The NID of an event ID when it is in memory (no promise, no read). */
  private eventNid(eventId: string): number | undefined {
    return this.store.peekNid(Ns.EVENT, eventId);
  }

  markNewEvent(eventId: string): void {
    this.store.markNew(Ns.EVENT, eventId);
  }

  /**
   * The record of stored metadata. Its strings are usually all in memory:
   * then it is built at once, with no promise per NID (loading a room's auth
   * events after it was passivated reads several records).
   */
  private toRecord(eventId: string, m: EventMeta): EventRecord | Promise<EventRecord> {
    const roomId = this.store.peekStr(Ns.ROOM, m.roomNid);
    let sk: StateKeyString | undefined;
    if (m.stateKeyNid !== 0) {
      const type = this.store.peekStr(Ns.TYPE, m.typeNid);
      const key = this.store.peekStr(Ns.STATE_KEY, m.stateKeyNid);
      if (type === undefined || key === undefined) return this.readRecord(eventId, m);
      sk = stateKey(type, key);
    }
    const prevEvents = this.store.peekStrs(Ns.EVENT, m.prevEventNids);
    const authEvents = this.store.peekStrs(Ns.EVENT, m.authEventNids);
    if (roomId === undefined || prevEvents === undefined || authEvents === undefined) return this.readRecord(eventId, m);
    return record(eventId, m, roomId, sk, prevEvents, authEvents);
  }

  private async readRecord(eventId: string, m: EventMeta): Promise<EventRecord> {
    const roomId = await this.store.str(Ns.ROOM, m.roomNid);
    let sk: StateKeyString | undefined;
    if (m.stateKeyNid !== 0) {
      const [type, key] = await Promise.all([this.store.str(Ns.TYPE, m.typeNid), this.store.str(Ns.STATE_KEY, m.stateKeyNid)]);
      sk = stateKey(type!, key!);
    }
    const [prevEvents, authEvents] = await Promise.all([this.eventIds(m.prevEventNids), this.eventIds(m.authEventNids)]);
    return record(eventId, m, roomId!, sk, prevEvents, authEvents);
  }

  async getEventJson(eventId: string): Promise<JsonObject | undefined> {
    const nid = this.eventNid(eventId) ?? (await this.store.lookupNid(Ns.EVENT, eventId));
    if (!nid) return undefined;
    return this.store.getEventJson(nid);
  }

  async loadSnapshot(snapshot: number): Promise<StateMap> {
    if (snapshot === 0) return new Map();
    const hit = this.states.get(snapshot);
    if (hit) return hit;
    const nidMap = await this.store.loadSnapshot(snapshot);
    const typeNids: number[] = [];
    const skNids: number[] = [];
    const eventNids: number[] = [];
    for (const [k, e] of nidMap) {
      const [t, s] = splitStateKeyNum(k);
      typeNids.push(t);
      skNids.push(s);
      eventNids.push(e);
    }
    const [types, keys, events] = await Promise.all([
      this.store.strs(Ns.TYPE, typeNids),
      this.store.strs(Ns.STATE_KEY, skNids),
      this.store.strs(Ns.EVENT, eventNids),
    ]);
    const m: StateMap = new Map();
    for (let i = 0; i < events.length; i++) m.set(stateKey(types[i]!, keys[i]!), events[i]!);
    this.states.set(snapshot, m);
    return m;
  }

  /**
   * Targets of stored redactions, kept in memory so the check made for
   * every new event ("was it redacted before it arrived?") costs no read.
   */
  private redactionTargets: Promise<Set<string>> | undefined;
  /** the same set once loaded */
  private loadedTargets: Set<string> | undefined;

  private targets(): Promise<Set<string>> {
    return (this.redactionTargets ??= this.store.redactionTargets().then(async (nids) => (this.loadedTargets = new Set(await this.eventIds(nids)))));
  }

  pendingRedactions(targetEventId: string): string[] | Promise<string[]> {
    // nearly every event is no redaction's target: answered at once, without a promise
    if (this.loadedTargets !== undefined && !this.loadedTargets.has(targetEventId)) return [];
    return this.readPendingRedactions(targetEventId);
  }

  private async readPendingRedactions(targetEventId: string): Promise<string[]> {
    if (!(await this.targets()).has(targetEventId)) return [];
    const nid = await this.store.lookupNid(Ns.EVENT, targetEventId);
    if (!nid) return [];
    return this.eventIds(await this.store.getRedactions(nid));
  }

  getTxn(sender: string, txnId: string): { eventId: string; status: InputStatus } | undefined | Promise<{ eventId: string; status: InputStatus } | undefined> {
    const t = this.store.getTxnNow(sender, txnId);
    return t === undefined ? undefined : t.then((r) => (r ? { eventId: r.eventId, status: r.status as InputStatus } : undefined));
  }

  // ---------------------------------------------------------------------------
  // snapshots

  private storeUnit(unit: Unit): CommitUnit {
    return ((unit.storeUnit as CommitUnit | undefined) ??= this.store.unit());
  }

  async deriveSnapshot(unit: Unit, roomId: string, base: number, changes: StateChanges): Promise<number> {
    if (changes.length === 0) return base;
    const su = this.storeUnit(unit);
    const roomNid = await su.nid(Ns.ROOM, roomId);
    const nidChanges: Array<[number, number, number]> = [];
    for (const [k, id] of changes) {
      const [type, key] = splitStateKey(k);
      const [t, s, e] = await Promise.all([su.nid(Ns.TYPE, type), su.nid(Ns.STATE_KEY, key), id === undefined ? 0 : su.nid(Ns.EVENT, id)]);
      nidChanges.push([t, s, e]);
    }
    return this.store.deriveSnapshot(su, roomNid, base, nidChanges);
  }

  snapshotOf(unit: Unit, roomId: string, state: StateMap): Promise<number> {
    return this.deriveSnapshot(unit, roomId, 0, [...state]);
  }

  // ---------------------------------------------------------------------------
  // commit

  async commit(roomId: string, unit: Unit): Promise<unknown> {
    const su = this.storeUnit(unit);
    const h = unit.nids;
    // NIDs are nearly always known in memory: take them without a promise each
    // (see CommitUnit.nidNow), the room's own first (see NidHints).
    let roomNid = 0;
    if (roomId) {
      if (h !== undefined && h.room !== 0) roomNid = h.room;
      else {
        const r = su.nidNow(Ns.ROOM, roomId);
        roomNid = typeof r === 'number' ? r : await r;
        if (h !== undefined) h.room = roomNid;
      }
    }
    const ev = unit.event;
    if (ev) {
      const r = ev.record;
      const e = su.nidNow(Ns.EVENT, r.eventId);
      const eventNid = typeof e === 'number' ? e : await e;
      // (its prev and auth events first: the room's newest event until now is usually its prev event)
      const p = hintedNids(su, h, r.prevEvents);
      const prevEventNids = Array.isArray(p) ? p : await p;
      const a = hintedNids(su, h, r.authEvents);
      const authEventNids = Array.isArray(a) ? a : await a;
      if (h !== undefined) {
        // The room's newest event is the next one's prev event; a message is
        // needed only then, so it takes the one slot rather than the map.
        if (r.stateKey !== undefined) hint(h, r.eventId, eventNid);
        h.lastId = r.eventId;
        h.lastNid = eventNid;
      }
      const type = typeof ev.json.type === 'string' ? ev.json.type : '';
      const t = su.nidNow(Ns.TYPE, type);
      const typeNid = typeof t === 'number' ? t : await t;
      let skNid = 0;
      if (r.stateKey !== undefined) {
        const k = su.nidNow(Ns.STATE_KEY, splitStateKey(r.stateKey)[1]);
        skNid = typeof k === 'number' ? k : await k;
      }
      const meta: EventMeta = {
        roomNid,
        typeNid,
        stateKeyNid: skNid,
        sender: typeof ev.json.sender === 'string' ? ev.json.sender : '',
        depth: r.depth,
        originServerTs: typeof ev.json.origin_server_ts === 'number' ? ev.json.origin_server_ts : 0,
        prevEventNids,
        authEventNids,
        outlier: r.outlier,
        rejected: r.rejected,
        softFailed: r.softFailed,
        redacted: r.redacted,
        stateBeforeNid: r.beforeSnapshot,
        eventId: r.eventId,
      };
      if (r.rejectReason !== undefined) meta.rejectReason = r.rejectReason;
      su.putEvent(eventNid, meta, ev.text ?? ev.json);
    }
    if (unit.head) {
      const head = unit.head;
      const c = hintedNid(su, h, head.createEventId);
      const x = hintedNids(su, h, head.extremities);
      su.putRoom(roomNid, {
        roomVersion: head.roomVersion,
        createEventNid: typeof c === 'number' ? c : await c,
        extremities: Array.isArray(x) ? x : await x,
        stateSnapshotNid: head.currentSnapshot,
        maxDepth: head.depth,
        lastOutputPos: 0,
      });
    }
    if (unit.memberChanges) {
      for (const m of unit.memberChanges) {
        if (m.eventId === '') su.deleteMembership(roomNid, m.userId);
        else {
          const n = su.nidNow(Ns.EVENT, m.eventId);
          su.putMembership(roomNid, m.userId, m.membership, typeof n === 'number' ? n : await n);
        }
      }
    }
    const redacted: Array<{ eventId: string; rec: EventRecord }> = [];
    if (unit.redactEvents) {
      for (const r of unit.redactEvents) {
        const rec = await this.getEvent(r.eventId);
        const nid = await this.store.lookupNid(Ns.EVENT, r.eventId);
        const meta = nid ? await this.store.getEventMeta(nid) : undefined;
        if (!rec || !nid || !meta) continue;
        su.putEvent(nid, { ...meta, eventId: r.eventId, redacted: true }, r.redactedJson);
        redacted.push({ eventId: r.eventId, rec: { ...rec, redacted: true } });
      }
    }
    if (unit.pendingRedaction) {
      (await this.targets()).add(unit.pendingRedaction.targetEventId);
      su.addRedaction(await su.nid(Ns.EVENT, unit.pendingRedaction.targetEventId), await su.nid(Ns.EVENT, unit.pendingRedaction.redactionEventId));
    }
    const outs: PendingOutput[] = [];
    if (unit.output) outs.push(unit.output);
    if (unit.extraOutputs) outs.push(...unit.extraOutputs);
    for (const o of outs) {
      const enc = this.encodeOutput(su, o);
      su.appendOutput(roomNid, enc instanceof Promise ? await enc : enc);
    }
    if (unit.journalSeqs) for (const seq of unit.journalSeqs) su.removeJournal(seq);
    if (unit.txn) su.putTxn(unit.txn.sender, unit.txn.txnId, { eventId: unit.txn.eventId, status: unit.txn.status });

    // Caches and outputs are brought up to date the moment the unit is durable
    // (CommitDone), in commit order: subscribers get outputs in position order.
    const done = new CommitDone(this, ev, redacted, outs, performance.now());
    su.listener = done;
    // Returned rather than awaited: this frame is not kept while the write is in flight.
    return this.store.commit(su);
  }

  /** With a unit durable: its records into the cache, its outputs (with positions) built and published. Called by the unit's CommitDone only. */
  durable(d: CommitDone, positions: readonly number[]): void {
    commitLatency.observe((performance.now() - d.t0) / 1000);
    const ev = d.ev;
    // State events stay cached (auth checks and state come back to them); a
    // message's record is rarely read again, and caching each would move
    // every one into the old generation of the heap only to drop it later.
    if (ev) {
      if (ev.record.stateKey !== undefined) this.records.set(ev.record.eventId, ev.record);
      else if (!ev.fresh) this.records.delete(ev.record.eventId); // (stored again: an older record may be cached)
    }
    for (const r of d.redacted) this.records.set(r.eventId, r.rec);
    const outs = d.outs;
    if (outs.length === 0) return;
    const built: Output[] = [];
    for (let i = 0; i < outs.length; i++) {
      const o = outs[i]!;
      const out = copyWith(o, 'pos', positions[i]!) as Output;
      // the event's stored text goes with its output, for the gateway's text frames
      if (ev?.text !== undefined && o.type !== 'redacted_event' && o.event === ev.json) attachEventText(out, ev.text);
      built.push(out);
    }
    this.outputsTo?.publish(built);
  }

  private encodeOutput(su: CommitUnit, o: PendingOutput): JsonObject | Promise<JsonObject> {
    if (o.type === 'new_room_event') {
      // the event's own NID was taken for its record just before: known in memory
      const e = su.nidNow(Ns.EVENT, o.event_id);
      if (typeof e === 'number') return this.newEventOutput(e, o);
      return e.then((n) => this.newEventOutput(n, o));
    }
    return this.encodeOtherOutput(su, o);
  }

  /** A stored event's JSON, or {} when it is gone. */
  private async eventJsonOrEmpty(nid: number): Promise<JsonObject> {
    return (await this.store.getEventJson(nid)) ?? {};
  }

  private newEventOutput(e: number, o: Extract<PendingOutput, { type: 'new_room_event' }>): JsonObject {
    const s: StoredOutput = { t: 'n', e, a: o.adds_state_event_ids, r: o.removes_state_event_ids, l: o.latest_event_ids, w: o.rewrites_state };
    if (o.txn_id !== undefined) s.x = o.txn_id;
    return s as unknown as JsonObject;
  }

  private async encodeOtherOutput(su: CommitUnit, o: PendingOutput): Promise<JsonObject> {
    let s: StoredOutput;
    switch (o.type) {
      case 'new_room_event':
        return this.encodeOutput(su, o);
      case 'old_room_event':
        s = { t: 'o', e: await su.nid(Ns.EVENT, o.event_id) };
        break;
      case 'redacted_event':
        s = { t: 'r', e: await su.nid(Ns.EVENT, o.redacted_event_id), by: await su.nid(Ns.EVENT, o.redaction_event_id) };
        break;
    }
    return s as unknown as JsonObject;
  }

  // ---------------------------------------------------------------------------
  // output log

  head(): number {
    return this.store.outputHead();
  }

  async read(after: number, limit: number, rooms?: ReadonlySet<string>): Promise<Output[]> {
    let roomNids: number[] | undefined;
    if (rooms) {
      roomNids = [];
      for (const r of rooms) {
        const n = await this.store.lookupNid(Ns.ROOM, r);
        if (n) roomNids.push(n);
      }
      if (roomNids.length === 0) return [];
    }
    const entries = await this.store.readOutputs(after, limit, roomNids ? { roomNids } : {});
    const out: Output[] = [];
    for (const e of entries) {
      const room_id = (await this.store.str(Ns.ROOM, e.roomNid))!;
      const s = e.output as unknown as StoredOutput;
      switch (s.t) {
        case 'n': {
          const o: Output = {
            type: 'new_room_event',
            pos: e.pos,
            room_id,
            event_id: (await this.store.str(Ns.EVENT, s.e))!,
            event: await this.eventJsonOrEmpty(s.e),
            adds_state_event_ids: s.a,
            removes_state_event_ids: s.r,
            latest_event_ids: s.l,
            rewrites_state: s.w,
          };
          if (s.x !== undefined) o.txn_id = s.x;
          out.push(o);
          break;
        }
        case 'o':
          out.push({ type: 'old_room_event', pos: e.pos, room_id, event_id: (await this.store.str(Ns.EVENT, s.e))!, event: await this.eventJsonOrEmpty(s.e) });
          break;
        case 'r':
          out.push({
            type: 'redacted_event',
            pos: e.pos,
            room_id,
            redacted_event_id: (await this.store.str(Ns.EVENT, s.e))!,
            redaction_event_id: (await this.store.str(Ns.EVENT, s.by))!,
            redaction_event: await this.eventJsonOrEmpty(s.by),
          });
          break;
      }
    }
    return out;
  }
}

function record(eventId: string, m: EventMeta, roomId: string, sk: StateKeyString | undefined, prevEvents: string[], authEvents: string[]): EventRecord {
  const rec: EventRecord = {
    eventId,
    roomId,
    stateKey: sk,
    depth: m.depth,
    prevEvents,
    authEvents,
    outlier: m.outlier,
    rejected: m.rejected,
    softFailed: m.softFailed,
    redacted: m.redacted,
    beforeSnapshot: m.stateBeforeNid,
  };
  if (m.rejectReason !== undefined) rec.rejectReason = m.rejectReason;
  return rec;
}
