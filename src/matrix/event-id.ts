/**
 * Event IDs per room version (spec rooms/v1 "Event IDs", v3, v4):
 * - v1, v2: the event carries its own `event_id` (`$opaque:server`);
 * - v3: `$` + standard unpadded base64 of the reference hash;
 * - v4+: `$` + URL-safe unpadded base64 of the reference hash.
 *
 * v12 room IDs are the create event's ID with `!` in place of `$`.
 */
import type { JsonObject } from './json.js';
import type { RoomVersion } from './room-versions.js';
import { encodeBase64, encodeBase64Url } from './base64.js';
import { sha256Base64, sha256Base64Url } from './hashes.js';
import { redactedCanonicalJson } from './redaction.js';
import { PduError } from './pdu-error.js';

/** The event ID of v3+ formats straight from the bytes the reference hash covers (the canonical redacted event). */
export function eventIdFromRedactedBytes(redacted: string | Uint8Array, rv: RoomVersion): string {
  return '$' + (rv.eventIdFormat === 'v3' ? sha256Base64(redacted) : sha256Base64Url(redacted));
}

/** The event ID for a reference hash under room version `rv` (v3+ formats). */
export function eventIdFromReferenceHash(refHash: Uint8Array, rv: RoomVersion): string {
  return '$' + (rv.eventIdFormat === 'v3' ? encodeBase64(refHash) : encodeBase64Url(refHash));
}

/**
 * The ID of an event under room version `rv`. For v1/v2 it is the event's
 * `event_id`, which must be a string (PduError `pdu_missing_field` /
 * `pdu_field_type` otherwise); for v3+ it is derived from the reference hash
 * (an `event_id` property, if any, is ignored).
 */
export function computeEventId(pdu: JsonObject, rv: RoomVersion): string {
  if (rv.eventIdFormat === 'v1') {
    const id = pdu.event_id;
    if (id === undefined) throw new PduError('pdu_missing_field', 'missing field "event_id"', 'event_id');
    if (typeof id !== 'string') throw new PduError('pdu_field_type', 'field "event_id" must be a string', 'event_id');
    return id;
  }
  return eventIdFromRedactedBytes(redactedCanonicalJson(pdu, rv), rv);
}

/** The v12 room ID named by a create event's ID: `$abc` -> `!abc`. */
export function roomIdFromCreateEventId(createEventId: string): string {
  if (createEventId.charCodeAt(0) !== 36) throw new PduError('pdu_bad_id', `not an event ID: ${JSON.stringify(createEventId)}`);
  return '!' + createEventId.slice(1);
}

/** The create event ID named by a v12 room ID: `!abc` -> `$abc`. */
export function createEventIdFromRoomId(roomId: string): string {
  if (roomId.charCodeAt(0) !== 33) throw new PduError('pdu_bad_id', `not a room ID: ${JSON.stringify(roomId)}`);
  return '$' + roomId.slice(1);
}
