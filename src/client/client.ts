/**
 * A typed client for the roomserver's WebSocket protocol (PROTOCOL.md): one
 * promise-returning method per op, named as in the embedder API; failures
 * are RoomServerError with the reply's code; subscriptions are async
 * iterators.
 *
 * Connection handling:
 * - requests beyond `maxInFlight` wait in a local queue (so a busy client
 *   never trips the gateway's per-connection bound);
 * - with `reconnect`, a lost connection is re-opened with exponential
 *   backoff; requests that were on the wire fail with reason
 *   `connection_lost` (whether they ran is unknown; `send` with a txn_id and
 *   `input` of signed events are safe to retry), queued ones are sent after
 *   reconnecting, and every subscription resumes from the last position it
 *   delivered;
 * - a ping every `heartbeatMs` that goes unanswered until the next one
 *   drops the connection (and reconnects).
 */
import WebSocket from 'ws';
import type {
  AsyncInputReply,
  CreateRoomReply,
  CreateRoomRequest,
  EventAuthReply,
  EventQueryReply,
  InputEvent,
  InputReply,
  LatestReply,
  MembershipReply,
  MissingEventsReply,
  MissingEventsRequest,
  Output,
  RoomReply,
  SendReply,
  SendRequest,
  ServerKeysReply,
  StateIdsReply,
  StateQueryReply,
} from '../api.js';
import { RoomServerError, type ErrorCode } from '../errors.js';
import { decodeTrusted, encodeFrame, type FrameKind } from '../gateway/codec.js';
import { corkUntilNextTick } from '../gateway/cork.js';
import { ClientSubscription, type ClientSubscribeOptions, type SubscriptionOwner } from './subscription.js';

export interface ReconnectOptions {
  /** first retry delay (default 100 ms) */
  minDelayMs?: number;
  /** longest retry delay (default 5 s) */
  maxDelayMs?: number;
  /** give up after this many failed attempts in a row (default: never) */
  maxAttempts?: number;
}

export interface ClientOptions {
  token?: string;
  /** msgpack binary frames instead of JSON text frames */
  binary?: boolean;
  /** reconnect after a lost connection (default false) */
  reconnect?: boolean | ReconnectOptions;
  /** per-request time limit; 0 = none (default 0) */
  requestTimeoutMs?: number;
  /** time limit for opening the connection (default 10 s) */
  connectTimeoutMs?: number;
  /** requests on the wire at once; more wait locally (default 128) */
  maxInFlight?: number;
  /** client-side ping interval; 0 = off (default 30 s) */
  heartbeatMs?: number;
  /** outputs buffered in one subscription before the client stops reading (default 1000) */
  subscriptionBuffer?: number;
}

/** The client's queries: the embedder API's, without `asServer` (the token decides). */
export interface ClientQueries {
  event(eventIds: string[]): Promise<EventQueryReply>;
  state(roomId: string, opts?: { eventId?: string; idsOnly?: boolean }): Promise<StateQueryReply>;
  stateIds(roomId: string, eventId: string): Promise<StateIdsReply>;
  eventAuth(roomId: string, eventId: string): Promise<EventAuthReply>;
  missingEvents(req: MissingEventsRequest): Promise<MissingEventsReply>;
  serverKeys(): Promise<ServerKeysReply>;
  latest(roomId: string): Promise<LatestReply>;
  membership(roomId: string, userId?: string): Promise<MembershipReply>;
  room(roomId: string): Promise<RoomReply>;
}

type State = 'open' | 'reconnecting' | 'closed';

interface Pending {
  op: string;
  frame: Record<string, unknown>;
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  sent: boolean;
}

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'M_NOT_JSON', 'M_BAD_JSON', 'M_UNRECOGNIZED', 'M_MISSING_PARAM', 'M_INVALID_PARAM', 'M_FORBIDDEN',
  'M_NOT_FOUND', 'M_TOO_LARGE', 'M_LIMIT_EXCEEDED', 'M_UNSUPPORTED_ROOM_VERSION', 'M_UNKNOWN',
]);

/** An error reply: the server's code, message, reason and (for param errors) the param. */
export class RemoteError extends RoomServerError {
  readonly param?: string;
  constructor(code: ErrorCode, message: string, reason?: string, param?: string) {
    super(code, message, reason);
    this.name = 'RemoteError';
    if (param !== undefined) this.param = param;
  }
}

function connectionError(reason: 'connection_lost' | 'client_closed' | 'connect_failed' | 'timeout', message: string): RoomServerError {
  return new RoomServerError('M_UNKNOWN', message, reason);
}

function toError(e: unknown): RoomServerError {
  if (e instanceof RoomServerError) return e;
  const err = e as { message?: string };
  return connectionError('connect_failed', err?.message ?? String(e));
}

/** Opens one WebSocket and resolves once it is open. */
function openSocket(url: string, token: string | undefined, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: timeoutMs, maxPayload: 512 * 1024 * 1024 });
    let settled = false;
    const fail = (e: RoomServerError): void => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(e);
    };
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners();
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (status === 401 || status === 403) fail(new RoomServerError('M_FORBIDDEN', `the server refused the token (HTTP ${status})`, 'unauthorized'));
      else if (status === 503) fail(new RoomServerError('M_LIMIT_EXCEEDED', 'the server is shutting down (HTTP 503)', 'unavailable'));
      else fail(connectionError('connect_failed', `unexpected HTTP ${status} from ${url}`));
    });
    ws.once('error', (err) => fail(connectionError('connect_failed', `cannot connect to ${url}: ${err.message}`)));
  });
}

function inputEventToWire(e: InputEvent): Record<string, unknown> {
  const w: Record<string, unknown> = { event: e.event };
  if (e.kind !== undefined) w.kind = e.kind;
  if (e.roomVersion !== undefined) w.room_version = e.roomVersion;
  if (e.origin !== undefined) w.origin = e.origin;
  if (e.stateEventIds !== undefined) w.state_event_ids = e.stateEventIds;
  return w;
}

function withoutEnvelope<T>(reply: Record<string, unknown>): T {
  const { id: _id, ok: _ok, ...rest } = reply;
  return rest as T;
}

export class RoomServerClient implements SubscriptionOwner {
  readonly url: string;
  readonly #opts: ClientOptions;
  readonly #kind: FrameKind;
  readonly #reconnect: Required<Omit<ReconnectOptions, 'maxAttempts'>> & { maxAttempts: number } | undefined;
  readonly #maxInFlight: number;
  readonly #subBuffer: number;
  #ws: WebSocket | undefined;
  #state: State = 'open';
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #queue: number[] = [];
  #inFlight = 0;
  #subs = new Map<string, ClientSubscription>(); // by server id on the current connection
  #allSubs = new Set<ClientSubscription>();
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #pongSeen = true;
  #readPaused = false;
  #closeWaiters: Array<() => void> = [];
  #reconnects = 0;
  /** called after each successful reconnect (subscriptions are being resumed) */
  onReconnect: (() => void) | undefined;

  private constructor(url: string, ws: WebSocket, opts: ClientOptions) {
    this.url = url;
    this.#opts = opts;
    this.#kind = opts.binary ? 'binary' : 'text';
    const r = opts.reconnect;
    this.#reconnect = r
      ? {
          minDelayMs: (typeof r === 'object' ? r.minDelayMs : undefined) ?? 100,
          maxDelayMs: (typeof r === 'object' ? r.maxDelayMs : undefined) ?? 5000,
          maxAttempts: (typeof r === 'object' ? r.maxAttempts : undefined) ?? Infinity,
        }
      : undefined;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 128);
    this.#subBuffer = Math.max(1, opts.subscriptionBuffer ?? 1000);
    this.#attach(ws);
  }

  /** Opens a connection (fails fast: `reconnect` applies to connections lost later). */
  static async connect(url: string, opts: ClientOptions = {}): Promise<RoomServerClient> {
    const ws = await openSocket(url, opts.token, opts.connectTimeoutMs ?? 10_000);
    return new RoomServerClient(url, ws, opts);
  }

  get connected(): boolean {
    return this.#state === 'open' && this.#ws?.readyState === WebSocket.OPEN;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** How many times the connection was re-opened. */
  get reconnects(): number {
    return this.#reconnects;
  }

  // ---- ops ----

  input(events: InputEvent[], opts?: { async?: false }): Promise<InputReply>;
  input(events: InputEvent[], opts: { async: true }): Promise<AsyncInputReply>;
  input(events: InputEvent[], opts?: { async?: boolean }): Promise<InputReply | AsyncInputReply>;
  input(events: InputEvent[], opts: { async?: boolean } = {}): Promise<InputReply | AsyncInputReply> {
    const p: Record<string, unknown> = { events: events.map(inputEventToWire) };
    if (opts.async) p.async = true;
    return this.request('input', p);
  }

  send(req: SendRequest): Promise<SendReply> {
    const p: Record<string, unknown> = { room_id: req.roomId, sender: req.sender, type: req.type, content: req.content };
    if (req.stateKey !== undefined) p.state_key = req.stateKey;
    if (req.txnId !== undefined) p.txn_id = req.txnId;
    return this.request('send', p);
  }

  createRoom(req: CreateRoomRequest): Promise<CreateRoomReply> {
    const p: Record<string, unknown> = { creator: req.creator };
    if (req.roomVersion !== undefined) p.room_version = req.roomVersion;
    if (req.preset !== undefined) p.preset = req.preset;
    if (req.name !== undefined) p.name = req.name;
    if (req.topic !== undefined) p.topic = req.topic;
    if (req.initialState !== undefined) p.initial_state = req.initialState;
    return this.request('create_room', p);
  }

  addServerKey(serverName: string, keyId: string, publicKeyBase64: string, validUntilTs?: number): Promise<void> {
    const p: Record<string, unknown> = { server_name: serverName, key_id: keyId, public_key: publicKeyBase64 };
    if (validUntilTs !== undefined) p.valid_until_ts = validUntilTs;
    return this.request('add_server_key', p).then(() => undefined);
  }

  /**
   * Subscribes to the output stream. Iterate the result (`for await`), or
   * pass `onOutput` to receive outputs as they arrive. Closing the iterator
   * (or `sub.close()`) unsubscribes.
   */
  async subscribe(opts: ClientSubscribeOptions = {}, onOutput?: (o: Output) => void): Promise<ClientSubscription> {
    const p: Record<string, unknown> = {};
    if (opts.rooms !== undefined) p.rooms = opts.rooms;
    if (opts.types !== undefined) p.types = opts.types;
    if (opts.from !== undefined) p.from = opts.from;
    let sub: ClientSubscription | undefined;
    await this.#request('subscribe', p, (reply) => {
      // registered before any output of the subscription can be dispatched
      sub = new ClientSubscription(this, String(reply.subscription), Number(reply.head), opts, onOutput);
      this.#subs.set(sub.serverId, sub);
      this.#allSubs.add(sub);
    });
    return sub!;
  }

  /** Ends a subscription (by object or id). */
  async unsubscribe(sub: ClientSubscription | string): Promise<void> {
    const s = typeof sub === 'string' ? [...this.#allSubs].find((x) => x.id === sub || x.serverId === sub) : sub;
    if (!s) throw new RoomServerError('M_NOT_FOUND', `no subscription '${String(sub)}'`);
    const wasLive = this.#subs.get(s.serverId) === s;
    this.#allSubs.delete(s);
    if (wasLive) this.#subs.delete(s.serverId);
    s.end();
    this.bufferChanged();
    if (wasLive && this.#state === 'open') {
      try {
        await this.request('unsubscribe', { subscription: s.serverId });
      } catch (e) {
        // the server already forgot it (connection replaced, or it ended it)
        if (!(e instanceof RoomServerError && (e.code === 'M_NOT_FOUND' || e.reason === 'connection_lost' || e.reason === 'client_closed'))) throw e;
      }
    }
  }

  readonly query: ClientQueries = {
    event: (eventIds) => this.request('event', { event_ids: eventIds }),
    state: (roomId, opts = {}) => {
      const p: Record<string, unknown> = { room_id: roomId };
      if (opts.eventId !== undefined) p.event_id = opts.eventId;
      if (opts.idsOnly !== undefined) p.ids_only = opts.idsOnly;
      return this.request('state', p);
    },
    stateIds: (roomId, eventId) => this.request('state_ids', { room_id: roomId, event_id: eventId }),
    eventAuth: (roomId, eventId) => this.request('event_auth', { room_id: roomId, event_id: eventId }),
    missingEvents: (req) => {
      const p: Record<string, unknown> = { room_id: req.roomId, earliest_events: req.earliestEvents, latest_events: req.latestEvents };
      if (req.limit !== undefined) p.limit = req.limit;
      if (req.minDepth !== undefined) p.min_depth = req.minDepth;
      return this.request('missing_events', p);
    },
    serverKeys: () => this.request('server_keys', {}),
    latest: (roomId) => this.request('latest', { room_id: roomId }),
    membership: (roomId, userId) => this.request('membership', userId === undefined ? { room_id: roomId } : { room_id: roomId, user_id: userId }),
    room: (roomId) => this.request('room', { room_id: roomId }),
  };

  /** Sends any op with wire (snake_case) params; resolves to the reply without `id`/`ok`. */
  request<T = Record<string, unknown>>(op: string, params: Record<string, unknown>): Promise<T> {
    return this.#request(op, params).then((r) => withoutEnvelope<T>(r));
  }

  #request(op: string, params: Record<string, unknown>, onReply?: (reply: Record<string, unknown>) => void): Promise<Record<string, unknown>> {
    if (this.#state === 'closed') return Promise.reject(connectionError('client_closed', 'the client is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timeoutMs = this.#opts.requestTimeoutMs ?? 0;
      const pending: Pending = {
        op,
        // id first: the gateway reads it from the first bytes of a frame too large to decode
        frame: { id, op, ...params },
        resolve:
          onReply === undefined
            ? resolve
            : (r) => {
                onReply(r);
                resolve(r);
              },
        reject,
        timer: undefined,
        sent: false,
      };
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => this.#settle(id, connectionError('timeout', `op '${op}' got no reply within ${timeoutMs} ms`)), timeoutMs);
        pending.timer.unref?.();
      }
      pending.frame.id = id;
      pending.frame.op = op;
      this.#pending.set(id, pending);
      this.#queue.push(id);
      this.#pump();
    });
  }

  /** Writes queued requests while the connection is open and under the in-flight bound. */
  #pump(): void {
    const ws = this.#ws;
    if (this.#state !== 'open' || !ws || ws.readyState !== WebSocket.OPEN) return;
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const id = this.#queue.shift()!;
      const p = this.#pending.get(id);
      if (!p || p.sent) continue;
      let data: string | Buffer;
      try {
        data = encodeFrame(p.frame, this.#kind);
      } catch (e) {
        this.#settle(id, new RoomServerError('M_BAD_JSON', `cannot encode the request: ${(e as Error).message}`));
        continue;
      }
      p.sent = true;
      this.#inFlight++;
      corkUntilNextTick(ws);
      ws.send(data, { binary: this.#kind === 'binary' });
    }
  }

  /** Finishes a pending request with a reply or an error. */
  #settle(id: number, outcome: Record<string, unknown> | RoomServerError): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (p.sent) {
      this.#inFlight--;
    } else {
      const i = this.#queue.indexOf(id);
      if (i >= 0) this.#queue.splice(i, 1);
    }
    if (outcome instanceof RoomServerError) p.reject(outcome);
    else p.resolve(outcome);
    this.#pump();
  }

  // ---- incoming frames ----

  #attach(ws: WebSocket): void {
    this.#ws = ws;
    this.#pongSeen = true;
    this.#readPaused = false;
    ws.on('message', (data, isBinary) => this.#onFrame(data as Buffer, isBinary));
    ws.on('pong', () => {
      this.#pongSeen = true;
    });
    // the server's own pings prove it alive too (they still come while it has paused reading us)
    ws.on('ping', () => {
      this.#pongSeen = true;
    });
    ws.on('error', () => undefined);
    ws.on('close', () => this.#onClose(ws));
    const hb = this.#opts.heartbeatMs ?? 30_000;
    if (hb > 0) {
      if (this.#heartbeat) clearInterval(this.#heartbeat);
      this.#heartbeat = setInterval(() => {
        if (this.#ws !== ws || ws.readyState !== WebSocket.OPEN) return;
        // while we deliberately stop reading, pongs cannot arrive: not a failure
        if (!this.#pongSeen && !this.#readPaused) {
          ws.terminate();
          return;
        }
        this.#pongSeen = false;
        ws.ping();
      }, hb);
      this.#heartbeat.unref();
    }
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    this.#pongSeen = true;
    let msg: Record<string, unknown>;
    try {
      msg = decodeTrusted(data, isBinary ? 'binary' : 'text') as Record<string, unknown>;
    } catch {
      return; // the server never sends these; ignore rather than crash
    }
    if (typeof msg !== 'object' || msg === null) return;
    if (msg.op === 'output') {
      const sub = this.#subs.get(String(msg.subscription));
      if (sub) {
        const { op: _op, subscription: _s, ...output } = msg;
        sub.deliver(output as unknown as Output);
      }
      return;
    }
    if (msg.op === 'subscription_closed') {
      this.#onServerEndedSubscription(String(msg.subscription), msg.error as { code?: string; message?: string } | undefined);
      return;
    }
    const id = msg.id;
    if (typeof id !== 'number') return; // replies to frames we never sent with a number id
    if (msg.ok === true) {
      this.#settle(id, msg);
    } else {
      const e = (msg.error ?? {}) as { code?: string; message?: string; reason?: string; param?: string };
      const code = (typeof e.code === 'string' && ERROR_CODES.has(e.code) ? e.code : 'M_UNKNOWN') as ErrorCode;
      this.#settle(id, new RemoteError(code, e.message ?? code, e.reason, e.param));
    }
  }

  /** The server ended a subscription (it is closing, or reading the log failed): resume it, or end it. */
  #onServerEndedSubscription(serverId: string, error: { code?: string; message?: string } | undefined): void {
    const sub = this.#subs.get(serverId);
    if (!sub) return;
    this.#subs.delete(serverId);
    if (this.#reconnect && this.#state !== 'closed') {
      const t = setTimeout(() => this.#resubscribe(sub), this.#reconnect.minDelayMs);
      t.unref();
      return;
    }
    this.#allSubs.delete(sub);
    const code = (error?.code && ERROR_CODES.has(error.code) ? error.code : 'M_UNKNOWN') as ErrorCode;
    sub.end(new RoomServerError(code, error?.message ?? 'the server ended the subscription', 'subscription_closed'));
  }

  // ---- client-side flow control ----

  get subscriptionBuffer(): number {
    return this.#subBuffer;
  }

  bufferChanged(): void {
    let max = 0;
    for (const s of this.#allSubs) max = Math.max(max, s.buffered);
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (!this.#readPaused && max >= this.#subBuffer) {
      this.#readPaused = true;
      ws.pause();
    } else if (this.#readPaused && max <= this.#subBuffer / 2) {
      this.#readPaused = false;
      this.#pongSeen = true;
      ws.resume();
    }
  }

  // ---- connection loss and reconnect ----

  #onClose(ws: WebSocket): void {
    if (this.#ws !== ws) return;
    this.#ws = undefined;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    // requests on the wire: their outcome is unknown
    for (const [id, p] of [...this.#pending]) if (p.sent) this.#settle(id, connectionError('connection_lost', `connection lost during op '${p.op}'`));
    this.#inFlight = 0;
    this.#subs.clear();
    if (this.#state === 'closed') {
      for (const w of this.#closeWaiters.splice(0)) w();
      return;
    }
    if (!this.#reconnect) {
      this.#shutdown(connectionError('connection_lost', 'connection lost'));
      return;
    }
    this.#state = 'reconnecting';
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const r = this.#reconnect!;
    if (this.#attempt >= r.maxAttempts) {
      this.#shutdown(connectionError('connection_lost', `connection lost; gave up after ${this.#attempt} attempts`));
      return;
    }
    const base = Math.min(r.maxDelayMs, r.minDelayMs * 2 ** this.#attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => void this.#tryReconnect(), delay);
  }

  async #tryReconnect(): Promise<void> {
    this.#reconnectTimer = undefined;
    if (this.#state !== 'reconnecting') return;
    let ws: WebSocket;
    try {
      ws = await openSocket(this.url, this.#opts.token, this.#opts.connectTimeoutMs ?? 10_000);
    } catch (e) {
      if (this.#state !== 'reconnecting') return;
      if (e instanceof RoomServerError && e.code === 'M_FORBIDDEN') {
        this.#shutdown(e); // a refused token will not get better by retrying
        return;
      }
      this.#scheduleReconnect();
      return;
    }
    if (this.#state !== 'reconnecting') {
      ws.terminate();
      return;
    }
    this.#attempt = 0;
    this.#reconnects++;
    this.#state = 'open';
    this.#attach(ws);
    // subscriptions first, so they resume before queued requests run
    for (const sub of this.#allSubs) if (!sub.ended) void this.#resubscribe(sub);
    this.#pump();
    this.onReconnect?.();
  }

  async #resubscribe(sub: ClientSubscription): Promise<void> {
    if (sub.ended || !this.#allSubs.has(sub) || this.#state === 'closed') return;
    try {
      await this.#request('subscribe', sub.resumeParams(), (reply) => {
        const serverId = String(reply.subscription);
        if (sub.ended || !this.#allSubs.has(sub)) {
          // closed by the consumer while resuming: end it on the server too
          this.request('unsubscribe', { subscription: serverId }).catch(() => undefined);
          return;
        }
        sub.serverId = serverId;
        this.#subs.set(serverId, sub);
      });
    } catch (e) {
      const err = toError(e);
      if (sub.ended || this.closed) return;
      if (err.reason === 'connection_lost') return; // resumed again by the next reconnect
      if (err.code === 'M_LIMIT_EXCEEDED' && this.#reconnect) {
        const t = setTimeout(() => void this.#resubscribe(sub), this.#reconnect.maxDelayMs);
        t.unref();
        return;
      }
      this.#allSubs.delete(sub);
      sub.end(err);
    }
  }

  /** Ends everything: pending and queued requests fail, subscriptions end. */
  #shutdown(reason: RoomServerError | undefined): void {
    this.#state = 'closed';
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    const err = reason ?? connectionError('client_closed', 'the client was closed');
    for (const id of [...this.#pending.keys()]) this.#settle(id, err);
    for (const s of this.#allSubs) s.end(reason);
    this.#allSubs.clear();
    this.#subs.clear();
  }

  /** Closes the connection: pending requests fail with reason `client_closed`, iterators end. */
  async close(): Promise<void> {
    if (this.#state === 'closed' && !this.#ws) return;
    const ws = this.#ws;
    this.#shutdown(undefined);
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.#closeWaiters.push(resolve);
      const t = setTimeout(() => ws.terminate(), 2000);
      t.unref();
      ws.close(1000, 'client closing');
    });
  }
}
