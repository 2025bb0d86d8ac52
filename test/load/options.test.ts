/** The load tool's command line: defaults, every option, and bad input reported all at once with a stable code. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULTS, parseOptions, withSweepValue } from '../../bench/load/options.js';
import { RoomServerError } from '../../src/errors.js';
import { main } from '../../bench/load/main.js';
import { captureIo } from './io.js';

function problem(argv: string[]): RoomServerError {
  try {
    parseOptions(argv);
  } catch (e) {
    assert.instance(e, RoomServerError);
    return e as RoomServerError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

test('no arguments: the documented defaults, embedded', () => {
  const { help, options } = parseOptions([]);
  assert.is(help, false);
  assert.equal(options, { ...DEFAULTS, serverNodeArgs: [] });
  assert.is(options.target, 'embedded');
  assert.is(options.mode, 'send');
});

test('every option is read, in both --name value and --name=value forms', () => {
  const { options: o } = parseOptions([
    '--target', 'ws://127.0.0.1:7770/', '--token=sekrit', '--rooms', '10000', '--events=20', '--connections', '8',
    '--concurrency', '512', '--mode', 'input', '--senders', '3', '--state-ratio', '0.25', '--forks', '0.1',
    '--room-version', '10', '--limits', '--json', 'out.json', '--binary', '--seed', '7', '--no-progress',
    '--verify-rooms', '5', '--verify-states', '6', '--verify-events', '7', '--drain-seconds', '2.5', '--limit-seconds', '0.2',
    '--data-dir', '/tmp/x',
  ]);
  assert.is(o.target, 'ws');
  assert.is(o.url, 'ws://127.0.0.1:7770/');
  assert.is(o.token, 'sekrit');
  assert.is(o.rooms, 10000);
  assert.is(o.events, 20);
  assert.is(o.connections, 8);
  assert.is(o.concurrency, 512);
  assert.is(o.mode, 'input');
  assert.is(o.senders, 3);
  assert.is(o.stateRatio, 0.25);
  assert.is(o.forks, 0.1);
  assert.is(o.roomVersion, '10');
  assert.is(o.limits, true);
  assert.is(o.json, 'out.json');
  assert.is(o.binary, true);
  assert.is(o.seed, 7);
  assert.is(o.progress, false);
  assert.is(o.verifyRooms, 5);
  assert.is(o.verifyStates, 6);
  assert.is(o.verifyEvents, 7);
  assert.is(o.drainSeconds, 2.5);
  assert.is(o.limitSeconds, 0.2);
  assert.is(o.dataDir, '/tmp/x');
});

test('--sweep: a name and its values; each run gets one value', () => {
  const { options: o } = parseOptions(['--sweep', 'rooms=10,1000,10_000,100000', '--events', '2']);
  assert.equal(o.sweep, { name: 'rooms', values: [10, 1000, 10000, 100000] });
  const second = withSweepValue(o, 'rooms', 1000);
  assert.is(second.rooms, 1000);
  assert.is(second.events, 2);
  assert.is(o.rooms, DEFAULTS.rooms, 'the base options are not changed');
});

test('--spawn takes node flags for the server process', () => {
  const { options: o } = parseOptions(['--spawn', '--server-node-args', '--cpu-prof --cpu-prof-dir=prof', '--server-idle-ms', '1000']);
  assert.is(o.target, 'spawn');
  assert.equal(o.serverNodeArgs, ['--cpu-prof', '--cpu-prof-dir=prof']);
  assert.is(o.serverIdleMs, 1000);
});

test('bad values: one M_INVALID_PARAM naming every problem', () => {
  const e = problem(['--rooms', '0', '--events', 'many', '--mode', 'fast', '--state-ratio', '1.5', '--room-version', '13', '--bogus']);
  assert.is(e.code, 'M_INVALID_PARAM');
  assert.is(e.reason, 'bench_options');
  for (const word of ['--rooms', '--events', '--mode', '--state-ratio', '--room-version', 'unknown option --bogus']) {
    assert.ok(e.message.includes(word), `${word} named in: ${e.message}`);
  }
});

test('combinations that cannot work are refused', () => {
  assert.match(problem(['--forks', '0.1']).message, /--forks needs --mode input/);
  assert.match(problem(['--embedded', '--spawn']).message, /choose one/);
  assert.match(problem(['--target', 'http://x:1/']).message, /ws:\/\//);
  assert.match(problem(['--token', 't']).message, /--token applies to --target/);
  assert.match(problem(['--sweep', 'colour=1,2']).message, /--sweep/);
  assert.match(problem(['--sweep', 'rooms=']).message, /--sweep/);
  assert.match(problem(['--sweep', 'rooms=1,2', '--data-dir', 'd']).message, /fresh server/);
  assert.match(problem(['--rooms']).message, /--rooms must be an integer/);
  assert.match(problem(['stray']).message, /unexpected argument/);
});

test('the command: --help prints the options and exits 0; bad options exit 2 without running', async () => {
  const io = captureIo();
  const h = await main(['--help'], io);
  assert.is(h.code, 0);
  for (const opt of ['--target', '--embedded', '--rooms', '--events', '--connections', '--concurrency', '--mode', '--senders', '--state-ratio', '--forks', '--json', '--sweep', '--limits']) {
    assert.ok(io.stdout().includes(opt), `help names ${opt}`);
  }
  const io2 = captureIo();
  const bad = await main(['--rooms', '-1'], io2);
  assert.is(bad.code, 2);
  assert.is(bad.runs.length, 0);
  assert.match(io2.stderr(), /--rooms must be an integer/);
});

test.run();
