/**
 * Reading a server from outside: its Prometheus `/metrics` (memory) and
 * `/health` (output log head) on the gateway's port, and the size of a
 * data directory on disk.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RoomServerError } from '../../src/errors.js';

/** The HTTP address of a gateway's port for a path, from its ws:// URL. */
export function httpUrl(wsUrl: string, path: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = path;
  u.search = '';
  return u.toString();
}

/** Samples of a Prometheus text exposition: `name{labels}` (labels as written) -> value. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (!Number.isNaN(v)) out.set(m[1]!, v);
  }
  return out;
}

async function get(url: string, token: string | undefined): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  } catch (e) {
    throw new RoomServerError('M_UNKNOWN', `cannot reach ${url}: ${(e as Error).message}`, 'bench_probe');
  }
  if (!res.ok) throw new RoomServerError('M_UNKNOWN', `${url} answered HTTP ${res.status}`, 'bench_probe');
  return res;
}

export interface ServerMemory {
  rssBytes: number;
  heapUsedBytes: number;
}

/** Resident set and V8 heap used of the server behind `wsUrl`, from prom-client's default metrics. */
export async function scrapeMemory(wsUrl: string, token?: string): Promise<ServerMemory> {
  const m = parsePrometheus(await (await get(httpUrl(wsUrl, '/metrics'), token)).text());
  const rss = m.get('process_resident_memory_bytes');
  const heap = m.get('nodejs_heap_size_used_bytes');
  if (rss === undefined || heap === undefined) {
    throw new RoomServerError('M_UNKNOWN', `${httpUrl(wsUrl, '/metrics')} has no process_resident_memory_bytes / nodejs_heap_size_used_bytes`, 'bench_probe');
  }
  return { rssBytes: rss, heapUsedBytes: heap };
}

/** CPU seconds (user + system) the server behind `wsUrl` has used, from prom-client's default metrics. */
export async function scrapeCpuSeconds(wsUrl: string, token?: string): Promise<number> {
  const m = parsePrometheus(await (await get(httpUrl(wsUrl, '/metrics'), token)).text());
  const cpu = m.get('process_cpu_seconds_total');
  if (cpu === undefined) throw new RoomServerError('M_UNKNOWN', `${httpUrl(wsUrl, '/metrics')} has no process_cpu_seconds_total`, 'bench_probe');
  return cpu;
}

/** The output log head reported by `/health`. */
export async function healthHead(wsUrl: string, token?: string): Promise<number> {
  const h = (await (await get(httpUrl(wsUrl, '/health'), token)).json()) as { output_head?: unknown };
  if (typeof h.output_head !== 'number') throw new RoomServerError('M_UNKNOWN', '/health has no output_head', 'bench_probe');
  return h.output_head;
}

/** Bytes of all files under `dir` (0 when it does not exist). */
export async function dirBytes(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let n = 0;
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += await dirBytes(p);
    else if (e.isFile()) {
      try {
        n += (await stat(p)).size;
      } catch {
        // removed meanwhile (LevelDB compaction)
      }
    }
  }
  return n;
}
