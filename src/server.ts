/**
 * RoomServer: the embedder API (PROTOCOL.md) and the wiring of the parts:
 * storage, key ring, supervisor with its room actors, admission control,
 * the input journal, output subscriptions and the WebSocket gateway.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  AsyncInputReply,
  CreateRoomReply,
  CreateRoomRequest,
  InputEvent,
  InputReply,
  InputResult,
  Output,
  RoomServerApi,
  RoomServerQueries,
  SendReply,
  SendRequest,
  SubscribeOptions,
  Subscription,
} from './api.js';
import { RoomServerError } from './errors.js';
import { isJsonObject, type JsonObject } from './matrix/json.js';
import { roomVersion, DEFAULT_ROOM_VERSION, isKnownRoomVersion, type RoomVersion } from './matrix/room-versions.js';
import { parsePduDetailed } from './matrix/pdu.js';
import { checkContentHash, contentHashMatches, sha256 } from './matrix/hashes.js';
import { redactEvent } from './matrix/redaction.js';
import { roomIdFromCreateEventId } from './matrix/event-id.js';
import { loadOrCreateSigningKey } from './matrix/keys.js';
import type { SigningKey } from './matrix/ed25519.js';
import { KeyRing } from './keyring.js';
import type { PeerFetcher } from './peers.js';
import { SubscriptionHub } from './subscriptions.js';
import { rootLogger } from './log.js';
import { inFlightInputs } from './metrics.js';
import { Store } from '../storage/store.js';
import { compactionPriority } from '../storage/compaction-priority.js';
import { StoreAdapter } from '../actors/store-adapter.js';
import { Supervisor } from '../actors/supervisor.js';
import { Admission, DEFAULT_ADMISSION, type AdmissionLimits } from '../actors/admission.js';
import { EventCache } from '../actors/event-source.js';
import { DEFAULT_PARK_LIMITS, type ParkLimits } from '../actors/missing-prev.js';
import type { PreparedInput, Reply, RoomMsg } from '../actors/messages.js';
import { buildCreateEvent } from '../actors/local-events.js';
import { CryptoPool, defaultCryptoWorkers } from '../actors/crypto-pool.js';
import { RoomQueries } from './queries.js';
import { encodeInputForJournal, decodeJournalInput } from './journal-codec.js';

export interface RoomServerOptions {
  dataDir: string;
  serverName?: string;
  /** the signing key, or where to keep it (default `<dataDir>/signing.key`, created on first start) */
  signingKey?: SigningKey;
  signingKeyFile?: string;
  /** how to reach other servers' roomservers */
  peers?: PeerFetcher;
  trustedKeys?: Record<string, Record<string, string>>;
  /** sync every group write to disk (default false: survives a killed process, not a power cut) */
  fsync?: boolean;
  /** idle time before a room actor passivates (default 30 s) */
  idleTimeoutMs?: number;
  /** how long an input may wait for missing events (default 2 minutes) */
  inputDeadlineMs?: number;
  admission?: Partial<AdmissionLimits>;
  /** nice value of LevelDB's compaction thread (Linux; default 19, the lowest priority; 0 = leave it; once per process) */
  compactionNice?: number;
  /** worker threads for ed25519 (default: one per core beyond the first, at most 4; 0 = inline) */
  cryptoWorkers?: number;
  park?: Partial<ParkLimits>;
  logger?: Logger;
}

export interface ListenOptions {
  host?: string;
  port?: number;
  tokens?: import('./gateway/auth.js').TokenConfig;
  maxFrameBytes?: number;
  heartbeatMs?: number;
  [k: string]: unknown;
}

interface Pending {
  promise: Promise<InputResult>;
}

export class RoomServer implements RoomServerApi {
  readonly serverName: string;
  readonly signingKey: SigningKey;
  readonly query: RoomServerQueries;
  private readonly store: Store;
  private readonly adapter: StoreAdapter;
  private readonly keys: KeyRing;
  private readonly hub: SubscriptionHub;
  private readonly supervisor: Supervisor;
  private readonly admission: Admission;
  private readonly log: Logger;
  private readonly deadlineMs: number;
  private readonly cache = new EventCache();
  private readonly crypto: CryptoPool;
  /** inputs queued or running, by event ID: a second copy joins the first */
  private readonly pending = new Map<string, Pending>();
  /** room ID -> room version, for routing and parsing */
  private readonly versions = new Map<string, RoomVersion>();
  /** Requests in flight (see track). */
  private inFlightCount = 0;
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  private lastCreateTs = 0;
  private closed = false;
  private gateways: Array<{ close(): Promise<void> }> = [];

  private constructor(o: {
    serverName: string;
    signingKey: SigningKey;
    store: Store;
    opts: RoomServerOptions;
  }) {
    this.serverName = o.serverName;
    this.signingKey = o.signingKey;
    this.store = o.store;
    this.log = o.opts.logger ?? rootLogger.child({ component: 'roomserver', server: o.serverName });
    this.deadlineMs = o.opts.inputDeadlineMs ?? 120_000;
    this.adapter = new StoreAdapter(o.store);
    this.keys = new KeyRing({
      serverName: o.serverName,
      signingKey: o.signingKey,
      ...(o.opts.trustedKeys ? { trustedKeys: o.opts.trustedKeys } : {}),
      ...(o.opts.peers ? { peers: o.opts.peers } : {}),
      persist: (server, keyId, key) => o.store.putServerKey(server, keyId, { publicKey: key.publicKey, validUntilTs: key.validUntilTs }),
    });
    this.hub = new SubscriptionHub(this.adapter);
    this.adapter.outputsTo = this.hub;
    this.admission = new Admission({ ...DEFAULT_ADMISSION, ...o.opts.admission });
    const envWorkers = process.env.ROOMSERVER_CRYPTO_WORKERS;
    this.crypto = new CryptoPool(o.opts.cryptoWorkers ?? (envWorkers !== undefined && envWorkers !== '' ? Number(envWorkers) : defaultCryptoWorkers()));
    this.supervisor = new Supervisor(
      {
        store: this.adapter,
        cache: this.cache,
        serverName: o.serverName,
        signingKey: o.signingKey,
        keys: this.keys,
        peers: o.opts.peers,
        log: this.log,
        prepare: (pdu, rv, kind, extra) => this.prepare(pdu, rv, kind, extra),
        park: { ...DEFAULT_PARK_LIMITS, ...o.opts.park },
        crypto: this.crypto,
        backoff: new Map(),
      },
      { idleMs: o.opts.idleTimeoutMs ?? 30_000 },
    );
    this.query = new RoomQueries(this.adapter, this.cache, o.serverName, o.signingKey);
  }

  static async open(opts: RoomServerOptions): Promise<RoomServer> {
    const serverName = opts.serverName ?? 'localhost';
    await mkdir(opts.dataDir, { recursive: true });
    const signingKey = opts.signingKey ?? (await loadOrCreateSigningKey(opts.signingKeyFile ?? join(opts.dataDir, 'signing.key')));
    // bounded caches: they, not the rooms, dominate the heap of a server with many idle rooms
    const store = await Store.open(join(opts.dataDir, 'db'), {
      fsync: opts.fsync ?? false,
      nidCacheSize: 200_000,
      blockCacheEntries: 250_000,
      snapshotCacheEntries: 250_000,
      ...(opts.compactionNice !== undefined ? { compactionNice: opts.compactionNice } : {}),
    });
    const rs = new RoomServer({ serverName, signingKey, store, opts });
    const cp = compactionPriority();
    if (cp?.tid !== undefined) rs.log.debug({ tid: cp.tid }, 'LevelDB compaction thread runs at a lower priority');
    else if (cp?.reason !== undefined) rs.log.debug({ reason: cp.reason }, 'LevelDB compaction thread priority left as it is');
    for (const k of await store.listServerKeys()) rs.keys.load(k.serverName, k.keyId, { publicKey: k.publicKey, validUntilTs: k.validUntilTs });
    await rs.replayJournal();
    return rs;
  }

  // ---------------------------------------------------------------------------
  // input

  /** Parses and hash-checks a PDU for a room version (the shared path of inputs and fetched events). */
  prepare(pdu: JsonObject, rv: RoomVersion, kind: PreparedInput['kind'], extra: Partial<PreparedInput> = {}): PreparedInput {
    const detail = parsePduDetailed(pdu, rv);
    let event = detail.event;
    let hashMismatch = false;
    const hashOk = detail.contentCanonical !== undefined ? contentHashMatches(pdu, sha256(detail.contentCanonical)) : checkContentHash(pdu);
    if (!hashOk) {
      // a wrong content hash: the event is used redacted (its ID and signatures still hold)
      hashMismatch = true;
      event = parsePduDetailed(redactEvent(pdu, rv), rv).event;
    }
    const p: PreparedInput = { deadline: Date.now() + this.deadlineMs, ...extra, event, kind };
    if (hashMismatch) p.hashMismatch = true;
    else if (detail.redactedBytes !== undefined) p.signedBytes = detail.redactedBytes;
    return p;
  }

  private async versionOf(roomId: string): Promise<RoomVersion | undefined> {
    const hit = this.versions.get(roomId);
    if (hit) return hit;
    const head = await this.adapter.getRoom(roomId);
    if (!head) return undefined;
    const rv = roomVersion(head.roomVersion);
    if (this.versions.size > 20_000) this.versions.clear();
    this.versions.set(roomId, rv);
    return rv;
  }

  /** Validates an InputEvent and prepares it; throws M_* errors naming the input. */
  private async prepareInput(ie: InputEvent, i: number, batch: Map<string, RoomVersion>): Promise<PreparedInput> {
    const where = `events[${i}]`;
    if (!isJsonObject(ie) || !isJsonObject(ie.event)) throw new RoomServerError('M_INVALID_PARAM', `${where}.event must be an object`);
    const kind = ie.kind ?? 'new';
    if (kind !== 'new' && kind !== 'outlier' && kind !== 'old') throw new RoomServerError('M_INVALID_PARAM', `${where}.kind must be new, outlier or old`);
    if (ie.roomVersion !== undefined && !isKnownRoomVersion(ie.roomVersion)) {
      throw new RoomServerError('M_INVALID_PARAM', `${where}.room_version ${JSON.stringify(ie.roomVersion)} is not a supported room version`);
    }
    if (ie.origin !== undefined && typeof ie.origin !== 'string') throw new RoomServerError('M_INVALID_PARAM', `${where}.origin must be a string`);
    if (ie.stateEventIds !== undefined && (!Array.isArray(ie.stateEventIds) || !ie.stateEventIds.every((x) => typeof x === 'string'))) {
      throw new RoomServerError('M_INVALID_PARAM', `${where}.state_event_ids must be an array of event IDs`);
    }
    const pdu = ie.event;
    let rv: RoomVersion | undefined;
    const isCreate = pdu.type === 'm.room.create' && pdu.state_key === '';
    if (typeof pdu.room_id === 'string') rv = batch.get(pdu.room_id) ?? (await this.versionOf(pdu.room_id));
    if (!rv && isCreate && isJsonObject(pdu.content)) {
      const v = pdu.content.room_version ?? '1';
      if (!isKnownRoomVersion(v)) throw new RoomServerError('M_UNSUPPORTED_ROOM_VERSION', `${where}: unsupported room version ${JSON.stringify(v)}`);
      rv = roomVersion(v);
    }
    if (!rv && ie.roomVersion !== undefined) rv = roomVersion(ie.roomVersion);
    if (!rv) {
      throw new RoomServerError('M_INVALID_PARAM', `${where}: room ${JSON.stringify(pdu.room_id ?? null)} is unknown; give room_version`);
    }
    try {
      const extra: Partial<PreparedInput> = {};
      if (ie.origin !== undefined) extra.origin = ie.origin;
      if (ie.stateEventIds !== undefined) extra.stateEventIds = ie.stateEventIds;
      const p = this.prepare(pdu, rv, kind, extra);
      // later events (of this request, or of later ones while this one is
      // still queued) may be in the room this create event makes
      if (isCreate) {
        batch.set(p.event.roomId, rv);
        if (!this.versions.has(p.event.roomId)) this.versions.set(p.event.roomId, rv);
      }
      return p;
    } catch (e) {
      if (e instanceof RoomServerError) {
        throw new RoomServerError(e.code, `${where}: ${e.message}`, e.reason);
      }
      throw e;
    }
  }

  input(events: InputEvent[], opts?: { async?: false }): Promise<InputReply>;
  input(events: InputEvent[], opts: { async: true }): Promise<AsyncInputReply>;
  input(events: InputEvent[], opts?: { async?: boolean }): Promise<InputReply | AsyncInputReply>;
  async input(events: InputEvent[], opts: { async?: boolean } = {}): Promise<InputReply | AsyncInputReply> {
    this.assertOpen();
    if (!Array.isArray(events)) throw new RoomServerError('M_INVALID_PARAM', 'events must be an array');
    // Validate everything first: one bad event refuses the request and changes nothing.
    const prepared: PreparedInput[] = [];
    const batch = new Map<string, RoomVersion>();
    for (let i = 0; i < events.length; i++) prepared.push(await this.prepareInput(events[i]!, i, batch));
    if (opts.async) return this.inputAsync(events, prepared);
    const results = await Promise.all(prepared.map((p) => this.runSync(p)));
    return { results };
  }

  private byteSize(p: PreparedInput): number {
    // the canonical text checking computed, when there is one (no second encoding of the content)
    const text = p.event.text;
    return 512 + (text !== undefined ? text.length : p.event.content ? JSON.stringify(p.event.content).length : 0);
  }

  private runSync(p: PreparedInput): Promise<InputResult> {
    const id = p.event.eventId;
    const dup = this.pending.get(id);
    if (dup) return dup.promise;
    const bytes = this.byteSize(p);
    const room = p.event.roomId;
    // Admitted at once in the common case: no promise and no async frame wait on admission then.
    const promise = this.admission.tryAcquire(room, bytes)
      ? this.runAdmitted(p, room, bytes)
      : this.admission.acquire(room, bytes, this.deadlineMs).then(() => this.runAdmitted(p, room, bytes));
    return this.trackPending(id, promise);
  }

  /** Runs an admitted input; its admission is released when it settles. */
  private runAdmitted(p: PreparedInput, room: string, bytes: number): Promise<InputResult> {
    inFlightInputs.inc();
    return this.dispatchInput(p).finally(() => {
      inFlightInputs.dec();
      this.admission.release(room, bytes);
    });
  }

  private trackPending(id: string, promise: Promise<InputResult>): Promise<InputResult> {
    this.pending.set(id, { promise });
    return this.track(promise, () => {
      if (this.pending.get(id)?.promise === promise) this.pending.delete(id);
    });
  }

  /**
   * Counts a request as in flight (close() waits for it) until it settles;
   * `after` runs then. A count, not a set of promises: a set cost every
   * request a derived promise chain and two set updates.
   */
  private track<T>(p: Promise<T>, after?: () => void): Promise<T> {
    this.inFlightCount++;
    p.then(
      () => this.settleTracked(after),
      () => this.settleTracked(after),
    );
    return p;
  }

  private settleTracked(after: (() => void) | undefined): void {
    try {
      after?.();
    } catch (err) {
      this.log.error({ err }, 'request cleanup failed');
    }
    if (--this.inFlightCount === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no request is in flight. */
  private whenIdle(): Promise<void> {
    return this.inFlightCount === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private dispatchInput(p: PreparedInput): Promise<InputResult> {
    return new Promise<InputResult>((resolve, reject) => {
      const reply: Reply<InputResult> = { resolve, reject };
      this.supervisor.dispatch(p.event.roomId, { op: 'input', input: p, reply });
    });
  }

  private async inputAsync(raw: InputEvent[], prepared: PreparedInput[]): Promise<AsyncInputReply> {
    const sizes = prepared.map((p) => this.byteSize(p));
    const taken: number[] = [];
    for (let i = 0; i < prepared.length; i++) {
      if (!this.admission.tryAcquire(prepared[i]!.event.roomId, sizes[i]!)) {
        for (const j of taken) this.admission.release(prepared[j]!.event.roomId, sizes[j]!);
        throw new RoomServerError('M_LIMIT_EXCEEDED', 'too many inputs in flight; retry later');
      }
      taken.push(i);
    }
    let seqs: number[];
    try {
      seqs = await this.store.appendJournal(raw.map((ie, i) => encodeInputForJournal(ie, prepared[i]!.event.roomVersion.id)));
    } catch (e) {
      for (const j of taken) this.admission.release(prepared[j]!.event.roomId, sizes[j]!);
      throw e;
    }
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      p.journalSeqs = [seqs[i]!];
      this.runJournaled(p, sizes[i]!);
    }
    return { queued: prepared.length };
  }

  /** Runs an admitted, journaled input in the background. */
  private runJournaled(p: PreparedInput, bytes: number): void {
    inFlightInputs.inc();
    const id = p.event.eventId;
    const promise = this.dispatchInput(p).finally(() => {
      inFlightInputs.dec();
      this.admission.release(p.event.roomId, bytes);
    });
    promise.catch((err) => this.log.error({ err, eventId: id }, 'async input failed'));
    this.trackPending(id, promise);
  }

  /** At start: inputs acknowledged but not committed before a stop or crash run again. */
  private async replayJournal(): Promise<void> {
    let n = 0;
    for (const { seq, value } of await this.store.readJournal()) {
      let ie: InputEvent;
      let rvId: string;
      try {
        ({ input: ie, roomVersion: rvId } = decodeJournalInput(value as Uint8Array));
      } catch (err) {
        this.log.error({ err, seq }, 'unreadable journal entry dropped');
        await this.adapter.commit('', { journalSeqs: [seq] });
        continue;
      }
      let p: PreparedInput;
      try {
        p = this.prepare(ie.event, roomVersion(rvId), ie.kind ?? 'new', {
          ...(ie.origin !== undefined ? { origin: ie.origin } : {}),
          ...(ie.stateEventIds !== undefined ? { stateEventIds: ie.stateEventIds } : {}),
        });
      } catch (err) {
        this.log.error({ err, seq }, 'journal entry no longer parses; dropped');
        await this.adapter.commit('', { journalSeqs: [seq] });
        continue;
      }
      p.journalSeqs = [seq];
      const bytes = this.byteSize(p);
      // replayed inputs were admitted before the restart: take places without refusing
      await this.admission.acquire(p.event.roomId, bytes);
      this.runJournaled(p, bytes);
      n++;
    }
    if (n) this.log.info({ inputs: n }, 'journal replayed');
  }

  // ---------------------------------------------------------------------------
  // local events

  send(req: SendRequest): Promise<SendReply> {
    let bytes: number;
    try {
      this.assertOpen();
      if (!isJsonObject(req)) throw new RoomServerError('M_INVALID_PARAM', 'send request must be an object');
      for (const k of ['roomId', 'sender', 'type'] as const) {
        if (typeof req[k] !== 'string' || req[k] === '') throw new RoomServerError('M_INVALID_PARAM', `${k} must be a non-empty string`);
      }
      if (!isJsonObject(req.content)) throw new RoomServerError('M_INVALID_PARAM', 'content must be an object');
      if (req.stateKey !== undefined && typeof req.stateKey !== 'string') throw new RoomServerError('M_INVALID_PARAM', 'state_key must be a string');
      if (req.txnId !== undefined && typeof req.txnId !== 'string') throw new RoomServerError('M_INVALID_PARAM', 'txn_id must be a string');
      bytes = 512 + JSON.stringify(req.content).length;
      // A room whose version is known, admitted at once (the common case): no async frames on the way in.
      if (this.versions.has(req.roomId) && this.admission.tryAcquire(req.roomId, bytes)) return this.dispatchSend(req, bytes);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.sendWaiting(req, bytes);
  }

  private async sendWaiting(req: SendRequest, bytes: number): Promise<SendReply> {
    if (!(await this.versionOf(req.roomId))) throw new RoomServerError('M_NOT_FOUND', `unknown room ${req.roomId}`);
    await this.admission.acquire(req.roomId, bytes, this.deadlineMs);
    return this.dispatchSend(req, bytes);
  }

  /** Hands an admitted send to its room's actor; admission is released when it settles. */
  private dispatchSend(req: SendRequest, bytes: number): Promise<SendReply> {
    inFlightInputs.inc();
    const p = new Promise<SendReply>((resolve, reject) => this.supervisor.dispatch(req.roomId, { op: 'send', req, reply: { resolve, reject } }));
    return this.track(p, () => {
      inFlightInputs.dec();
      this.admission.release(req.roomId, bytes);
    });
  }

  async createRoom(req: CreateRoomRequest): Promise<CreateRoomReply> {
    this.assertOpen();
    if (!isJsonObject(req) || typeof req.creator !== 'string') throw new RoomServerError('M_INVALID_PARAM', 'creator must be a user ID');
    const v = req.roomVersion ?? DEFAULT_ROOM_VERSION;
    if (!isKnownRoomVersion(v)) throw new RoomServerError('M_UNSUPPORTED_ROOM_VERSION', `unsupported room version ${JSON.stringify(v)}`);
    if (req.preset !== undefined && req.preset !== 'private_chat' && req.preset !== 'public_chat') {
      throw new RoomServerError('M_INVALID_PARAM', 'preset must be private_chat or public_chat');
    }
    if (req.initialState !== undefined) {
      if (!Array.isArray(req.initialState) || !req.initialState.every((s) => isJsonObject(s) && typeof s.type === 'string' && isJsonObject(s.content))) {
        throw new RoomServerError('M_INVALID_PARAM', 'initial_state must be an array of {type, state_key?, content}');
      }
    }
    if (!req.creator.endsWith(':' + this.serverName)) throw new RoomServerError('M_INVALID_PARAM', `creator ${req.creator} is not a user of ${this.serverName}`);
    const rv = roomVersion(v);
    let roomId!: string;
    let createEvent: JsonObject | undefined;
    if (rv.roomIdFromCreateEvent) {
      // The room ID is the create event's hash: two rooms made by one creator
      // in the same millisecond would collide, so the timestamp moves on.
      // Each create event here gets a timestamp of its own, taken synchronously.
      for (;;) {
        const ts = (this.lastCreateTs = Math.max(Date.now(), this.lastCreateTs + 1));
        createEvent = buildCreateEvent(rv, req.creator, undefined, this.serverName, this.signingKey, {}, ts);
        roomId = roomIdFromCreateEventId(parsePduDetailed(createEvent, rv).event.eventId);
        if (!this.versions.has(roomId) && !(await this.adapter.getRoom(roomId))) break;
      }
    } else {
      roomId = `!${randomBytes(12).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}:${this.serverName}`;
    }
    this.versions.set(roomId, rv);
    const p = new Promise<CreateRoomReply>((resolve, reject) =>
      this.supervisor.dispatch(roomId, { op: 'create', create: { req, roomId, ...(createEvent ? { createEvent } : {}) }, reply: { resolve, reject } } as RoomMsg),
    );
    return this.track(p);
  }

  // ---------------------------------------------------------------------------
  // outputs, keys, gateway

  subscribe(opts: SubscribeOptions = {}, onOutput?: (o: Output) => void): Subscription {
    this.assertOpen();
    return this.hub.subscribe(opts, onOutput);
  }

  outputHead(): number {
    return this.adapter.head();
  }

  addServerKey(serverName: string, keyId: string, publicKeyBase64: string, validUntilTs?: number): void {
    if (typeof serverName !== 'string' || typeof keyId !== 'string' || !keyId.startsWith('ed25519:') || typeof publicKeyBase64 !== 'string') {
      throw new RoomServerError('M_INVALID_PARAM', 'add_server_key needs server_name, key_id (ed25519:...) and public_key');
    }
    void this.keys.add(serverName, keyId, publicKeyBase64, validUntilTs ?? 0);
  }

  async listen(opts: ListenOptions = {}): Promise<import('./gateway/gateway.js').Gateway> {
    const { startGateway } = await import('./gateway/gateway.js');
    const gw = await startGateway(this, { ...opts, host: opts.host ?? '127.0.0.1', port: opts.port ?? 7770, logger: this.log } as never);
    this.gateways.push(gw);
    return gw;
  }

  /** Counts for health and benchmarks. */
  stats() {
    return { liveActors: this.supervisor.liveActors, rooms: this.supervisor.roomsTracked, admission: this.admission.stats, subscriptions: this.hub.size, outputHead: this.outputHead() };
  }

  private assertOpen(): void {
    if (this.closing) throw new RoomServerError('M_LIMIT_EXCEEDED', 'the server is shutting down');
  }

  /** Stops admission, drains in-flight inputs, flushes and closes storage. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    for (const gw of this.gateways.splice(0)) await gw.close();
    await this.supervisor.close(async () => {
      // parked inputs wait for a deadline; everything else finishes
      for (let i = 0; i < 1000 && this.inFlightCount > 0; i++) {
        await Promise.race([this.whenIdle(), new Promise((r) => setTimeout(r, 50))]);
        if (this.onlyParkedLeft()) break;
      }
    });
    this.admission.close();
    this.hub.closeAll();
    await this.whenIdle();
    this.closed = true;
    await this.crypto.close();
    await this.store.close();
  }

  private onlyParkedLeft(): boolean {
    return this.admission.stats.inFlight > 0 && this.supervisor.parkedCount() >= this.admission.stats.inFlight;
  }
}
