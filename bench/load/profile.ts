/**
 * Summarises a V8 `.cpuprofile` (from `--cpu-prof`, e.g. a server started
 * with `--spawn --server-node-args "--cpu-prof --cpu-prof-dir=prof"`):
 * where the time goes, by function (self and total time, with file:line),
 * and by file.
 *
 *   node --import tsx bench/load/profile.ts prof/CPU....cpuprofile [--top 30] [--filter src/]
 */
import { readFileSync, readdirSync, statSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotSpot {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes a source map's `mappings` into, per generated line, [generated column, source line] pairs. */
export function decodeMappings(mappings: string): Array<Array<[number, number]>> {
  const lines: Array<Array<[number, number]>> = [];
  let srcLine = 0;
  for (const lineText of mappings.split(';')) {
    const segs: Array<[number, number]> = [];
    let genCol = 0;
    for (const seg of lineText.split(',')) {
      if (seg === '') continue;
      const vals: number[] = [];
      let shift = 0;
      let value = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          vals.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += vals[0] ?? 0;
      if (vals.length >= 4) {
        srcLine += vals[2]!;
        segs.push([genCol, srcLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/**
 * tsx runs TypeScript as one-line minified code, so profile positions are
 * columns of that line. Its cache (`<tmpdir>/tsx-<uid>`) keeps each
 * transform with its source map: the newest entry for a file maps a
 * column back to the source line (right as long as the file has not
 * changed since the profile was taken).
 */
export function tsxLineResolver(cacheDir = join(tmpdir(), `tsx-${process.getuid?.() ?? 0}`)): (file: string, line: number, column: number) => number | undefined {
  const newest = new Map<string, { mtime: number; path: string }>();
  let names: string[] = [];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return () => undefined;
  }
  for (const name of names) {
    const path = join(cacheDir, name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const m = /"sources":\["([^"]+)"\]/.exec(text.slice(-2000));
    if (!m) continue;
    const mtime = statSync(path).mtimeMs;
    const prev = newest.get(m[1]!);
    if (!prev || prev.mtime < mtime) newest.set(m[1]!, { mtime, path });
  }
  const decoded = new Map<string, Array<Array<[number, number]>>>();
  return (file, line, column) => {
    const entry = newest.get(file);
    if (!entry) return undefined;
    let map = decoded.get(file);
    if (!map) {
      const j = JSON.parse(readFileSync(entry.path, 'utf8')) as { map?: { mappings?: string } };
      map = decodeMappings(j.map?.mappings ?? '');
      decoded.set(file, map);
    }
    const segs = map[line];
    if (!segs || segs.length === 0) return undefined;
    let best: number | undefined;
    for (const [col, src] of segs) {
      if (col > column) break;
      best = src;
    }
    return best === undefined ? undefined : best + 1;
  };
}

function shortUrl(url: string): string {
  const i = url.indexOf('/work/main/');
  if (i >= 0) return url.slice(i + '/work/main/'.length);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm);
  return url.replace(/^file:\/\//, '') || '(native)';
}

/** Self and total milliseconds per function (total counts a function once per sample, recursion included). */
export function hotSpots(
  p: CpuProfile,
  sourceLine: (file: string, line: number, column: number) => number | undefined = () => undefined,
): { byFunction: HotSpot[]; byFile: Array<{ file: string; selfMs: number }>; totalMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (f: CallFrame) => {
    const path = f.url.replace(/^file:\/\//, '');
    const line = path.endsWith('.ts') ? (sourceLine(path, f.lineNumber, f.columnNumber) ?? f.lineNumber + 1) : f.lineNumber + 1;
    return `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${line}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  const sampleMs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    sampleMs.set(p.samples[i]!, (sampleMs.get(p.samples[i]!) ?? 0) + dt);
  }
  let all = 0;
  for (const [id, ms] of sampleMs) {
    all += ms;
    const n = byId.get(id)!;
    const k = key(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + ms);
    const file = shortUrl(n.callFrame.url);
    fileSelf.set(file, (fileSelf.get(file) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const kk = key(byId.get(cur)!.callFrame);
      if (seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + ms);
    }
  }
  const byFunction = [...total.entries()].map(([k, t]) => {
    const sp = k.lastIndexOf(' ');
    return { name: k.slice(0, sp), where: k.slice(sp + 1), selfMs: self.get(k) ?? 0, totalMs: t };
  });
  const byFile = [...fileSelf.entries()].map(([file, selfMs]) => ({ file, selfMs })).sort((a, b) => b.selfMs - a.selfMs);
  return { byFunction, byFile, totalMs: all };
}

function isEntry(): boolean {
  try {
    return realpathSync(resolve(process.argv[1] ?? '')) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/load/profile.ts FILE.cpuprofile [--top N] [--filter TEXT]\n');
    process.exit(2);
  }
  const arg = (n: string) => {
    const i = process.argv.indexOf(n);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const top = Number(arg('--top') ?? 30);
  const filter = arg('--filter');
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const h = hotSpots(p, tsxLineResolver());
  const pct = (ms: number) => ((ms / h.totalMs) * 100).toFixed(1).padStart(5) + '%';
  const fns = filter ? h.byFunction.filter((f) => f.where.includes(filter)) : h.byFunction;
  const lines: string[] = [];
  lines.push(`profile: ${(h.totalMs / 1000).toFixed(1)} s of samples`);
  lines.push('', 'self time by function');
  for (const f of [...fns].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) lines.push(`${pct(f.selfMs)}  ${f.name}  ${f.where}`);
  lines.push('', 'total time by function (callees included)');
  for (const f of [...fns].sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) lines.push(`${pct(f.totalMs)}  ${f.name}  ${f.where}`);
  lines.push('', 'self time by file');
  for (const f of h.byFile.slice(0, top)) lines.push(`${pct(f.selfMs)}  ${f.file}`);
  process.stdout.write(lines.join('\n') + '\n');
}
