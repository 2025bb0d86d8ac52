/**
 * The report: a plain-text table per run (or one row per run for a sweep),
 * and the same numbers as JSON with the options and the machine, for
 * tracking over time.
 */
import { cpus, totalmem, platform, arch } from 'node:os';
import type { LoadResult } from './driver.js';
import type { Limits } from './limits.js';
import type { LoadOptions } from './options.js';

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  arch: string;
  memoryBytes: number;
  date: string;
}

export function machineInfo(now = new Date()): Machine {
  const c = cpus();
  return { cpu: c[0]?.model.trim() ?? 'unknown', cores: c.length, node: process.version, platform: platform(), arch: arch(), memoryBytes: totalmem(), date: now.toISOString() };
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtMs(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function fmtBytes(n: number): string {
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  if (a < 1024) return `${sign}${a.toFixed(0)} B`;
  if (a < 1024 * 1024) return `${sign}${(a / 1024).toFixed(1)} KB`;
  if (a < 1024 ** 3) return `${sign}${(a / 1024 / 1024).toFixed(1)} MB`;
  return `${sign}${(a / 1024 ** 3).toFixed(2)} GB`;
}

/** Cores kept busy by a cost of `usPerEvent` µs of CPU per event at `eventsPerSec`. */
function coresBusy(usPerEvent: number, eventsPerSec: number): number {
  return (usPerEvent * eventsPerSec) / 1e6;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}

function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const r of all) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = all.map(line);
  if (header) out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out.join('\n');
}

function describeLoad(o: LoadOptions): string {
  return (
    `${fmtInt(o.rooms)} rooms x ${fmtInt(o.events)} events, --mode ${o.mode}, room version ${o.roomVersion}, ` +
    `${o.senders} sender${o.senders === 1 ? '' : 's'}/room, state ratio ${o.stateRatio}, forks ${o.forks}, ` +
    `concurrency ${o.concurrency}${o.target === 'embedded' ? '' : `, ${o.connections} connection${o.connections === 1 ? '' : 's'}, ${o.binary ? 'msgpack' : 'JSON'} frames`}`
  );
}

export function describeMachine(m: Machine): string {
  return `${m.cpu} x ${m.cores} cores, ${fmtBytes(m.memoryBytes)} RAM, Node ${m.node}, ${m.platform} ${m.arch}, ${m.date.slice(0, 16).replace('T', ' ')} UTC`;
}

function loadText(r: LoadResult): string {
  return `${r.loadAverage.start.toFixed(1)} -> ${r.loadAverage.end.toFixed(1)} during the measured phase`;
}

/** The garbage collector's pauses of the measured phase, by kind, with the share of the phase they took. */
export function gcText(r: LoadResult): string | undefined {
  const g = r.gcPauses;
  if (!g) return undefined;
  const share = (ms: number) => pct(ms / 1000 / r.load.seconds);
  const kind = (name: string, k: { count: number; ms: number; maxMs: number; over10ms: number }, long: boolean) =>
    k.count === 0
      ? `${name} none`
      : `${name} ${fmtInt(k.count)}: ${fmtInt(k.ms)} ms (${share(k.ms)} of the run), longest ${fmtMs(k.maxMs)} ms${long ? `, ${fmtInt(k.over10ms)} of 10 ms or more` : ''}`;
  return `${kind('young', g.minor, true)}; ${kind('full', g.major, false)}; ${kind('marking', g.incremental, false)}${g.shared ? ' (load tool included)' : ''}`;
}

function errorsText(r: LoadResult): string {
  const parts = Object.entries(r.errors).map(([k, v]) => `${k} ${fmtInt(v)}`);
  for (const [k, v] of Object.entries(r.statuses)) if (k !== 'accepted') parts.push(`status ${k} ${fmtInt(v)}`);
  if (r.skipped) parts.push(`${fmtInt(r.skipped)} events not sent (an earlier event of their room failed)`);
  return parts.length ? parts.join(', ') : 'none';
}

function verificationText(r: LoadResult): string {
  const v = r.verification;
  if (!v) return r.interrupted ? 'skipped (interrupted)' : 'skipped (--no-verify)';
  return v.ok ? 'OK: the server holds exactly the acknowledged events' : 'FAILED: see below';
}

/** The limits rows: each bare limit, and the result as a share of it. */
function limitRows(r: LoadResult | undefined, l: Limits, cores?: number): string[][] {
  const rows: string[][] = [];
  const evs = r?.load.eventsPerSec;
  const share = (limit: number, why: string) => (evs === undefined ? '' : `events/s = ${pct(evs / limit)} of it (${why})`);
  rows.push([
    'ed25519 sign/s (1 core)',
    fmtInt(l.signPerSec),
    r?.options.mode === 'send' ? share(l.signPerSec, 'send: the server signs every event') : '',
  ]);
  rows.push([
    'ed25519 verify/s (1 core)',
    fmtInt(l.verifyPerSec),
    r?.options.mode === 'input' ? share(l.verifyPerSec, 'input: the server verifies every event') : '',
  ]);
  rows.push(['LevelDB put/s (batches of ' + fmtInt(l.levelBatch) + ')', fmtInt(l.levelPutPerSec), share(l.levelPutPerSec, 'each event writes several keys')]);
  // What a run on one machine also runs into: its cores, and the one thread every room actor shares.
  const cpu = r?.cpuPerEventUs;
  if (evs !== undefined && cpu !== undefined && cores !== undefined && cores > 0) {
    const used = coresBusy(cpu.server + (cpu.tool ?? 0), evs);
    rows.push([`CPU cores (${cores})`, '', `${used.toFixed(2)} of them busy = ${pct(used / cores)} (server${cpu.tool !== undefined ? ' and load tool' : ', load tool included'})`]);
  }
  const th = r?.threadCpuUs;
  if (evs !== undefined && th !== undefined) {
    rows.push(['server main thread (1 core)', '', `${pct(coresBusy(th.main, evs))} busy${th.shared ? ' (shared with the load tool)' : ''}: room actors, gateway, store bookkeeping`]);
  }
  return rows;
}

/** The report of one run. */
export function renderRun(r: LoadResult, machine: Machine, limits?: Limits): string {
  const o = r.options;
  const mem = r.memory;
  const rows: string[][] = [];
  rows.push(['events/s', `${fmtInt(r.load.eventsPerSec)}  (${fmtInt(r.load.events)} of ${fmtInt(r.planned)} events accepted in ${r.load.seconds.toFixed(1)} s, ${fmtInt(r.load.requests)} requests)`]);
  const l = r.latencyMs;
  rows.push(['input latency ms', `p50 ${fmtMs(l.p50)}  p95 ${fmtMs(l.p95)}  p99 ${fmtMs(l.p99)}  max ${fmtMs(l.max)}  (mean ${fmtMs(l.mean)}, per request)`]);
  const g = r.lagMs;
  rows.push(['output lag ms', `p50 ${fmtMs(g.p50)}  p99 ${fmtMs(g.p99)}  max ${fmtMs(g.max)}  (${fmtInt(g.count)} of ${fmtInt(g.expected)} outputs arrived)`]);
  const cpu = r.cpuPerEventUs;
  if (cpu) {
    const cores = machine.cores;
    const busy = (us: number) => `${coresBusy(us, r.load.eventsPerSec).toFixed(2)} of ${cores} cores`;
    rows.push([
      'CPU per event',
      cpu.tool === undefined
        ? `${fmtInt(cpu.server)} µs (server and load tool in one process; ${busy(cpu.server)})`
        : `server ${fmtInt(cpu.server)} µs (${busy(cpu.server)}), load tool ${fmtInt(cpu.tool)} µs (${busy(cpu.tool)})`,
    ]);
  }
  const th = r.threadCpuUs;
  if (th) {
    const share = (us: number) => pct(coresBusy(us, r.load.eventsPerSec));
    const shown = th.others.slice(0, 8).map((us) => (us >= 5 ? `${fmtInt(us)} (${share(us)})` : fmtInt(us)));
    const rest = th.others.length > 8 ? `, ${th.others.length - 8} more` : '';
    rows.push([
      'server threads',
      `main ${fmtInt(th.main)} µs (${share(th.main)} busy${th.shared ? ', load tool included' : ''}); others ${shown.join(', ') || 'none'}${rest} µs per event`,
    ]);
  }
  const gcLine = gcText(r);
  if (gcLine !== undefined) rows.push(['server GC pauses', gcLine]);
  rows.push(['setup', `${fmtInt(r.setup.rooms)} rooms, ${fmtInt(r.setup.events)} events in ${r.setup.seconds.toFixed(1)} s (${fmtInt(r.setup.eventsPerSec)} events/s)${r.buildSeconds ? `; events built and signed beforehand in ${r.buildSeconds.toFixed(1)} s` : ''}`]);
  if (mem.after) {
    const b = mem.baseline;
    rows.push(['server RSS', `${fmtBytes(mem.after.rssBytes)}${b ? `  (${fmtBytes(mem.after.rssBytes - b.rssBytes)} over the run)` : ''}`]);
    rows.push(['server heap used', `${fmtBytes(mem.after.heapUsedBytes)}${b ? `  (${fmtBytes(mem.after.heapUsedBytes - b.heapUsedBytes)} over the run)` : ''}${mem.after.afterGc ? ', after a full GC' : ''}`]);
    if (mem.heapPerRoomBytes !== undefined) rows.push(['heap per room', `${fmtBytes(mem.heapPerRoomBytes)}  (RSS per room ${fmtBytes(mem.rssPerRoomBytes ?? 0)})`]);
  } else {
    rows.push(['server memory', 'not available']);
  }
  rows.push([
    'disk per event',
    r.disk.bytesPerEvent !== undefined ? `${fmtBytes(r.disk.bytesPerEvent)}  (${fmtBytes(r.disk.bytes ?? 0)} for ${fmtInt(r.disk.events)} events, setup included)` : r.disk.source,
  ]);
  rows.push(['errors', errorsText(r)]);
  rows.push(['verification', verificationText(r)]);
  const out: string[] = [];
  out.push(`load     ${describeLoad(o)}`);
  out.push(`target   ${r.target} (server name ${r.serverName})`);
  out.push(`machine  ${describeMachine(machine)}; load average ${loadText(r)}`);
  if (r.interrupted) out.push('INTERRUPTED: the numbers cover the part that ran');
  out.push('');
  out.push(table(rows));
  if (r.verification) {
    out.push('');
    for (const c of r.verification.checks) {
      out.push(`  ${c.failed ? 'FAIL' : 'ok  '}  ${c.name}: ${fmtInt(c.checked)}${c.of !== c.checked ? ` of ${fmtInt(c.of)} (sample)` : ''}${c.failed ? `, ${fmtInt(c.failed)} wrong` : ''}`);
      for (const e of c.examples) out.push(`          ${e}`);
    }
  }
  out.push('');
  out.push(`memory: ${mem.source}`);
  if (mem.after && !mem.after.afterGc) out.push('        (no forced GC: heap figures include garbage not yet collected)');
  if (r.threadCpuUs) {
    out.push("threads: from /proc; the others are the crypto worker, LevelDB's compaction thread, libuv's pool and V8's collector helpers (Node names none of them)");
  }
  if (limits) {
    out.push('');
    out.push(table(limitRows(r, limits, machine.cores), ['limit', 'per second', 'this run']));
  }
  return out.join('\n');
}

/** One row per run of a sweep, then how memory per room changes with the swept value. */
export function renderSweep(results: LoadResult[], name: string, machine: Machine, limits?: Limits): string {
  const header = [name, 'events', 'events/s', 'load avg', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'lag p50', 'lag p99', 'heap/room', 'RSS/room', 'disk/event', 'setup s', 'errors', 'verified'];
  const rows = results.map((r) => [
    fmtInt((r.options as unknown as Record<string, number>)[name] ?? 0),
    fmtInt(r.load.events),
    fmtInt(r.load.eventsPerSec),
    `${r.loadAverage.start.toFixed(1)}-${r.loadAverage.end.toFixed(1)}`,
    fmtMs(r.latencyMs.p50),
    fmtMs(r.latencyMs.p95),
    fmtMs(r.latencyMs.p99),
    fmtMs(r.latencyMs.max),
    fmtMs(r.lagMs.p50),
    fmtMs(r.lagMs.p99),
    r.memory.heapPerRoomBytes !== undefined ? fmtBytes(r.memory.heapPerRoomBytes) : '-',
    r.memory.rssPerRoomBytes !== undefined ? fmtBytes(r.memory.rssPerRoomBytes) : '-',
    r.disk.bytesPerEvent !== undefined ? fmtBytes(r.disk.bytesPerEvent) : '-',
    r.setup.seconds.toFixed(1),
    errorsText(r) === 'none' ? '0' : String(Object.values(r.errors).reduce((a, b) => a + b, 0) + Object.entries(r.statuses).filter(([k]) => k !== 'accepted').reduce((a, [, v]) => a + v, 0) + r.skipped),
    r.interrupted ? 'interrupted' : r.verification ? (r.verification.ok ? 'ok' : 'FAILED') : '-',
  ]);
  const first = results[0]!;
  const out: string[] = [];
  out.push(`sweep    ${name} = ${results.map((r) => fmtInt((r.options as unknown as Record<string, number>)[name] ?? 0)).join(', ')}`);
  out.push(`load     ${describeLoad(first.options).replace(/^[\d,]+ rooms/, name === 'rooms' ? `${name} swept` : '$&')}`);
  out.push(`target   ${first.target.replace(/, pid \d+/, '')}`);
  out.push(`machine  ${describeMachine(machine)}`);
  out.push('');
  out.push(table(rows, header));
  const flat = memoryFlatness(results, name);
  if (flat) out.push('', flat);
  for (const r of results) {
    if (r.verification && !r.verification.ok) {
      out.push('', `verification failed at ${name} = ${fmtInt((r.options as unknown as Record<string, number>)[name] ?? 0)}:`);
      for (const c of r.verification.checks.filter((c) => c.failed)) out.push(`  ${c.name}: ${c.failed} wrong; ${c.examples[0] ?? ''}`);
    }
  }
  out.push('', `memory: ${first.memory.source}`);
  if (limits) out.push('', table(limitRows(undefined, limits), ['limit', 'per second', '']));
  return out.join('\n');
}

/** For a rooms sweep: heap per room, largest over smallest, among runs with at least 1,000 rooms. */
export function memoryFlatness(results: LoadResult[], name: string): string | undefined {
  if (name !== 'rooms') return undefined;
  const big = results.filter((r) => !r.interrupted && r.rooms >= 1000 && r.memory.heapPerRoomBytes !== undefined && r.memory.heapPerRoomBytes > 0);
  if (big.length < 2) return undefined;
  const per = big.map((r) => r.memory.heapPerRoomBytes!);
  const ratio = Math.max(...per) / Math.min(...per);
  const first = per[0]!;
  const last = per[per.length - 1]!;
  const trend = ratio <= 2 ? 'flat within 2x' : last > first ? 'NOT flat within 2x: it grows with the number of rooms' : 'NOT flat within 2x: it falls as rooms grow (fixed costs spread over more rooms, or idle rooms passivated)';
  return `heap per room from ${fmtInt(big[0]!.rooms)} to ${fmtInt(big[big.length - 1]!.rooms)} rooms: ${fmtBytes(first)} -> ${fmtBytes(last)} (min ${fmtBytes(Math.min(...per))}, max ${fmtBytes(Math.max(...per))}), largest/smallest = ${ratio.toFixed(2)}x, ${trend}`;
}

export interface JsonReport {
  tool: 'roomserver-load';
  /** the node flags of the load tool's own process (see relaunch.ts) */
  toolNodeFlags: string[];
  machine: Machine;
  options: LoadOptions;
  runs: LoadResult[];
  limits?: Limits;
}

export function jsonReport(options: LoadOptions, runs: LoadResult[], machine: Machine, limits?: Limits): JsonReport {
  return { tool: 'roomserver-load', toolNodeFlags: [...process.execArgv], machine, options, runs, ...(limits ? { limits } : {}) };
}
