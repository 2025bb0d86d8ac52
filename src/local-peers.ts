/**
 * A peer link between RoomServer instances in one process (embedders
 * running several servers, and tests). Each call goes through the other
 * server's peer queries exactly as a WebSocket peer's would, filtered for
 * the asking server's name.
 */
import type { MissingEventsRequest, Pdu, RoomServerApi, StateIdsReply } from './api.js';
import type { JsonObject } from './matrix/json.js';
import type { PeerFetcher } from './peers.js';
import { RoomServerError } from './errors.js';

export class LocalPeers implements PeerFetcher {
  private readonly servers = new Map<string, RoomServerApi>();

  /** `self` is the asking server's name (never asked, and the name peers filter for). */
  constructor(private readonly self: string) {}

  add(rs: RoomServerApi): this {
    if (rs.serverName !== this.self) this.servers.set(rs.serverName, rs);
    return this;
  }

  private peer(server: string): RoomServerApi {
    const rs = this.servers.get(server);
    if (!rs) throw new RoomServerError('M_NOT_FOUND', `no peer ${server}`);
    return rs;
  }

  knownServers(): string[] {
    return [...this.servers.keys()];
  }

  async missingEvents(server: string, req: MissingEventsRequest): Promise<Pdu[]> {
    return (await this.peer(server).query.missingEvents(req, { asServer: this.self })).events;
  }

  stateIds(server: string, roomId: string, eventId: string): Promise<StateIdsReply> {
    return this.peer(server).query.stateIds(roomId, eventId, { asServer: this.self });
  }

  async events(server: string, eventIds: string[]): Promise<Pdu[]> {
    return (await this.peer(server).query.event(eventIds, { asServer: this.self })).events.map((e) => e.event);
  }

  async eventAuth(server: string, roomId: string, eventId: string): Promise<Pdu[]> {
    return (await this.peer(server).query.eventAuth(roomId, eventId, { asServer: this.self })).auth_chain;
  }

  serverKeys(server: string): Promise<JsonObject> {
    return this.peer(server).query.serverKeys();
  }
}
