/** Structured logs (pino). LOG_LEVEL sets the level; tests default to silent. */
import { pino, type Logger } from 'pino';

const level = process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');

export const rootLogger: Logger = pino({ level, base: { pid: process.pid } });

export function childLogger(bindings: Record<string, unknown>): Logger {
  return rootLogger.child(bindings);
}

export type { Logger };
