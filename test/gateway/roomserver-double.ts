/**
 * TEST DOUBLE — not the RoomServer. A small in-memory RoomServerApi used to
 * test the protocol layer (gateway, client, peer link) on its own: it keeps
 * an output log, answers every op with plausible objects, records calls,
 * and can be told to hold requests (gate), fail them, or report how many
 * outputs its subscriptions have handed out (to observe flow control).
 */
import { createHash } from 'node:crypto';
import type {
  AsyncInputReply,
  CreateRoomReply,
  CreateRoomRequest,
  InputEvent,
  InputReply,
  Output,
  OutputType,
  Pdu,
  RoomServerApi,
  RoomServerQueries,
  SendReply,
  SendRequest,
  SubscribeOptions,
  Subscription,
} from '../../src/api.js';
import { RoomServerError } from '../../src/errors.js';
import type { JsonObject } from '../../src/matrix/json.js';

export interface RecordedCall {
  method: string;
  args: unknown[];
  at: number;
}

export class RoomServerTestDouble implements RoomServerApi {
  readonly serverName: string;
  readonly calls: RecordedCall[] = [];
  readonly outputs: Output[] = [];
  readonly events = new Map<string, { event: Pdu; roomId: string }>();
  readonly keys = new Map<string, string>();
  /** when set, input/send/createRoom/queries wait for it before answering */
  gate: Promise<void> | undefined;
  /** the next call throws this (once) */
  failNext: unknown;
  /** calls currently inside the double (for in-flight checks) */
  active = 0;
  maxActive = 0;
  /** outputs handed to subscription consumers, over all subscriptions */
  pulled = 0;
  /** content added to every output event built by `appendMany` */
  filler = '';
  #txns = new Map<string, SendReply>();
  #waiters = new Set<() => void>();
  #nextSub = 1;
  #nextRoom = 1;
  #nextEvent = 1;
  #subs = new Set<{ close(): void }>();
  closed = false;

  constructor(serverName = 'double.test') {
    this.serverName = serverName;
  }

  /** Holds calls until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((r) => (release = r));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  async #enter(method: string, args: unknown[]): Promise<void> {
    this.calls.push({ method, args, at: performance.now() });
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.gate) await this.gate;
      if (this.failNext !== undefined) {
        const e = this.failNext;
        this.failNext = undefined;
        throw e;
      }
    } finally {
      this.active--;
    }
  }

  #append(o: Omit<NewRoomEventLike, 'pos'> | Record<string, unknown>): Output {
    const out = { ...o, pos: this.outputs.length + 1 } as unknown as Output;
    this.outputs.push(out);
    for (const w of [...this.#waiters]) w();
    return out;
  }

  #newEvent(roomId: string, type: string, sender: string, content: JsonObject, stateKey?: string): Pdu {
    const ev: Pdu = { event_id: `$ev${this.#nextEvent++}`, room_id: roomId, type, sender, content, origin_server_ts: 1, depth: this.#nextEvent };
    if (stateKey !== undefined) ev.state_key = stateKey;
    if (this.filler) (ev.content as JsonObject).filler = this.filler;
    return ev;
  }

  #newRoomEvent(roomId: string, event: Pdu, txnId?: string): void {
    const o: Record<string, unknown> = {
      type: 'new_room_event',
      room_id: roomId,
      event_id: String(event.event_id),
      event,
      adds_state_event_ids: event.state_key !== undefined ? [event.event_id] : [],
      removes_state_event_ids: [],
      latest_event_ids: [event.event_id],
      rewrites_state: false,
    };
    if (txnId !== undefined) o.txn_id = txnId;
    this.events.set(String(event.event_id), { event, roomId });
    this.#append(o);
  }

  /** Appends n message outputs to a room (without a request). */
  appendMany(roomId: string, n: number): void {
    for (let i = 0; i < n; i++) this.#newRoomEvent(roomId, this.#newEvent(roomId, 'm.room.message', '@bulk:double.test', { body: `m${i}` }));
  }

  // ---- RoomServerApi ----

  input(events: InputEvent[], opts?: { async?: false }): Promise<InputReply>;
  input(events: InputEvent[], opts: { async: true }): Promise<AsyncInputReply>;
  input(events: InputEvent[], opts?: { async?: boolean }): Promise<InputReply | AsyncInputReply>;
  async input(events: InputEvent[], opts: { async?: boolean } = {}): Promise<InputReply | AsyncInputReply> {
    await this.#enter('input', [events, opts]);
    const results = events.map((ie) => {
      const id = typeof ie.event.event_id === 'string' ? ie.event.event_id : `$${createHash('sha256').update(JSON.stringify(ie.event)).digest('base64url')}`;
      if (this.events.has(id)) return { event_id: id, status: 'duplicate' as const, reason: 'accepted' };
      const roomId = String(ie.event.room_id ?? '!unknown:double.test');
      this.#newRoomEvent(roomId, { ...ie.event, event_id: id });
      return { event_id: id, status: ie.kind === 'outlier' ? ('outlier' as const) : ('accepted' as const) };
    });
    return opts.async ? { queued: events.length } : { results };
  }

  async send(req: SendRequest): Promise<SendReply> {
    await this.#enter('send', [req]);
    if (!this.#rooms.has(req.roomId)) throw new RoomServerError('M_NOT_FOUND', `unknown room ${req.roomId}`);
    const key = req.txnId !== undefined ? `${req.sender}\u0000${req.txnId}` : undefined;
    if (key && this.#txns.has(key)) return this.#txns.get(key)!;
    const ev = this.#newEvent(req.roomId, req.type, req.sender, req.content, req.stateKey);
    this.#newRoomEvent(req.roomId, ev, req.txnId);
    const r: SendReply = { event_id: String(ev.event_id), status: 'accepted' };
    if (key) this.#txns.set(key, r);
    return r;
  }

  #rooms = new Map<string, { creator: string; version: string }>();

  async createRoom(req: CreateRoomRequest): Promise<CreateRoomReply> {
    await this.#enter('createRoom', [req]);
    const roomId = `!room${this.#nextRoom++}:${this.serverName}`;
    this.#rooms.set(roomId, { creator: req.creator, version: req.roomVersion ?? '12' });
    const ids: string[] = [];
    const add = (type: string, content: JsonObject, stateKey = ''): void => {
      const ev = this.#newEvent(roomId, type, req.creator, content, stateKey);
      ids.push(String(ev.event_id));
      this.#newRoomEvent(roomId, ev);
    };
    add('m.room.create', { room_version: req.roomVersion ?? '12' });
    add('m.room.member', { membership: 'join' }, req.creator);
    add('m.room.power_levels', { users: { [req.creator]: 100 } });
    add('m.room.join_rules', { join_rule: req.preset === 'public_chat' ? 'public' : 'invite' });
    add('m.room.history_visibility', { history_visibility: 'shared' });
    if (req.name !== undefined) add('m.room.name', { name: req.name });
    if (req.topic !== undefined) add('m.room.topic', { topic: req.topic });
    for (const s of req.initialState ?? []) add(s.type, s.content, s.state_key ?? '');
    return { room_id: roomId, event_ids: ids };
  }

  subscribe(opts: SubscribeOptions, onOutput?: (o: Output) => void): Subscription {
    this.calls.push({ method: 'subscribe', args: [opts], at: performance.now() });
    if (opts.from !== undefined && opts.from > this.outputs.length) {
      throw new RoomServerError('M_INVALID_PARAM', `from ${opts.from} is beyond the log head ${this.outputs.length}`);
    }
    const head = this.outputs.length;
    const id = `sub${this.#nextSub++}`;
    let cursor = opts.from ?? head; // positions already passed
    let closed = false;
    let wake: (() => void) | undefined;
    const rooms = opts.rooms ? new Set(opts.rooms) : undefined;
    const types = opts.types ? new Set<OutputType>(opts.types) : undefined;
    const double = this;
    const matches = (o: Output): boolean => (!rooms || rooms.has(o.room_id)) && (!types || types.has(o.type));
    const handle = {
      close(): void {
        closed = true;
        double.#subs.delete(handle);
        wake?.();
      },
    };
    this.#subs.add(handle);
    const next = async (): Promise<IteratorResult<Output>> => {
      for (;;) {
        if (closed || double.closed) return { value: undefined, done: true };
        while (cursor < double.outputs.length) {
          const o = double.outputs[cursor++]!;
          if (matches(o)) {
            double.pulled++;
            return { value: o, done: false };
          }
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          double.#waiters.add(resolve);
        });
        if (wake) double.#waiters.delete(wake);
        wake = undefined;
      }
    };
    const sub: Subscription = {
      id,
      head,
      close: () => handle.close(),
      [Symbol.asyncIterator]: () => ({ next, return: async () => (handle.close(), { value: undefined, done: true }) }),
    };
    if (onOutput) {
      void (async () => {
        for (;;) {
          const r = await next();
          if (r.done) break;
          onOutput(r.value);
        }
      })();
    }
    return sub;
  }

  addServerKey(serverName: string, keyId: string, publicKeyBase64: string, validUntilTs?: number): void {
    this.calls.push({ method: 'addServerKey', args: [serverName, keyId, publicKeyBase64, validUntilTs], at: performance.now() });
    this.keys.set(`${serverName} ${keyId}`, publicKeyBase64);
  }

  outputHead(): number {
    return this.outputs.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.#subs]) s.close();
    for (const w of [...this.#waiters]) w();
  }

  readonly query: RoomServerQueries = {
    event: async (eventIds, opts) => {
      await this.#enter('query.event', [eventIds, opts]);
      const events = [];
      const missing = [];
      for (const id of eventIds) {
        const e = this.events.get(id);
        if (e) events.push({ event_id: id, event: e.event, status: 'accepted' as const, outlier: false, redacted: false });
        else missing.push(id);
      }
      return { events, missing };
    },
    state: async (roomId, opts) => {
      await this.#enter('query.state', [roomId, opts]);
      const st = [...this.events.values()].filter((e) => e.roomId === roomId && e.event.state_key !== undefined).map((e) => e.event);
      return opts?.idsOnly ? { state_ids: st.map((e) => String(e.event_id)) } : { state: st };
    },
    stateIds: async (roomId, eventId, opts) => {
      await this.#enter('query.stateIds', [roomId, eventId, opts]);
      if (!this.events.has(eventId)) throw new RoomServerError('M_NOT_FOUND', `unknown event ${eventId}`);
      return { pdu_ids: [eventId], auth_chain_ids: [] };
    },
    eventAuth: async (roomId, eventId, opts) => {
      await this.#enter('query.eventAuth', [roomId, eventId, opts]);
      return { auth_chain: [] };
    },
    missingEvents: async (req, opts) => {
      await this.#enter('query.missingEvents', [req, opts]);
      return { events: [...this.events.values()].filter((e) => e.roomId === req.roomId).map((e) => e.event).slice(0, req.limit ?? 10) };
    },
    serverKeys: async () => {
      await this.#enter('query.serverKeys', []);
      return { server_name: this.serverName, valid_until_ts: 4102444800000, verify_keys: {}, old_verify_keys: {}, signatures: {} };
    },
    latest: async (roomId) => {
      await this.#enter('query.latest', [roomId]);
      return { latest_event_ids: [], depth: 0 };
    },
    membership: async (roomId, userId) => {
      await this.#enter('query.membership', [roomId, userId]);
      return { members: [] };
    },
    room: async (roomId) => {
      await this.#enter('query.room', [roomId]);
      const r = this.#rooms.get(roomId);
      if (!r) throw new RoomServerError('M_NOT_FOUND', `unknown room ${roomId}`);
      return { room_version: r.version, creators: [r.creator], state_events: 5, joined_members: 1, forward_extremities: [] };
    },
  };
}

type NewRoomEventLike = Output;
