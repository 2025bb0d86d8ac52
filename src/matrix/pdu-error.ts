/**
 * The refusal of a malformed PDU. `code` is M_BAD_JSON (M_TOO_LARGE for
 * size limits); `reason` is stable and fine-grained; `field` names the
 * offending property when there is one (also named in the message).
 */
import { RoomServerError, type ErrorCode } from '../errors.js';

export type PduErrorReason =
  | 'pdu_not_object'
  | 'pdu_missing_field'
  | 'pdu_field_type'
  | 'pdu_too_large'
  | 'pdu_bad_id'
  | 'pdu_bad_number'
  | 'pdu_duplicate_key'
  | 'pdu_too_many_refs';

export class PduError extends RoomServerError {
  override readonly reason: PduErrorReason;
  readonly field: string | undefined;
  constructor(reason: PduErrorReason, message: string, field?: string) {
    const code: ErrorCode = reason === 'pdu_too_large' ? 'M_TOO_LARGE' : 'M_BAD_JSON';
    super(code, message, reason);
    this.name = 'PduError';
    this.reason = reason;
    this.field = field;
  }
}
