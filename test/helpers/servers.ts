/** Test helpers: RoomServers in temporary folders, and hand-built events for graphs tests need. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoomServer, type RoomServerOptions } from '../../src/server.js';
import { buildPdu } from '../../actors/local-events.js';
import { authEventSelection } from '../../src/auth/selection.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import { computeEventId } from '../../src/matrix/event-id.js';
import type { JsonObject } from '../../src/matrix/json.js';
import type { Output } from '../../src/api.js';

const dirs: string[] = [];

export function tempDir(prefix = 'rs-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function openServer(serverName = 'a.test', opts: Partial<RoomServerOptions> = {}): Promise<RoomServer> {
  return RoomServer.open({ dataDir: opts.dataDir ?? tempDir(), serverName, idleTimeoutMs: 5_000, ...opts });
}

/** Trust each other's keys. */
export function introduce(...servers: RoomServer[]): void {
  for (const a of servers) for (const b of servers) if (a !== b) a.addServerKey(b.serverName, b.signingKey.keyId, b.signingKey.publicKeyBase64);
}

export interface EventSpec {
  sender: string;
  type: string;
  stateKey?: string;
  content: JsonObject;
  prevEvents: string[];
  /** state (event IDs) to pick auth events from; default: the state before the first prev event plus that event */
  authFrom?: string[];
  depth?: number;
  ts?: number;
}

/** Builds and signs an event as `rs` with explicit prev events (for forks and gaps). */
export async function buildEvent(rs: RoomServer, roomId: string, spec: EventSpec): Promise<{ id: string; pdu: JsonObject }> {
  const info = await rs.query.room(roomId);
  const rv = roomVersion(info.room_version);
  let stateIds: string[];
  if (spec.authFrom) stateIds = spec.authFrom;
  else {
    const prev = spec.prevEvents[0]!;
    const before = (await rs.query.state(roomId, { eventId: prev, idsOnly: true })) as { state_ids: string[] };
    stateIds = [...before.state_ids, prev];
  }
  const evs = (await rs.query.event(stateIds)).events;
  const byKey = new Map<string, { id: string; json: JsonObject }>();
  for (const e of evs) {
    if (typeof e.event.state_key === 'string') byKey.set(`${e.event.type}\u0000${e.event.state_key}`, { id: e.event_id, json: e.event });
  }
  const auth = authEventSelection({ type: spec.type, sender: spec.sender, stateKey: spec.stateKey, content: spec.content }, rv)
    .map(([t, k]) => byKey.get(`${t}\u0000${k}`))
    .filter((x): x is { id: string; json: JsonObject } => !!x);
  const prevs = await rs.query.event(spec.prevEvents);
  const depth = spec.depth ?? Math.max(...prevs.events.map((e) => Number(e.event.depth))) + 1;
  const pdu = buildPdu(
    rv,
    {
      roomId,
      sender: spec.sender,
      type: spec.type,
      stateKey: spec.stateKey,
      content: spec.content,
      prevEvents: prevs.events.map((e) => ({ id: e.event_id, json: e.event })),
      authEvents: auth,
      depth,
      ...(spec.ts !== undefined ? { originServerTs: spec.ts } : {}),
    },
    rs.serverName,
    rs.signingKey,
  );
  return { id: rv.eventIdFormat === 'v1' ? String(pdu.event_id) : computeEventId(pdu, rv), pdu };
}

/** Collects outputs of a subscription until `n` arrived (or the timeout). */
export async function collect(rs: RoomServer, opts: Parameters<RoomServer['subscribe']>[0], n: number, timeoutMs = 5000): Promise<Output[]> {
  const out: Output[] = [];
  const sub = rs.subscribe(opts);
  const timer = setTimeout(() => sub.close(), timeoutMs);
  for await (const o of sub) {
    out.push(o);
    if (out.length >= n) break;
  }
  clearTimeout(timer);
  sub.close();
  return out;
}
