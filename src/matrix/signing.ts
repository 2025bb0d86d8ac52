/**
 * Signing and verifying JSON and events (spec appendices "Signing JSON",
 * "Checking for a Signature"; server-server API "Signing Events",
 * "Validating hashes and signatures on received events").
 *
 * JSON signatures cover the canonical JSON of the object without
 * `signatures` and `unsigned`. Event signatures cover the *redacted* event
 * (so they survive redaction), which includes `hashes`: the content hash
 * is what ties the full content to the signature.
 */
import type { JsonObject, JsonValue } from './json.js';
import { copyWith, isJsonObject } from './json.js';
import type { RoomVersion } from './room-versions.js';
import { canonicalJson, canonicalObjectText, withMembers, type CanonicalObjectText } from './canonical-json.js';
import { encodeBase64 } from './base64.js';
import { signBytes, verifyBytes, type SigningKey } from './ed25519.js';
import { contentHashTextOf, sha256Base64 } from './hashes.js';
import { redactedCanonicalFromText, redactedCanonicalJson } from './redaction.js';
import { serverNameOf } from './ids.js';

/**
 * Finds a server's public key (unpadded base64) by key ID. `atTs` is the
 * event's `origin_server_ts` when the room version enforces key validity
 * (v5+): return undefined for a key not valid at that time. `atTs` is
 * undefined when validity is not enforced (v1-v4). Unknown keys: undefined.
 */
export type KeyLookup = (serverName: string, keyId: string, atTs: number | undefined) => string | undefined;

function withoutSignaturesAndUnsigned(obj: JsonObject): JsonObject {
  const rest = Object.create(null) as JsonObject;
  for (const k in obj) {
    if (k === 'signatures' || k === 'unsigned') continue;
    rest[k] = obj[k]!;
  }
  return rest;
}

/** `signatures` with `sig` added under server and key ID (a new object; other signatures kept). */
function addSignature(signatures: JsonValue | undefined, serverName: string, keyId: string, sig: string): JsonObject {
  const all: JsonObject = isJsonObject(signatures) ? { ...signatures } : {};
  const mine = all[serverName];
  all[serverName] = { ...(isJsonObject(mine) ? mine : {}), [keyId]: sig };
  return all;
}

/**
 * Signs a JSON object as `serverName` with `key`: returns a copy with the
 * signature added under `signatures[serverName][key.keyId]` (existing
 * signatures and `unsigned` are kept, and not signed).
 */
export function signJson(obj: JsonObject, serverName: string, key: SigningKey): JsonObject {
  const bytes = Buffer.from(canonicalJson(withoutSignaturesAndUnsigned(obj)), 'utf8');
  const sig = encodeBase64(signBytes(key, bytes));
  return copyWith(obj, 'signatures', addSignature(obj.signatures, serverName, key.keyId, sig));
}

/**
 * Whether `obj` carries a valid signature by `serverName` with key `keyId`
 * (which must be an `ed25519:` key) for the public key given as base64.
 * Padded and unpadded base64 signatures are accepted. Never throws.
 */
export function verifyJsonSignature(obj: JsonObject, serverName: string, keyId: string, publicKeyBase64: string): boolean {
  if (!keyId.startsWith('ed25519:')) return false;
  const sigs = obj.signatures;
  if (!isJsonObject(sigs)) return false;
  const mine = sigs[serverName];
  if (!isJsonObject(mine)) return false;
  const sig = mine[keyId];
  if (typeof sig !== 'string') return false;
  let bytes: Buffer;
  try {
    bytes = Buffer.from(canonicalJson(withoutSignaturesAndUnsigned(obj)), 'utf8');
  } catch {
    return false;
  }
  return verifyBytes(publicKeyBase64, bytes, sig);
}

/**
 * Hashes and signs an event (server-server API "Adding hashes and
 * signatures to outgoing events"): sets `hashes` to `{sha256: content
 * hash}`, signs the redacted event under `rv`'s redaction rules, and
 * returns a copy of the full event with the signature added.
 */
export function signEvent(pdu: JsonObject, serverName: string, key: SigningKey, rv: RoomVersion): JsonObject {
  return signEventWithBytes(pdu, serverName, key, rv).pdu;
}

/**
 * signEvent, also returning the bytes it signed: the canonical redacted
 * event without signatures, which is exactly what the reference hash (and
 * so a v3+ event ID) is computed over.
 */
export function signEventWithBytes(pdu: JsonObject, serverName: string, key: SigningKey, rv: RoomVersion): { pdu: JsonObject; signedBytes: Buffer } {
  const prepared = prepareEventSigning(pdu, rv);
  attachEventSignature(prepared.pdu, pdu.signatures, serverName, key.keyId, signBytes(key, prepared.signedBytes));
  return prepared;
}

/**
 * The first half of signEvent: a copy with `hashes` set, the bytes to
 * sign, and the content-hash canonical JSON it computed (still that of the
 * copy: `hashes` and `signatures` are not part of it). For callers that
 * sign elsewhere (a worker thread), then call attachEventSignature.
 * `content` is the canonical text of `pdu` with its members' offsets when
 * `pdu` has none of the keys the content hash leaves out (an event built
 * here): canonicalTextOfSigned splices the signed event's text from it.
 */
export function prepareEventSigning(
  pdu: JsonObject,
  rv: RoomVersion,
): { pdu: JsonObject; signedBytes: Buffer; contentCanonical: string; content: CanonicalObjectText | undefined } {
  const whole = canonicalObjectText(pdu);
  const contentCanonical = contentHashTextOf(whole);
  const sha256 = sha256Base64(contentCanonical);
  const out: JsonObject = copyWith(pdu, 'hashes', { sha256 });
  // the text can be spliced into the signed event's (and cut into the bytes to sign) only when it has none of the left-out keys
  const bare = contentCanonical === whole.text;
  const redacted = bare ? redactedCanonicalFromText(whole, out, rv, `{"sha256":${JSON.stringify(sha256)}}`) : redactedCanonicalJson(out, rv);
  return { pdu: out, signedBytes: Buffer.from(redacted, 'utf8'), contentCanonical, content: bare ? whole : undefined };
}

/**
 * The canonical JSON text of a prepared and signed event, spliced from the
 * text prepareEventSigning encoded (undefined when it had none).
 */
export function canonicalTextOfSigned(prepared: { pdu: JsonObject; content: CanonicalObjectText | undefined }): string | undefined {
  const c = prepared.content;
  if (c === undefined) return undefined;
  return withMembers(c, { hashes: prepared.pdu.hashes!, signatures: prepared.pdu.signatures! });
}

/** The second half: adds the signature (raw bytes) to the prepared copy, keeping earlier signatures. */
export function attachEventSignature(prepared: JsonObject, earlier: JsonValue | undefined, serverName: string, keyId: string, signature: Uint8Array): void {
  prepared.signatures = addSignature(earlier, serverName, keyId, encodeBase64(signature));
}

/** A 3PID invite: its sender's server need not have signed it (see requiredSigners). */
function isThirdPartyInvite(pdu: JsonObject): boolean {
  if (pdu.type !== 'm.room.member') return false;
  const content = pdu.content;
  return isJsonObject(content) && content.membership === 'invite' && content.third_party_invite !== undefined;
}

/**
 * The servers whose signatures an event must carry (server-server API
 * "Validating hashes and signatures on received events"):
 * - the sender's server, except for an invite made from a third-party
 *   invite (`m.room.member`, membership `invite`, with
 *   `content.third_party_invite`), which another server may send;
 * - v1/v2: also the server of the `event_id`, when it differs;
 * - v8+: for a join with `content.join_authorised_via_users_server`, also
 *   that user's server (auth rule "validly signed by the homeserver of the
 *   user ID denoted by the key").
 * IDs without a server part contribute nothing (parsePdu refuses them).
 */
export function requiredSigners(pdu: JsonObject, rv: RoomVersion): string[] {
  const out: string[] = [];
  if (!isThirdPartyInvite(pdu)) addServerOf(out, pdu.sender);
  if (rv.eventIdFormat === 'v1') addServerOf(out, pdu.event_id);
  if (rv.restrictedJoins && pdu.type === 'm.room.member') {
    const content = pdu.content;
    if (isJsonObject(content) && content.membership === 'join') addServerOf(out, content.join_authorised_via_users_server);
  }
  return out;
}

/** Adds the server name of an ID (when it is a string with one) unless present. */
function addServerOf(out: string[], id: JsonValue | undefined): void {
  if (typeof id !== 'string') return;
  const s = serverNameOf(id);
  if (s !== undefined && s !== '' && !out.includes(s)) out.push(s);
}

export type SignatureFailureReason =
  /** no signature at all from a required server */
  | 'missing_signature'
  /** signatures exist, but none by a key we know (valid at the event's time) */
  | 'unknown_key'
  /** a signature by a known key does not verify */
  | 'bad_signature'
  /** `signatures` is not an object of objects of strings, or the event cannot be encoded */
  | 'malformed_signatures';

export type EventSignatureResult =
  | { readonly ok: true; /** servers whose signatures were checked and found valid */ readonly servers: readonly string[] }
  | {
      readonly ok: false;
      readonly reason: SignatureFailureReason;
      /** the server whose signature is missing or wrong */
      readonly server: string;
      readonly keyId?: string;
      readonly message: string;
    };

type SignatureFailure = Extract<EventSignatureResult, { ok: false }>;

function fail(reason: SignatureFailureReason, server: string, message: string, keyId?: string): SignatureFailure {
  return keyId === undefined ? { ok: false, reason, server, message } : { ok: false, reason, server, keyId, message };
}

/** One signature to verify: `signature` by `publicKey` over the signed bytes. */
export interface SignatureCheck {
  readonly server: string;
  readonly keyId: string;
  readonly publicKey: string;
  readonly signature: string;
}

/**
 * Plans the checks of one server's signatures. Per "Checking for a
 * Signature": signatures with algorithms other than ed25519 and keys we do
 * not know are skipped; at least one must remain, and every one by a known
 * key must verify (the caller verifies the returned checks).
 */
function planServer(
  signatures: JsonValue | undefined,
  server: string,
  keyLookup: KeyLookup,
  atTs: number | undefined,
  out: SignatureCheck[],
): SignatureFailure | undefined {
  if (!isJsonObject(signatures)) return fail('missing_signature', server, 'event has no signatures');
  const mine = signatures[server];
  if (mine === undefined) return fail('missing_signature', server, `no signature from ${server}`);
  if (!isJsonObject(mine)) return fail('malformed_signatures', server, `signatures of ${server} are not an object`);
  let known = 0;
  let any = false;
  for (const keyId in mine) {
    any = true;
    if (!keyId.startsWith('ed25519:')) continue;
    const sig = mine[keyId];
    if (typeof sig !== 'string') return fail('malformed_signatures', server, `signature ${server} ${keyId} is not a string`, keyId);
    const pub = keyLookup(server, keyId, atTs);
    if (pub === undefined) continue;
    out.push({ server, keyId, publicKey: pub, signature: sig });
    known++;
  }
  if (known === 0) {
    return any
      ? fail('unknown_key', server, `no signature of ${server} by a known key${atTs !== undefined ? ` valid at ${atTs}` : ''}`)
      : fail('missing_signature', server, `no signature from ${server}`);
  }
  return undefined;
}

/** The failure for a check that did not verify. */
export function badSignature(c: SignatureCheck): SignatureFailure {
  return fail('bad_signature', c.server, `signature of ${c.server} with ${c.keyId} does not verify`, c.keyId);
}

function keyTime(pdu: JsonObject, rv: RoomVersion): number | undefined {
  const ts = pdu.origin_server_ts;
  return rv.enforceKeyValidity && typeof ts === 'number' ? ts : undefined;
}

/**
 * Verifies the signatures an event must carry (see requiredSigners) over
 * its redacted form, so a redacted copy verifies too. `signedBytes`, when
 * given, must be the UTF-8 of `redactedCanonicalJson(pdu, rv)` (the check
 * pipeline computes it once for the event ID as well).
 */
export function verifyEventSignatures(
  pdu: JsonObject,
  rv: RoomVersion,
  keyLookup: KeyLookup,
  signedBytes?: Uint8Array,
): EventSignatureResult {
  const plan = planEventSignatures(pdu, rv, keyLookup, signedBytes);
  if (!plan.ok) return plan;
  for (const c of plan.checks) if (!verifyBytes(c.publicKey, plan.bytes, c.signature)) return badSignature(c);
  return { ok: true, servers: plan.servers };
}

/**
 * The signature checks an event needs (see verifyEventSignatures), without
 * running them: for callers that verify elsewhere (a worker thread). Every
 * returned check must verify over `bytes` for the event to pass.
 */
export function planEventSignatures(
  pdu: JsonObject,
  rv: RoomVersion,
  keyLookup: KeyLookup,
  signedBytes?: Uint8Array,
): { ok: true; servers: readonly string[]; bytes: Uint8Array; checks: SignatureCheck[] } | SignatureFailure {
  const servers = requiredSigners(pdu, rv);
  if (servers.length === 0 && !isThirdPartyInvite(pdu)) {
    return fail('malformed_signatures', '', 'cannot tell which server must sign: sender has no server name');
  }
  let bytes = signedBytes;
  if (bytes === undefined) {
    try {
      bytes = Buffer.from(redactedCanonicalJson(pdu, rv), 'utf8');
    } catch (e) {
      return fail('malformed_signatures', servers[0] ?? '', `event cannot be encoded: ${(e as Error).message}`);
    }
  }
  const atTs = keyTime(pdu, rv);
  const checks: SignatureCheck[] = [];
  for (const server of servers) {
    const r = planServer(pdu.signatures, server, keyLookup, atTs, checks);
    if (r) return r;
  }
  return { ok: true, servers, bytes, checks };
}

/**
 * Whether the event is validly signed by one given server (for auth rules
 * that name a server, e.g. `join_authorised_via_users_server`).
 */
export function verifyEventSignedBy(
  pdu: JsonObject,
  rv: RoomVersion,
  serverName: string,
  keyLookup: KeyLookup,
  signedBytes?: Uint8Array,
): EventSignatureResult {
  let bytes = signedBytes;
  if (bytes === undefined) {
    try {
      bytes = Buffer.from(redactedCanonicalJson(pdu, rv), 'utf8');
    } catch (e) {
      return fail('malformed_signatures', serverName, `event cannot be encoded: ${(e as Error).message}`);
    }
  }
  const checks: SignatureCheck[] = [];
  const failed = planServer(pdu.signatures, serverName, keyLookup, keyTime(pdu, rv), checks);
  if (failed) return failed;
  for (const c of checks) if (!verifyBytes(c.publicKey, bytes, c.signature)) return badSignature(c);
  return { ok: true, servers: [serverName] };
}
