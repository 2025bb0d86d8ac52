#!/usr/bin/env node
// Runs the type check, then every test file under test/ in its own process
// (so one file's open handles or crash cannot hide another's results), and
// ends with the plain line "N passed, N failed". Exits non-zero on any
// failure, on a type error, or when no test ran.
//
//   npm test                 # everything
//   npm test -- auth stateres  # only files whose path contains a word
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cpus } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const skipTypecheck = process.argv.includes('--no-typecheck');
const perFileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 240_000);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

function run(cmd, args, { timeoutMs, quiet } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { NODE_ENV: 'test', ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    let timedOut = false;
    const timer = timeoutMs ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs) : null;
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? 1, signal, out, timedOut });
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;

if (!skipTypecheck) {
  const tc = await run(join(root, 'node_modules/.bin/tsc'), ['--noEmit', '-p', root]);
  if (tc.code !== 0) {
    process.stdout.write(tc.out);
    console.log('type check: FAILED');
    failed += 1;
  } else {
    console.log('type check: ok');
  }
}

const files = findTests(join(root, 'test')).filter(
  (f) => filters.length === 0 || filters.some((w) => relative(root, f).includes(w)),
);
const uvuBin = join(root, 'node_modules/uvu/bin.js');
const queue = [...files];
const results = [];
const workers = Math.max(1, Math.min(Number(process.env.TEST_JOBS ?? cpus().length), 2));

async function worker() {
  for (;;) {
    const file = queue.shift();
    if (!file) return;
    const rel = relative(root, file);
    const t0 = Date.now();
    const r = await run(process.execPath, ['--import', 'tsx', uvuBin, '-c', 'false', 'test', rel.slice('test/'.length).replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$'], { timeoutMs: perFileTimeoutMs });
    const total = Number(/Total:\s+(\d+)/.exec(r.out)?.[1] ?? 0);
    const ok = Number(/Passed:\s+(\d+)/.exec(r.out)?.[1] ?? 0);
    const skip = Number(/Skipped:\s+(\d+)/.exec(r.out)?.[1] ?? 0);
    let fileFailed = total - ok - skip;
    if (r.code !== 0 && fileFailed === 0) fileFailed = 1; // crashed, hung or failed outside a test
    results.push({ rel, total, ok, skip, fileFailed, ms: Date.now() - t0, r });
    const status = fileFailed ? 'FAIL' : 'ok  ';
    console.log(`${status} ${rel}  ${ok}/${total - skip}${skip ? ` (${skip} skipped)` : ''}  ${((Date.now() - t0) / 1000).toFixed(1)}s${r.timedOut ? '  TIMED OUT' : ''}`);
    if (fileFailed || process.env.TEST_VERBOSE) process.stdout.write(r.out.replace(/^/gm, '    | ') + '\n');
    passed += ok;
    skipped += skip;
    failed += fileFailed;
  }
}
await Promise.all(Array.from({ length: workers }, worker));

const ranNone = passed + failed === 0 || files.length === 0;
if (ranNone) console.log('no test ran');
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || ranNone ? 1 : 0);
