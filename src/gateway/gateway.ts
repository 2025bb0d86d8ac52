/**
 * The WebSocket gateway: one `http` server carrying the WebSocket endpoint
 * `/` (permessage-deflate off) and `GET /health`, `GET /metrics`.
 *
 * Frame size policy: requests up to `maxFrameBytes` are served. ws closes a
 * connection (1009) as soon as a frame header announces more than its
 * `maxPayload`, so `maxPayload` is set to twice `maxFrameBytes` (at least
 * 64 KiB more): a frame between the two is still read whole and answered
 * M_TOO_LARGE with the connection kept open; only a frame beyond that hard
 * bound closes the connection, without ws buffering it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RoomServerApi } from '../api.js';
import { childLogger, type Logger } from '../log.js';
import { connections as connectionsGauge } from '../metrics.js';
import { TokenTable, tokenFromRequest, type Principal, type TokenConfig } from './auth.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { startHeartbeat } from './heartbeat.js';
import { httpHandler, type HealthInfo } from './http.js';

export interface GatewayOptions {
  host: string;
  /** 0 picks a free port */
  port: number;
  /** token -> role; omitted or empty: every connection is admin */
  tokens?: TokenConfig;
  /** largest request frame served (default 16 MiB) */
  maxFrameBytes?: number;
  /** requests in flight on one connection before M_LIMIT_EXCEEDED (default 256) */
  maxInFlightPerConnection?: number;
  /** ping interval; a connection silent for a whole interval is dropped (default 30 s; 0 = off) */
  heartbeatMs?: number;
  /** socket write buffer above which a subscription stops pulling outputs and reading pauses (default 1 MiB) */
  highWaterMark?: number;
  /** how long reading pauses after the RoomServer refused with M_LIMIT_EXCEEDED (default 50 ms) */
  limitPauseMs?: number;
  /** output subscriptions per connection (default 64) */
  maxSubscriptionsPerConnection?: number;
  /** on close, how long to wait for in-flight requests (default 30 s) */
  drainTimeoutMs?: number;
  logger?: Logger;
}

export interface Gateway {
  /** `ws://HOST:PORT/` with the bound port */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** open connections */
  readonly connectionCount: number;
  /** Stops accepting, finishes in-flight requests, closes sockets. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

function positive(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < min) throw new RangeError(`gateway option ${name} must be a number >= ${min}, got ${v}`);
  return Math.floor(v);
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  const body = JSON.stringify({ errcode: status === 401 ? 'M_FORBIDDEN' : status === 503 ? 'M_LIMIT_EXCEEDED' : 'M_NOT_FOUND', error: text });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

export async function startGateway(rs: RoomServerApi, opts: GatewayOptions): Promise<Gateway> {
  const log = opts.logger ?? childLogger({ component: 'gateway' });
  const tokens = new TokenTable(opts.tokens);
  const maxFrameBytes = positive('maxFrameBytes', opts.maxFrameBytes, 16 * MiB, 64);
  const maxInFlight = positive('maxInFlightPerConnection', opts.maxInFlightPerConnection, 256);
  const limits: ConnectionLimits = {
    maxFrameBytes,
    maxInFlight,
    pauseAt: Math.max(1, Math.ceil(maxInFlight / 2)),
    highWaterMark: positive('highWaterMark', opts.highWaterMark, MiB, 1),
    limitPauseMs: positive('limitPauseMs', opts.limitPauseMs, 50, 0),
    maxSubscriptions: positive('maxSubscriptionsPerConnection', opts.maxSubscriptionsPerConnection, 64),
  };
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
  const hardFrameBytes = Math.max(2 * maxFrameBytes, maxFrameBytes + 64 * 1024);

  const conns = new Set<Connection>();
  let closing = false;
  const started = Date.now();

  const health = (): HealthInfo => {
    let head: number | null = null;
    try {
      head = rs.outputHead();
    } catch {
      head = null;
    }
    return { status: closing ? 'shutting_down' : 'ok', server_name: rs.serverName, connections: conns.size, output_head: head, uptime_s: Math.round((Date.now() - started) / 1000) };
  };

  const server: Server = createServer(httpHandler(health, log));
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: hardFrameBytes,
    skipUTF8Validation: true, // invalid UTF-8 is answered M_NOT_JSON instead of closing (codec.ts)
    clientTracking: false,
  });

  const onConnection = (ws: WebSocket, principal: Principal, req: IncomingMessage): void => {
    const role = principal.role;
    const clog = log.child({ conn: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`, role, ...(principal.role === 'peer' ? { peer: principal.server } : {}) });
    const conn = new Connection(ws, principal, rs, limits, clog);
    conns.add(conn);
    connectionsGauge.inc({ role });
    clog.debug('connection open');
    ws.on('close', (code) => {
      conns.delete(conn);
      connectionsGauge.dec({ role });
      clog.debug({ code }, 'connection closed');
    });
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/') return rejectUpgrade(socket, 404, 'Not Found');
    if (closing) return rejectUpgrade(socket, 503, 'Service Unavailable');
    const principal = tokens.authenticate(tokenFromRequest(req));
    if (!principal) return rejectUpgrade(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, principal, req));
  });

  const stopHeartbeat = startHeartbeat(() => conns, heartbeatMs, () => log.info('dropping a connection that missed its heartbeat'));

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'http server error'));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const url = `ws://${urlHost(opts.host)}:${port}/`;
  log.info({ url, maxFrameBytes, maxInFlight }, 'gateway listening');

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      stopHeartbeat();
      // finish what is in flight, reading nothing new
      const drained = Promise.all([...conns].map((c) => c.drain()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), drainTimeoutMs);
          timer.unref();
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (timedOut) log.warn({ drainTimeoutMs }, 'closing with requests still in flight');
      await Promise.all([...conns].map((c) => c.close()));
      server.closeAllConnections();
      await serverClosed;
      wss.close();
      log.info({ url }, 'gateway closed');
    })();
    return closed;
  };

  return {
    url,
    port,
    host: opts.host,
    get connectionCount() {
      return conns.size;
    },
    close,
  };
}
