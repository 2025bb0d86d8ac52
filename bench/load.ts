/**
 * The load tool: `npm run bench -- [options]` (see bench/load/options.ts or
 * `--help`). Drives a roomserver (in this process, in a child process, or
 * over WebSocket) with many rooms at once and prints a report.
 */
import { main } from './load/main.js';

let interrupts = 0;
let stop = false;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts > 1) process.exit(130);
  stop = true;
  process.stderr.write('\nbench: stopping after the requests in flight (Ctrl-C again to quit now)\n');
});

main(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: process.stderr, aborted: () => stop }).then(
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
