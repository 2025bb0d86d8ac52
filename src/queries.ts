/**
 * The query ops (PROTOCOL.md "queries"). They read committed data straight
 * from storage (a room actor commits before it answers, so storage is never
 * behind what a caller was told). Queries asked by a peer server
 * (`asServer`) are filtered by the room's server ACL and history
 * visibility for that server.
 */
import type {
  EventAuthReply,
  EventQueryReply,
  LatestReply,
  MembershipReply,
  MissingEventsReply,
  MissingEventsRequest,
  RoomReply,
  RoomServerQueries,
  ServerKeysReply,
  StateIdsReply,
  StateQueryReply,
  Pdu,
} from './api.js';
import { RoomServerError } from './errors.js';
import type { JsonObject } from './matrix/json.js';
import { roomVersion } from './matrix/room-versions.js';
import { splitStateKey, stateKey, type StateMap } from './matrix/state-key.js';
import type { SigningKey } from './matrix/ed25519.js';
import { serverKeysObject } from './matrix/keys.js';
import { roomCreators } from './auth/power-levels.js';
import { EventSource, type EventCache } from '../actors/event-source.js';
import { statusOf, type EventRecord, type RoomHead } from '../actors/room-store.js';
import type { StoreAdapter } from '../actors/store-adapter.js';
import { serverAllowedByAcl } from './server-acl.js';

const MAX_IDS = 10_000;

function checkIds(name: string, ids: unknown, max = MAX_IDS): string[] {
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) throw new RoomServerError('M_INVALID_PARAM', `${name} must be an array of strings`);
  if (ids.length > max) throw new RoomServerError('M_TOO_LARGE', `${name} has more than ${max} entries`);
  return ids;
}

function checkString(name: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new RoomServerError('M_INVALID_PARAM', `${name} must be a non-empty string`);
  return v;
}

export class RoomQueries implements RoomServerQueries {
  constructor(
    private readonly store: StoreAdapter,
    private readonly cache: EventCache,
    private readonly serverName: string,
    private readonly signingKey: SigningKey,
  ) {}

  private async head(roomId: string): Promise<RoomHead> {
    checkString('room_id', roomId);
    const head = await this.store.getRoom(roomId);
    if (!head) throw new RoomServerError('M_NOT_FOUND', `unknown room ${roomId}`);
    return head;
  }

  private source(head: RoomHead): EventSource {
    return new EventSource(this.store, this.cache, roomVersion(head.roomVersion));
  }

  private async stateBefore(rec: EventRecord): Promise<StateMap> {
    return this.store.loadSnapshot(rec.beforeSnapshot);
  }

  private async roomEvent(roomId: string, eventId: string): Promise<EventRecord> {
    checkString('event_id', eventId);
    const rec = await this.store.getEvent(eventId);
    if (!rec || rec.roomId !== roomId) throw new RoomServerError('M_NOT_FOUND', `unknown event ${eventId} in ${roomId}`);
    return rec;
  }

  /** Whether a peer server may see an event: server ACL, then history visibility at the event. */
  private async visibleTo(server: string, head: RoomHead, rec: EventRecord | undefined): Promise<boolean> {
    const src = this.source(head);
    const current = await this.store.loadSnapshot(head.currentSnapshot);
    const aclId = current.get(stateKey('m.room.server_acl', ''));
    if (aclId) {
      const acl = await src.get(aclId);
      if (acl && !serverAllowedByAcl(server, acl.content)) return false;
    }
    const state = rec && rec.beforeSnapshot ? await this.stateBefore(rec) : current;
    const hvId = state.get(stateKey('m.room.history_visibility', ''));
    const hv = hvId ? (await src.get(hvId))?.content.history_visibility : undefined;
    const visibility = typeof hv === 'string' ? hv : 'shared';
    if (visibility === 'world_readable') return true;
    const memberships = async (st: StateMap): Promise<string[]> => {
      const ids: string[] = [];
      for (const [k, id] of st) {
        if (!k.startsWith('m.room.member\u0000')) continue;
        const user = splitStateKey(k)[1];
        if (user.endsWith(':' + server)) ids.push(id);
      }
      const evs = await src.getMany(ids);
      return [...evs.values()].map((e) => String(e.content.membership));
    };
    const atEvent = await memberships(state);
    if (atEvent.includes('join')) return true;
    if (atEvent.includes('invite') && (visibility === 'invited' || visibility === 'shared')) return true;
    if (visibility === 'shared' && state !== current) return (await memberships(current)).includes('join');
    return false;
  }

  async event(eventIds: string[], opts: { asServer?: string } = {}): Promise<EventQueryReply> {
    checkIds('event_ids', eventIds);
    const events: EventQueryReply['events'] = [];
    const missing: string[] = [];
    for (const id of eventIds) {
      const rec = await this.store.getEvent(id);
      const json = rec ? await this.store.getEventJson(id) : undefined;
      if (!rec || !json) {
        missing.push(id);
        continue;
      }
      if (opts.asServer !== undefined) {
        const head = await this.store.getRoom(rec.roomId);
        if (!head || rec.rejected || !(await this.visibleTo(opts.asServer, head, rec))) {
          missing.push(id);
          continue;
        }
      }
      events.push({ event_id: id, event: json, status: statusOf(rec), outlier: rec.outlier, redacted: rec.redacted });
    }
    return { events, missing };
  }

  async state(roomId: string, opts: { eventId?: string; idsOnly?: boolean } = {}): Promise<StateQueryReply> {
    const head = await this.head(roomId);
    let state: StateMap;
    if (opts.eventId !== undefined) {
      const rec = await this.roomEvent(roomId, opts.eventId);
      if (rec.outlier || (rec.beforeSnapshot === 0 && !(rec.stateKey === stateKey('m.room.create', '') && rec.prevEvents.length === 0))) {
        throw new RoomServerError('M_NOT_FOUND', `no state is known before ${opts.eventId}`);
      }
      state = await this.stateBefore(rec);
    } else {
      state = await this.store.loadSnapshot(head.currentSnapshot);
    }
    const ids = [...state.values()];
    if (opts.idsOnly) return { state_ids: ids };
    return { state: await this.jsonOf(ids) };
  }

  private async jsonOf(ids: string[]): Promise<Pdu[]> {
    const out: Pdu[] = [];
    for (const id of ids) {
      const j = await this.store.getEventJson(id);
      if (j) out.push(j);
    }
    return out;
  }

  /** The transitive auth events of some events (not including them), as IDs. */
  private async authChain(start: Iterable<string>): Promise<string[]> {
    const seen = new Set<string>();
    const queue: string[] = [];
    for (const id of start) {
      const r = await this.store.getEvent(id);
      if (r) queue.push(...r.authEvents);
    }
    while (queue.length) {
      const id = queue.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const r = await this.store.getEvent(id);
      if (r) for (const a of r.authEvents) if (!seen.has(a)) queue.push(a);
    }
    return [...seen];
  }

  private async peerCheck(head: RoomHead, rec: EventRecord, asServer: string | undefined): Promise<void> {
    if (asServer !== undefined && !(await this.visibleTo(asServer, head, rec))) {
      throw new RoomServerError('M_FORBIDDEN', `${asServer} may not see ${rec.eventId}`);
    }
  }

  async stateIds(roomId: string, eventId: string, opts: { asServer?: string } = {}): Promise<StateIdsReply> {
    const head = await this.head(roomId);
    const rec = await this.roomEvent(roomId, eventId);
    await this.peerCheck(head, rec, opts.asServer);
    if (rec.outlier) throw new RoomServerError('M_NOT_FOUND', `no state is known before ${eventId}`);
    const state = await this.stateBefore(rec);
    const pdu_ids = [...state.values()];
    return { pdu_ids, auth_chain_ids: await this.authChain(pdu_ids) };
  }

  async eventAuth(roomId: string, eventId: string, opts: { asServer?: string } = {}): Promise<EventAuthReply> {
    const head = await this.head(roomId);
    const rec = await this.roomEvent(roomId, eventId);
    await this.peerCheck(head, rec, opts.asServer);
    return { auth_chain: await this.jsonOf(await this.authChain([eventId])) };
  }

  async missingEvents(req: MissingEventsRequest, opts: { asServer?: string } = {}): Promise<MissingEventsReply> {
    const head = await this.head(req.roomId);
    const earliest = new Set(checkIds('earliest_events', req.earliestEvents));
    const latest = checkIds('latest_events', req.latestEvents);
    const limit = Math.max(0, Math.min(req.limit ?? 10, 100));
    const minDepth = req.minDepth ?? 0;
    if (!Number.isInteger(limit) || !Number.isInteger(minDepth)) throw new RoomServerError('M_INVALID_PARAM', 'limit and min_depth must be integers');
    // Walk back from the latest events along prev_events, stopping at the
    // earliest events, breadth first (newest first), up to `limit` events.
    const seen = new Set<string>(latest);
    let frontier: string[] = [];
    for (const id of latest) {
      const r = await this.store.getEvent(id);
      if (r && r.roomId === req.roomId) frontier.push(...r.prevEvents);
    }
    const found: Array<{ rec: EventRecord; json: JsonObject }> = [];
    while (frontier.length && found.length < limit) {
      const next: string[] = [];
      for (const id of frontier) {
        if (found.length >= limit) break;
        if (seen.has(id) || earliest.has(id)) continue;
        seen.add(id);
        const rec = await this.store.getEvent(id);
        if (!rec || rec.roomId !== req.roomId || rec.outlier || rec.depth < minDepth) continue;
        const json = await this.store.getEventJson(id);
        if (!json) continue;
        if (opts.asServer !== undefined && !(await this.visibleTo(opts.asServer, head, rec))) continue;
        found.push({ rec, json });
        next.push(...rec.prevEvents);
      }
      frontier = next;
    }
    found.sort((a, b) => a.rec.depth - b.rec.depth || (a.rec.eventId < b.rec.eventId ? -1 : 1));
    return { events: found.map((f) => f.json) };
  }

  async serverKeys(): Promise<ServerKeysReply> {
    return serverKeysObject(this.serverName, this.signingKey, Date.now() + 24 * 3600 * 1000);
  }

  async latest(roomId: string): Promise<LatestReply> {
    const head = await this.head(roomId);
    return { latest_event_ids: [...head.extremities], depth: head.depth };
  }

  async membership(roomId: string, userId?: string): Promise<MembershipReply> {
    const head = await this.head(roomId);
    if (userId !== undefined) checkString('user_id', userId);
    const state = await this.store.loadSnapshot(head.currentSnapshot);
    const src = this.source(head);
    const members: MembershipReply['members'] = [];
    const ids: Array<[string, string]> = [];
    for (const [k, id] of state) {
      if (!k.startsWith('m.room.member\u0000')) continue;
      const user = splitStateKey(k)[1];
      if (userId === undefined || user === userId) ids.push([user, id]);
    }
    const evs = await src.getMany(ids.map(([, id]) => id));
    for (const [user, id] of ids) {
      const m = evs.get(id)?.content.membership;
      members.push({ user_id: user, membership: typeof m === 'string' ? m : 'leave', event_id: id });
    }
    members.sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
    return { members };
  }

  async room(roomId: string): Promise<RoomReply> {
    const head = await this.head(roomId);
    const rv = roomVersion(head.roomVersion);
    const src = this.source(head);
    const create = await src.get(head.createEventId);
    const { members } = await this.membership(roomId);
    const state = await this.store.loadSnapshot(head.currentSnapshot);
    return {
      room_version: head.roomVersion,
      creators: roomCreators(create, rv),
      state_events: state.size,
      joined_members: members.filter((m) => m.membership === 'join').length,
      forward_extremities: [...head.extremities],
    };
  }
}
