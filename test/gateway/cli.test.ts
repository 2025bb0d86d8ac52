/**
 * The server command as a user runs it: `npm start`'s command from a
 * temporary folder, two server processes peering over WebSocket, and the
 * command's exit codes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { RoomServerClient } from '../../src/client/client.js';
import type { NewRoomEventOutput } from '../../src/api.js';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// `--import tsx` resolves from the working directory; from a temporary folder name the loader by path
const tsxLoader = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href;
/** `npm start`'s command line (package.json), made runnable from any folder */
const startArgs: string[] = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  .trim()
  .split(/\s+/)
  .slice(1) // node
  .map((a, i, all) => (a === 'tsx' && all[i - 1] === '--import' ? tsxLoader : a.endsWith('.ts') ? join(root, a) : a));
const dirs: string[] = [];
const children = new Set<ChildProcess>();

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rs-cli-'));
  dirs.push(d);
  return d;
}

interface Proc {
  child: ChildProcess;
  url: string;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[], cwd: string, env: Record<string, string> = {}): { child: ChildProcess; out: () => string; err: () => string; exit: Proc['exit'] } {
  const child = spawn(process.execPath, [...startArgs, ...args], {
    cwd,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, out: () => out, err: () => err, exit };
}

async function startServer(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Proc> {
  const p = run(args, cwd, env);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = /listening on (ws:\/\/\S+)/.exec(p.out());
    if (m) return { child: p.child, url: m[1]!, out: p.out, exit: p.exit };
    if (p.child.exitCode !== null) throw new Error(`server exited ${p.child.exitCode}: ${p.out()} ${p.err()}`);
    if (Date.now() > deadline) throw new Error(`no listening line: ${p.out()} ${p.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// children never outlive this file, even when a test fails or hangs
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

test.after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('npm start and npm run bench (embedded server) run node with the server flags the load tool gives a spawned server', () => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.ok(SERVER_NODE_FLAGS.length > 0);
  for (const name of ['start', 'bench']) {
    const words = scripts[name]!.split(/\s+/);
    for (const f of SERVER_NODE_FLAGS) assert.ok(words.includes(f), `scripts.${name} lacks ${f}`);
  }
});

test('npm start from a temporary folder: connect, create a room, send, read it from a subscription, SIGTERM exits 0', async () => {
  const cwd = tempDir();
  const srv = await startServer(['--port', '0', '--server-name', 'cli.test'], cwd);
  assert.match(srv.url, /^ws:\/\/127\.0\.0\.1:\d+\/$/);
  assert.ok(existsSync(join(cwd, 'data', 'signing.key')), 'key generated in ./data of the working folder');
  const c = await RoomServerClient.connect(srv.url, { binary: true });
  const sub = await c.subscribe();
  const room = await c.createRoom({ creator: '@alice:cli.test', name: 'cli' });
  const sent = await c.send({ roomId: room.room_id, sender: '@alice:cli.test', type: 'm.room.message', content: { body: 'over the wire' }, txnId: 'cli-1' });
  assert.is(sent.status, 'accepted');
  let found: NewRoomEventOutput | undefined;
  const timer = setTimeout(() => void sub.close(), 20_000); // never hang the run
  for await (const o of sub) {
    if (o.type === 'new_room_event' && o.event_id === sent.event_id) {
      found = o;
      break;
    }
  }
  clearTimeout(timer);
  assert.ok(found, 'the sent event came out of the subscription');
  assert.is((found!.event.content as { body: string }).body, 'over the wire');
  assert.is(found!.txn_id, 'cli-1');
  const keyId = Object.keys((await c.query.serverKeys()).verify_keys as object)[0];
  const health = (await (await fetch(srv.url.replace('ws://', 'http://') + 'health')).json()) as { server_name: string };
  assert.is(health.server_name, 'cli.test');
  await c.close();
  srv.child.kill('SIGTERM');
  assert.equal(await srv.exit, { code: 0, signal: null });
  assert.match(srv.out(), /listening on/);

  // a second start in the same folder keeps the room, the events and the key
  const again = await startServer(['--port', '0', '--server-name', 'cli.test'], cwd);
  const c2 = await RoomServerClient.connect(again.url);
  assert.equal((await c2.query.latest(room.room_id)).latest_event_ids, [sent.event_id]);
  assert.is(Object.keys((await c2.query.serverKeys()).verify_keys as object)[0], keyId);
  await c2.close();
  again.child.kill('SIGINT');
  assert.equal(await again.exit, { code: 0, signal: null });
});

test('two server processes as each other\'s peers: B fills a gap by fetching from A over WebSocket', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const dirA = tempDir();
  const dirB = tempDir();
  const adminA = 'admin-token-of-a-000';
  const adminB = 'admin-token-of-b-000';
  const bAtA = 'token-b-uses-at-a-00';
  const aAtB = 'token-a-uses-at-b-00';
  writeFileSync(join(dirA, 'config.json'), JSON.stringify({
    serverName: 'a.test', port: portA, dataDir: join(dirA, 'data'),
    tokens: { [adminA]: 'admin', [bAtA]: { role: 'peer', server: 'b.test' } },
    peers: { 'b.test': { url: `ws://127.0.0.1:${portB}/`, token: aAtB } },
  }));
  writeFileSync(join(dirB, 'config.json'), JSON.stringify({
    serverName: 'b.test', port: portB, dataDir: join(dirB, 'data'),
    tokens: { [adminB]: 'admin', [aAtB]: { role: 'peer', server: 'a.test' } },
    peers: { 'a.test': { url: `ws://127.0.0.1:${portA}/`, token: bAtA } },
  }));
  const [a, b] = await Promise.all([startServer(['--config', 'config.json'], dirA), startServer(['--config', 'config.json'], dirB)]);
  const ca = await RoomServerClient.connect(a.url, { token: adminA });
  const cb = await RoomServerClient.connect(b.url, { token: adminB });
  try {
    // A creates a public room; B learns its first events (and A's key, from A's server_keys)
    const room = await ca.createRoom({ creator: '@alice:a.test', preset: 'public_chat' });
    const initial = (await ca.query.event(room.event_ids)).events.map((e) => ({ event: e.event, origin: 'a.test' }));
    assert.equal((await cb.input(initial)).results.map((r) => r.status), initial.map(() => 'accepted'));
    // bob of b.test joins on B; A accepts the join (fetching B's key from B)
    const join_ = await cb.send({ roomId: room.room_id, sender: '@bob:b.test', type: 'm.room.member', stateKey: '@bob:b.test', content: { membership: 'join' } });
    assert.is(join_.status, 'accepted');
    const joinPdu = (await cb.query.event([join_.event_id])).events[0]!.event;
    assert.is((await ca.input([{ event: joinPdu, origin: 'b.test' }])).results[0]!.status, 'accepted');
    // A goes on without B; then B gets only the newest event: a gap of nine
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) sent.push((await ca.send({ roomId: room.room_id, sender: '@alice:a.test', type: 'm.room.message', content: { body: `m${i}` } })).event_id);
    const last = (await ca.query.event([sent[9]!])).events[0]!.event;
    assert.equal((await cb.query.event(sent.slice(0, 9))).events, [], 'B lacks them');
    const r = await cb.input([{ event: last, origin: 'a.test' }]);
    assert.equal(r.results, [{ event_id: sent[9], status: 'accepted' }]);
    const onB = await cb.query.event(sent);
    assert.equal(onB.missing, []);
    assert.equal(onB.events.map((e) => (e.event.content as { body: string }).body), sent.map((_, i) => `m${i}`));
    assert.equal((await cb.query.latest(room.room_id)).latest_event_ids, [sent[9]]);
    assert.equal((await cb.query.membership(room.room_id)).members.map((m) => m.user_id).sort(), ['@alice:a.test', '@bob:b.test']);
  } finally {
    await ca.close();
    await cb.close();
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
  }
  assert.equal(await a.exit, { code: 0, signal: null });
  assert.equal(await b.exit, { code: 0, signal: null });
});

test('exit codes: --help 0, bad configuration 2 with the reasons, a taken port 1', async () => {
  const cwd = tempDir();
  const help = run(['--help'], cwd);
  assert.equal(await help.exit, { code: 0, signal: null });
  assert.match(help.out(), /--data-dir/);
  const bad = run(['--host', '0.0.0.0', '--port', 'x'], cwd);
  assert.equal(await bad.exit, { code: 2, signal: null });
  assert.match(bad.err(), /refusing to listen on 0\.0\.0\.0 without any token/);
  assert.match(bad.err(), /port \(from --port\)/);
  assert.not.ok(existsSync(join(cwd, 'data')), 'nothing was created');
  const holder = createServer();
  const port = await new Promise<number>((r) => holder.listen(0, '127.0.0.1', () => r((holder.address() as { port: number }).port)));
  try {
    const taken = run(['--port', String(port)], cwd);
    assert.equal(await taken.exit, { code: 1, signal: null });
    assert.match(taken.err(), /in use/);
  } finally {
    holder.close();
  }
});

test.run();
