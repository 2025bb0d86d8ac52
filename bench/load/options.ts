/**
 * The load tool's options: parsed from the command line, checked all at
 * once, every problem reported together as one RoomServerError
 * (M_INVALID_PARAM, reason `bench_options`) so a typo never starts a
 * ten-minute run.
 */
import { RoomServerError } from '../../src/errors.js';
import { isKnownRoomVersion } from '../../src/matrix/room-versions.js';

export type TargetKind = 'embedded' | 'spawn' | 'ws';
export type LoadMode = 'send' | 'input';

export interface LoadOptions {
  /** where the server runs: in this process, a child process started per run, or a running server */
  target: TargetKind;
  /** ws://HOST:PORT/ of a running server (target `ws`) */
  url?: string;
  token?: string;
  rooms: number;
  /** events per room in the measured phase */
  events: number;
  /** WebSocket connections that carry requests (a room always uses the same one) */
  connections: number;
  /** requests in flight at once, over all connections */
  concurrency: number;
  mode: LoadMode;
  /** users per room sending the measured events (each joins during setup) */
  senders: number;
  /** share of the measured events that are state events */
  stateRatio: number;
  /** share of the measured events sent as two concurrent branches (input mode) */
  forks: number;
  roomVersion: string;
  /** the sweep: one option and its values; each value is a full run */
  sweep?: { name: SweepName; values: number[] };
  /** also measure the machine's bare ed25519 and LevelDB limits */
  limits: boolean;
  /** write the report as JSON to this file */
  json?: string;
  /** embedded/spawn: where the server keeps its data (kept); ws: the target's data dir, to measure disk */
  dataDir?: string;
  /** msgpack (binary) frames instead of JSON text frames */
  binary: boolean;
  seed: number;
  /** progress bar: true/false forces it, undefined = only on a terminal */
  progress?: boolean;
  verify: boolean;
  /** rooms whose full state is compared with what the tool expects */
  verifyStates: number;
  /** at most this many rooms get the count/latest check (a random sample beyond) */
  verifyRooms: number;
  /** at most this many acknowledged events are looked up (a random sample beyond) */
  verifyEvents: number;
  /** how long to wait for outputs still on their way after the last reply */
  drainSeconds: number;
  /** server idle timeout before room actors passivate (embedded/spawn) */
  serverIdleMs: number;
  /** extra node flags for a spawned server, e.g. "--cpu-prof --cpu-prof-dir=prof" */
  serverNodeArgs: string[];
  /** seconds each limit measurement runs */
  limitSeconds: number;
}

export const SWEEP_NAMES = ['rooms', 'events', 'senders', 'concurrency', 'connections'] as const;
export type SweepName = (typeof SWEEP_NAMES)[number];

export const DEFAULTS: LoadOptions = {
  target: 'embedded',
  rooms: 100,
  events: 20,
  connections: 4,
  concurrency: 256,
  mode: 'send',
  senders: 2,
  stateRatio: 0.1,
  forks: 0,
  roomVersion: '12',
  limits: false,
  binary: false,
  seed: 1,
  verify: true,
  verifyStates: 50,
  verifyRooms: 20_000,
  verifyEvents: 20_000,
  drainSeconds: 30,
  serverIdleMs: 600_000,
  serverNodeArgs: [],
  limitSeconds: 1,
};

export const HELP = `npm run bench -- [options]      (node --import tsx bench/load.ts [options])

Drives many rooms at once and prints a report: events/s, input latency,
output delivery lag, server memory, disk per event, errors by code, and a
check through queries that the server holds exactly what it acknowledged.

Where the server runs (one of):
  --embedded                 start a RoomServer in this process (default)
  --spawn                    start the server command (src/cli.ts) as a child process per run, drive it over WebSocket
  --target ws://HOST:PORT/   drive a running server over WebSocket
  --token T                  access token (admin role) for --target

Load:
  --rooms N                  rooms created for the run [100]
  --events N                 measured events per room [20]
  --mode send|input          send: the server builds and signs each event;
                             input: events pre-built and signed by a simulated remote server [send]
  --senders N                users per room sending events; each joins during setup [2]
  --state-ratio R            share of measured events that are state events (topic, name, display names) [0.1]
  --forks R                  share of measured events sent as two branches off one event (input mode) [0]
  --room-version V           room version of the rooms [12]
  --connections N            WebSocket connections carrying requests [4]
  --concurrency N            requests in flight at once (one per room at a time) [256]
  --binary                   msgpack frames instead of JSON
  --seed N                   seed of the event mix [1]

Report:
  --json FILE                also write the report as JSON (with options and machine)
  --sweep NAME=V1,V2,...     run once per value (NAME: rooms, events, senders, concurrency, connections)
  --limits                   measure bare ed25519 sign/verify per second and LevelDB batched puts per second
                             and show each result as a share of the limit that bounds it
  --limit-seconds S          duration of each limit measurement [1]
  --data-dir DIR             embedded/spawn: keep the server's data here; --target: the server's data dir, to measure disk
  --progress | --no-progress force the progress bar on or off (default: only on a terminal)
  --no-verify                skip the final check through queries
  --verify-rooms N           rooms whose counts and latest events are checked (sampled beyond) [20000]
  --verify-states N          rooms whose full state is compared [50]
  --verify-events N          acknowledged events looked up by ID (sampled beyond) [20000]
  --drain-seconds S          wait this long for outputs after the last reply [30]

Server (embedded/spawn):
  --server-idle-ms MS        idle time before a room actor passivates [600000]
  --server-node-args "ARGS"  node flags for the spawned server, e.g. "--cpu-prof --cpu-prof-dir=prof"
  --help                     this text`;

export interface ParsedArgs {
  help: boolean;
  options: LoadOptions;
}

type Setter = (v: string | undefined, problems: string[]) => void;

/** Parses the tool's command line; throws one M_INVALID_PARAM error listing every problem. */
export function parseOptions(argv: readonly string[]): ParsedArgs {
  const o: LoadOptions = { ...DEFAULTS, serverNodeArgs: [] };
  const problems: string[] = [];
  let help = false;
  const targets: TargetKind[] = [];

  const int = (name: string, min: number, set: (n: number) => void): Setter => (v, p) => {
    const n = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < min) p.push(`--${name} must be an integer >= ${min} (got ${v === undefined ? 'nothing' : JSON.stringify(v)})`);
    else set(n);
  };
  const num = (name: string, min: number, max: number, set: (n: number) => void): Setter => (v, p) => {
    const n = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < min || n > max) p.push(`--${name} must be a number from ${min} to ${max} (got ${v === undefined ? 'nothing' : JSON.stringify(v)})`);
    else set(n);
  };
  const str = (name: string, set: (s: string) => void): Setter => (v, p) => {
    if (v === undefined || v === '') p.push(`--${name} needs a value`);
    else set(v);
  };

  const withValue: Record<string, Setter> = {
    target: str('target', (s) => {
      targets.push('ws');
      o.url = s;
    }),
    token: str('token', (s) => (o.token = s)),
    rooms: int('rooms', 1, (n) => (o.rooms = n)),
    events: int('events', 0, (n) => (o.events = n)),
    connections: int('connections', 1, (n) => (o.connections = n)),
    concurrency: int('concurrency', 1, (n) => (o.concurrency = n)),
    mode: (v, p) => {
      if (v !== 'send' && v !== 'input') p.push(`--mode must be send or input (got ${JSON.stringify(v ?? null)})`);
      else o.mode = v;
    },
    senders: int('senders', 1, (n) => (o.senders = n)),
    'state-ratio': num('state-ratio', 0, 1, (n) => (o.stateRatio = n)),
    forks: num('forks', 0, 1, (n) => (o.forks = n)),
    'room-version': (v, p) => {
      if (!isKnownRoomVersion(v)) p.push(`--room-version must be one of 1..12 (got ${JSON.stringify(v ?? null)})`);
      else o.roomVersion = v;
    },
    sweep: (v, p) => {
      const m = /^([a-z]+)=([0-9,_ ]+)$/.exec(v ?? '');
      const name = m?.[1] as SweepName | undefined;
      if (!m || !name || !(SWEEP_NAMES as readonly string[]).includes(name)) {
        p.push(`--sweep must look like rooms=10,1000,10000 (one of ${SWEEP_NAMES.join(', ')}; got ${JSON.stringify(v ?? null)})`);
        return;
      }
      const values = m[2]!.split(',').map((s) => Number(s.replace(/[_ ]/g, '')));
      const min = name === 'events' ? 0 : 1;
      if (values.length === 0 || values.some((x) => !Number.isInteger(x) || x < min)) p.push(`--sweep ${name} values must be integers >= ${min}`);
      else o.sweep = { name, values };
    },
    json: str('json', (s) => (o.json = s)),
    'data-dir': str('data-dir', (s) => (o.dataDir = s)),
    seed: int('seed', 0, (n) => (o.seed = n)),
    'verify-rooms': int('verify-rooms', 0, (n) => (o.verifyRooms = n)),
    'verify-states': int('verify-states', 0, (n) => (o.verifyStates = n)),
    'verify-events': int('verify-events', 0, (n) => (o.verifyEvents = n)),
    'drain-seconds': num('drain-seconds', 0, 3600, (n) => (o.drainSeconds = n)),
    'server-idle-ms': int('server-idle-ms', 1, (n) => (o.serverIdleMs = n)),
    'server-node-args': (v, p) => {
      if (v === undefined) p.push('--server-node-args needs a value');
      else o.serverNodeArgs = v.split(/\s+/).filter((s) => s !== '');
    },
    'limit-seconds': num('limit-seconds', 0.05, 60, (n) => (o.limitSeconds = n)),
  };
  const flags: Record<string, () => void> = {
    help: () => (help = true),
    h: () => (help = true),
    embedded: () => targets.push('embedded'),
    spawn: () => targets.push('spawn'),
    limits: () => (o.limits = true),
    binary: () => (o.binary = true),
    progress: () => (o.progress = true),
    'no-progress': () => (o.progress = false),
    'no-verify': () => (o.verify = false),
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      problems.push(`unexpected argument ${JSON.stringify(arg)}`);
      continue;
    }
    const name = m[1]!;
    const inline = m[2];
    if (flags[name]) {
      if (inline !== undefined) problems.push(`--${name} takes no value`);
      else flags[name]!();
      continue;
    }
    const setter = withValue[name];
    if (!setter) {
      problems.push(`unknown option --${name}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      // a value may start with "-" only for --server-node-args
      if (next !== undefined && (!next.startsWith('--') || name === 'server-node-args')) {
        value = next;
        i++;
      }
    }
    setter(value, problems);
  }

  if (targets.length > 1) problems.push('choose one of --embedded, --spawn, --target URL');
  if (targets.length === 1) o.target = targets[0]!;
  if (o.target === 'ws' && o.url !== undefined && !/^wss?:\/\/[^/]+/.test(o.url)) problems.push(`--target must be a ws:// or wss:// URL (got ${JSON.stringify(o.url)})`);
  if (o.token !== undefined && o.target !== 'ws') problems.push('--token applies to --target only');
  if (o.forks > 0 && o.mode !== 'input') problems.push('--forks needs --mode input (in send mode the server picks prev events itself, so it never forks)');
  if (o.serverNodeArgs.length > 0 && o.target !== 'spawn') problems.push('--server-node-args applies to --spawn only');
  if (o.sweep && o.dataDir !== undefined && o.target !== 'ws') problems.push('--data-dir cannot be combined with --sweep (each run needs a fresh server)');

  if (problems.length > 0 && !help) {
    throw new RoomServerError('M_INVALID_PARAM', problems.length === 1 ? problems[0]! : `invalid options:\n  - ${problems.join('\n  - ')}`, 'bench_options');
  }
  return { help, options: o };
}

/** The options of one run of a sweep. */
export function withSweepValue(o: LoadOptions, name: SweepName, value: number): LoadOptions {
  return { ...o, [name]: value };
}
