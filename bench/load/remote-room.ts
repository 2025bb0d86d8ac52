/**
 * `--mode input`: the events of one room, built and signed up front by a
 * simulated remote server, so the target checks hashes and signatures of
 * every event as it would for federation traffic. The builder keeps the
 * room's state as it goes to pick each event's auth events, and its
 * forward extremities for prev events; a fork is two topic changes off the
 * same extremities, which the next event joins again (so the server runs
 * state resolution over a real conflict).
 */
import type { JsonObject } from '../../src/matrix/json.js';
import type { RoomVersion } from '../../src/matrix/room-versions.js';
import type { SigningKey } from '../../src/matrix/ed25519.js';
import { authEventSelection } from '../../src/auth/selection.js';
import { computeEventId } from '../../src/matrix/event-id.js';
import { buildCreateEvent, buildPdu, roomIdOfCreateEvent } from '../../actors/local-events.js';
import type { AckedEvent } from './room-model.js';
import type { Slot, StateChange } from './plan.js';

export interface BuiltEvent extends AckedEvent {
  pdu: JsonObject;
  prevs: string[];
  depth: number;
}

export interface BuiltRoom {
  roomId: string;
  /** create, creator join, power levels, join rules, history visibility, then each sender's join */
  setup: BuiltEvent[];
  /** one input request each: one event, or the two branches of a fork */
  steps: BuiltEvent[][];
}

export interface RemoteServer {
  name: string;
  key: SigningKey;
}

export function remoteUser(server: string, who: 'creator' | number): string {
  return who === 'creator' ? `@bench-creator:${server}` : `@bench-u${who + 1}:${server}`;
}

/** The content of a state change (shared with send mode so both modes send the same events). */
export function stateChangeEvent(change: StateChange, n: number, creator: string, sender: (i: number) => string): { sender: string; type: string; stateKey: string; content: JsonObject } {
  switch (change.kind) {
    case 'topic':
      return { sender: creator, type: 'm.room.topic', stateKey: '', content: { topic: `bench topic ${n}` } };
    case 'name':
      return { sender: creator, type: 'm.room.name', stateKey: '', content: { name: `bench room ${n}` } };
    case 'displayname': {
      const user = sender(change.sender);
      return { sender: user, type: 'm.room.member', stateKey: user, content: { membership: 'join', displayname: `bench user ${change.sender + 1} #${n}` } };
    }
  }
}

export function messageContent(room: number, n: number): JsonObject {
  return { msgtype: 'm.text', body: `bench message ${n} in room ${room}: the quick brown fox jumps over the lazy dog` };
}

export function powerLevelsContent(rv: RoomVersion, creator: string): JsonObject {
  const users: JsonObject = {};
  if (!rv.creatorsHaveInfinitePower) users[creator] = 100;
  return { users, users_default: 0, events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50, invite: 0, events: { 'm.room.name': 50, 'm.room.power_levels': 100 } };
}

class RoomBuilder {
  private readonly state = new Map<string, { id: string; json: JsonObject }>();
  private heads: Array<{ id: string; json: JsonObject }> = [];
  private depth = 0;
  roomId: string | undefined;

  constructor(
    private readonly rv: RoomVersion,
    private readonly server: RemoteServer,
  ) {}

  private idOf(pdu: JsonObject): string {
    return this.rv.eventIdFormat === 'v1' ? String(pdu.event_id) : computeEventId(pdu, this.rv);
  }

  private record(pdu: JsonObject, f: { type: string; stateKey?: string | undefined; content: JsonObject }, prevs: string[], depth: number): BuiltEvent {
    const id = this.idOf(pdu);
    if (f.stateKey !== undefined) this.state.set(`${f.type}\u0000${f.stateKey}`, { id, json: pdu });
    return { id, pdu, type: f.type, stateKey: f.stateKey, content: f.content, prevs, depth };
  }

  create(creator: string, nonce: string, ts: number): BuiltEvent {
    // v12: the room ID is the create event's hash, so the nonce keeps rooms apart; before, it names the room
    const given = this.rv.roomIdFromCreateEvent ? undefined : `!bench${nonce.replace(/[^A-Za-z0-9]/g, '')}:${this.server.name}`;
    const pdu = buildCreateEvent(this.rv, creator, given, this.server.name, this.server.key, { 'bench.nonce': nonce }, ts);
    this.roomId = given ?? roomIdOfCreateEvent(pdu, this.rv);
    const e = this.record(pdu, { type: 'm.room.create', stateKey: '', content: pdu.content as JsonObject }, [], 1);
    this.commit([e]);
    return e;
  }

  /** Builds one event on the current heads (without moving them). */
  build(f: { sender: string; type: string; stateKey?: string | undefined; content: JsonObject }): BuiltEvent {
    const auth: Array<{ id: string; json: JsonObject }> = [];
    for (const [t, k] of authEventSelection({ type: f.type, sender: f.sender, stateKey: f.stateKey, content: f.content }, this.rv)) {
      const e = this.state.get(`${t}\u0000${k}`);
      if (e) auth.push(e);
    }
    const depth = this.depth + 1;
    const pdu = buildPdu(
      this.rv,
      { roomId: this.roomId, sender: f.sender, type: f.type, stateKey: f.stateKey, content: f.content, prevEvents: this.heads, authEvents: auth, depth },
      this.server.name,
      this.server.key,
    );
    return this.record(pdu, f, this.heads.map((h) => h.id), depth);
  }

  /** Moves the heads onto a group of events built on the same heads. */
  commit(group: BuiltEvent[]): void {
    this.heads = group.map((e) => ({ id: e.id, json: e.pdu }));
    this.depth = Math.max(...group.map((e) => e.depth));
  }
}

/** Builds every event of room `index` for the slots of its plan. */
export function buildRemoteRoom(index: number, slots: Slot[], o: { rv: RoomVersion; server: RemoteServer; senders: number; runId: string; ts: number }): BuiltRoom {
  const b = new RoomBuilder(o.rv, o.server);
  const creator = remoteUser(o.server.name, 'creator');
  const sender = (i: number) => remoteUser(o.server.name, i);
  const setup: BuiltEvent[] = [];
  setup.push(b.create(creator, `${o.runId}-${index}`, o.ts));
  const one = (f: Parameters<RoomBuilder['build']>[0]): BuiltEvent => {
    const e = b.build(f);
    b.commit([e]);
    return e;
  };
  setup.push(one({ sender: creator, type: 'm.room.member', stateKey: creator, content: { membership: 'join' } }));
  setup.push(one({ sender: creator, type: 'm.room.power_levels', stateKey: '', content: powerLevelsContent(o.rv, creator) }));
  setup.push(one({ sender: creator, type: 'm.room.join_rules', stateKey: '', content: { join_rule: 'public' } }));
  setup.push(one({ sender: creator, type: 'm.room.history_visibility', stateKey: '', content: { history_visibility: 'shared' } }));
  for (let s = 0; s < o.senders; s++) setup.push(one({ sender: sender(s), type: 'm.room.member', stateKey: sender(s), content: { membership: 'join' } }));

  const steps: BuiltEvent[][] = [];
  let n = 0;
  for (const slot of slots) {
    n++;
    if (slot.kind === 'message') {
      steps.push([one({ sender: sender(slot.sender), type: 'm.room.message', content: messageContent(index, n) })]);
    } else if (slot.kind === 'state') {
      steps.push([one(stateChangeEvent(slot.change, n, creator, sender))]);
    } else {
      const a = b.build({ sender: creator, type: 'm.room.topic', stateKey: '', content: { topic: `bench fork ${n} branch a` } });
      const c = b.build({ sender: creator, type: 'm.room.topic', stateKey: '', content: { topic: `bench fork ${n} branch b` } });
      b.commit([a, c]);
      steps.push([a, c]);
    }
  }
  return { roomId: b.roomId!, setup, steps };
}
