/** Configuration: precedence, parsing, validation messages, loopback rule. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, FIELDS, helpText, isLoopback, loadConfig, type Config } from '../../src/config.js';

const cwd = mkdtempSync(join(tmpdir(), 'rs-config-'));

function load(argv: string[], env: Record<string, string> = {}): Config {
  const r = loadConfig(argv, env, cwd);
  if (r.help) throw new Error('unexpected help');
  return r.config;
}

function problems(argv: string[], env: Record<string, string> = {}): string[] {
  try {
    load(argv, env);
  } catch (e) {
    assert.instance(e, ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function file(obj: unknown, name = 'c.json'): string {
  const p = join(cwd, name);
  writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return p;
}

test('defaults', () => {
  const c = load([]);
  assert.is(c.serverName, 'localhost');
  assert.is(c.host, '127.0.0.1');
  assert.is(c.port, 7770);
  assert.is(c.dataDir, join(cwd, 'data'));
  assert.is(c.signingKeyFile, join(cwd, 'data', 'signing.key'));
  assert.equal(c.tokens, {});
  assert.equal(c.peers, {});
  assert.is(c.limits.maxFrameBytes, 16 * 1024 * 1024);
  assert.is(c.fsync, false);
  assert.is(c.compactionNice, 19);
});

test('compaction nice: 0-19, from a flag, the file or env', () => {
  assert.is(load(['--compaction-nice', '0']).compactionNice, 0);
  assert.is(load(['--config', file({ compactionNice: 5 })]).compactionNice, 5);
  assert.is(load([], { ROOMSERVER_COMPACTION_NICE: '12' }).compactionNice, 12);
  assert.match(problems(['--compaction-nice', '20']).join(), /compactionNice \(from --compaction-nice\): must be an integer 0-19, got "20"/);
  assert.match(problems([], { ROOMSERVER_COMPACTION_NICE: '-1' }).join(), /compactionNice \(from ROOMSERVER_COMPACTION_NICE\): must be an integer 0-19/);
});

test('flags override the file, which overrides env, which overrides defaults', () => {
  const cfg = file({ serverName: 'file.test', port: 8001, dataDir: 'fdata', limits: { roomQueue: 7 }, fsync: true });
  const env = { ROOMSERVER_SERVER_NAME: 'env.test', ROOMSERVER_PORT: '8002', ROOMSERVER_HOST: '::1', ROOMSERVER_ROOM_QUEUE: '9', ROOMSERVER_MAX_IN_FLIGHT: '33' };
  let c = load(['--config', cfg], env);
  assert.is(c.serverName, 'file.test');
  assert.is(c.port, 8001);
  assert.is(c.host, '::1', 'env where the file says nothing');
  assert.is(c.limits.roomQueue, 7);
  assert.is(c.limits.maxInFlight, 33);
  assert.is(c.dataDir, join(cwd, 'fdata'));
  assert.is(c.signingKeyFile, join(cwd, 'fdata', 'signing.key'), 'key file follows the data dir');
  assert.is(c.fsync, true);
  c = load(['--config', cfg, '--port', '0', '--server-name=flag.test', '--data-dir', '/abs/d', '--no-fsync'], env);
  assert.is(c.port, 0);
  assert.is(c.serverName, 'flag.test');
  assert.is(c.dataDir, '/abs/d');
  assert.is(c.fsync, false);
  c = load([], { ...env, ROOMSERVER_CONFIG: cfg });
  assert.is(c.serverName, 'file.test', 'ROOMSERVER_CONFIG names the file');
  c = load(['--fsync'], {});
  assert.is(c.fsync, true);
});

test('JSON fields from the file and from env', () => {
  const peers = { 'b.test': { url: 'ws://127.0.0.1:7771/', token: 'secret-from-b' } };
  const tokens = { 'admin-token-123': 'admin', 'peer-token-1234': { role: 'peer', server: 'b.test' } };
  const trustedKeys = { 'c.test': { 'ed25519:1': 'l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ' } };
  let c = load(['--config', file({ peers, tokens, trustedKeys, host: '0.0.0.0' })]);
  assert.equal(c.peers, peers);
  assert.equal(c.tokens, tokens);
  assert.equal(c.trustedKeys, trustedKeys);
  assert.is(c.host, '0.0.0.0', 'non-loopback is fine with tokens');
  c = load([], { ROOMSERVER_PEERS: JSON.stringify(peers), ROOMSERVER_TOKENS: JSON.stringify(tokens) });
  assert.equal(c.peers, peers);
  assert.equal(c.tokens, tokens);
});

test('every problem is reported at once, naming the field and its source', () => {
  const ps = problems(['--port', 'abc', '--bogus', '--max-frame-bytes', '12', '--server-name', 'bad name!'], { ROOMSERVER_IDLE_TIMEOUT_MS: '-5', ROOMSERVER_FSYNC: 'maybe' });
  const text = ps.join('\n');
  assert.match(text, /unknown option --bogus/);
  assert.match(text, /port \(from --port\): must be a port number 0-65535, got "abc"/);
  assert.match(text, /limits\.maxFrameBytes \(from --max-frame-bytes\): must be an integer >= 1024/);
  assert.match(text, /idleTimeoutMs \(from ROOMSERVER_IDLE_TIMEOUT_MS\)/);
  assert.match(text, /fsync \(from ROOMSERVER_FSYNC\): must be true or false/);
  assert.match(text, /serverName "bad name!"/);
  assert.is(ps.length, 6);
  assert.match(problems(['--port']).join(), /--port needs a value/);
  assert.match(problems(['stray']).join(), /unexpected argument "stray"/);
});

test('bad files and bad JSON fields', () => {
  assert.match(problems(['--config', join(cwd, 'missing.json')]).join(), /does not exist/);
  assert.match(problems(['--config', file('{ nope', 'bad.json')]).join(), /bad\.json/);
  assert.match(problems(['--config', file([1], 'arr.json')]).join(), /must hold a JSON object/);
  assert.match(problems(['--config', file({ prot: 1 }, 'typo.json')]).join(), /unknown field "prot"/);
  assert.match(problems(['--config', file({ limits: { maxFrames: 1 } }, 'typo2.json')]).join(), /unknown field "limits\.maxFrames"/);
  assert.match(problems(['--config', file({ port: '80' }, 'str.json')]).join(), /port \(from config file\)/);
  assert.match(problems([], { ROOMSERVER_PEERS: '{not json' }).join(), /peers \(from ROOMSERVER_PEERS\): must be a JSON object/);
  const ps = problems(['--config', file({
    tokens: { short: 'admin', 'peer-token-1234': { role: 'peer' } },
    peers: { 'b.test': { url: 'http://x' }, 'c.test': 'ws://x' },
    trustedKeys: { 'd.test': { 'rsa:1': 'AAAA' } },
  }, 'sem.json')]).join('\n');
  assert.match(ps, /at least 8 characters/);
  assert.match(ps, /needs "server"/);
  assert.match(ps, /peers\["b\.test"\]\.url: must be a ws:\/\/ or wss:\/\/ URL/);
  assert.match(ps, /peers\["c\.test"\]: must be/);
  assert.match(ps, /key id "rsa:1"/);
  assert.match(ps, /32-byte ed25519 key/);
  assert.not.match(ps, /short/, 'tokens are not echoed in full');
});

test('without tokens only loopback addresses may be bound', () => {
  assert.match(problems(['--host', '0.0.0.0']).join(), /refusing to listen on 0\.0\.0\.0 without any token/);
  assert.match(problems(['--host', '192.168.1.5']).join(), /refusing/);
  assert.match(problems(['--host', '::']).join(), /refusing/);
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
    assert.ok(isLoopback(h), h);
    assert.is(load(['--host', h]).host, h);
  }
  for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.org', '::ffff:10.0.0.1']) assert.not.ok(isLoopback(h), h);
});

test('--help lists every field with its flag, file key and env variable', () => {
  assert.equal(loadConfig(['--port', '1', '--help'], {}, cwd), { help: true });
  assert.equal(loadConfig(['-h'], {}, cwd), { help: true });
  const h = helpText();
  for (const f of FIELDS) {
    assert.ok(h.includes(`"${f.key}"`), f.key);
    assert.ok(h.includes(f.env), f.env);
    if (f.flag) assert.ok(h.includes(f.flag), f.flag);
  }
  for (const flag of ['--host', '--port', '--data-dir', '--server-name', '--config']) assert.ok(h.includes(flag), flag);
});

test.run();
