/**
 * The load tool's command: parse options, run the load once (or once per
 * value of a sweep, each against a fresh server unless --target), measure
 * the machine's limits if asked, print the report and write the JSON.
 *
 * Exit codes: 0 done and verified; 1 the run failed or the check found a
 * difference; 2 bad options.
 */
import { writeFile } from 'node:fs/promises';
import { RoomServerError } from '../../src/errors.js';
import { runLoad, type LoadResult } from './driver.js';
import { measureLimits, type Limits } from './limits.js';
import { HELP, parseOptions, withSweepValue, type LoadOptions } from './options.js';
import { Progress, type ProgressStream } from './progress.js';
import { jsonReport, machineInfo, renderRun, renderSweep } from './report.js';
import { connectWs, openEmbedded, spawnServer, type Target } from './target.js';

export interface MainIo {
  out: (s: string) => void;
  err: ProgressStream;
  /** set to true to stop the run early (SIGINT) */
  aborted?: () => boolean;
}

export interface MainResult {
  code: number;
  runs: LoadResult[];
  limits?: Limits;
}

async function openTarget(o: LoadOptions): Promise<Target> {
  switch (o.target) {
    case 'embedded':
      return openEmbedded({ ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}), idleMs: o.serverIdleMs });
    case 'spawn':
      return spawnServer({
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
        idleMs: o.serverIdleMs,
        nodeArgs: o.serverNodeArgs,
        connections: o.connections,
        concurrency: o.concurrency,
        binary: o.binary,
      });
    case 'ws':
      return connectWs(o.url ?? 'ws://127.0.0.1:7770/', {
        connections: o.connections,
        concurrency: o.concurrency,
        binary: o.binary,
        ...(o.token !== undefined ? { token: o.token } : {}),
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
      });
  }
}

/** Runs the tool; never exits the process. */
export async function main(argv: readonly string[], io: MainIo): Promise<MainResult> {
  let options: LoadOptions;
  try {
    const parsed = parseOptions(argv);
    if (parsed.help) {
      io.out(HELP + '\n');
      return { code: 0, runs: [] };
    }
    options = parsed.options;
  } catch (e) {
    if (e instanceof RoomServerError && e.reason === 'bench_options') {
      io.err.write(`bench: ${e.message}\nRun with --help to see every option.\n`);
      return { code: 2, runs: [] };
    }
    throw e;
  }

  const aborted = io.aborted ?? (() => false);
  const progress = new Progress(io.err, options.progress);
  const note = (line: string) => io.err.write(`bench: ${line}\n`);
  const machine = machineInfo();
  const values = options.sweep ? options.sweep.values.map((v) => withSweepValue(options, options.sweep!.name, v)) : [options];
  const runs: LoadResult[] = [];
  for (const o of values) {
    if (aborted()) break;
    if (options.sweep) note(`${options.sweep.name} = ${(o as unknown as Record<string, number>)[options.sweep.name]}`);
    let target: Target;
    try {
      target = await openTarget(o);
    } catch (e) {
      note(`cannot reach the server: ${(e as Error).message}`);
      return { code: 1, runs };
    }
    try {
      runs.push(await runLoad(o, { target, progress, aborted, note }));
    } finally {
      progress.stop();
      await target.close();
    }
    const r = runs[runs.length - 1]!;
    // a long sweep keeps what it has measured so far
    if (options.json && options.sweep) await writeFile(options.json, JSON.stringify(jsonReport(options, runs, machine), null, 2) + '\n');
    if (options.sweep) note(`  ${Math.round(r.load.eventsPerSec)} events/s, p99 ${r.latencyMs.p99.toFixed(1)} ms, verification ${r.verification ? (r.verification.ok ? 'ok' : 'FAILED') : 'skipped'}`);
  }

  let limits: Limits | undefined;
  if (options.limits && !aborted()) {
    progress.start('limits', 1);
    limits = await measureLimits(options.limitSeconds);
    progress.stop();
  }
  if (options.sweep && runs.length > 0) io.out(renderSweep(runs, options.sweep.name, machine, limits) + '\n');
  else if (runs[0]) io.out(renderRun(runs[0], machine, limits) + '\n');
  if (options.json) {
    await writeFile(options.json, JSON.stringify(jsonReport(options, runs, machine, limits), null, 2) + '\n');
    note(`report written to ${options.json}`);
  }
  const ok = runs.length === values.length && runs.every((r) => !r.interrupted && (r.verification?.ok ?? true) && r.load.events === r.planned);
  return { code: ok ? 0 : 1, runs, ...(limits ? { limits } : {}) };
}
