/**
 * Server configuration: command-line flags override the JSON file given by
 * `--config FILE` (or ROOMSERVER_CONFIG), which overrides environment
 * variables (ROOMSERVER_*), which override defaults. Everything is checked
 * before anything starts; every problem is reported at once, naming the
 * field and where its value came from.
 *
 * With no token configured the server may only bind a loopback address.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve, join } from 'node:path';
import { decodeBase64 } from './matrix/base64.js';
import { serverNameProblem } from './matrix/ids.js';
import { tokenSpecProblem, type TokenConfig } from './gateway/auth.js';

export interface PeerEntry {
  url: string;
  token?: string;
}

export interface Limits {
  /** largest request frame (bytes) */
  maxFrameBytes: number;
  /** requests in flight on one WebSocket connection */
  maxInFlightPerConnection: number;
  /** queued + processing inputs per room */
  roomQueue: number;
  /** inputs in flight across all rooms */
  maxInFlight: number;
  /** how long an input may wait for missing events (ms) */
  inputDeadlineMs: number;
  /** time limit of one call to a peer (ms) */
  peerTimeoutMs: number;
}

export interface Config {
  serverName: string;
  host: string;
  port: number;
  dataDir: string;
  signingKeyFile: string;
  tokens: TokenConfig;
  peers: Record<string, PeerEntry>;
  trustedKeys: Record<string, Record<string, string>>;
  limits: Limits;
  /** idle time before a room actor is stopped (ms) */
  idleTimeoutMs: number;
  /** WebSocket ping interval (ms; 0 = off) */
  heartbeatMs: number;
  /** sync every write to disk */
  fsync: boolean;
  /** nice value of LevelDB's compaction thread (Linux; 0 = leave it) */
  compactionNice: number;
  logLevel: string;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Kind = 'string' | 'port' | 'int' | 'bool' | 'object' | 'level';

interface Field {
  /** path in Config / the config file, e.g. `limits.maxFrameBytes` */
  key: string;
  flag?: string;
  env: string;
  kind: Kind;
  help: string;
  dflt?: unknown;
  min?: number;
  max?: number;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every setting, in the order --help lists them. */
export const FIELDS: readonly Field[] = [
  { key: 'serverName', flag: '--server-name', env: 'ROOMSERVER_SERVER_NAME', kind: 'string', dflt: 'localhost', help: 'this server\'s Matrix server name' },
  { key: 'host', flag: '--host', env: 'ROOMSERVER_HOST', kind: 'string', dflt: '127.0.0.1', help: 'address to bind (non-loopback needs tokens)' },
  { key: 'port', flag: '--port', env: 'ROOMSERVER_PORT', kind: 'port', dflt: 7770, help: 'port to bind; 0 picks a free one' },
  { key: 'dataDir', flag: '--data-dir', env: 'ROOMSERVER_DATA_DIR', kind: 'string', dflt: './data', help: 'where the database and key live' },
  { key: 'signingKeyFile', flag: '--signing-key-file', env: 'ROOMSERVER_SIGNING_KEY_FILE', kind: 'string', help: 'ed25519 signing key, created on first start (default <dataDir>/signing.key)' },
  { key: 'tokens', env: 'ROOMSERVER_TOKENS', kind: 'object', dflt: {}, help: 'JSON: { "<token>": "admin" | { "role": "peer", "server": "<name>" } }' },
  { key: 'peers', env: 'ROOMSERVER_PEERS', kind: 'object', dflt: {}, help: 'JSON: { "<server name>": { "url": "ws://...", "token": "..." } }' },
  { key: 'trustedKeys', env: 'ROOMSERVER_TRUSTED_KEYS', kind: 'object', dflt: {}, help: 'JSON: { "<server name>": { "ed25519:<id>": "<unpadded base64>" } }' },
  { key: 'limits.maxFrameBytes', flag: '--max-frame-bytes', env: 'ROOMSERVER_MAX_FRAME_BYTES', kind: 'int', dflt: 16 * 1024 * 1024, min: 1024, help: 'largest request frame in bytes' },
  { key: 'limits.maxInFlightPerConnection', flag: '--max-in-flight-per-connection', env: 'ROOMSERVER_MAX_IN_FLIGHT_PER_CONNECTION', kind: 'int', dflt: 256, min: 1, help: 'requests in flight on one connection' },
  { key: 'limits.roomQueue', flag: '--room-queue', env: 'ROOMSERVER_ROOM_QUEUE', kind: 'int', dflt: 1000, min: 1, help: 'queued inputs per room' },
  { key: 'limits.maxInFlight', flag: '--max-in-flight', env: 'ROOMSERVER_MAX_IN_FLIGHT', kind: 'int', dflt: 50_000, min: 1, help: 'inputs in flight across all rooms' },
  { key: 'limits.inputDeadlineMs', flag: '--input-deadline-ms', env: 'ROOMSERVER_INPUT_DEADLINE_MS', kind: 'int', dflt: 120_000, min: 1, help: 'how long an input may wait for missing events' },
  { key: 'limits.peerTimeoutMs', flag: '--peer-timeout-ms', env: 'ROOMSERVER_PEER_TIMEOUT_MS', kind: 'int', dflt: 10_000, min: 1, help: 'time limit of one call to a peer' },
  { key: 'idleTimeoutMs', flag: '--idle-timeout-ms', env: 'ROOMSERVER_IDLE_TIMEOUT_MS', kind: 'int', dflt: 30_000, min: 1, help: 'idle time before a room actor stops' },
  { key: 'heartbeatMs', flag: '--heartbeat-ms', env: 'ROOMSERVER_HEARTBEAT_MS', kind: 'int', dflt: 30_000, min: 0, help: 'WebSocket ping interval; 0 = off' },
  { key: 'fsync', flag: '--fsync', env: 'ROOMSERVER_FSYNC', kind: 'bool', dflt: false, help: 'sync every write to disk (true/false)' },
  { key: 'compactionNice', flag: '--compaction-nice', env: 'ROOMSERVER_COMPACTION_NICE', kind: 'int', dflt: 19, min: 0, max: 19, help: 'nice value of LevelDB\'s compaction thread, 0-19 (Linux); 0 = leave it' },
  { key: 'logLevel', flag: '--log-level', env: 'LOG_LEVEL', kind: 'level', dflt: 'info', help: LEVELS.join(' | ') },
];

export function helpText(): string {
  const lines = [
    'Usage: npm start -- [options]     (node --import tsx src/cli.ts [options])',
    '',
    'A Matrix roomserver with a WebSocket gateway on ws://HOST:PORT/.',
    'Precedence: flags > --config file > environment > defaults.',
    '',
    'Options:',
    `  ${'--config FILE'.padEnd(38)} JSON file with any of the fields below (env ROOMSERVER_CONFIG)`,
    `  ${'--help, -h'.padEnd(38)} show this help`,
  ];
  for (const f of FIELDS) {
    const flag = f.flag ? `${f.flag}${f.kind === 'bool' ? '[=BOOL]' : ' VALUE'}` : '(file or env only)';
    const dflt = f.dflt === undefined ? '' : typeof f.dflt === 'object' ? '' : ` [default ${String(f.dflt)}]`;
    lines.push(`  ${flag.padEnd(38)} ${f.help}${dflt}`);
    lines.push(`  ${''.padEnd(38)}   file: "${f.key}"  env: ${f.env}`);
  }
  lines.push('', 'With no token configured the server binds loopback addresses only.');
  return lines.join('\n');
}

export type LoadResult = { help: true } | { help: false; config: Config };

interface Raw {
  value: unknown;
  from: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function getPath(o: Record<string, unknown>, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/**
 * Reads the configuration. Throws ConfigError listing every problem.
 * `argv` excludes node and the script (process.argv.slice(2)).
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadResult {
  const problems: string[] = [];
  const byFlag = new Map(FIELDS.filter((f) => f.flag).map((f) => [f.flag!, f]));
  const fromFlags = new Map<string, Raw>();
  let configFile: Raw | undefined = env.ROOMSERVER_CONFIG ? { value: env.ROOMSERVER_CONFIG, from: 'ROOMSERVER_CONFIG' } : undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument ${JSON.stringify(arg)}`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const field = byFlag.get(name);
    if (name === '--no-fsync' && value === undefined) {
      fromFlags.set('fsync', { value: 'false', from: name });
      continue;
    }
    if (name !== '--config' && !field) {
      problems.push(`unknown option ${name}`);
      continue;
    }
    if (value === undefined) {
      if (field?.kind === 'bool' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) {
        value = 'true';
      } else {
        value = argv[++i];
        if (value === undefined) {
          problems.push(`${name} needs a value`);
          continue;
        }
      }
    }
    if (name === '--config') configFile = { value, from: '--config' };
    else fromFlags.set(field!.key, { value, from: name });
  }

  let file: Record<string, unknown> = {};
  let filePath = '';
  if (configFile) {
    filePath = resolve(cwd, String(configFile.value));
    try {
      const parsed: unknown = JSON.parse(readFileSync(filePath, 'utf8'));
      if (!isObject(parsed)) problems.push(`config file ${filePath}: must hold a JSON object`);
      else file = parsed;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      problems.push(err.code === 'ENOENT' ? `config file ${filePath} (${configFile.from}) does not exist` : `config file ${filePath}: ${err.message}`);
    }
    const known = new Set(FIELDS.map((f) => f.key.split('.')[0]!));
    for (const k of Object.keys(file)) if (!known.has(k)) problems.push(`config file ${filePath}: unknown field "${k}"`);
    if (isObject(file.limits)) {
      const knownLimits = new Set(FIELDS.filter((f) => f.key.startsWith('limits.')).map((f) => f.key.slice(7)));
      for (const k of Object.keys(file.limits)) if (!knownLimits.has(k)) problems.push(`config file ${filePath}: unknown field "limits.${k}"`);
    } else if (file.limits !== undefined) problems.push(`limits (config file): must be an object`);
  }

  const out: Record<string, unknown> = { limits: {} };
  for (const f of FIELDS) {
    let raw: Raw | undefined = fromFlags.get(f.key);
    if (!raw) {
      const v = getPath(file, f.key);
      if (v !== undefined) raw = { value: v, from: `config file` };
    }
    if (!raw && env[f.env] !== undefined && env[f.env] !== '') raw = { value: env[f.env], from: f.env };
    let value: unknown;
    if (raw) {
      const r = coerce(f, raw);
      if (typeof r === 'string') {
        problems.push(`${f.key} (from ${raw.from}): ${r}`);
        continue;
      }
      value = r.value;
    } else {
      value = f.dflt;
    }
    if (value === undefined) continue;
    const [a, b] = f.key.split('.');
    if (b) (out[a!] as Record<string, unknown>)[b] = value;
    else out[a!] = value;
  }

  const cfg = out as unknown as Config;
  cfg.dataDir = resolve(cwd, cfg.dataDir ?? './data');
  cfg.signingKeyFile = cfg.signingKeyFile ? resolve(cwd, cfg.signingKeyFile) : join(cfg.dataDir, 'signing.key');
  problems.push(...semanticProblems(cfg));
  if (problems.length > 0) throw new ConfigError(problems);
  return { help: false, config: cfg };
}

function coerce(f: Field, raw: Raw): { value: unknown } | string {
  const v = raw.value;
  const fromText = typeof v === 'string' && raw.from !== 'config file';
  switch (f.kind) {
    case 'string':
      return typeof v === 'string' && v.length > 0 ? { value: v } : 'must be a non-empty string';
    case 'level':
      return typeof v === 'string' && LEVELS.includes(v) ? { value: v } : `must be one of ${LEVELS.join(', ')}`;
    case 'port':
    case 'int': {
      const n = fromText ? (/^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN) : v;
      const min = f.kind === 'port' ? 0 : f.min ?? 0;
      const max = f.kind === 'port' ? 65535 : f.max ?? Number.MAX_SAFE_INTEGER;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
        if (f.kind === 'port') return `must be a port number 0-65535, got ${JSON.stringify(v)}`;
        return f.max !== undefined ? `must be an integer ${min}-${max}, got ${JSON.stringify(v)}` : `must be an integer >= ${min}, got ${JSON.stringify(v)}`;
      }
      return { value: n };
    }
    case 'bool': {
      if (typeof v === 'boolean') return { value: v };
      if (fromText && /^(true|1|yes|on)$/i.test(v)) return { value: true };
      if (fromText && /^(false|0|no|off)$/i.test(v)) return { value: false };
      return `must be true or false, got ${JSON.stringify(v)}`;
    }
    case 'object': {
      let o: unknown = v;
      if (fromText) {
        try {
          o = JSON.parse(v);
        } catch {
          return 'must be a JSON object (the value does not parse)';
        }
      }
      return isObject(o) ? { value: o } : 'must be an object';
    }
  }
}

/** Checks across fields; fields that failed to parse are absent and skipped. */
function semanticProblems(cfg: Config): string[] {
  const p: string[] = [];
  cfg.tokens ??= {};
  cfg.peers ??= {};
  cfg.trustedKeys ??= {};
  if (cfg.serverName !== undefined) {
    const sn = serverNameProblem(cfg.serverName);
    if (sn) p.push(`serverName ${JSON.stringify(cfg.serverName)}: ${sn}`);
  }
  for (const [token, spec] of Object.entries(cfg.tokens)) {
    const problem = tokenSpecProblem(token, spec);
    if (problem) p.push(`tokens["${token.slice(0, 4)}…"]: ${problem}`);
  }
  for (const [server, peer] of Object.entries(cfg.peers)) {
    if (!isObject(peer)) {
      p.push(`peers["${server}"]: must be { "url": "ws://...", "token"?: "..." }`);
      continue;
    }
    const sp = serverNameProblem(server);
    if (sp) p.push(`peers["${server}"]: not a server name (${sp})`);
    let ok = false;
    try {
      const u = new URL(String(peer.url));
      ok = u.protocol === 'ws:' || u.protocol === 'wss:';
    } catch {
      ok = false;
    }
    if (!ok) p.push(`peers["${server}"].url: must be a ws:// or wss:// URL, got ${JSON.stringify(peer.url)}`);
    if (peer.token !== undefined && (typeof peer.token !== 'string' || peer.token.length === 0)) p.push(`peers["${server}"].token: must be a non-empty string`);
    for (const k of Object.keys(peer)) if (k !== 'url' && k !== 'token') p.push(`peers["${server}"]: unknown field "${k}"`);
  }
  for (const [server, keys] of Object.entries(cfg.trustedKeys)) {
    if (!isObject(keys)) {
      p.push(`trustedKeys["${server}"]: must be { "ed25519:<id>": "<base64 key>" }`);
      continue;
    }
    for (const [keyId, key] of Object.entries(keys)) {
      if (!/^ed25519:[A-Za-z0-9_]+$/.test(keyId)) p.push(`trustedKeys["${server}"]: key id ${JSON.stringify(keyId)} must look like "ed25519:abc"`);
      if (typeof key !== 'string' || decodeBase64(key)?.length !== 32) p.push(`trustedKeys["${server}"]["${keyId}"]: must be a 32-byte ed25519 key in unpadded base64`);
    }
  }
  if (Object.keys(cfg.tokens).length === 0 && cfg.host !== undefined && !isLoopback(cfg.host)) {
    p.push(
      `refusing to listen on ${cfg.host} without any token: anyone who can reach it could act as this server. ` +
        `Configure "tokens" (config file or ROOMSERVER_TOKENS), or bind a loopback address such as 127.0.0.1`,
    );
  }
  return p;
}
