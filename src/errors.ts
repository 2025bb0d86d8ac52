/**
 * Errors that cross the project's outside surface carry a stable `code`
 * (the protocol's `M_*` codes) and a human message. Internal modules throw
 * these (or subclasses with a more specific `reason`) so the gateway can map
 * any failure to a reply without guessing.
 */
export type ErrorCode =
  | 'M_NOT_JSON'
  | 'M_BAD_JSON'
  | 'M_UNRECOGNIZED'
  | 'M_MISSING_PARAM'
  | 'M_INVALID_PARAM'
  | 'M_FORBIDDEN'
  | 'M_NOT_FOUND'
  | 'M_TOO_LARGE'
  | 'M_LIMIT_EXCEEDED'
  | 'M_UNSUPPORTED_ROOM_VERSION'
  | 'M_UNKNOWN';

export class RoomServerError extends Error {
  readonly code: ErrorCode;
  /** A finer, stable reason (for example `pdu_field_type`), when there is one. */
  readonly reason?: string;
  constructor(code: ErrorCode, message: string, reason?: string) {
    super(message);
    this.name = 'RoomServerError';
    this.code = code;
    if (reason !== undefined) this.reason = reason;
  }
}

export function isRoomServerError(e: unknown): e is RoomServerError {
  return e instanceof RoomServerError;
}
