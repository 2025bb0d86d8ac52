/**
 * The package entry point: a plain list of re-exports.
 */
export { RoomServerError, isRoomServerError, type ErrorCode } from './errors.js';
export type { JsonValue, JsonObject } from './matrix/json.js';
export { isJsonObject } from './matrix/json.js';
export { encodeBase64, encodeBase64Url, decodeBase64 } from './matrix/base64.js';
export { canonicalJson, canonicalJsonBytes, compareCodePoints, findNonCanonicalNumber, CanonicalJsonError } from './matrix/canonical-json.js';
export { parseStrictJson, scanJson, StrictJsonError, type StrictJsonOptions, type StrictJsonReason, type JsonScan, type JsonScanOptions } from './matrix/strict-json.js';
export { roomVersion, isKnownRoomVersion, ROOM_VERSIONS, DEFAULT_ROOM_VERSION, type RoomVersion, type RoomVersionId } from './matrix/room-versions.js';
export {
  isValidUserId,
  userIdProblem,
  isValidRoomId,
  roomIdProblem,
  isValidEventId,
  eventIdProblem,
  isValidServerName,
  serverNameProblem,
  serverNameOf,
  type UserIdOptions,
} from './matrix/ids.js';
export { contentHash, checkContentHash, referenceHash, sha256 } from './matrix/hashes.js';
export { redactEvent, redactedCanonicalJson } from './matrix/redaction.js';
export { computeEventId, eventIdFromReferenceHash, roomIdFromCreateEventId, createEventIdFromRoomId } from './matrix/event-id.js';
export { signingKeyFromSeed, generateSigningKey, signBytes, verifyBytes, type SigningKey } from './matrix/ed25519.js';
export {
  signJson,
  verifyJsonSignature,
  signEvent,
  verifyEventSignatures,
  verifyEventSignedBy,
  requiredSigners,
  type KeyLookup,
  type EventSignatureResult,
  type SignatureFailureReason,
} from './matrix/signing.js';
export {
  generateServerKey,
  formatSigningKey,
  parseSigningKey,
  parseSigningKeys,
  loadSigningKey,
  saveSigningKey,
  loadOrCreateSigningKey,
  serverKeysObject,
  isValidKeyId,
  type OldVerifyKey,
} from './matrix/keys.js';
export type { MatrixEvent } from './matrix/event.js';
export { isStateEvent } from './matrix/event.js';
export { stateKey, splitStateKey, type StateMap, type StateKeyString } from './matrix/state-key.js';
export { parsePdu, parsePduBytes, PduError, MAX_PDU_BYTES, type ParsePduOptions, type PduErrorReason } from './matrix/pdu.js';
export { checkPdu, checkPduBytes, type PduCheck } from './matrix/check.js';

// The roomserver itself, its WebSocket client and the in-process peer link.
export { RoomServer, type RoomServerOptions, type ListenOptions } from './server.js';
export { RoomServerClient, RemoteError, WsPeerFetcher, type ClientOptions } from './client/index.js';
export { LocalPeers } from './local-peers.js';
export type { PeerFetcher } from './peers.js';
export type * from './api.js';
