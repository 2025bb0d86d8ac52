/**
 * Gateway benchmark: the same `send` workload (ROOMS rooms x EVENTS events)
 * in-process against RoomServer and over WebSocket through the gateway with
 * CONNS client connections, in one run, on fresh data directories.
 *
 *   node --import tsx bench/gateway.ts [--rooms 1000] [--events 100] [--conns 8]
 *        [--window 64] [--json] [--server child|same] [--modes inproc,ws]
 *
 * --window: requests in flight per connection (in-process: window x conns).
 * --server child (default): the gateway runs in a child process started
 * with the server command, as clients meet it; `same`: in this process.
 * --json: JSON text frames instead of msgpack.
 * --rounds N: run the modes N times, alternating, each on fresh data, and
 * report medians (with every round's events/s).
 * --url ws://... [--token T]: drive a server that is already running (the
 * server's creator user is @bench:bench.test, so start it with
 * --server-name bench.test).
 *
 * Figures: events/s over the timed phase; round trip (send issued ->
 * reply) p50/p99; output lag (send issued -> its output received by a
 * subscriber on its own connection) p50/p99. Rooms are created before
 * timing. Prints a plain table; the last column compares with in-process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { RoomServer } from '../src/server.js';
import { RoomServerClient } from '../src/client/client.js';
import { rootLogger } from '../src/log.js';
import type { Output, SendReply, SendRequest } from '../src/api.js';

rootLogger.level = 'warn';

interface Opts {
  rooms: number;
  events: number;
  conns: number;
  window: number;
  binary: boolean;
  server: 'child' | 'same';
  modes: string[];
  /** rounds of every mode, alternating (the machine's load drifts: medians over interleaved rounds compare fairly) */
  rounds: number;
  /** an already running server to drive instead of starting one (WebSocket mode only) */
  url?: string;
  token?: string;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { rooms: 1000, events: 100, conns: 8, window: 64, binary: true, server: 'child', modes: ['inproc', 'ws'], rounds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--rooms') o.rooms = Number(next());
    else if (a === '--events') o.events = Number(next());
    else if (a === '--conns') o.conns = Number(next());
    else if (a === '--window') o.window = Number(next());
    else if (a === '--json') o.binary = false;
    else if (a === '--server') o.server = next() === 'same' ? 'same' : 'child';
    else if (a === '--modes') o.modes = next().split(',');
    else if (a === '--rounds') o.rounds = Math.max(1, Number(next()));
    else if (a === '--url') o.url = next();
    else if (a === '--token') o.token = next();
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** The operations a run needs, in-process or over WebSocket. */
interface Target {
  createRoom(creator: string): Promise<string>;
  senders: Array<(req: SendRequest) => Promise<SendReply>>;
  /** subscribes from now; calls back for every output */
  subscribe(onOutput: (o: Output) => void): Promise<void>;
  close(): Promise<void>;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Result {
  mode: string;
  events: number;
  seconds: number;
  rate: number;
  rttP50: number;
  rttP99: number;
  lagP50: number;
  lagP99: number;
  notAccepted: number;
}

async function runWorkload(mode: string, t: Target, o: Opts): Promise<Result> {
  const creator = '@bench:bench.test';
  const rooms: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < o.rooms) {
        next++;
        rooms.push(await t.createRoom(creator));
      }
    }),
  );
  const total = o.rooms * o.events;
  const issued = new Float64Array(total);
  const rtt = new Float64Array(total);
  const lag = new Float64Array(total);
  let outputsSeen = 0;
  let allOut!: () => void;
  const outputsDone = new Promise<void>((r) => (allOut = r));
  await t.subscribe((out) => {
    if (out.type !== 'new_room_event' || out.txn_id === undefined) return;
    const k = Number(out.txn_id.slice(1));
    lag[k] = performance.now() - issued[k]!;
    if (++outputsSeen === total) allOut();
  });
  let seq = 0;
  let notAccepted = 0;
  const perConn = mode === 'in-process' ? o.window * o.conns : o.window;
  const t0 = performance.now();
  await Promise.all(
    t.senders.flatMap((send) =>
      Array.from({ length: perConn }, async () => {
        for (;;) {
          const k = seq++;
          if (k >= total) return;
          const room = rooms[k % rooms.length]!;
          issued[k] = performance.now();
          const r = await send({ roomId: room, sender: creator, type: 'm.room.message', content: { body: `message ${k}`, msgtype: 'm.text' }, txnId: `t${k}` });
          rtt[k] = performance.now() - issued[k]!;
          if (r.status !== 'accepted') notAccepted++;
        }
      }),
    ),
  );
  const sendsDone = performance.now();
  await Promise.race([outputsDone, new Promise((r) => setTimeout(r, 60_000))]);
  const seconds = (sendsDone - t0) / 1000;
  rtt.sort();
  lag.sort();
  return {
    mode,
    events: total,
    seconds,
    rate: total / seconds,
    rttP50: quantile(rtt, 0.5),
    rttP99: quantile(rtt, 0.99),
    lagP50: quantile(lag, 0.5),
    lagP99: quantile(lag, 0.99),
    notAccepted: notAccepted + (total - outputsSeen),
  };
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rs-gw-bench-'));
  dirs.push(d);
  return d;
}

async function inProcess(): Promise<Target> {
  const rs = await RoomServer.open({ dataDir: tempDir(), serverName: 'bench.test', idleTimeoutMs: 600_000 });
  return {
    createRoom: async (creator) => (await rs.createRoom({ creator })).room_id,
    senders: [(req) => rs.send(req)],
    subscribe: async (cb) => {
      rs.subscribe({}, cb);
    },
    close: () => rs.close(),
  };
}

async function serverProcess(): Promise<{ url: string; child: ChildProcess }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const loader = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href;
  const child = spawn(
    process.execPath,
    [
      '--import', loader, join(root, 'src/cli.ts'),
      '--port', '0', '--data-dir', tempDir(), '--server-name', 'bench.test', '--idle-timeout-ms', '600000', '--log-level', 'warn',
      '--max-in-flight-per-connection', '1024', '--heartbeat-ms', '0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  return { url, child };
}

async function overWebSocket(o: Opts): Promise<Target> {
  let url: string;
  let stopServer: () => Promise<void>;
  if (o.url) {
    url = o.url;
    stopServer = async () => undefined;
  } else if (o.server === 'child') {
    const { url: u, child } = await serverProcess();
    url = u;
    stopServer = () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
  } else {
    const rs = await RoomServer.open({ dataDir: tempDir(), serverName: 'bench.test', idleTimeoutMs: 600_000 });
    const gw = await rs.listen({ host: '127.0.0.1', port: 0, heartbeatMs: 0, maxInFlightPerConnection: 1024 });
    url = gw.url;
    stopServer = () => rs.close();
  }
  const auth = o.token ? { token: o.token } : {};
  const clients = await Promise.all(Array.from({ length: o.conns }, () => RoomServerClient.connect(url, { ...auth, binary: o.binary, maxInFlight: o.window, heartbeatMs: 0 })));
  const subscriber = await RoomServerClient.connect(url, { ...auth, binary: o.binary, heartbeatMs: 0, subscriptionBuffer: 100_000 });
  return {
    createRoom: async (creator) => (await clients[0]!.createRoom({ creator })).room_id,
    senders: clients.map((c) => (req: SendRequest) => c.send(req)),
    subscribe: async (cb) => {
      await subscriber.subscribe({}, cb);
    },
    close: async () => {
      await Promise.all([...clients, subscriber].map((c) => c.close()));
      await stopServer();
    },
  };
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const byMode = new Map<string, Result[]>();
  process.stderr.write(`gateway bench: ${o.rooms} rooms x ${o.events} events, ${o.conns} connections x window ${o.window}, ${o.binary ? 'msgpack' : 'JSON'}, server ${o.url ? `at ${o.url}` : o.server === 'child' ? 'in a child process' : 'in this process'}, ${o.rounds} round(s)\n`);
  for (let round = 1; round <= o.rounds; round++) {
    for (const m of o.modes) {
      const t = m === 'inproc' ? await inProcess() : await overWebSocket(o);
      const name = m === 'inproc' ? 'in-process' : `websocket x${o.conns} (${o.binary ? 'msgpack' : 'json'})`;
      process.stderr.write(`  round ${round}: ${name} ...`);
      try {
        const r = await runWorkload(name, t, o);
        process.stderr.write(` ${r.rate.toFixed(0)} events/s\n`);
        byMode.set(name, [...(byMode.get(name) ?? []), r]);
      } finally {
        await t.close();
      }
    }
  }
  const agg = [...byMode].map(([mode, rs]) => ({
    mode,
    events: rs[0]!.events,
    seconds: median(rs.map((r) => r.seconds)),
    rate: median(rs.map((r) => r.rate)),
    rttP50: median(rs.map((r) => r.rttP50)),
    rttP99: median(rs.map((r) => r.rttP99)),
    lagP50: median(rs.map((r) => r.lagP50)),
    lagP99: median(rs.map((r) => r.lagP99)),
    notAccepted: rs.reduce((a, r) => a + r.notAccepted, 0),
    rounds: rs.map((r) => r.rate.toFixed(0)).join('/'),
  }));
  const base = agg.find((r) => r.mode === 'in-process');
  const head = ['mode', 'events', 'seconds', 'events/s', 'rtt p50 ms', 'rtt p99 ms', 'lag p50 ms', 'lag p99 ms', 'not accepted', 'vs in-process', 'rounds events/s'];
  const rows = agg.map((r) => [
    r.mode,
    String(r.events),
    fmt(r.seconds, 2),
    fmt(r.rate, 0),
    fmt(r.rttP50, 2),
    fmt(r.rttP99, 2),
    fmt(r.lagP50, 2),
    fmt(r.lagP99, 2),
    String(r.notAccepted),
    base ? `${fmt((100 * r.rate) / base.rate, 0)}%` : '-',
    r.rounds,
  ]);
  if (o.rounds > 1) console.log(`medians of ${o.rounds} interleaved rounds`);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`bench: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  });
