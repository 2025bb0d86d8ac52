/**
 * How a roomserver asks other servers' roomservers for what it lacks
 * (missing events, auth events, state, keys). The room actors depend only
 * on this interface; src/client/peer-link.ts implements it over WebSocket,
 * and an in-process implementation links two RoomServer instances directly.
 * Every method may reject (timeout, unknown peer, refused); callers treat a
 * rejection as "this server could not help".
 */
import type { Pdu, StateIdsReply, MissingEventsRequest } from './api.js';
import type { JsonObject } from './matrix/json.js';

export interface PeerFetcher {
  /** Server names this fetcher can reach. */
  knownServers(): string[];
  missingEvents(server: string, req: MissingEventsRequest): Promise<Pdu[]>;
  stateIds(server: string, roomId: string, eventId: string): Promise<StateIdsReply>;
  /** Events by ID; events the peer lacks are left out. */
  events(server: string, eventIds: string[]): Promise<Pdu[]>;
  eventAuth(server: string, roomId: string, eventId: string): Promise<Pdu[]>;
  /** The peer's self-signed key object (federation /_matrix/key/v2/server format). */
  serverKeys(server: string): Promise<JsonObject>;
}
