/**
 * The server command (`npm start`): reads the configuration (config.ts),
 * opens the RoomServer, starts the WebSocket gateway, prints the line
 * `roomserver <name> listening on ws://HOST:PORT/`, and on SIGINT/SIGTERM
 * stops accepting, finishes in-flight requests and inputs, closes the
 * store and exits 0. A second signal exits at once (1).
 *
 * Exit codes: 0 clean stop or --help, 1 failure at start or run, 2 bad
 * configuration.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { realpathSync } from 'node:fs';
import { ConfigError, helpText, loadConfig, type Config } from './config.js';
import { rootLogger } from './log.js';
import { WsPeerFetcher } from './client/peer-link.js';
import type { Gateway } from './gateway/gateway.js';

export interface Running {
  config: Config;
  url: string;
  /** the same shutdown the signals run; resolves when everything is closed */
  stop(): Promise<void>;
}

/** Starts a server from a parsed configuration. */
export async function start(config: Config): Promise<Running> {
  rootLogger.level = config.logLevel;
  const log = rootLogger.child({ component: 'cli', server: config.serverName });
  // imported here so `--help` and configuration errors never open anything
  const { RoomServer } = await import('./server.js');
  const peers =
    Object.keys(config.peers).length > 0
      ? new WsPeerFetcher({ serverName: config.serverName, peers: config.peers, timeoutMs: config.limits.peerTimeoutMs, logger: rootLogger.child({ component: 'peer-link' }) })
      : undefined;
  const rs = await RoomServer.open({
    dataDir: config.dataDir,
    serverName: config.serverName,
    signingKeyFile: config.signingKeyFile,
    ...(peers ? { peers } : {}),
    trustedKeys: config.trustedKeys,
    fsync: config.fsync,
    compactionNice: config.compactionNice,
    idleTimeoutMs: config.idleTimeoutMs,
    inputDeadlineMs: config.limits.inputDeadlineMs,
    admission: { maxPerRoom: config.limits.roomQueue, maxInFlight: config.limits.maxInFlight },
  });
  let gw: Gateway;
  try {
    gw = await rs.listen({
      host: config.host,
      port: config.port,
      tokens: config.tokens,
      maxFrameBytes: config.limits.maxFrameBytes,
      maxInFlightPerConnection: config.limits.maxInFlightPerConnection,
      heartbeatMs: config.heartbeatMs,
    });
  } catch (e) {
    await rs.close();
    await peers?.close();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('shutting down: no new connections, finishing in-flight requests');
      await gw.close();
      await rs.close();
      await peers?.close();
      log.info('stopped');
    })();
    return stopping;
  };
  return { config, url: gw.url, stop };
}

/** The command: returns the exit code (or never returns while serving until a signal). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: Config;
  try {
    const r = loadConfig(argv, env);
    if (r.help) {
      process.stdout.write(helpText() + '\n');
      return 0;
    }
    config = r.config;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`roomserver: ${e.message}\nRun with --help to see every option.\n`);
      return 2;
    }
    throw e;
  }
  let running: Running;
  try {
    running = await start(config);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'EADDRINUSE' ? ` (port ${config.port} is in use; choose another with --port, or --port 0 for a free one)` : '';
    process.stderr.write(`roomserver: cannot start: ${err.message}${hint}\n`);
    return 1;
  }
  process.stdout.write(`roomserver ${config.serverName} listening on ${running.url}\n`);
  return new Promise<number>((resolveExit) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`roomserver: ${sig} again, exiting without finishing\n`);
        process.exit(1);
      }
      running.stop().then(
        () => resolveExit(0),
        (err: unknown) => {
          process.stderr.write(`roomserver: error while stopping: ${(err as Error)?.message ?? err}\n`);
          resolveExit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(resolve(arg)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      // let pino flush, then leave even if some handle lingers
      setImmediate(() => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`roomserver: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
