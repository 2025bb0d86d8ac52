/** The load tool starts itself again with its own young generation when the server runs elsewhere (bench/load/relaunch.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELAUNCHED_ENV, relaunchFlags, TOOL_SEMI_SPACE_FLAG } from '../../bench/load/relaunch.js';

const SERVER_FLAGS = ['--max-semi-space-size=64', '--no-parallel-scavenge', '--import', 'tsx'];

test('--spawn and --target: the server\'s young generation is swapped for the tool\'s, other flags kept', () => {
  for (const args of [['--spawn', '--rooms', '5'], ['--target', 'ws://127.0.0.1:1/'], ['--target=ws://127.0.0.1:1/']]) {
    assert.equal(relaunchFlags(args, SERVER_FLAGS, {}), ['--no-parallel-scavenge', '--import', 'tsx', TOOL_SEMI_SPACE_FLAG], args.join(' '));
  }
});

test('no relaunch: embedded (the default), already relaunched, already the tool\'s flag, --help', () => {
  assert.is(relaunchFlags(['--rooms', '5'], SERVER_FLAGS, {}), undefined);
  assert.is(relaunchFlags(['--embedded'], SERVER_FLAGS, {}), undefined);
  assert.is(relaunchFlags(['--spawn'], SERVER_FLAGS, { [RELAUNCHED_ENV]: '1' }), undefined);
  assert.is(relaunchFlags(['--spawn'], [TOOL_SEMI_SPACE_FLAG, '--import', 'tsx'], {}), undefined);
  assert.is(relaunchFlags(['--spawn', '--help'], SERVER_FLAGS, {}), undefined);
  // node without a young-generation flag gets the tool's
  assert.equal(relaunchFlags(['--spawn'], ['--import', 'tsx'], {}), ['--import', 'tsx', TOOL_SEMI_SPACE_FLAG]);
});

test('a --spawn run started with the server\'s flags runs its load with the tool\'s, and exits with its code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-relaunch-'));
  try {
    const script = fileURLToPath(new URL('../../bench/load.ts', import.meta.url));
    const json = join(dir, 'r.json');
    const ok = spawnSync(process.execPath, [...SERVER_FLAGS, script, '--spawn', '--rooms', '2', '--events', '2', '--senders', '1', '--no-progress', '--json', json], { encoding: 'utf8', timeout: 120_000 });
    assert.is(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /verification\s+OK/);
    const flags = (JSON.parse(readFileSync(json, 'utf8')) as { toolNodeFlags: string[] }).toolNodeFlags;
    assert.ok(flags.includes(TOOL_SEMI_SPACE_FLAG) && !flags.includes('--max-semi-space-size=64'), JSON.stringify(flags));
    // a failing child's exit code comes through
    const bad = spawnSync(process.execPath, [...SERVER_FLAGS, script, '--target', 'ws://127.0.0.1:1/', '--no-progress'], { encoding: 'utf8', timeout: 60_000 });
    assert.is(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /cannot reach|cannot connect/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
