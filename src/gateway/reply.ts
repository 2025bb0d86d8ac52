/**
 * Reply shapes. Success: `{"id", "ok": true, ...result}`. Failure:
 * `{"id", "ok": false, "error": {"code", "message", "reason"?, "param"?}}`.
 * A RoomServerError keeps its code; anything else is M_UNKNOWN (a bug),
 * logged with the request id and answered without internal details.
 */
import { RoomServerError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { ParamError } from './params.js';

export type RequestId = string | number | null;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  reason?: string;
  param?: string;
}

export function okReply(id: RequestId, result: object): Record<string, unknown> {
  const out = Object.assign({}, result) as Record<string, unknown>;
  out.id = id;
  out.ok = true;
  return out;
}

export function errorBody(err: unknown, id: RequestId, op: string | undefined, log: Logger): ErrorBody {
  if (err instanceof RoomServerError) {
    const body: ErrorBody = { code: err.code, message: err.message };
    if (err.reason !== undefined) body.reason = err.reason;
    if (err instanceof ParamError) body.param = err.param;
    return body;
  }
  log.error({ err, requestId: id, op }, 'request failed with an unexpected error');
  return { code: 'M_UNKNOWN', message: `internal error (request id ${JSON.stringify(id)})` };
}

export function errorReply(id: RequestId, error: ErrorBody): Record<string, unknown> {
  return { id, ok: false, error };
}
