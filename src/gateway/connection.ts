/**
 * One WebSocket connection: decodes frames, runs ops, writes replies, owns
 * the connection's subscriptions, and applies input backpressure to the
 * socket itself.
 *
 * Backpressure, all by pausing the socket's reading side (ws pause/resume)
 * so nothing is buffered without bound:
 * - requests in flight on this connection reach `pauseAt`: stop reading
 *   until they drop below it; a request that still arrives (frames already
 *   read from the same TCP chunk) once `maxInFlight` are in flight gets
 *   M_LIMIT_EXCEEDED;
 * - the RoomServer refuses a request with M_LIMIT_EXCEEDED: stop reading
 *   for `limitPauseMs`;
 * - the socket's write buffer passes the high-water mark (the client is not
 *   reading its replies): stop reading until it is flushed.
 *
 * Frame size: ws's `maxPayload` is set above `maxFrameBytes` (see
 * gateway.ts), so a frame over `maxFrameBytes` but under that hard bound is
 * still framed and answered with M_TOO_LARGE (with the request id when it
 * can be read from the first bytes) while the connection stays open; only a
 * frame beyond the hard bound makes ws close the connection (1009).
 */
import type { WebSocket } from 'ws';
import type { RoomServerApi, SubscribeOptions } from '../api.js';
import { RoomServerError } from '../errors.js';
import type { Logger } from '../log.js';
import { readPauses, requestDuration, requestsTotal } from '../metrics.js';
import type { Principal } from './auth.js';
import { decodeFrame, encodeFrame, peekRequestId, type FrameKind } from './codec.js';
import { corkUntilNextTick } from './cork.js';
import type { JsonObject } from '../matrix/json.js';
import { ops, resolveOp, type ConnectionHandle, type OpContext, type OpSpec } from './ops.js';
import { invalid, missing } from './params.js';
import { errorBody, errorReply, okReply, type RequestId } from './reply.js';
import { SubscriptionPump, type OutputSink } from './subscriptions.js';

export interface ConnectionLimits {
  maxFrameBytes: number;
  maxInFlight: number;
  pauseAt: number;
  highWaterMark: number;
  limitPauseMs: number;
  maxSubscriptions: number;
}

type PauseCause = 'in_flight' | 'limit_exceeded' | 'write_buffer' | 'closing';

export class Connection implements OutputSink {
  readonly ws: WebSocket;
  readonly principal: Principal;
  readonly #rs: RoomServerApi;
  readonly #limits: ConnectionLimits;
  readonly #log: Logger;
  /** false until a pong or a frame arrives after the last ping */
  alive = true;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #pauses = new Set<PauseCause>();
  #paused = false;
  #limitTimer: NodeJS.Timeout | undefined;
  #closing = false;
  readonly #subs = new Map<string, SubscriptionPump>();
  /** flush accounting: frames handed to ws, and frames whose write completed */
  #sent = 0;
  #flushed = 0;
  #flushWaiters: Array<{ upTo: number; resolve: () => void }> = [];
  #onFlushed = (): void => {
    this.#flushed++;
    if (this.#flushWaiters.length > 0) this.#wakeFlushWaiters();
  };

  constructor(ws: WebSocket, principal: Principal, rs: RoomServerApi, limits: ConnectionLimits, log: Logger) {
    this.ws = ws;
    this.principal = principal;
    this.#rs = rs;
    this.#limits = limits;
    this.#log = log;
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', () => this.#onClose());
    ws.on('error', (err) => this.#log.debug({ err }, 'socket error'));
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get subscriptionCount(): number {
    return this.#subs.size;
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  waitFlushed(): Promise<void> {
    if (!this.open || this.#flushed >= this.#sent) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push({ upTo: this.#sent, resolve }));
  }

  #wakeFlushWaiters(): void {
    const open = this.open;
    this.#flushWaiters = this.#flushWaiters.filter((w) => {
      if (open && this.#flushed < w.upTo) return true;
      w.resolve();
      return false;
    });
  }

  /** Writes one frame; false when it could not be encoded (nothing was written). */
  sendFrame(obj: object, kind: FrameKind): boolean {
    if (!this.open) return true;
    let data: string | Buffer;
    try {
      data = encodeFrame(obj, kind);
    } catch (err) {
      this.#log.error({ err }, 'encoding a frame failed');
      return false;
    }
    this.sendEncoded(data, kind);
    return true;
  }

  /** Writes one frame already encoded for its kind. */
  sendEncoded(data: string | Buffer, kind: FrameKind): void {
    if (!this.open) return;
    this.#sent++;
    corkUntilNextTick(this.ws);
    this.ws.send(data, { binary: kind === 'binary' }, this.#onFlushed);
    if (this.ws.bufferedAmount >= this.#limits.highWaterMark && !this.#pauses.has('write_buffer')) {
      this.#pause('write_buffer');
      void this.waitFlushed().then(() => this.#unpause('write_buffer'));
    }
  }

  // ---- reading side ----

  #pause(cause: PauseCause): void {
    if (this.#pauses.has(cause)) return;
    this.#pauses.add(cause);
    readPauses.inc({ cause });
    this.#applyPause();
  }

  #unpause(cause: PauseCause): void {
    if (this.#pauses.delete(cause)) this.#applyPause();
  }

  #applyPause(): void {
    const want = this.#pauses.size > 0;
    if (want === this.#paused || !this.open) return;
    this.#paused = want;
    if (want) this.ws.pause();
    else this.ws.resume();
  }

  /** Reading is paused for the server's own reasons (requests in flight, RoomServer busy, shutdown), not the client's. */
  get heldByServer(): boolean {
    return this.#pauses.has('in_flight') || this.#pauses.has('limit_exceeded') || this.#pauses.has('closing');
  }

  /** Whether reading is paused now (for tests and health). */
  get readingPaused(): boolean {
    return this.#paused;
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.alive = true;
    const kind: FrameKind = isBinary ? 'binary' : 'text';
    if (data.length > this.#limits.maxFrameBytes) {
      const id = peekRequestId(data, kind);
      requestsTotal.inc({ op: 'unknown', code: 'M_TOO_LARGE' });
      this.sendFrame(errorReply(id, { code: 'M_TOO_LARGE', message: `frame of ${data.length} bytes is over the limit of ${this.#limits.maxFrameBytes}` }), kind);
      return;
    }
    const decoded = decodeFrame(data, kind);
    if (!decoded.ok) {
      requestsTotal.inc({ op: 'unknown', code: decoded.code });
      this.sendFrame(errorReply(null, { code: decoded.code, message: decoded.message }), kind);
      return;
    }
    const req = decoded.value;
    const rawId = req.id;
    let id: RequestId = null;
    let op: string | undefined;
    try {
      if (rawId === undefined || rawId === null) throw missing('id');
      if (!(typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId)))) throw invalid('id', 'a string or a number');
      id = rawId;
      if (typeof req.op === 'string') op = req.op;
      const spec = resolveOp(req.op, this.principal);
      if (this.#closing) throw new RoomServerError('M_LIMIT_EXCEEDED', 'the server is shutting down');
      if (this.#inFlight >= this.#limits.maxInFlight) {
        throw new RoomServerError('M_LIMIT_EXCEEDED', `too many requests in flight on this connection (limit ${this.#limits.maxInFlight})`);
      }
      void this.#run(id, op!, spec, req, kind);
    } catch (err) {
      const body = errorBody(err, id, op, this.#log);
      // label only ops of the table: names sent by clients must not grow the series without bound
      requestsTotal.inc({ op: op !== undefined && Object.prototype.hasOwnProperty.call(ops, op) ? op : 'unknown', code: body.code });
      this.sendFrame(errorReply(id, body), kind);
    }
  }

  async #run(id: string | number, op: string, spec: OpSpec, req: JsonObject, kind: FrameKind): Promise<void> {
    const started = performance.now();
    this.#inFlight++;
    if (this.#inFlight >= this.#limits.pauseAt) this.#pause('in_flight');
    const ctx = new RequestContext(this.#rs, this.principal, kind, this.#makeHandle);
    let code = 'ok';
    try {
      const result = await spec.run(ctx, req);
      if (!this.sendFrame(okReply(id, result), kind)) {
        code = 'M_UNKNOWN';
        this.sendFrame(errorReply(id, { code: 'M_UNKNOWN', message: `internal error: the reply could not be encoded (request id ${JSON.stringify(id)})` }), kind);
      }
    } catch (err) {
      const body = errorBody(err, id, op, this.#log);
      code = body.code;
      this.sendFrame(errorReply(id, body), kind);
      if (body.code === 'M_LIMIT_EXCEEDED') this.#backOff();
    } finally {
      this.#inFlight--;
      requestsTotal.inc({ op, code });
      requestDuration.observe({ op }, (performance.now() - started) / 1000);
      if (this.#inFlight < this.#limits.pauseAt) this.#unpause('in_flight');
      if (ctx.afterReply !== undefined) for (const f of ctx.afterReply) f();
      if (this.#inFlight === 0 && this.#idleWaiters.length > 0) {
        const ws = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of ws) w();
      }
    }
  }

  /** The RoomServer said "too busy": stop reading this socket for a moment. */
  #backOff(): void {
    this.#pause('limit_exceeded');
    if (this.#limitTimer) clearTimeout(this.#limitTimer);
    this.#limitTimer = setTimeout(() => {
      this.#limitTimer = undefined;
      this.#unpause('limit_exceeded');
    }, this.#limits.limitPauseMs);
  }

  /** #handle for RequestContext (one function per connection, not per request). */
  readonly #makeHandle = (kind: FrameKind, afterReply: Array<() => void>): ConnectionHandle => this.#handle(kind, afterReply);

  #handle(kind: FrameKind, afterReply: Array<() => void>): ConnectionHandle {
    return {
      subscribe: (opts: SubscribeOptions) => {
        if (this.#subs.size >= this.#limits.maxSubscriptions) {
          throw new RoomServerError('M_LIMIT_EXCEEDED', `too many subscriptions on this connection (limit ${this.#limits.maxSubscriptions})`);
        }
        const sub = this.#rs.subscribe(opts);
        const pump = new SubscriptionPump(sub, kind, this, this.#limits.highWaterMark, () => this.#rs.outputHead(), this.#log);
        this.#subs.set(pump.id, pump);
        pump.onEnd = () => {
          if (this.#subs.get(pump.id) === pump) this.#subs.delete(pump.id);
        };
        afterReply.push(() => {
          if (this.open) void pump.start();
          else pump.close();
        });
        return { subscription: pump.id, head: pump.head };
      },
      unsubscribe: (subscription: string) => {
        const pump = this.#subs.get(subscription);
        if (!pump) return false;
        this.#subs.delete(subscription);
        pump.close();
        return true;
      },
    };
  }

  // ---- lifecycle ----

  /** Stops reading new requests (server shutdown) and resolves when none is in flight. */
  drain(): Promise<void> {
    this.#closing = true;
    this.#pause('closing');
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Closes subscriptions and the socket (1001 going away); terminates after a grace period. */
  close(code = 1001, reason = 'server shutting down', graceMs = 2000): Promise<void> {
    this.#closing = true;
    this.#closeSubscriptions();
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    // read again so the peer's close frame completes the handshake; any
    // request still arriving is refused (#closing)
    this.#pauses.clear();
    this.#applyPause();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, graceMs);
      t.unref();
      this.ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      try {
        this.ws.close(code, reason);
      } catch {
        this.ws.terminate();
      }
    });
  }

  #closeSubscriptions(): void {
    for (const pump of this.#subs.values()) pump.close();
    this.#subs.clear();
  }

  #onClose(): void {
    this.#closeSubscriptions();
    if (this.#limitTimer) clearTimeout(this.#limitTimer);
    this.#wakeFlushWaiters();
  }
}

/**
 * What an op runs with. The connection handle (subscribe, unsubscribe) and
 * the list of actions to run after the reply are made only for the ops that
 * use them: made for every request, their closures lived as long as the
 * request and were often promoted to the old generation with it.
 */
class RequestContext implements OpContext {
  #conn: ConnectionHandle | undefined;
  /** run once the reply is written (set by the handle's subscribe) */
  afterReply: Array<() => void> | undefined;

  constructor(
    readonly rs: RoomServerApi,
    readonly principal: Principal,
    private readonly kind: FrameKind,
    private readonly makeHandle: (kind: FrameKind, afterReply: Array<() => void>) => ConnectionHandle,
  ) {}

  get conn(): ConnectionHandle {
    return (this.#conn ??= this.makeHandle(this.kind, (this.afterReply ??= [])));
  }
}
