/**
 * Event hashes (server-server API, "Calculating the content hash for an
 * event" and "Calculating the reference hash for an event").
 *
 * - content hash: SHA-256 of the canonical JSON of the *unredacted* event
 *   without `unsigned`, `signatures` and `hashes`; carried in
 *   `hashes.sha256` as unpadded base64.
 * - reference hash: SHA-256 of the canonical JSON of the *redacted* event
 *   without `signatures` and `unsigned`; the event ID of v3+ rooms.
 */
import { hash } from 'node:crypto';
import type { JsonObject } from './json.js';
import { isJsonObject } from './json.js';
import type { RoomVersion } from './room-versions.js';
import { canonicalJsonWithout, withoutMembers, type CanonicalObjectText } from './canonical-json.js';
import { decodeBase64 } from './base64.js';
import { redactedCanonicalJson } from './redaction.js';

/** SHA-256 of a string's UTF-8 bytes, or of bytes. */
export function sha256(data: string | Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/** SHA-256 as unpadded standard base64, straight from the digest (no bytes object on the way). */
export function sha256Base64(data: string | Uint8Array): string {
  // 32 bytes are 44 base64 characters, the last one padding
  return hash('sha256', data, 'base64').slice(0, 43);
}

/** SHA-256 as URL-safe base64 (unpadded), straight from the digest. */
export function sha256Base64Url(data: string | Uint8Array): string {
  return hash('sha256', data, 'base64url');
}

/** Canonical JSON of the event without `unsigned`, `signatures` and `hashes`: what the content hash covers. */
export function contentHashCanonicalJson(pdu: JsonObject): string {
  return canonicalJsonWithout(pdu, CONTENT_HASH_OMITS);
}
/** The top-level keys the content hash leaves out. */
export const CONTENT_HASH_OMITS: readonly string[] = ['unsigned', 'signatures', 'hashes'];

/** contentHashCanonicalJson cut from the event's whole canonical text (the text itself when it has none of the left-out keys). */
export function contentHashTextOf(whole: CanonicalObjectText): string {
  return whole.keys.some((k) => CONTENT_HASH_OMITS.includes(k)) ? withoutMembers(whole, CONTENT_HASH_OMITS) : whole.text;
}

/** The content hash as raw bytes. */
export function contentHashBytes(pdu: JsonObject): Buffer {
  return sha256(contentHashCanonicalJson(pdu));
}

/** The content hash as unpadded base64 (the value of `hashes.sha256`). */
export function contentHash(pdu: JsonObject): string {
  return sha256Base64(contentHashCanonicalJson(pdu));
}

/**
 * Whether `hashes.sha256` matches the event's content hash. The stored
 * value is base64-decoded (padded or not) and compared as bytes; a missing
 * or malformed value does not match.
 */
export function checkContentHash(pdu: JsonObject): boolean {
  return contentHashMatches(pdu, contentHashBytes(pdu));
}

/** Compares `hashes.sha256` of `pdu` with an already computed content hash. */
export function contentHashMatches(pdu: JsonObject, computed: Buffer): boolean {
  const hashes = pdu.hashes;
  if (!isJsonObject(hashes)) return false;
  const claimed = hashes.sha256;
  if (typeof claimed !== 'string') return false;
  // Fast path: the usual unpadded standard base64 of the same bytes.
  if (claimed.length === 43 && computed.length === 32 && computed.toString('base64').startsWith(claimed)) return true;
  const raw = decodeBase64(claimed);
  return raw !== undefined && raw.length === computed.length && raw.equals(computed);
}

/** The reference hash (32 bytes) of an event under room version `rv`. */
export function referenceHash(pdu: JsonObject, rv: RoomVersion): Buffer {
  return sha256(redactedCanonicalJson(pdu, rv));
}
