/**
 * The server under load, behind one interface whether it runs in this
 * process (`--embedded`), in a child process the tool starts and drives
 * over WebSocket (`--spawn`), or somewhere else (`--target ws://...`).
 *
 * Over WebSocket, requests go over `connections` client connections (a
 * room always uses the same one, so its requests stay in order), and
 * outputs arrive on one more connection of their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  CreateRoomReply,
  CreateRoomRequest,
  EventQueryReply,
  InputEvent,
  InputReply,
  LatestReply,
  Output,
  RoomReply,
  SendReply,
  SendRequest,
  StateQueryReply,
} from '../../src/api.js';
import { RoomServerError } from '../../src/errors.js';
import { RoomServer } from '../../src/server.js';
import { RoomServerClient } from '../../src/client/index.js';
import { rootLogger } from '../../src/log.js';
import { dirBytes, healthHead, scrapeCpuSeconds, scrapeMemory } from './server-probe.js';
import { threadCpuMs } from '../main-thread-cpu.js';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.js';
import { readGcTotals, watchGc, type GcTotals } from './gc-pauses.js';

export interface MemorySample {
  rssBytes: number;
  heapUsedBytes: number;
  /** whether a full garbage collection ran just before */
  afterGc: boolean;
}

export interface TargetQueries {
  event(eventIds: string[]): Promise<EventQueryReply>;
  state(roomId: string, opts?: { eventId?: string; idsOnly?: boolean }): Promise<StateQueryReply>;
  latest(roomId: string): Promise<LatestReply>;
  room(roomId: string): Promise<RoomReply>;
}

export interface Target {
  /** how the server is reached, for the report */
  readonly description: string;
  /** where memory figures come from, for the report */
  readonly memorySource: string;
  readonly serverName: string;
  /** the server's data directory when the tool can measure it */
  readonly dataDir: string | undefined;
  createRoom(lane: number, req: CreateRoomRequest): Promise<CreateRoomReply>;
  send(lane: number, req: SendRequest): Promise<SendReply>;
  input(lane: number, events: InputEvent[]): Promise<InputReply>;
  addServerKey(serverName: string, keyId: string, publicKeyBase64: string): Promise<void>;
  /** subscribes to every output from now; resolves once outputs flow; returns the closer */
  subscribe(onOutput: (o: Output) => void): Promise<() => Promise<void>>;
  readonly query: TargetQueries;
  outputHead(): Promise<number>;
  memory(): Promise<MemorySample | undefined>;
  /** CPU seconds used so far by the server's process; `shared` when that process is the load tool's own */
  cpuSeconds(): Promise<{ seconds: number; shared: boolean } | undefined>;
  /**
   * CPU milliseconds used so far by each thread of the server's process
   * ('main' for its main thread), when the tool can read them (Linux, a
   * server in this process or one it started); otherwise empty.
   */
  threadCpuMs(): Map<string, number>;
  diskBytes(): Promise<number | undefined>;
  /**
   * The server process's GC pauses so far (gc-pauses.ts; each reading
   * starts the longest-pause figures again), when the tool can count them:
   * a server in this process or one it started.
   */
  gcPauses(): Promise<GcTotals | undefined>;
  close(): Promise<void>;
}

export const BENCH_SERVER_NAME = 'bench.test';

// ---------------------------------------------------------------------------
// in this process

class EmbeddedTarget implements Target {
  readonly description = 'embedded (RoomServer in the load process)';
  readonly memorySource = 'process.memoryUsage() of the load process (server and load tool together)';
  readonly serverName: string;
  readonly query: TargetQueries;

  constructor(
    private readonly rs: RoomServer,
    readonly dataDir: string,
    private readonly removeDir: boolean,
  ) {
    this.serverName = rs.serverName;
    this.query = rs.query;
  }

  createRoom(_lane: number, req: CreateRoomRequest): Promise<CreateRoomReply> {
    return this.rs.createRoom(req);
  }
  send(_lane: number, req: SendRequest): Promise<SendReply> {
    return this.rs.send(req);
  }
  input(_lane: number, events: InputEvent[]): Promise<InputReply> {
    return this.rs.input(events);
  }
  async addServerKey(serverName: string, keyId: string, publicKeyBase64: string): Promise<void> {
    this.rs.addServerKey(serverName, keyId, publicKeyBase64);
  }
  async subscribe(onOutput: (o: Output) => void): Promise<() => Promise<void>> {
    const sub = this.rs.subscribe({}, onOutput);
    return async () => sub.close();
  }
  async outputHead(): Promise<number> {
    return this.rs.outputHead();
  }
  async memory(): Promise<MemorySample> {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const m = process.memoryUsage();
    return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, afterGc: gc !== undefined };
  }
  async cpuSeconds(): Promise<{ seconds: number; shared: boolean }> {
    const c = process.cpuUsage();
    return { seconds: (c.user + c.system) / 1e6, shared: true };
  }
  threadCpuMs(): Map<string, number> {
    return threadCpuMs();
  }
  diskBytes(): Promise<number> {
    return dirBytes(this.dataDir);
  }
  async gcPauses(): Promise<GcTotals | undefined> {
    return readGcTotals();
  }
  async close(): Promise<void> {
    await this.rs.close();
    if (this.removeDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function openEmbedded(o: { dataDir?: string; idleMs: number }): Promise<Target> {
  // the server's info logs would interleave with the progress bar
  if (process.env.LOG_LEVEL === undefined && ['info', 'debug', 'trace'].includes(rootLogger.level)) rootLogger.level = 'warn';
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'rs-bench-'));
  const rs = await RoomServer.open({ dataDir, serverName: BENCH_SERVER_NAME, idleTimeoutMs: o.idleMs });
  watchGc();
  return new EmbeddedTarget(rs, dataDir, o.dataDir === undefined);
}

// ---------------------------------------------------------------------------
// over WebSocket

interface WsExtras {
  token?: string;
  dataDir?: string;
  /** asks the server for a full GC before memory is read (spawned servers) */
  gc?: () => Promise<boolean>;
  /** asks the server for its GC pause totals (spawned servers) */
  gcPauses?: () => Promise<GcTotals | undefined>;
  onClose?: () => Promise<void>;
  description: string;
  /** the server's process ID when it runs on this machine (spawned servers): its threads' CPU is read from /proc */
  pid?: number;
}

class WsTarget implements Target {
  readonly description: string;
  readonly memorySource: string;
  readonly dataDir: string | undefined;
  readonly query: TargetQueries;

  constructor(
    readonly url: string,
    readonly serverName: string,
    private readonly clients: RoomServerClient[],
    private readonly subClient: RoomServerClient,
    private readonly extras: WsExtras,
  ) {
    this.description = extras.description;
    this.memorySource = `GET /metrics of the server (process_resident_memory_bytes, nodejs_heap_size_used_bytes)${extras.gc ? ', after a forced GC' : ''}`;
    this.dataDir = extras.dataDir;
    let next = 0;
    const pick = () => this.clients[next++ % this.clients.length]!;
    this.query = {
      event: (ids) => pick().query.event(ids),
      state: (roomId, opts) => pick().query.state(roomId, opts),
      latest: (roomId) => pick().query.latest(roomId),
      room: (roomId) => pick().query.room(roomId),
    };
  }

  private lane(n: number): RoomServerClient {
    return this.clients[n % this.clients.length]!;
  }
  createRoom(lane: number, req: CreateRoomRequest): Promise<CreateRoomReply> {
    return this.lane(lane).createRoom(req);
  }
  send(lane: number, req: SendRequest): Promise<SendReply> {
    return this.lane(lane).send(req);
  }
  input(lane: number, events: InputEvent[]): Promise<InputReply> {
    return this.lane(lane).input(events);
  }
  addServerKey(serverName: string, keyId: string, publicKeyBase64: string): Promise<void> {
    return this.clients[0]!.addServerKey(serverName, keyId, publicKeyBase64);
  }
  async subscribe(onOutput: (o: Output) => void): Promise<() => Promise<void>> {
    const sub = await this.subClient.subscribe({}, onOutput);
    return () => sub.close();
  }
  outputHead(): Promise<number> {
    return healthHead(this.url, this.extras.token);
  }
  async memory(): Promise<MemorySample> {
    const afterGc = this.extras.gc ? await this.extras.gc() : false;
    return { ...(await scrapeMemory(this.url, this.extras.token)), afterGc };
  }
  async cpuSeconds(): Promise<{ seconds: number; shared: boolean }> {
    return { seconds: await scrapeCpuSeconds(this.url, this.extras.token), shared: false };
  }
  threadCpuMs(): Map<string, number> {
    return this.extras.pid === undefined ? new Map() : threadCpuMs(this.extras.pid);
  }
  async diskBytes(): Promise<number | undefined> {
    return this.dataDir === undefined ? undefined : dirBytes(this.dataDir);
  }
  async gcPauses(): Promise<GcTotals | undefined> {
    return this.extras.gcPauses ? this.extras.gcPauses() : undefined;
  }
  async close(): Promise<void> {
    await Promise.allSettled([...this.clients, this.subClient].map((c) => c.close()));
    await this.extras.onClose?.();
  }
}

export async function connectWs(
  url: string,
  o: { connections: number; concurrency: number; binary: boolean; token?: string; dataDir?: string; description?: string; pid?: number; gc?: () => Promise<boolean>; gcPauses?: () => Promise<GcTotals | undefined>; onClose?: () => Promise<void> },
): Promise<Target> {
  const perConnection = Math.ceil(o.concurrency / o.connections);
  const clientOpts = {
    ...(o.token !== undefined ? { token: o.token } : {}),
    binary: o.binary,
    // the tool never has more than `concurrency` requests out; the local bound must not hold any back
    maxInFlight: perConnection + 16,
    heartbeatMs: 0,
  };
  const clients: RoomServerClient[] = [];
  try {
    for (let i = 0; i < o.connections; i++) clients.push(await RoomServerClient.connect(url, clientOpts));
    const subClient = await RoomServerClient.connect(url, { ...clientOpts, subscriptionBuffer: 100_000 });
    clients.push(subClient);
    const keys = await clients[0]!.query.serverKeys();
    const serverName = keys.server_name;
    if (typeof serverName !== 'string') throw new RoomServerError('M_UNKNOWN', `${url}: server_keys has no server_name`, 'bench_target');
    clients.pop();
    return new WsTarget(url, serverName, clients, subClient, {
      description: o.description ?? `WebSocket ${url}`,
      ...(o.token !== undefined ? { token: o.token } : {}),
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
      ...(o.gc ? { gc: o.gc } : {}),
      ...(o.gcPauses ? { gcPauses: o.gcPauses } : {}),
      ...(o.onClose ? { onClose: o.onClose } : {}),
      ...(o.pid !== undefined ? { pid: o.pid } : {}),
    });
  } catch (e) {
    await Promise.allSettled(clients.map((c) => c.close()));
    throw e;
  }
}

// ---------------------------------------------------------------------------
// a server process of its own

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the server command in a child process on a free port and drives it over WebSocket. */
export async function spawnServer(o: {
  dataDir?: string;
  idleMs: number;
  nodeArgs: string[];
  connections: number;
  concurrency: number;
  binary: boolean;
}): Promise<Target> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'rs-bench-'));
  const args = [
    '--expose-gc',
    ...SERVER_NODE_FLAGS,
    ...o.nodeArgs,
    '--import',
    'tsx',
    '--import',
    join(repoRoot, 'bench/load/server-preload.ts'),
    join(repoRoot, 'src/cli.ts'),
    '--port',
    '0',
    '--data-dir',
    dataDir,
    '--server-name',
    BENCH_SERVER_NAME,
    '--idle-timeout-ms',
    String(o.idleMs),
    '--log-level',
    process.env.LOG_LEVEL ?? 'warn',
  ];
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new RoomServerError('M_UNKNOWN', `the spawned server did not start within 60 s\n${stderrTail}`, 'bench_spawn')), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (wss?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new RoomServerError('M_UNKNOWN', `the spawned server exited (code ${code}) before listening\n${stderrTail}`, 'bench_spawn'));
    });
  });
  /** Sends `type` over the IPC channel; the reply of type `${type}-done`, or undefined after 10 s. */
  const ask = (type: string): Promise<Record<string, unknown> | undefined> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        child.off('message', onMsg);
        resolve(undefined);
      }, 10_000);
      const onMsg = (m: unknown): void => {
        if ((m as { type?: unknown })?.type !== `${type}-done`) return;
        clearTimeout(t);
        child.off('message', onMsg);
        resolve(m as Record<string, unknown>);
      };
      child.on('message', onMsg);
      child.send({ type });
    });
  const gc = async (): Promise<boolean> => (await ask('gc'))?.collected === true;
  const gcPauses = async (): Promise<GcTotals | undefined> => (await ask('gc-pauses'))?.totals as GcTotals | undefined;
  const stop = async (): Promise<void> => {
    await stopChild(child, exited);
    if (o.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    return await connectWs(url, {
      connections: o.connections,
      concurrency: o.concurrency,
      binary: o.binary,
      dataDir,
      description: `WebSocket ${url} (server process started by the tool, pid ${child.pid})`,
      ...(child.pid !== undefined ? { pid: child.pid } : {}),
      gc,
      gcPauses,
      onClose: stop,
    });
  } catch (e) {
    await stop();
    throw e;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(t);
}
