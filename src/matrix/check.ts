/**
 * The full check of a received PDU, in the order of the server-server API
 * "Checks performed on receipt of a PDU" (steps 1-3): valid format
 * (parsePdu; refusals throw PduError / StrictJsonError), signatures
 * (failure: the event is dropped), content hash (failure: the event is
 * processed in its redacted form).
 *
 * Each canonical text is computed once: the redacted canonical JSON serves
 * both the event ID (reference hash) and the signatures; the content-hash
 * text serves both the size limit and the content hash.
 */
import type { JsonScanOptions } from './strict-json.js';
import type { JsonValue } from './json.js';
import type { RoomVersion } from './room-versions.js';
import type { MatrixEvent } from './event.js';
import { parsePduBytesDetailed, parsePduDetailed, redactedEventOf, type ParsedPduDetail, type ParsePduOptions } from './pdu.js';
import { contentHashCanonicalJson, contentHashMatches, sha256 } from './hashes.js';
import { redactEvent, redactedCanonicalJson } from './redaction.js';
import { verifyEventSignatures, type EventSignatureResult, type KeyLookup } from './signing.js';

export type PduCheck =
  | {
      readonly ok: true;
      /** The event to process further: as received, or its redacted form when the content hash does not match. */
      readonly event: MatrixEvent;
      /** False when `hashes.sha256` does not match and `event` is the redacted form. */
      readonly contentHashOk: boolean;
      /** Servers whose signatures were verified. */
      readonly signers: readonly string[];
    }
  | {
      readonly ok: false;
      /** The event as parsed (for logging); it must be dropped. */
      readonly event: MatrixEvent;
      readonly signatures: Extract<EventSignatureResult, { ok: false }>;
    };

function finish(d: ParsedPduDetail, rv: RoomVersion, keyLookup: KeyLookup): PduCheck {
  const json = d.event.json;
  const signed = d.redactedBytes ?? Buffer.from(redactedCanonicalJson(json, rv), 'utf8');
  const sig = verifyEventSignatures(json, rv, keyLookup, signed);
  if (!sig.ok) return { ok: false, event: d.event, signatures: sig };
  const contentText = d.contentCanonical ?? contentHashCanonicalJson(json);
  if (contentHashMatches(json, sha256(contentText))) {
    return { ok: true, event: d.event, contentHashOk: true, signers: sig.servers };
  }
  return { ok: true, event: redactedEventOf(d.event, redactEvent(json, rv)), contentHashOk: false, signers: sig.servers };
}

/** Validates, verifies and hash-checks event JSON. Throws PduError when malformed. */
export function checkPdu(json: JsonValue, rv: RoomVersion, keyLookup: KeyLookup, opts?: ParsePduOptions): PduCheck {
  return finish(parsePduDetailed(json, rv, opts), rv, keyLookup);
}

/** checkPdu from received bytes or text, read with the strict reader. */
export function checkPduBytes(input: Uint8Array | string, rv: RoomVersion, keyLookup: KeyLookup, opts?: JsonScanOptions): PduCheck {
  return finish(parsePduBytesDetailed(input, rv, opts), rv, keyLookup);
}
