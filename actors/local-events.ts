/**
 * Events built and signed by this server (`send`, `create_room`). They are
 * built inside the room actor, against its current forward extremities and
 * state, so two sends to one room can never pick the same prev events.
 */
import { randomBytes } from 'node:crypto';
import type { MatrixEvent } from '../src/matrix/event.js';
import type { JsonObject, JsonValue } from '../src/matrix/json.js';
import type { RoomVersion } from '../src/matrix/room-versions.js';
import type { SigningKey } from '../src/matrix/ed25519.js';
import { stateKey } from '../src/matrix/state-key.js';
import { signEventWithBytes, prepareEventSigning, attachEventSignature, canonicalTextOfSigned } from '../src/matrix/signing.js';
import type { CryptoPool } from './crypto-pool.js';
import { computeEventId, eventIdFromRedactedBytes, roomIdFromCreateEventId } from '../src/matrix/event-id.js';
import { referenceHash } from '../src/matrix/hashes.js';
import { encodeBase64 } from '../src/matrix/base64.js';
import { parseLocalPdu, parsePdu } from '../src/matrix/pdu.js';
import { authEventSelection } from '../src/auth/selection.js';
import { RoomServerError } from '../src/errors.js';
import type { RoomDeps, RoomHot } from './room-actor.js';
import type { PreparedCreate } from './messages.js';

/** At most this many prev events on a local event. */
export const MAX_PREV_EVENTS = 10;

export interface EventFields {
  sender: string;
  type: string;
  stateKey?: string | undefined;
  content: JsonObject;
}

export interface BuildArgs extends EventFields {
  roomId: string | undefined;
  prevEvents: Array<{ id: string; json?: JsonObject }>;
  authEvents: Array<{ id: string; json?: JsonObject }>;
  depth: number;
  /** default: now */
  originServerTs?: number;
}

function refs(rv: RoomVersion, list: Array<{ id: string; json?: JsonObject }>): JsonValue[] {
  if (!rv.eventRefsWithHashes) return list.map((r) => r.id);
  return list.map((r) => [r.id, { sha256: r.json ? encodeBase64(referenceHash(r.json, rv)) : '' }]);
}

/** Builds, hashes and signs a PDU as `serverName`. */
export function buildPdu(rv: RoomVersion, a: BuildArgs, serverName: string, key: SigningKey): JsonObject {
  return buildSigned(rv, a, serverName, key).pdu;
}

/** buildPdu, plus the event's ID (from the bytes just signed: no second canonical encoding). */
export function buildSigned(rv: RoomVersion, a: BuildArgs, serverName: string, key: SigningKey): { pdu: JsonObject; eventId: string } {
  const pdu = unsignedPdu(rv, a, serverName);
  const signed = signEventWithBytes(pdu, serverName, key, rv);
  return { pdu: signed.pdu, eventId: idFromSigned(rv, pdu, signed.signedBytes) };
}

/** buildSigned with the signature made on the crypto pool (a worker thread). */
export async function buildSignedAsync(
  rv: RoomVersion,
  a: BuildArgs,
  serverName: string,
  key: SigningKey,
  pool: CryptoPool,
): Promise<{ pdu: JsonObject; eventId: string; contentCanonical: string; canonicalText: string | undefined }> {
  const pdu = unsignedPdu(rv, a, serverName);
  const prepared = prepareEventSigning(pdu, rv);
  attachEventSignature(prepared.pdu, pdu.signatures, serverName, key.keyId, await pool.sign(key, prepared.signedBytes));
  return {
    pdu: prepared.pdu,
    eventId: idFromSigned(rv, pdu, prepared.signedBytes),
    contentCanonical: prepared.contentCanonical,
    canonicalText: canonicalTextOfSigned(prepared),
  };
}

function idFromSigned(rv: RoomVersion, pdu: JsonObject, signedBytes: Uint8Array): string {
  return rv.eventIdFormat === 'v1' ? (pdu.event_id as string) : eventIdFromRedactedBytes(signedBytes, rv);
}

function unsignedPdu(rv: RoomVersion, a: BuildArgs, serverName: string): JsonObject {
  let content = a.content;
  const pdu: JsonObject = {
    type: a.type,
    sender: a.sender,
    depth: a.depth,
    origin_server_ts: a.originServerTs ?? Date.now(),
    prev_events: refs(rv, a.prevEvents),
    auth_events: refs(rv, a.authEvents),
  };
  if (a.roomId !== undefined) pdu.room_id = a.roomId;
  if (a.stateKey !== undefined) pdu.state_key = a.stateKey;
  if (!rv.v11Format) pdu.origin = serverName;
  if (rv.eventIdFormat === 'v1') pdu.event_id = `$${randomBytes(12).toString('base64url')}:${serverName}`;
  if (a.type === 'm.room.redaction' && typeof content.redacts === 'string' && !rv.v11Format) {
    // before v11 the target is a top-level key
    pdu.redacts = content.redacts;
    content = { ...content };
    delete content.redacts;
  }
  pdu.content = content;
  return pdu;
}

/** The create event of a new room (v12: it has no room ID; the room ID comes from it). */
export function buildCreateEvent(
  rv: RoomVersion,
  creator: string,
  roomId: string | undefined,
  serverName: string,
  key: SigningKey,
  extra: JsonObject = {},
  originServerTs = Date.now(),
): JsonObject {
  const content: JsonObject = { ...extra, room_version: rv.id };
  if (!rv.v11Format) content.creator = creator;
  return buildPdu(
    rv,
    { roomId: rv.roomIdFromCreateEvent ? undefined : roomId, sender: creator, type: 'm.room.create', stateKey: '', content, prevEvents: [], authEvents: [], depth: 1, originServerTs },
    serverName,
    key,
  );
}

export function roomIdOfCreateEvent(pdu: JsonObject, rv: RoomVersion): string {
  return roomIdFromCreateEventId(computeEventId(pdu, rv));
}

function checkSender(sender: string, serverName: string): void {
  const i = sender.indexOf(':');
  if (!sender.startsWith('@') || i < 0 || sender.slice(i + 1) !== serverName) {
    throw new RoomServerError('M_INVALID_PARAM', `sender ${sender} is not a user of this server (${serverName})`);
  }
}

/** Event references with the events' JSON (room versions 1 and 2 put the events' reference hashes in them). */
function refsWithJson(room: RoomHot, ids: string[]): Promise<Array<{ id: string; json: JsonObject | undefined }>> {
  return Promise.all(ids.map(async (id) => ({ id, json: (await room.events!.get(id))?.json })));
}

/**
 * A local event with its auth events (the room's current state entries the
 * selection picked when it was built), or `authEvents` undefined when one
 * of them could not be read.
 */
export interface LocalEvent {
  event: MatrixEvent;
  authEvents: MatrixEvent[] | undefined;
}

/** Builds the next local event of a room from its current extremities and state. */
export async function buildLocalEvent(room: RoomHot, deps: RoomDeps, f: EventFields): Promise<LocalEvent> {
  const rv = room.rv!;
  const head = room.head!;
  checkSender(f.sender, deps.serverName);
  const prevIds = head.extremities.slice(-MAX_PREV_EVENTS);
  const authIds: string[] = [];
  for (const [t, k] of authEventSelection({ type: f.type, sender: f.sender, stateKey: f.stateKey, content: f.content }, rv)) {
    const id = room.current.get(stateKey(t, k));
    if (id !== undefined) authIds.push(id);
  }
  const got = room.events!.getManyNow(authIds);
  const authEvents = got instanceof Promise ? await got : got;
  const { pdu, eventId, contentCanonical, canonicalText } = await buildSignedAsync(
    rv,
    {
      roomId: room.roomId,
      sender: f.sender,
      type: f.type,
      stateKey: f.stateKey,
      content: f.content,
      prevEvents: rv.eventRefsWithHashes ? await refsWithJson(room, prevIds) : prevIds.map((id) => ({ id })),
      authEvents: rv.eventRefsWithHashes ? await refsWithJson(room, authIds) : authIds.map((id) => ({ id })),
      depth: head.depth + 1,
    },
    deps.serverName,
    deps.signingKey,
    deps.crypto,
  );
  // what the sender supplied is validated as in any event (its content may be malformed or too large)
  const event = canonicalText !== undefined ? parseLocalPdu(pdu, rv, eventId, prevIds, authIds, canonicalText) : parsePdu(pdu, rv, { knownEventId: eventId, contentCanonical, canonicalText });
  return { event, authEvents: authEvents.size === authIds.length ? authIds.map((id) => authEvents.get(id)!) : undefined };
}

/**
 * The events of a new room, built one at a time: the caller processes each
 * before asking for the next, so each sees the state its predecessors made.
 */
export async function* createRoomEvents(room: RoomHot, deps: RoomDeps, c: PreparedCreate): AsyncGenerator<LocalEvent> {
  const req = c.req;
  const rv = room.rv!;
  checkSender(req.creator, deps.serverName);
  const createPdu = c.createEvent ?? buildCreateEvent(rv, req.creator, room.roomId, deps.serverName, deps.signingKey);
  yield { event: parsePdu(createPdu, rv), authEvents: [] };

  yield await buildLocalEvent(room, deps, { sender: req.creator, type: 'm.room.member', stateKey: req.creator, content: { membership: 'join' } });

  const users: JsonObject = {};
  if (!rv.creatorsHaveInfinitePower) users[req.creator] = 100;
  yield await buildLocalEvent(room, deps, {
    sender: req.creator,
    type: 'm.room.power_levels',
    stateKey: '',
    content: {
      users,
      users_default: 0,
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
      events: {
        'm.room.name': 50,
        'm.room.power_levels': 100,
        'm.room.history_visibility': 100,
        'm.room.canonical_alias': 50,
        'm.room.avatar': 50,
        'm.room.tombstone': 100,
        'm.room.server_acl': 100,
        'm.room.encryption': 100,
      },
    },
  });
  const joinRule = req.preset === 'public_chat' ? 'public' : 'invite';
  yield await buildLocalEvent(room, deps, { sender: req.creator, type: 'm.room.join_rules', stateKey: '', content: { join_rule: joinRule } });
  yield await buildLocalEvent(room, deps, { sender: req.creator, type: 'm.room.history_visibility', stateKey: '', content: { history_visibility: 'shared' } });
  for (const s of req.initialState ?? []) {
    yield await buildLocalEvent(room, deps, { sender: req.creator, type: s.type, stateKey: s.state_key ?? '', content: s.content });
  }
  if (req.name !== undefined) yield await buildLocalEvent(room, deps, { sender: req.creator, type: 'm.room.name', stateKey: '', content: { name: req.name } });
  if (req.topic !== undefined) yield await buildLocalEvent(room, deps, { sender: req.creator, type: 'm.room.topic', stateKey: '', content: { topic: req.topic } });
}
