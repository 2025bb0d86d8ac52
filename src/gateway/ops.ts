/**
 * The op table: for each op of PROTOCOL.md, the least role allowed to call
 * it, how its snake_case wire params become the camelCase TypeScript call,
 * and the reply object (the RoomServer's result, which is already in wire
 * form). Param errors name the param (params.ts); role errors are
 * M_FORBIDDEN; an unknown op is M_UNRECOGNIZED.
 */
import { RoomServerError } from '../errors.js';
import { decodeBase64 } from '../matrix/base64.js';
import type { JsonObject } from '../matrix/json.js';
import { isJsonObject } from '../matrix/json.js';
import type { CreateRoomRequest, InputEvent, OutputType, RoomServerApi, SubscribeOptions } from '../api.js';
import type { Principal } from './auth.js';
import {
  invalid,
  optBoolean,
  optEnum,
  optInt,
  optString,
  optStringArray,
  optArray,
  reqArray,
  reqObject,
  reqString,
  reqStringArray,
  missing,
  nested,
} from './params.js';

/** What an op may ask of the connection it arrived on (subscriptions live there). */
export interface ConnectionHandle {
  subscribe(opts: SubscribeOptions): { subscription: string; head: number };
  unsubscribe(subscription: string): boolean;
}

export interface OpContext {
  rs: RoomServerApi;
  principal: Principal;
  conn: ConnectionHandle;
}

export interface OpSpec {
  /** `peer`: peers may call it (with asServer); `admin`: admin only. */
  role: 'admin' | 'peer';
  run(ctx: OpContext, params: JsonObject): Promise<object> | object;
}

const INPUT_KINDS = ['new', 'outlier', 'old'] as const;
const OUTPUT_TYPES: readonly OutputType[] = ['new_room_event', 'old_room_event', 'redacted_event'];
const PRESETS = ['private_chat', 'public_chat'] as const;

function asServer(ctx: OpContext): { asServer?: string } {
  return ctx.principal.role === 'peer' ? { asServer: ctx.principal.server } : {};
}

function parseInputEvent(v: unknown, i: number): InputEvent {
  const at = `events[${i}]`;
  if (!isJsonObject(v)) throw invalid(at, 'an object {"event": PDU, "kind"?, ...}');
  return nested(at, () => readInputEvent(v));
}

function readInputEvent(v: JsonObject): InputEvent {
  const out: InputEvent = { event: reqObject(v, 'event') };
  const kind = optEnum(v, 'kind', INPUT_KINDS);
  if (kind !== undefined) out.kind = kind;
  const rv = optString(v, 'room_version');
  if (rv !== undefined) out.roomVersion = rv;
  const origin = optString(v, 'origin');
  if (origin !== undefined) out.origin = origin;
  const ids = optStringArray(v, 'state_event_ids');
  if (ids !== undefined) out.stateEventIds = ids;
  return out;
}

function parseInitialState(p: JsonObject): CreateRoomRequest['initialState'] {
  const arr = optArray(p, 'initial_state');
  if (arr === undefined) return undefined;
  return arr.map((v, i) => {
    const at = `initial_state[${i}]`;
    if (!isJsonObject(v)) throw invalid(at, 'an object {"type", "state_key"?, "content"}');
    return nested(at, () => {
      const type = reqString(v, 'type');
      const stateKey = optString(v, 'state_key');
      const content = reqObject(v, 'content');
      return stateKey === undefined ? { type, content } : { type, state_key: stateKey, content };
    });
  });
}

export const ops: Readonly<Record<string, OpSpec>> = {
  input: {
    role: 'admin',
    async run(ctx, p) {
      const events = reqArray(p, 'events').map(parseInputEvent);
      const isAsync = optBoolean(p, 'async') ?? false;
      return isAsync ? ctx.rs.input(events, { async: true }) : ctx.rs.input(events);
    },
  },

  send: {
    role: 'admin',
    // not async: the caller awaits the send's own promise (a bad param throws into the caller's try)
    run(ctx, p) {
      const req = {
        roomId: reqString(p, 'room_id'),
        sender: reqString(p, 'sender'),
        type: reqString(p, 'type'),
        content: reqObject(p, 'content'),
      } as Parameters<RoomServerApi['send']>[0];
      const stateKey = optString(p, 'state_key');
      if (stateKey !== undefined) req.stateKey = stateKey;
      const txnId = optString(p, 'txn_id');
      if (txnId !== undefined) req.txnId = txnId;
      return ctx.rs.send(req);
    },
  },

  create_room: {
    role: 'admin',
    async run(ctx, p) {
      const req: CreateRoomRequest = { creator: reqString(p, 'creator') };
      const rv = optString(p, 'room_version');
      if (rv !== undefined) req.roomVersion = rv;
      const preset = optEnum(p, 'preset', PRESETS);
      if (preset !== undefined) req.preset = preset;
      const name = optString(p, 'name');
      if (name !== undefined) req.name = name;
      const topic = optString(p, 'topic');
      if (topic !== undefined) req.topic = topic;
      const initialState = parseInitialState(p);
      if (initialState !== undefined) req.initialState = initialState;
      return ctx.rs.createRoom(req);
    },
  },

  subscribe: {
    role: 'admin',
    run(ctx, p) {
      const opts: SubscribeOptions = {};
      const rooms = optStringArray(p, 'rooms');
      if (rooms !== undefined) opts.rooms = rooms;
      const types = optArray(p, 'types');
      if (types !== undefined) {
        for (const t of types) if (typeof t !== 'string' || !OUTPUT_TYPES.includes(t as OutputType)) throw invalid('types', `an array of ${OUTPUT_TYPES.join(', ')}`);
        opts.types = types as OutputType[];
      }
      const from = optInt(p, 'from');
      if (from !== undefined) {
        // a position past the head would silently skip the outputs before it
        const head = ctx.rs.outputHead();
        if (from > head) throw invalid('from', `a log position no later than the head (${head})`);
        opts.from = from;
      }
      return ctx.conn.subscribe(opts);
    },
  },

  unsubscribe: {
    role: 'admin',
    run(ctx, p) {
      const id = reqString(p, 'subscription');
      if (!ctx.conn.unsubscribe(id)) throw new RoomServerError('M_NOT_FOUND', `no subscription '${id}' on this connection`);
      return {};
    },
  },

  // ---- queries ----

  event: {
    role: 'peer',
    async run(ctx, p) {
      return ctx.rs.query.event(reqStringArray(p, 'event_ids'), asServer(ctx));
    },
  },

  state: {
    role: 'admin',
    async run(ctx, p) {
      const roomId = reqString(p, 'room_id');
      const opts: { eventId?: string; idsOnly?: boolean } = {};
      const eventId = optString(p, 'event_id');
      if (eventId !== undefined) opts.eventId = eventId;
      const idsOnly = optBoolean(p, 'ids_only');
      if (idsOnly !== undefined) opts.idsOnly = idsOnly;
      return ctx.rs.query.state(roomId, opts);
    },
  },

  state_ids: {
    role: 'peer',
    async run(ctx, p) {
      return ctx.rs.query.stateIds(reqString(p, 'room_id'), reqString(p, 'event_id'), asServer(ctx));
    },
  },

  event_auth: {
    role: 'peer',
    async run(ctx, p) {
      return ctx.rs.query.eventAuth(reqString(p, 'room_id'), reqString(p, 'event_id'), asServer(ctx));
    },
  },

  missing_events: {
    role: 'peer',
    async run(ctx, p) {
      const req: Parameters<RoomServerApi['query']['missingEvents']>[0] = {
        roomId: reqString(p, 'room_id'),
        earliestEvents: optStringArray(p, 'earliest_events') ?? [],
        latestEvents: reqStringArray(p, 'latest_events'),
      };
      const limit = optInt(p, 'limit', 1000);
      if (limit !== undefined) req.limit = limit;
      const minDepth = optInt(p, 'min_depth');
      if (minDepth !== undefined) req.minDepth = minDepth;
      return ctx.rs.query.missingEvents(req, asServer(ctx));
    },
  },

  server_keys: {
    role: 'peer',
    async run(ctx) {
      return ctx.rs.query.serverKeys();
    },
  },

  latest: {
    role: 'admin',
    async run(ctx, p) {
      return ctx.rs.query.latest(reqString(p, 'room_id'));
    },
  },

  membership: {
    role: 'admin',
    async run(ctx, p) {
      return ctx.rs.query.membership(reqString(p, 'room_id'), optString(p, 'user_id'));
    },
  },

  room: {
    role: 'admin',
    async run(ctx, p) {
      return ctx.rs.query.room(reqString(p, 'room_id'));
    },
  },

  // ---- admin ----

  add_server_key: {
    role: 'admin',
    run(ctx, p) {
      const serverName = reqString(p, 'server_name');
      const keyId = reqString(p, 'key_id');
      if (!/^ed25519:[A-Za-z0-9_]+$/.test(keyId)) throw invalid('key_id', 'an ed25519 key id like "ed25519:abc"');
      const publicKey = reqString(p, 'public_key');
      if (decodeBase64(publicKey)?.length !== 32) throw invalid('public_key', 'a 32-byte ed25519 key in unpadded base64');
      const validUntil = optInt(p, 'valid_until_ts');
      ctx.rs.addServerKey(serverName, keyId, publicKey, validUntil);
      return {};
    },
  },
};

/** Ops a peer token may call. */
export const PEER_OPS: readonly string[] = Object.keys(ops).filter((k) => ops[k]!.role === 'peer');

/** Looks up an op and checks the caller's role; throws the protocol error otherwise. */
export function resolveOp(name: unknown, principal: Principal): OpSpec {
  if (name === undefined || name === null) throw missing('op');
  if (typeof name !== 'string') throw invalid('op', 'a string');
  const spec = Object.prototype.hasOwnProperty.call(ops, name) ? ops[name] : undefined;
  if (!spec) throw new RoomServerError('M_UNRECOGNIZED', `unknown op '${name}'`);
  if (spec.role === 'admin' && principal.role !== 'admin') {
    throw new RoomServerError('M_FORBIDDEN', `op '${name}' needs an admin token; peer tokens may call ${PEER_OPS.join(', ')}`);
  }
  return spec;
}
