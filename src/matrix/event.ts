/**
 * A parsed, validated room event (PDU). `parsePdu` (pdu.ts) builds these
 * from JSON; auth rules, state resolution and the room actor consume them.
 * The raw JSON is kept as received (`json`) for hashing, signatures and
 * serving; the typed fields are read from it once.
 */
import type { JsonObject } from './json.js';
import type { RoomVersion } from './room-versions.js';

export interface MatrixEvent {
  /** `$...`: from the event (v1, v2) or the reference hash (v3+). */
  readonly eventId: string;
  /** The room ID; for a v12 create event it is derived from its event ID. */
  readonly roomId: string;
  readonly sender: string;
  readonly type: string;
  /** undefined for non-state events; '' is a valid state key. */
  readonly stateKey: string | undefined;
  readonly content: JsonObject;
  /** prev event IDs (hash pairs of v1/v2 reduced to the IDs). */
  readonly prevEvents: readonly string[];
  /** auth event IDs (hash pairs of v1/v2 reduced to the IDs). */
  readonly authEvents: readonly string[];
  readonly depth: number;
  readonly originServerTs: number;
  /** Redaction target: top-level `redacts` (v1-10) or `content.redacts` (v11+). */
  readonly redacts: string | undefined;
  readonly roomVersion: RoomVersion;
  /** The event JSON as received (may include `unsigned`). */
  readonly json: JsonObject;
  /**
   * The canonical JSON text of `json`, when checking the event computed it
   * (the content hash input is cut from it). The room actor hands it to the
   * store with the event, which writes it instead of encoding `json` again,
   * and drops it here (a cached event does not keep a second copy).
   */
  text?: string | undefined;
}

export function isStateEvent(e: { stateKey: string | undefined }): boolean {
  return e.stateKey !== undefined;
}
