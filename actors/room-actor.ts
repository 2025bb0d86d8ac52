/**
 * The room actor: the only writer of its room. It takes inputs in mailbox
 * order and runs each event through the checks of the input pipeline
 * (signatures, auth events, auth against its own auth events, prev events,
 * state before, auth against that state, soft-fail against the current
 * state) and commits the outcome as one storage unit (the store publishes
 * its outputs once it is durable).
 * Events whose prev events are missing are parked (missing-prev.ts) without
 * holding up the room. Local events (send, create_room) are built here so
 * concurrent sends to one room never race.
 */
import type { Logger } from 'pino';
import type { MatrixEvent } from '../src/matrix/event.js';
import { redactedEventOf } from '../src/matrix/pdu.js';
import type { JsonObject } from '../src/matrix/json.js';
import { roomVersion, DEFAULT_ROOM_VERSION, type RoomVersion } from '../src/matrix/room-versions.js';
import { stateKey, type StateMap } from '../src/matrix/state-key.js';
import { planEventSignatures, requiredSigners, badSignature } from '../src/matrix/signing.js';
import type { CryptoPool } from './crypto-pool.js';
import { checkAuth } from '../src/auth/check.js';
import { authStateFromEvents, checkAuthEvents } from '../src/auth/auth-events.js';
import type { AuthStateLookup } from '../src/auth/types.js';
import { RoomServerError } from '../src/errors.js';
import type { CreateRoomReply, InputResult, InputStatus } from '../src/api.js';
import type { KeyRing } from '../src/keyring.js';
import type { PeerFetcher } from '../src/peers.js';
import type { SigningKey } from '../src/matrix/ed25519.js';
import type { PreparedCreate, PreparedInput, Reply, RoomMsg } from './messages.js';
import { statusOf, takeText, type EventRecord, type RoomHead, type RoomStore, type Unit, type PendingOutput, type NidHints } from './room-store.js';
import { EventSource, type EventCache } from './event-source.js';
import { RoomStateCalc, diffStates, ownEntry, type StateChanges } from './room-state.js';
import { fetchGap, preparePeerEvents, type ParkedEvents, type ParkLimits } from './missing-prev.js';
import { buildLocalEvent, createRoomEvents } from './local-events.js';
import { redactionAllowed, redactedCopy } from './redactions.js';
import { inputsTotal } from '../src/metrics.js';
import { Lru } from './lru.js';

export interface RoomDeps {
  store: RoomStore;
  cache: EventCache;
  serverName: string;
  signingKey: SigningKey;
  keys: KeyRing;
  peers: PeerFetcher | undefined;
  log: Logger;
  /** parse + hash-check a PDU fetched from a peer (same path as inputs) */
  prepare(pdu: JsonObject, rv: RoomVersion, kind: PreparedInput['kind'], extra?: Partial<PreparedInput>): PreparedInput;
  /** queue a message to this room's actor (used by fetches finishing later) */
  dispatch(roomId: string, msg: RoomMsg): void;
  park: ParkLimits;
  /** where signatures are checked and made */
  crypto: CryptoPool;
  /** backoff shared by all rooms: server -> earliest next attempt */
  backoff: Map<string, { until: number; delay: number }>;
}

/** The hot state of a loaded room actor; dropped on passivation. */
export interface RoomHot {
  roomId: string;
  /** undefined until the room's create event is stored */
  head: RoomHead | undefined;
  rv: RoomVersion | undefined;
  createEvent: MatrixEvent | undefined;
  /** current state; mutated only after a successful commit */
  current: StateMap;
  events: EventSource | undefined;
  calc: RoomStateCalc | undefined;
  /**
   * The records of state events this room reads for every event (its auth
   * events); see event-source.ts. Messages stay out of it: they would push
   * the auth events out, and only the latest one is read again.
   */
  records: Lru<string, EventRecord>;
  /** the record of the event this room committed last (the next event's prev event) */
  last: EventRecord | undefined;
  nids: NidHints;
}

/** Entries of a live room's own caches of state events and of records. */
const ROOM_EVENT_CACHE = 16;
const ROOM_RECORD_CACHE = 16;

/** Per-room data that outlives the actor's hot state (kept by the supervisor). */
export interface RoomEntry {
  roomId: string;
  parked: ParkedEvents;
}

type Outcome = InputResult | 'parked';

/** The event as its unit stores it: redacted when its redaction arrived first. */
function storedForm(ev: MatrixEvent, unit: Unit): MatrixEvent {
  const stored = unit.event;
  return stored && stored.record.redacted && stored.record.eventId === ev.eventId ? redactedEventOf(ev, stored.json) : ev;
}

/** A send as the actor gets it. */
type SendMsg = Extract<RoomMsg, { op: 'send' }>;

/** A new event's auth events, and which of them were rejected. */
interface AuthEventsLoad {
  events: MatrixEvent[];
  /** undefined when none was */
  rejected: Set<string> | undefined;
}

export class RoomLogic {
  constructor(
    private readonly deps: RoomDeps,
    private readonly entry: RoomEntry,
  ) {}

  private get store(): RoomStore {
    return this.deps.store;
  }

  async load(): Promise<RoomHot> {
    const roomId = this.entry.roomId;
    const head = await this.store.getRoom(roomId);
    const hot: RoomHot = { roomId, head, rv: undefined, createEvent: undefined, current: new Map(), events: undefined, calc: undefined, records: new Lru(ROOM_RECORD_CACHE), last: undefined, nids: { room: 0, lastId: '', lastNid: 0, events: new Map() } };
    if (head) {
      this.attachVersion(hot, roomVersion(head.roomVersion));
      hot.current = new Map(await this.store.loadSnapshot(head.currentSnapshot));
      hot.createEvent = await hot.events!.get(head.createEventId);
    }
    return hot;
  }

  private attachVersion(hot: RoomHot, rv: RoomVersion): void {
    hot.rv = rv;
    hot.events = new EventSource(this.store, this.deps.cache, rv, ROOM_EVENT_CACHE);
    hot.calc = new RoomStateCalc(hot.roomId, rv, this.store, hot.events);
  }

  handle(hot: RoomHot | undefined, msg: RoomMsg): Promise<RoomHot> {
    if (hot !== undefined && msg.op === 'send') {
      // The common case continues from the send's promise: no suspended frame of this function is
      // kept (and copied by every young-generation collection) while the send waits for its commit.
      return this.sendAndReply(hot, msg);
    }
    return this.handleAny(hot, msg);
  }

  private async handleAny(hot: RoomHot | undefined, msg: RoomMsg): Promise<RoomHot> {
    const room = hot ?? (await this.load());
    switch (msg.op) {
      case 'input':
        await this.onInput(room, msg.input, msg.reply);
        break;
      case 'send':
        await this.sendAndReply(room, msg);
        break;
      case 'create':
        msg.reply.resolve(await this.onCreate(room, msg.create));
        break;
      case 'fetched':
        for (const input of msg.inputs) {
          await this.onInput(room, input, { resolve: () => {}, reject: () => {} }, true);
        }
        this.entry.parked.fetchDone(msg.gapFor);
        await this.retryParked(room);
        break;
      case 'retry':
        await this.retryParked(room);
        break;
    }
    return room;
  }

  private async onInput(room: RoomHot, input: PreparedInput, reply: Reply<InputResult>, fromFetch = false): Promise<void> {
    const outcome = await this.process(room, input, fromFetch);
    if (outcome === 'parked') {
      this.entry.parked.add(input, reply);
      if (!fromFetch) this.startGapFetch(room, input);
      return;
    }
    inputsTotal.inc({ status: outcome.status });
    reply.resolve(outcome);
    if (outcome.status === 'accepted' || outcome.status === 'soft_failed' || outcome.status === 'outlier') {
      await this.retryParked(room);
    }
  }

  /** Retries parked events whose prev events are now known; fails those past their deadline. */
  private async retryParked(room: RoomHot): Promise<void> {
    const parked = this.entry.parked;
    if (parked.size === 0) return; // the usual case: nothing waits
    for (;;) {
      const expired = parked.takeExpired(Date.now());
      for (const p of expired) {
        const r: InputResult = { event_id: p.input.event.eventId, status: 'rejected', reason: 'missing_prev_events' };
        await this.finishUnstored(room.roomId, p.input);
        inputsTotal.inc({ status: 'rejected' });
        p.reply.resolve(r);
      }
      const ready = await parked.takeReady((input) => this.dependenciesMet(input));
      if (ready.length === 0) return;
      for (const p of ready) {
        const outcome = await this.process(room, p.input, true);
        if (outcome === 'parked') parked.add(p.input, p.reply);
        else {
          inputsTotal.inc({ status: outcome.status });
          p.reply.resolve(outcome);
        }
      }
    }
  }

  /** A stored event's record, from the room's own cache when it is there. */
  private getRecord(room: RoomHot, eventId: string): Promise<EventRecord | undefined> {
    const r = this.recordNow(room, eventId);
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  /**
   * An event's record: at once when the room holds it (its latest event,
   * its state events: what a new event's prev and auth events nearly
   * always are), else a promise of the read. The event path awaits only
   * that promise, not a settled one per look-up.
   */
  private recordNow(room: RoomHot, eventId: string): EventRecord | undefined | Promise<EventRecord | undefined> {
    return this.cachedRecord(room, eventId) ?? this.readRecord(room, eventId);
  }

  /** An event's record when the room holds it in memory. */
  private cachedRecord(room: RoomHot, eventId: string): EventRecord | undefined {
    return room.last?.eventId === eventId ? room.last : room.records.get(eventId);
  }

  private async readRecord(room: RoomHot, eventId: string): Promise<EventRecord | undefined> {
    const r = await this.store.getEvent(eventId);
    if (r) room.records.add(eventId, r);
    return r;
  }

  /** Commits a unit of this room and keeps the room's cached records in step with it. */
  private commitUnit(room: RoomHot, unit: Unit): Promise<void> {
    unit.nids = room.nids;
    return this.store.commit(room.roomId, unit).then(() => this.committed(room, unit));
  }

  /** With a unit of this room durable: its cached records in step with it. */
  private committed(room: RoomHot, unit: Unit): void {
    const rec = unit.event?.record;
    if (rec !== undefined) {
      if (rec.stateKey !== undefined) room.records.set(rec.eventId, rec);
      else if (!unit.event!.fresh) room.records.delete(rec.eventId); // (a message stored again, e.g. an outlier now with state)
      room.last = rec;
    }
    for (const r of unit.redactEvents ?? []) {
      room.records.delete(r.eventId);
      if (room.last?.eventId === r.eventId) room.last = undefined;
    }
  }

  private async isKnownWithState(eventId: string): Promise<boolean> {
    const r = await this.store.getEvent(eventId);
    return !!r && !r.outlier && (r.beforeSnapshot !== 0 || (r.prevEvents.length === 0 && r.stateKey !== undefined));
  }

  /** Removes the journal entries of an input that ends without being stored. */
  private async finishUnstored(roomId: string, input: PreparedInput): Promise<void> {
    if (input.journalSeqs?.length) await this.store.commit(roomId, { journalSeqs: input.journalSeqs });
  }

  // ---------------------------------------------------------------------------
  // The pipeline for one event

  /** An input refused before anything of it is stored. */
  private async rejectUnstored(room: RoomHot, input: PreparedInput, reason: string): Promise<InputResult> {
    await this.finishUnstored(room.roomId, input);
    return { event_id: input.event.eventId, status: 'rejected', reason };
  }

  private async process(room: RoomHot, input: PreparedInput, fromFetch: boolean): Promise<Outcome> {
    const ev = input.event;

    if (ev.roomId !== room.roomId) return this.rejectUnstored(room, input, 'wrong_room');

    // (events built here just now have fresh IDs: no need to look, and their NIDs allocate without a read)
    if (input.local) this.store.markNewEvent(ev.eventId);
    const existing = input.local ? undefined : await this.store.getEvent(ev.eventId);
    if (existing && !(existing.outlier && input.kind !== 'outlier')) {
      await this.finishUnstored(room.roomId, input);
      return { event_id: ev.eventId, status: 'duplicate', reason: statusOf(existing) };
    }
    input.fresh = existing === undefined;

    const isCreate = ev.type === 'm.room.create' && ev.stateKey === '';
    if (!room.head && !room.rv) {
      if (isCreate || input.kind === 'outlier' || input.stateEventIds) this.attachVersion(room, ev.roomVersion);
      else return this.rejectUnstored(room, input, 'unknown_room');
    }
    if (room.rv && room.rv.id !== ev.roomVersion.id) return this.rejectUnstored(room, input, 'room_version_mismatch');
    const rv = room.rv!;
    if (isCreate && room.head) return this.rejectUnstored(room, input, 'room_already_created');

    // Signatures of the servers the spec requires.
    if (!input.local) {
      const signers = requiredSigners(ev.json, rv);
      await this.deps.keys.ensure(signers);
      const plan = planEventSignatures(ev.json, rv, (server, keyId, atTs) => this.deps.keys.lookup(server, keyId, atTs, atTs !== undefined), input.signedBytes);
      input.signedBytes = undefined;
      if (!plan.ok) return this.rejectUnstored(room, input, 'bad_signature');
      const verified = await Promise.all(plan.checks.map((c) => this.deps.crypto.verify(c.publicKey, plan.bytes, c.signature)));
      const bad = verified.indexOf(false);
      if (bad >= 0) {
        this.deps.log.debug({ eventId: ev.eventId, ...badSignature(plan.checks[bad]!) }, 'bad signature');
        return this.rejectUnstored(room, input, 'bad_signature');
      }
    }

    // Auth events: present (fetching missing ones), not rejected, the right ones.
    // A local event built just now from the room's current state comes with
    // them: the ones the selection picks, none rejected.
    let createEvent = room.createEvent;
    if (!isCreate) {
      const local = input.localAuth;
      input.localAuth = undefined;
      let loaded: AuthEventsLoad | undefined;
      if (local === undefined) {
        const load = this.loadAuthEvents(room, ev);
        loaded = load instanceof Promise ? await load : load;
        if (!loaded) {
          // fetched outliers do not wait: their own fetch already asked for their auth chain
          return fromFetch && input.kind === 'outlier' ? this.rejectUnstored(room, input, 'missing_auth_events') : 'parked';
        }
      }
      if (rv.roomIdFromCreateEvent && !createEvent) {
        createEvent = await room.events!.get('$' + room.roomId.slice(1));
        if (!createEvent) return this.rejectUnstored(room, input, 'missing_create_event');
      }
      let state: AuthStateLookup;
      if (loaded !== undefined) {
        const ae = checkAuthEvents(ev, loaded.events, createEvent ? { createEvent, rejected: loaded.rejected } : { rejected: loaded.rejected });
        if (!ae.ok) return this.storeRejected(room, input, `auth_events:${ae.code}`, 0);
        state = ae.state;
      } else {
        state = authStateFromEvents(local!, rv.roomIdFromCreateEvent ? createEvent : undefined);
      }
      const own = checkAuth(ev, state);
      if (!own.ok) return this.storeRejected(room, input, `auth:${own.code}`, 0);
    } else {
      const own = checkAuth(ev, { get: () => undefined });
      if (!own.ok) return this.storeRejected(room, input, `auth:${own.code}`, 0);
      createEvent = ev;
    }

    if (input.kind === 'outlier') return this.storeOutlier(room, input);

    // State before the event.
    let before: StateMap;
    let beforeSnap: number;
    let linear = false;
    const unit: Unit = {};
    if (isCreate) {
      before = new Map();
      beforeSnap = 0;
    } else if (input.stateEventIds) {
      const st = await this.stateFromIds(room, input.stateEventIds, input.origin);
      if (!st) return this.rejectUnstored(room, input, 'missing_state_events');
      before = st;
      beforeSnap = await this.store.snapshotOf(unit, room.roomId, before);
    } else {
      const prevRecs: EventRecord[] = [];
      for (const id of ev.prevEvents) {
        const got = this.recordNow(room, id);
        const r = got instanceof Promise ? await got : got;
        if (!r || r.outlier) return fromFetch && input.kind === 'old' ? this.rejectUnstored(room, input, 'missing_prev_events') : 'parked';
        prevRecs.push(r);
      }
      if (!room.head) return this.rejectUnstored(room, input, 'unknown_room');
      linear = input.kind === 'new' && sameSet(ev.prevEvents, room.head.extremities);
      if (linear) {
        before = room.current;
        beforeSnap = room.head.currentSnapshot;
      } else {
        const states = await Promise.all(prevRecs.map((r) => room.calc!.stateAfter(r)));
        before = await room.calc!.resolve(states);
        // Derive from the first prev's state before: usually one small block away.
        const base = prevRecs[0]!;
        const baseState = await this.store.loadSnapshot(base.beforeSnapshot);
        beforeSnap = await this.store.deriveSnapshot(unit, room.roomId, base.beforeSnapshot, diffStates(baseState, before).changes);
      }
    }

    // Allowed by the state before it? A local event extending the room's
    // head was just given exactly the auth events this state selects (built
    // in this same turn of the actor), so the check above already was this one.
    if (!isCreate && !(input.local && linear)) {
      const lookup = await room.calc!.authLookup(ev, before, createEvent);
      const r = checkAuth(ev, lookup);
      if (!r.ok) return this.storeRejected(room, input, `auth:${r.code}`, beforeSnap, unit);
    }

    // Allowed by the current state? (new events only; the same check when linear)
    let softFailed = false;
    if (input.kind === 'new' && !linear && !isCreate && room.head) {
      const lookup = await room.calc!.authLookup(ev, room.current, createEvent);
      softFailed = !checkAuth(ev, lookup).ok;
    }

    return this.commitEvent(room, input, { before, beforeSnap, linear, softFailed, createEvent, unit });
  }

  /**
   * The event's auth events if we hold them all (rejected ones noted), else
   * undefined. At once, without a promise, when the room has them all in
   * memory (the common case); else a promise of the reads.
   */
  private loadAuthEvents(room: RoomHot, ev: MatrixEvent): AuthEventsLoad | undefined | Promise<AuthEventsLoad | undefined> {
    const got = room.events!.getManyNow(ev.authEvents);
    if (got instanceof Promise) return this.readAuthEvents(room, ev, got);
    if (got.size < ev.authEvents.length) return undefined;
    let rejected: Set<string> | undefined;
    const create = rv12CreateId(ev);
    for (const id of create ? [...ev.authEvents, create] : ev.authEvents) {
      const r = this.cachedRecord(room, id);
      if (r === undefined) return this.readAuthEvents(room, ev, got);
      if (r.rejected) (rejected ??= new Set()).add(id);
    }
    return { events: ev.authEvents.map((id) => got.get(id)!), rejected };
  }

  /** loadAuthEvents when something must be read (`events`: the auth events, or the read of them under way). */
  private async readAuthEvents(room: RoomHot, ev: MatrixEvent, events: Map<string, MatrixEvent> | Promise<Map<string, MatrixEvent>>): Promise<AuthEventsLoad | undefined> {
    const got = await events;
    if (got.size < ev.authEvents.length) return undefined;
    let rejected: Set<string> | undefined;
    const create = rv12CreateId(ev);
    for (const id of create ? [...ev.authEvents, create] : ev.authEvents) {
      const r = await this.getRecord(room, id);
      if (r?.rejected) (rejected ??= new Set()).add(id);
    }
    return { events: ev.authEvents.map((id) => got.get(id)!), rejected };
  }

  /** Whether a parked input can run now: its auth events are held, and its prev events with state. */
  private async dependenciesMet(input: PreparedInput): Promise<boolean> {
    for (const id of input.event.authEvents) if (!(await this.store.getEvent(id))) return false;
    if (input.kind === 'outlier' || input.stateEventIds) return true;
    for (const id of input.event.prevEvents) if (!(await this.isKnownWithState(id))) return false;
    return true;
  }

  /** Checks and stores fetched events as outliers, oldest first. */
  private async storeOutliers(room: RoomHot, pdus: JsonObject[]): Promise<void> {
    for (const p of preparePeerEvents(this.deps, room.rv!, pdus, 'outlier')) {
      if (await this.store.getEvent(p.event.eventId)) continue;
      await this.process(room, p, true);
    }
  }

  /** Full state from event IDs (fetching unknown ones from peers as outliers). */
  private async stateFromIds(room: RoomHot, ids: string[], origin: string | undefined): Promise<StateMap | undefined> {
    let got = await room.events!.getMany(ids);
    if (got.size < ids.length && this.deps.peers) {
      const missing = ids.filter((id) => !got.has(id));
      for (const server of this.candidateServers(room, undefined, origin)) {
        try {
          const pdus = await this.deps.peers.events(server, missing);
          await this.storeOutliers(room, pdus);
        } catch {
          continue;
        }
        got = await room.events!.getMany(ids);
        if (got.size === ids.length) break;
      }
    }
    if (got.size < ids.length) return undefined;
    const st: StateMap = new Map();
    for (const e of got.values()) if (e.stateKey !== undefined) st.set(stateKey(e.type, e.stateKey), e.eventId);
    return st;
  }

  /** Servers to ask, in order: the origin, the sender's, then servers with joined members; never ourselves. */
  candidateServers(room: RoomHot, ev: MatrixEvent | undefined, origin: string | undefined): string[] {
    const out: string[] = [];
    const add = (s: string | undefined) => {
      if (s && s !== this.deps.serverName && !out.includes(s)) out.push(s);
    };
    add(origin);
    if (ev) add(serverOf(ev.sender));
    for (const k of room.current.keys()) {
      if (k.startsWith('m.room.member\u0000')) add(serverOf(k.slice('m.room.member\u0000'.length)));
      if (out.length > 20) break;
    }
    if (this.deps.peers) for (const s of this.deps.peers.knownServers()) add(s);
    const now = Date.now();
    return out.filter((s) => (this.deps.backoff.get(s)?.until ?? 0) <= now);
  }

  // ---------------------------------------------------------------------------
  // Commit paths

  private record(room: RoomHot, ev: MatrixEvent, flags: Partial<EventRecord>): EventRecord {
    return {
      eventId: ev.eventId,
      roomId: room.roomId,
      stateKey: ev.stateKey === undefined ? undefined : stateKey(ev.type, ev.stateKey),
      depth: ev.depth,
      prevEvents: [...ev.prevEvents],
      authEvents: [...ev.authEvents],
      outlier: false,
      rejected: false,
      softFailed: false,
      redacted: false,
      beforeSnapshot: 0,
      ...flags,
    };
  }

  private async storeRejected(room: RoomHot, input: PreparedInput, reason: string, beforeSnap: number, unit: Unit = {}): Promise<InputResult> {
    const ev = input.event;
    unit.event = { record: this.record(room, ev, { rejected: true, rejectReason: reason, beforeSnapshot: beforeSnap, outlier: input.kind === 'outlier' }), json: ev.json, text: takeText(ev), fresh: input.fresh === true };
    if (input.journalSeqs) unit.journalSeqs = input.journalSeqs;
    if (input.txnId) unit.txn = { sender: ev.sender, txnId: input.txnId, eventId: ev.eventId, status: 'rejected' };
    if (!room.head && ev.type === 'm.room.create') {
      // a rejected create event leaves the room uncreated
    }
    await this.commitUnit(room, unit);
    room.events!.remember(ev);
    return { event_id: ev.eventId, status: 'rejected', reason };
  }

  private async storeOutlier(room: RoomHot, input: PreparedInput): Promise<InputResult> {
    const ev = input.event;
    const unit: Unit = { event: { record: this.record(room, ev, { outlier: true }), json: ev.json, text: takeText(ev), fresh: input.fresh === true } };
    if (input.journalSeqs) unit.journalSeqs = input.journalSeqs;
    await this.applyPendingRedactions(room, ev, unit, await this.store.pendingRedactions(ev.eventId));
    await this.commitUnit(room, unit);
    room.events!.remember(storedForm(ev, unit));
    return { event_id: ev.eventId, status: 'outlier' };
  }

  private async commitEvent(
    room: RoomHot,
    input: PreparedInput,
    s: { before: StateMap; beforeSnap: number; linear: boolean; softFailed: boolean; createEvent: MatrixEvent | undefined; unit: Unit },
  ): Promise<InputResult> {
    const ev = input.event;
    const unit = s.unit;
    const rec = this.record(room, ev, { beforeSnapshot: s.beforeSnap, softFailed: s.softFailed });
    unit.event = { record: rec, json: ev.json, text: takeText(ev), fresh: input.fresh === true };
    if (input.journalSeqs) unit.journalSeqs = input.journalSeqs;
    const isCreate = ev.type === 'm.room.create' && ev.stateKey === '';
    const own = ownEntry(rec);
    const status: InputResult['status'] = s.softFailed ? 'soft_failed' : 'accepted';
    if (input.txnId) unit.txn = { sender: ev.sender, txnId: input.txnId, eventId: ev.eventId, status };

    let newCurrent: StateMap | undefined;
    let newHead: RoomHead | undefined;
    let output: PendingOutput | undefined;
    /** linear case: changes applied to room.current in place after the commit */
    let inPlace: StateChanges | undefined;

    if (isCreate) {
      newCurrent = new Map([[own!, ev.eventId]]);
      const snap = await this.store.deriveSnapshot(unit, room.roomId, 0, [[own!, ev.eventId]]);
      newHead = { roomId: room.roomId, roomVersion: room.rv!.id, createEventId: ev.eventId, extremities: [ev.eventId], currentSnapshot: snap, depth: ev.depth };
      output = this.newRoomEventOutput(room, ev, [ev.eventId], [], newHead.extremities, false, input.txnId);
    } else if (input.kind === 'new' && !s.softFailed && room.head) {
      const head = room.head;
      const prevs = ev.prevEvents; // a handful: no set needed
      const extremities = head.extremities.filter((x) => !prevs.includes(x));
      extremities.push(ev.eventId);
      let changes: StateChanges;
      let adds: string[];
      let removes: string[];
      let rewrites = false;
      let snap: number;
      if (extremities.length === 1 && s.linear) {
        // the common case: the event extends the only extremity
        changes = own !== undefined ? [[own, ev.eventId]] : [];
        const old = own !== undefined ? room.current.get(own) : undefined;
        adds = own !== undefined ? [ev.eventId] : [];
        removes = old !== undefined ? [old] : [];
        snap = changes.length ? await this.store.deriveSnapshot(unit, room.roomId, s.beforeSnap, changes) : s.beforeSnap;
      } else {
        // state resolution looks the event up: make it visible before it is stored
        room.events!.remember(ev);
        const after = new Map(s.before);
        if (own !== undefined) after.set(own, ev.eventId);
        room.calc!.rememberAfter(ev.eventId, after);
        const others = extremities.filter((x) => x !== ev.eventId);
        const states = [after];
        for (const x of others) {
          const r = await this.getRecord(room, x);
          if (r) states.push(await room.calc!.stateAfter(r));
        }
        newCurrent = await room.calc!.resolve(states);
        const d = diffStates(room.current, newCurrent);
        changes = d.changes;
        adds = d.adds;
        removes = d.removes;
        // state resolution changed more than the event's own entry?
        rewrites = d.changes.some(([k, id]) => !(k === own && id === ev.eventId));
        snap = await this.store.deriveSnapshot(unit, room.roomId, head.currentSnapshot, changes);
      }
      newHead = { ...head, extremities, currentSnapshot: snap, depth: Math.max(head.depth, ev.depth) };
      output = this.newRoomEventOutput(room, ev, adds, removes, extremities, rewrites, input.txnId);
      unit.memberChanges = changes.length === 0 ? [] : await this.memberChanges(room, changes, ev);
      if (!newCurrent) inPlace = changes;
    } else if (input.kind === 'new' && !s.softFailed && !room.head && s.before.has(stateKey('m.room.create', ''))) {
      // The first event we hold of a room we join: given with the state
      // before it (state_event_ids). The room starts here.
      const after = new Map(s.before);
      if (own !== undefined) after.set(own, ev.eventId);
      const changes: StateChanges = own !== undefined ? [[own, ev.eventId]] : [];
      const snap = await this.store.deriveSnapshot(unit, room.roomId, s.beforeSnap, changes);
      newHead = { roomId: room.roomId, roomVersion: room.rv!.id, createEventId: s.before.get(stateKey('m.room.create', ''))!, extremities: [ev.eventId], currentSnapshot: snap, depth: ev.depth };
      newCurrent = after;
      output = this.newRoomEventOutput(room, ev, [...after.values()], [], newHead.extremities, false, input.txnId);
      unit.memberChanges = await this.memberChanges(room, [...after.entries()], ev);
    } else if (input.kind === 'old' && room.head) {
      output = { type: 'old_room_event', room_id: room.roomId, event_id: ev.eventId, event: ev.json };
    }

    if (isCreate) unit.memberChanges = [];
    if (newHead) unit.head = newHead;
    if (output) unit.output = output;

    // Redactions: this event redacting another, or earlier redactions of this event.
    if (!s.softFailed) {
      if (ev.type === 'm.room.redaction' && ev.redacts) await this.applyRedaction(room, ev, s.before, s.createEvent, unit);
      const waiting = this.store.pendingRedactions(ev.eventId);
      if (waiting instanceof Promise || waiting.length > 0) await this.applyPendingRedactions(room, ev, unit, await waiting);
    }

    // The rest runs once the unit is durable, in one step (the store has
    // published the outputs by then). Returned rather than awaited, so this
    // function's frame is not kept while the write is in flight.
    const done = { isCreate, newHead, newCurrent, inPlace, status };
    unit.nids = room.nids;
    return this.store.commit(room.roomId, unit).then(
      () => {
        this.committed(room, unit);
        return this.afterCommit(room, ev, unit, done);
      },
      (e: unknown) => {
        room.events!.forget(ev.eventId);
        throw e;
      },
    );
  }

  /**
   * With the unit durable (its outputs already published by the store),
   * moves the room's hot state forward. At once, without a promise, except
   * for the first event of a room joined from its state (its create event
   * is read).
   */
  private afterCommit(
    room: RoomHot,
    ev: MatrixEvent,
    unit: Unit,
    d: { isCreate: boolean; newHead: RoomHead | undefined; newCurrent: StateMap | undefined; inPlace: StateChanges | undefined; status: InputResult['status'] },
  ): InputResult | Promise<InputResult> {
    const { newHead, newCurrent } = d;
    const result: InputResult = { event_id: ev.eventId, status: d.status };
    room.events!.remember(storedForm(ev, unit));
    if (d.isCreate) {
      room.head = newHead;
      room.current = newCurrent!;
      room.createEvent = ev;
    } else if (newHead && !room.head) {
      room.head = newHead;
      room.current = newCurrent!;
      return room.events!.get(newHead.createEventId).then((c) => {
        room.createEvent = c;
        return result;
      });
    } else if (newHead) {
      room.head = newHead;
      if (newCurrent) room.current = newCurrent;
      else for (const [k, id] of d.inPlace ?? []) {
        if (id === undefined) room.current.delete(k);
        else room.current.set(k, id);
      }
    }
    return result;
  }

  private newRoomEventOutput(
    room: RoomHot,
    ev: MatrixEvent,
    adds: string[],
    removes: string[],
    latest: string[],
    rewrites: boolean,
    txnId: string | undefined,
  ): PendingOutput {
    const o: PendingOutput = {
      type: 'new_room_event',
      room_id: room.roomId,
      event_id: ev.eventId,
      event: ev.json,
      adds_state_event_ids: adds,
      removes_state_event_ids: removes,
      latest_event_ids: [...latest],
      rewrites_state: rewrites,
    };
    if (txnId !== undefined) (o as { txn_id?: string }).txn_id = txnId;
    return o;
  }

  /**
   * The membership index entries of a state change. `ev` is the event being
   * committed: it is not stored yet (nor cached, on the usual path), so it
   * is taken as is rather than looked up (a look-up would find nothing and
   * record the member as having left).
   */
  private async memberChanges(room: RoomHot, changes: StateChanges, ev: MatrixEvent): Promise<Array<{ userId: string; membership: string; eventId: string }>> {
    const out: Array<{ userId: string; membership: string; eventId: string }> = [];
    for (const [k, id] of changes) {
      if (!k.startsWith('m.room.member\u0000')) continue;
      const userId = k.slice('m.room.member\u0000'.length);
      if (id === undefined) {
        out.push({ userId, membership: 'leave', eventId: '' });
        continue;
      }
      const e = id === ev.eventId ? ev : await room.events!.get(id);
      const m = e?.content.membership;
      out.push({ userId, membership: typeof m === 'string' ? m : 'leave', eventId: id });
    }
    return out;
  }

  /** A redaction event whose target we hold: redact the target if the redaction is allowed. */
  private async applyRedaction(room: RoomHot, ev: MatrixEvent, before: StateMap, createEvent: MatrixEvent | undefined, unit: Unit): Promise<void> {
    if (ev.type !== 'm.room.redaction' || !ev.redacts) return;
    const target = await room.events!.get(ev.redacts);
    const targetRec = target ? await this.store.getEvent(ev.redacts) : undefined;
    if (!target || !targetRec || targetRec.roomId !== room.roomId) {
      unit.pendingRedaction = { targetEventId: ev.redacts, redactionEventId: ev.eventId };
      return;
    }
    if (targetRec.redacted) return;
    const lookup = await room.calc!.authLookup(ev, before, createEvent);
    if (!redactionAllowed(ev, target, lookup, room.rv!)) return;
    this.addRedaction(room, ev, target, unit);
  }

  /** Earlier redactions waiting for this event. */
  private async applyPendingRedactions(room: RoomHot, ev: MatrixEvent, unit: Unit, waiting: string[]): Promise<void> {
    for (const rid of waiting) {
      const red = await room.events!.get(rid);
      const redRec = await this.store.getEvent(rid);
      if (!red || !redRec || redRec.rejected || redRec.softFailed || redRec.roomId !== room.roomId) continue;
      const redState = redRec.beforeSnapshot ? await this.store.loadSnapshot(redRec.beforeSnapshot) : room.current;
      const lookup = await room.calc!.authLookup(red, redState, room.createEvent);
      if (!redactionAllowed(red, ev, lookup, room.rv!)) continue;
      // the event is stored redacted from the start
      if (unit.event && unit.event.record.eventId === ev.eventId) {
        unit.event.json = redactedCopy(ev.json, room.rv!);
        unit.event.text = undefined;
        unit.event.record.redacted = true;
      }
      (unit.extraOutputs ??= []).push({ type: 'redacted_event', room_id: room.roomId, redacted_event_id: ev.eventId, redaction_event_id: red.eventId, redaction_event: red.json });
      return;
    }
  }

  private addRedaction(room: RoomHot, redaction: MatrixEvent, target: MatrixEvent, unit: Unit): void {
    (unit.redactEvents ??= []).push({ eventId: target.eventId, redactedJson: redactedCopy(target.json, room.rv!) });
    (unit.extraOutputs ??= []).push({
      type: 'redacted_event',
      room_id: room.roomId,
      redacted_event_id: target.eventId,
      redaction_event_id: redaction.eventId,
      redaction_event: redaction.json,
    });
    room.events!.forget(target.eventId);
  }

  // ---------------------------------------------------------------------------
  // Missing prev events

  private startGapFetch(room: RoomHot, input: PreparedInput): void {
    const peers = this.deps.peers;
    if (!peers || !room.rv) return;
    const ev = input.event;
    if (!this.entry.parked.startFetch(ev.eventId)) return;
    const servers = this.candidateServers(room, ev, input.origin);
    const earliest = room.head ? [...room.head.extremities] : [];
    const rv = room.rv;
    const roomId = room.roomId;
    void fetchGap({
      deps: this.deps,
      roomId,
      rv,
      servers,
      earliest,
      latest: ev.eventId,
      deadline: input.deadline,
      isKnown: (id) => this.isKnownWithState(id),
      event: ev,
      needPrevs: input.kind !== 'outlier' && !input.stateEventIds,
    }).then(
      (inputs) => this.deps.dispatch(roomId, { op: 'fetched', inputs, gapFor: ev.eventId }),
      (err) => {
        this.deps.log.warn({ err, roomId }, 'gap fetch failed');
        this.deps.dispatch(roomId, { op: 'fetched', inputs: [], gapFor: ev.eventId });
      },
    );
  }

  // ---------------------------------------------------------------------------
  // Local events

  /**
   * A request the event cannot be built from (unknown room, a sender of
   * another server, content too large or malformed) is answered with its
   * error; nothing changed, so unlike a failure inside the pipeline it does
   * not cost the room its hot state.
   */
  private sendAndReply(room: RoomHot, msg: SendMsg): Promise<RoomHot> {
    const req = msg.req;
    if (req.txnId !== undefined) {
      const t = this.store.getTxn(req.sender, req.txnId);
      if (t instanceof Promise) return t.then((prior) => (prior ? this.replyPrior(room, msg, prior) : this.sendNew(room, msg)));
      if (t) return Promise.resolve(this.replyPrior(room, msg, t));
    }
    return this.sendNew(room, msg);
  }

  /** The answer to a send whose txn_id was used before: the earlier event. */
  private replyPrior(room: RoomHot, msg: SendMsg, prior: { eventId: string; status: InputStatus }): RoomHot {
    msg.reply.resolve({ event_id: prior.eventId, status: prior.status });
    return room;
  }

  /**
   * Builds, signs and processes a new local event and answers the send from
   * the innermost continuation, which then yields the room to the actor: a
   * send waiting for its commit holds no async frames and no promise layers
   * beyond the pipeline's own (each would be copied by every young-generation
   * collection while thousands of sends are in flight).
   */
  private sendNew(room: RoomHot, msg: SendMsg): Promise<RoomHot> {
    const req = msg.req;
    if (!room.head || !room.rv) {
      msg.reply.reject(new RoomServerError('M_NOT_FOUND', `unknown room ${room.roomId}`));
      return Promise.resolve(room);
    }
    return buildLocalEvent(room, this.deps, { sender: req.sender, type: req.type, stateKey: req.stateKey, content: req.content }).then(
      (built) => {
        const input: PreparedInput = { event: built.event, kind: 'new', local: true, deadline: Date.now() + 60_000 };
        if (built.authEvents !== undefined) input.localAuth = built.authEvents;
        if (req.txnId !== undefined) input.txnId = req.txnId;
        return this.process(room, input, false).then((out) => {
          if (out === 'parked') throw new RoomServerError('M_UNKNOWN', 'a local event was parked');
          inputsTotal.inc({ status: out.status });
          msg.reply.resolve({ event_id: out.event_id, status: out.status });
          return room;
        });
      },
      (e: unknown) => {
        // refused while building: answered with its error, nothing changed (the room keeps its hot state)
        if (!(e instanceof RoomServerError)) throw e;
        msg.reply.reject(e);
        return room;
      },
    );
  }

  private async onCreate(room: RoomHot, c: PreparedCreate): Promise<CreateRoomReply> {
    if (room.head) throw new RoomServerError('M_INVALID_PARAM', `room ${room.roomId} already exists`);
    if (!room.rv) this.attachVersion(room, roomVersion(c.req.roomVersion ?? DEFAULT_ROOM_VERSION));
    const eventIds: string[] = [];
    for await (const built of createRoomEvents(room, this.deps, c)) {
      const ev = built.event;
      const input: PreparedInput = { event: ev, kind: 'new', local: true, deadline: Date.now() + 60_000 };
      if (built.authEvents !== undefined) input.localAuth = built.authEvents;
      const out = await this.process(room, input, false);
      if (out === 'parked' || out.status !== 'accepted') {
        throw new RoomServerError('M_INVALID_PARAM', `create_room: ${ev.type} was ${out === 'parked' ? 'parked' : `${out.status} (${out.reason ?? ''})`}`);
      }
      inputsTotal.inc({ status: out.status });
      eventIds.push(ev.eventId);
    }
    return { room_id: room.roomId, event_ids: eventIds };
  }
}

/** v12: the create event is named by the room ID instead of being listed. */
function rv12CreateId(ev: MatrixEvent): string | undefined {
  return ev.roomVersion.roomIdFromCreateEvent ? '$' + ev.roomId.slice(1) : undefined;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 1) return a[0] === b[0];
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export function serverOf(id: string): string | undefined {
  const i = id.indexOf(':');
  return i < 0 ? undefined : id.slice(i + 1);
}

