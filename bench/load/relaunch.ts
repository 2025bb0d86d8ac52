/**
 * The load tool's own young generation. `npm run bench` starts node with
 * the server's flags (SERVER_NODE_FLAGS: a 64 MB young generation), which
 * suit a server embedded in the tool's process. When the server runs in
 * another process (`--spawn`, `--target`), this process only generates
 * load, and with that young generation its own collections pause it for
 * 20-30 ms every ~0.5 s at 10,000 requests/s (`--trace-gc-nvp`: ~7 MB
 * copied per collection); every request in flight waits for them, so the
 * report's latency would carry the tool's pauses as if they were the
 * server's. Such a run starts the tool again, once, in a child process with
 * a 16 MB young generation: shorter pauses, more often. Measured over
 * WebSocket, 10,000 rooms x 20 sends, alternated pairs (2026-11-27, the
 * same server): the tool started by hand with 16 against 64 MB, p99 57.8 /
 * 61.2 / 61.5 ms against 65.3 / 65.2 / 67.1 ms (events/s 9,564 / 8,892 /
 * 8,461 against 8,973 / 8,860 / 8,463); then `npm run bench` relaunching
 * against not, p99 55.0 / 63.1 / 60.9 against 61.9 / 63.1 / 62.2 ms
 * (events/s 9,789 / 8,556 / 9,108 against 9,567 / 8,743 / 8,986).
 */
import { spawn } from 'node:child_process';

/** The young generation of the tool's process when the server runs elsewhere. */
export const TOOL_SEMI_SPACE_FLAG = '--max-semi-space-size=16';
/** Set in the child, so it never starts another. */
export const RELAUNCHED_ENV = 'ROOMSERVER_BENCH_RELAUNCHED';

/**
 * The node flags to start the tool again with, or undefined when this
 * process should run the load itself: the server is embedded, or this is
 * the relaunched child already, or no other young generation was asked for.
 */
export function relaunchFlags(args: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv): string[] | undefined {
  if (env[RELAUNCHED_ENV] === '1') return undefined;
  const remote = args.some((a) => a === '--spawn' || a === '--target' || a.startsWith('--target='));
  if (!remote || args.includes('--help') || args.includes('-h')) return undefined;
  const semi = execArgv.filter((f) => f.startsWith('--max-semi-space-size'));
  if (semi.length === 1 && semi[0] === TOOL_SEMI_SPACE_FLAG) return undefined;
  // a flag given as two words (--max-semi-space-size 64) is left as it is: only the one-word form is replaced
  if (execArgv.includes('--max-semi-space-size')) return undefined;
  return [...execArgv.filter((f) => !f.startsWith('--max-semi-space-size')), TOOL_SEMI_SPACE_FLAG];
}

/**
 * Runs the tool again in a child process with `flags` and the same
 * arguments; resolves with its exit code. The child is in this process's
 * group, so Ctrl-C on the terminal reaches it directly (and this process
 * waits for it rather than stopping); a SIGTERM sent to this process is
 * passed on.
 */
export function relaunch(flags: string[], script: string, args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [...flags, script, ...args], { stdio: 'inherit', env: { ...process.env, [RELAUNCHED_ENV]: '1' } });
  const onInt = (): void => {};
  const onTerm = (): void => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
    child.on('error', (e) => {
      process.stderr.write(`bench: cannot start the load tool again: ${e.message}\n`);
      resolve(1);
    });
  });
}
