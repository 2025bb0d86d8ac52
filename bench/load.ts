/**
 * The load tool: `npm run bench -- [options]` (see bench/load/options.ts or
 * `--help`). Drives a roomserver (in this process, in a child process, or
 * over WebSocket) with many rooms at once and prints a report.
 */
import { fileURLToPath } from 'node:url';
import { main } from './load/main.js';
import { relaunch, relaunchFlags } from './load/relaunch.js';

const args = process.argv.slice(2);
const flags = relaunchFlags(args, process.execArgv, process.env);
if (flags) {
  // the server runs in another process: the load runs in a child with the tool's own young generation (see relaunch.ts)
  void relaunch(flags, fileURLToPath(import.meta.url), args).then((code) => process.exit(code));
} else {
  run();
}

function run(): void {
  let interrupts = 0;
  let stop = false;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    stop = true;
    process.stderr.write('\nbench: stopping after the requests in flight (Ctrl-C again to quit now)\n');
  });

  main(args, { out: (s) => process.stdout.write(s), err: process.stderr, aborted: () => stop }).then(
    (r) => {
      process.exitCode = r.code;
      // a lingering handle (a closing socket) must not keep a finished run alive
      setTimeout(() => process.exit(r.code), 500).unref();
    },
    (e: unknown) => {
      process.stderr.write(`bench: ${(e as Error)?.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
