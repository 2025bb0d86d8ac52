/**
 * The outside surface shared by the embedder API (RoomServer) and the
 * WebSocket gateway: request options and result objects exactly as
 * ../shared/PROTOCOL.md names them (snake_case results, camelCase options).
 */
import type { JsonObject } from './matrix/json.js';

export type Pdu = JsonObject;

export type InputKind = 'new' | 'outlier' | 'old';

export interface InputEvent {
  event: Pdu;
  kind?: InputKind;
  roomVersion?: string;
  origin?: string;
  stateEventIds?: string[];
}

export type InputStatus = 'accepted' | 'soft_failed' | 'rejected' | 'outlier' | 'duplicate';

export interface InputResult {
  event_id: string;
  status: InputStatus;
  reason?: string;
}

export interface InputReply {
  results: InputResult[];
}
export interface AsyncInputReply {
  queued: number;
}

export interface SendRequest {
  roomId: string;
  sender: string;
  type: string;
  stateKey?: string;
  content: JsonObject;
  txnId?: string;
}
export interface SendReply {
  event_id: string;
  status: InputStatus;
}

export interface CreateRoomRequest {
  creator: string;
  roomVersion?: string;
  preset?: 'private_chat' | 'public_chat';
  name?: string;
  topic?: string;
  initialState?: Array<{ type: string; state_key?: string; content: JsonObject }>;
}
export interface CreateRoomReply {
  room_id: string;
  event_ids: string[];
}

export interface SubscribeOptions {
  rooms?: string[];
  types?: OutputType[];
  /** exclusive; omit = from now; 0 replays the whole log */
  from?: number;
}

export type OutputType = 'new_room_event' | 'old_room_event' | 'redacted_event';

export interface NewRoomEventOutput {
  type: 'new_room_event';
  pos: number;
  room_id: string;
  /** the event's ID (v3+ PDUs do not carry it) */
  event_id: string;
  event: Pdu;
  adds_state_event_ids: string[];
  removes_state_event_ids: string[];
  latest_event_ids: string[];
  rewrites_state: boolean;
  txn_id?: string;
}
export interface OldRoomEventOutput {
  type: 'old_room_event';
  pos: number;
  room_id: string;
  event_id: string;
  event: Pdu;
}
export interface RedactedEventOutput {
  type: 'redacted_event';
  pos: number;
  room_id: string;
  redacted_event_id: string;
  redaction_event_id: string;
  redaction_event: Pdu;
}
export type Output = NewRoomEventOutput | OldRoomEventOutput | RedactedEventOutput;

export interface Subscription extends AsyncIterable<Output> {
  readonly id: string;
  /** the log head when the subscription started */
  readonly head: number;
  close(): void;
}

export interface EventQueryReply {
  events: Array<{ event_id: string; event: Pdu; status: InputStatus | 'accepted'; outlier: boolean; redacted: boolean }>;
  missing: string[];
}
export type StateQueryReply = { state: Pdu[] } | { state_ids: string[] };
export interface StateIdsReply {
  pdu_ids: string[];
  auth_chain_ids: string[];
}
export interface EventAuthReply {
  auth_chain: Pdu[];
}
export interface MissingEventsRequest {
  roomId: string;
  earliestEvents: string[];
  latestEvents: string[];
  limit?: number;
  minDepth?: number;
}
export interface MissingEventsReply {
  events: Pdu[];
}
export interface LatestReply {
  latest_event_ids: string[];
  depth: number;
}
export interface MembershipReply {
  members: Array<{ user_id: string; membership: string; event_id: string }>;
}
export interface RoomReply {
  room_version: string;
  creators: string[];
  state_events: number;
  joined_members: number;
  forward_extremities: string[];
}
export type ServerKeysReply = JsonObject;

/**
 * The queries, one method per query op. `asServer`, when given, is the peer
 * server asking: results are filtered by server ACLs and history visibility
 * for it (peer role on the gateway).
 */
export interface RoomServerQueries {
  event(eventIds: string[], opts?: { asServer?: string }): Promise<EventQueryReply>;
  state(roomId: string, opts?: { eventId?: string; idsOnly?: boolean }): Promise<StateQueryReply>;
  stateIds(roomId: string, eventId: string, opts?: { asServer?: string }): Promise<StateIdsReply>;
  eventAuth(roomId: string, eventId: string, opts?: { asServer?: string }): Promise<EventAuthReply>;
  missingEvents(req: MissingEventsRequest, opts?: { asServer?: string }): Promise<MissingEventsReply>;
  serverKeys(): Promise<ServerKeysReply>;
  latest(roomId: string): Promise<LatestReply>;
  membership(roomId: string, userId?: string): Promise<MembershipReply>;
  room(roomId: string): Promise<RoomReply>;
}

/** What the gateway needs from a RoomServer (the embedder API, PROTOCOL.md). */
export interface RoomServerApi {
  readonly serverName: string;
  input(events: InputEvent[], opts?: { async?: false }): Promise<InputReply>;
  input(events: InputEvent[], opts: { async: true }): Promise<AsyncInputReply>;
  input(events: InputEvent[], opts?: { async?: boolean }): Promise<InputReply | AsyncInputReply>;
  send(req: SendRequest): Promise<SendReply>;
  createRoom(req: CreateRoomRequest): Promise<CreateRoomReply>;
  subscribe(opts: SubscribeOptions, onOutput?: (o: Output) => void): Subscription;
  addServerKey(serverName: string, keyId: string, publicKeyBase64: string, validUntilTs?: number): void;
  readonly query: RoomServerQueries;
  /** the current output log head */
  outputHead(): number;
  close(): Promise<void>;
}
