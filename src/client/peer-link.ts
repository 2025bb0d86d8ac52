/**
 * The WebSocket peer link: a PeerFetcher that asks other servers'
 * roomservers (configured as `{ [serverName]: { url, token } }`) with the
 * peer ops of PROTOCOL.md.
 *
 * - Each call has a time limit (`timeoutMs`, covering connecting too).
 * - After a failure that says the peer is unreachable or unwell (connection
 *   failure or loss, timeout, token refused at connect, M_LIMIT_EXCEEDED,
 *   M_UNKNOWN) the peer is skipped for a backoff period that doubles with
 *   each failure in a row (`minBackoffMs` .. `maxBackoffMs`); a success
 *   resets it. An answer such as M_NOT_FOUND or M_FORBIDDEN (this event is
 *   not visible to us) means the peer is fine and does not count.
 * - It never asks our own server name, even when configured.
 * - One connection per peer, opened on first use and re-opened after loss.
 */
import type { MissingEventsRequest, Pdu, StateIdsReply } from '../api.js';
import { RoomServerError } from '../errors.js';
import type { Logger } from '../log.js';
import { childLogger } from '../log.js';
import type { JsonObject } from '../matrix/json.js';
import type { PeerFetcher } from '../peers.js';
import { RoomServerClient, type ClientOptions } from './client.js';

export interface PeerConfig {
  url: string;
  token?: string;
}

export interface WsPeerFetcherOptions {
  /** our own server name: never asked */
  serverName: string;
  peers: Record<string, PeerConfig>;
  /** time limit per call (default 10 s) */
  timeoutMs?: number;
  /** first backoff after a failure (default 1 s) */
  minBackoffMs?: number;
  /** longest backoff (default 5 min) */
  maxBackoffMs?: number;
  /** msgpack frames (default true: smaller and faster for PDUs) */
  binary?: boolean;
  logger?: Logger;
  /** clock, for tests */
  now?: () => number;
}

interface PeerState {
  failures: number;
  retryAt: number;
  client: Promise<RoomServerClient> | undefined;
}

/** Failures that say the peer is unreachable or unwell (others are answers: not found, not allowed, bad request). */
const UNWELL_REASONS = new Set(['timeout', 'connection_lost', 'connect_failed', 'unauthorized', 'unavailable', 'peer_error']);

function peerUnwell(err: RoomServerError): boolean {
  return (err.reason !== undefined && UNWELL_REASONS.has(err.reason)) || err.code === 'M_LIMIT_EXCEEDED' || err.code === 'M_UNKNOWN';
}

export class WsPeerFetcher implements PeerFetcher {
  readonly #opts: Required<Omit<WsPeerFetcherOptions, 'logger' | 'now'>>;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #state = new Map<string, PeerState>();
  #closed = false;

  constructor(opts: WsPeerFetcherOptions) {
    this.#opts = {
      serverName: opts.serverName,
      peers: { ...opts.peers },
      timeoutMs: opts.timeoutMs ?? 10_000,
      minBackoffMs: opts.minBackoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 300_000,
      binary: opts.binary ?? true,
    };
    this.#log = opts.logger ?? childLogger({ component: 'peer-link' });
    this.#now = opts.now ?? Date.now;
  }

  knownServers(): string[] {
    return Object.keys(this.#opts.peers).filter((s) => s !== this.#opts.serverName);
  }

  /** Milliseconds until the server may be asked again (0 = now). */
  backoffRemaining(server: string): number {
    const st = this.#state.get(server);
    return st ? Math.max(0, st.retryAt - this.#now()) : 0;
  }

  async missingEvents(server: string, req: MissingEventsRequest): Promise<Pdu[]> {
    return (await this.#call(server, 'missing_events', (c) => c.query.missingEvents(req))).events;
  }

  async stateIds(server: string, roomId: string, eventId: string): Promise<StateIdsReply> {
    const r = await this.#call(server, 'state_ids', (c) => c.query.stateIds(roomId, eventId));
    return { pdu_ids: r.pdu_ids, auth_chain_ids: r.auth_chain_ids };
  }

  async events(server: string, eventIds: string[]): Promise<Pdu[]> {
    if (eventIds.length === 0) return [];
    const r = await this.#call(server, 'event', (c) => c.query.event(eventIds));
    return r.events.map((e) => e.event);
  }

  async eventAuth(server: string, roomId: string, eventId: string): Promise<Pdu[]> {
    return (await this.#call(server, 'event_auth', (c) => c.query.eventAuth(roomId, eventId))).auth_chain;
  }

  async serverKeys(server: string): Promise<JsonObject> {
    return this.#call(server, 'server_keys', (c) => c.query.serverKeys());
  }

  /** Closes every peer connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const clients = [...this.#state.values()].map((s) => s.client);
    this.#state.clear();
    await Promise.all(clients.map(async (c) => (c ? (await c.catch(() => undefined))?.close() : undefined)));
  }

  async #call<T>(server: string, op: string, f: (c: RoomServerClient) => Promise<T>): Promise<T> {
    if (this.#closed) throw new RoomServerError('M_UNKNOWN', 'the peer link is closed', 'closed');
    if (server === this.#opts.serverName) throw new RoomServerError('M_FORBIDDEN', `refusing to ask our own server name ${server}`, 'self');
    const peer = this.#opts.peers[server];
    if (!peer) throw new RoomServerError('M_NOT_FOUND', `no peer configured for ${server}`, 'unknown_peer');
    let st = this.#state.get(server);
    if (!st) {
      st = { failures: 0, retryAt: 0, client: undefined };
      this.#state.set(server, st);
    }
    const wait = st.retryAt - this.#now();
    if (wait > 0) throw new RoomServerError('M_LIMIT_EXCEEDED', `peer ${server} is backing off for ${wait} ms after ${st.failures} failure(s)`, 'peer_backoff');

    const deadline = this.#now() + this.#opts.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RoomServerError('M_UNKNOWN', `peer ${server} did not answer ${op} within ${this.#opts.timeoutMs} ms`, 'timeout')), this.#opts.timeoutMs);
    });
    try {
      const result = await Promise.race([this.#client(server, peer, st, deadline).then(f), timeout]);
      st.failures = 0;
      st.retryAt = 0;
      return result;
    } catch (e) {
      const err = e instanceof RoomServerError ? e : new RoomServerError('M_UNKNOWN', String((e as Error)?.message ?? e), 'peer_error');
      if (peerUnwell(err)) this.#fail(server, st, op, err);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  #client(server: string, peer: PeerConfig, st: PeerState, deadline: number): Promise<RoomServerClient> {
    const existing = st.client;
    if (existing) {
      return existing.then(
        (c) => (c.closed ? this.#open(server, peer, st, deadline) : c),
        () => this.#open(server, peer, st, deadline),
      );
    }
    return this.#open(server, peer, st, deadline);
  }

  #open(server: string, peer: PeerConfig, st: PeerState, deadline: number): Promise<RoomServerClient> {
    const opts: ClientOptions = {
      binary: this.#opts.binary,
      connectTimeoutMs: Math.max(1, deadline - this.#now()),
      requestTimeoutMs: this.#opts.timeoutMs,
      heartbeatMs: Math.max(1000, this.#opts.timeoutMs),
    };
    if (peer.token !== undefined) opts.token = peer.token;
    const p = RoomServerClient.connect(peer.url, opts);
    st.client = p;
    p.catch(() => {
      if (st.client === p) st.client = undefined;
    });
    this.#log.debug({ server, url: peer.url }, 'connecting to peer');
    return p;
  }

  #fail(server: string, st: PeerState, op: string, err: RoomServerError): void {
    st.failures++;
    const backoff = Math.min(this.#opts.maxBackoffMs, this.#opts.minBackoffMs * 2 ** (st.failures - 1));
    st.retryAt = this.#now() + backoff;
    this.#log.warn({ server, op, code: err.code, reason: err.reason, failures: st.failures, backoffMs: backoff }, `peer request failed: ${err.message}`);
    // a timed-out or broken connection is not reused
    if (err.reason === 'timeout' || err.reason === 'connection_lost' || err.reason === 'connect_failed') {
      const c = st.client;
      st.client = undefined;
      void c?.then((x) => x.close()).catch(() => undefined);
    }
  }
}
