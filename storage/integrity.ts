/**
 * A full scan of the database that checks the invariants storage promises
 * after a crash at any point:
 * - the string <-> NID maps are a bijection per namespace, with no NID 0
 *   (an event's metadata record, which holds its ID, counts as its NID ->
 *   string entry);
 * - every stored reference resolves: event -> room/type/state key/prev/auth
 *   NIDs and its state-before snapshot; snapshot -> blocks -> stored events;
 *   room -> create event, extremities, current snapshot; membership and
 *   redaction entries -> events; outputs -> rooms;
 * - blocks and snapshots decode and match their content-hash index;
 * - output positions run 1..head with no gap, and the per-room index matches.
 * Used by the crash test and usable as an offline check ("fsck").
 */
import type { ClassicLevel } from 'classic-level';
import {
  prefixRange,
  readU64,
  T_BLOCK,
  T_BLOCK_HASH,
  T_EVENT_JSON,
  T_EVENT_META,
  T_JOURNAL,
  T_MEMBERSHIP,
  T_NID2STR,
  T_OUTPUT,
  T_OUTPUT_BY_ROOM,
  T_REDACTION,
  T_ROOM,
  T_SNAPSHOT,
  T_SNAPSHOT_HASH,
  T_STR2NID,
} from './keys.js';
import { ALL_NS, Ns, nsName, splitStateKeyNum } from './nids.js';
import { decodeEventMeta, decodeMembership, decodeRoom, decodeTagged, type EventMeta } from './records.js';
import { contentHash, decodeBlock, type StateBlock } from './state-block.js';
import { decodeSnapshot, MAX_BLOCKS, type SnapshotRecord } from './snapshot-record.js';

export interface IntegrityReport {
  ok: boolean;
  /** The first problems found (at most 100). */
  problems: string[];
  counts: {
    mappings: number;
    events: number;
    blocks: number;
    snapshots: number;
    rooms: number;
    outputs: number;
    journal: number;
    memberships: number;
    redactions: number;
  };
  outputHead: number;
}

type Db = ClassicLevel<Buffer, Buffer>;

async function* scan(db: Db, table: number): AsyncGenerator<[Buffer, Buffer]> {
  for await (const kv of db.iterator(prefixRange(Buffer.from([table])))) yield kv;
}

export async function checkIntegrity(db: Db): Promise<IntegrityReport> {
  const problems: string[] = [];
  let problemCount = 0;
  const bad = (msg: string): void => {
    problemCount++;
    if (problems.length < 100) problems.push(msg);
  };
  const counts = { mappings: 0, events: 0, blocks: 0, snapshots: 0, rooms: 0, outputs: 0, journal: 0, memberships: 0, redactions: 0 };

  // ---- NID maps
  const forward = new Map<number, Map<string, number>>();
  const reverse = new Map<number, Map<number, string>>();
  for (const ns of ALL_NS) {
    forward.set(ns, new Map());
    reverse.set(ns, new Map());
  }
  for await (const [k, v] of scan(db, T_STR2NID)) {
    const ns = k[1]!;
    const f = forward.get(ns);
    if (f === undefined) {
      bad(`string->nid entry in unknown namespace ${ns}`);
      continue;
    }
    f.set(k.toString('utf8', 2), readU64(v, 0));
    counts.mappings++;
  }
  for await (const [k, v] of scan(db, T_NID2STR)) {
    const ns = k[1]!;
    const r = reverse.get(ns);
    if (r === undefined) {
      bad(`nid->string entry in unknown namespace ${ns}`);
      continue;
    }
    r.set(readU64(k, 2), v.toString('utf8'));
  }
  // ---- events (their metadata is the NID -> string direction of their mapping)
  const metas = new Map<number, EventMeta>();
  const eventReverse = reverse.get(Ns.EVENT)!;
  for await (const [k, v] of scan(db, T_EVENT_META)) {
    const nid = readU64(k, 1);
    try {
      const m = decodeEventMeta(v);
      metas.set(nid, m);
      if (m.eventId !== undefined) {
        const other = eventReverse.get(nid);
        if (other !== undefined && other !== m.eventId) {
          bad(`event ${nid}: metadata names ${JSON.stringify(m.eventId)} but NID -> string names ${JSON.stringify(other)}`);
        }
        eventReverse.set(nid, m.eventId);
      }
    } catch {
      bad(`event ${nid}: metadata does not decode`);
    }
    counts.events++;
  }

  for (const ns of ALL_NS) {
    const f = forward.get(ns)!;
    const r = reverse.get(ns)!;
    const seen = new Map<number, string>();
    for (const [s, nid] of f) {
      if (nid === 0) bad(`${nsName(ns)} ${JSON.stringify(s)} has NID 0`);
      const other = seen.get(nid);
      if (other !== undefined) bad(`${nsName(ns)} NID ${nid} names two strings: ${JSON.stringify(other)} and ${JSON.stringify(s)}`);
      seen.set(nid, s);
      const back = r.get(nid);
      if (back !== s) bad(`${nsName(ns)} ${JSON.stringify(s)} -> ${nid} but ${nid} -> ${JSON.stringify(back)}`);
    }
    for (const [nid, s] of r) {
      if (f.get(s) !== nid) bad(`${nsName(ns)} NID ${nid} -> ${JSON.stringify(s)} has no matching string -> NID entry`);
    }
  }
  const has = (ns: Ns, nid: number): boolean => reverse.get(ns)!.has(nid);

  const jsons = new Set<number>();
  for await (const [k] of scan(db, T_EVENT_JSON)) jsons.add(readU64(k, 1));

  // ---- blocks and snapshots
  const blocks = new Map<number, StateBlock>();
  const blockHashes = new Map<number, Buffer>();
  for await (const [k, v] of scan(db, T_BLOCK)) {
    const nid = readU64(k, 1);
    counts.blocks++;
    try {
      blocks.set(nid, decodeBlock(v));
      blockHashes.set(nid, contentHash(v));
    } catch {
      bad(`block ${nid} does not decode`);
    }
  }
  const blockIndex = new Map<string, number>();
  for await (const [k, v] of scan(db, T_BLOCK_HASH)) blockIndex.set(k.subarray(1).toString('hex'), readU64(v, 0));
  for (const [nid, h] of blockHashes) {
    if (blockIndex.get(h.toString('hex')) !== nid) bad(`block ${nid} is missing from its hash index`);
  }
  for (const [h, nid] of blockIndex) {
    if (!blocks.has(nid)) bad(`block hash ${h} -> missing block ${nid}`);
  }
  const snapshots = new Map<number, SnapshotRecord>();
  const snapHashes = new Map<number, Buffer>();
  for await (const [k, v] of scan(db, T_SNAPSHOT)) {
    const nid = readU64(k, 1);
    counts.snapshots++;
    try {
      snapshots.set(nid, decodeSnapshot(v));
      snapHashes.set(nid, contentHash(v));
    } catch {
      bad(`snapshot ${nid} does not decode`);
    }
  }
  const snapIndex = new Map<string, number>();
  for await (const [k, v] of scan(db, T_SNAPSHOT_HASH)) snapIndex.set(k.subarray(1).toString('hex'), readU64(v, 0));
  for (const [nid, h] of snapHashes) {
    if (snapIndex.get(h.toString('hex')) !== nid) bad(`snapshot ${nid} is missing from its hash index`);
  }
  for (const [h, nid] of snapIndex) {
    if (!snapshots.has(nid)) bad(`snapshot hash ${h} -> missing snapshot ${nid}`);
  }
  for (const [nid, s] of snapshots) {
    if (!has(Ns.ROOM, s.roomNid)) bad(`snapshot ${nid}: room NID ${s.roomNid} has no mapping`);
    if (s.blocks.length > MAX_BLOCKS) bad(`snapshot ${nid} has ${s.blocks.length} blocks`);
    for (const b of s.blocks) if (!blocks.has(b)) bad(`snapshot ${nid} -> missing block ${b}`);
  }
  for (const [nid, b] of blocks) {
    for (let i = 0; i < b.keys.length; i++) {
      const [t, sk] = splitStateKeyNum(b.keys[i]!);
      const ev = b.events[i]!;
      if (!has(Ns.TYPE, t)) bad(`block ${nid}: type NID ${t} has no mapping`);
      if (!has(Ns.STATE_KEY, sk)) bad(`block ${nid}: state key NID ${sk} has no mapping`);
      if (ev !== 0 && !metas.has(ev)) bad(`block ${nid} -> event ${ev} not stored`);
    }
  }

  for (const [nid, m] of metas) {
    if (!has(Ns.EVENT, nid)) bad(`event ${nid} has no event ID mapping`);
    if (!jsons.has(nid)) bad(`event ${nid} has metadata but no JSON`);
    if (!has(Ns.ROOM, m.roomNid)) bad(`event ${nid}: room NID ${m.roomNid} has no mapping`);
    if (!has(Ns.TYPE, m.typeNid)) bad(`event ${nid}: type NID ${m.typeNid} has no mapping`);
    if (m.stateKeyNid !== 0 && !has(Ns.STATE_KEY, m.stateKeyNid)) bad(`event ${nid}: state key NID ${m.stateKeyNid} has no mapping`);
    for (const p of m.prevEventNids) if (!has(Ns.EVENT, p)) bad(`event ${nid}: prev event NID ${p} has no mapping`);
    for (const a of m.authEventNids) if (!has(Ns.EVENT, a)) bad(`event ${nid}: auth event NID ${a} has no mapping`);
    if (m.stateBeforeNid !== 0) {
      const s = snapshots.get(m.stateBeforeNid);
      if (s === undefined) bad(`event ${nid} -> missing snapshot ${m.stateBeforeNid}`);
      else if (s.roomNid !== m.roomNid) bad(`event ${nid} -> snapshot ${m.stateBeforeNid} of another room`);
    }
  }
  for (const nid of jsons) if (!metas.has(nid)) bad(`event ${nid} has JSON but no metadata`);

  // ---- rooms
  let head = 0;
  for await (const [k] of db.iterator({ ...prefixRange(Buffer.from([T_OUTPUT])), reverse: true, limit: 1 })) head = readU64(k, 1);
  for await (const [k, v] of scan(db, T_ROOM)) {
    const nid = readU64(k, 1);
    counts.rooms++;
    let r;
    try {
      r = decodeRoom(v);
    } catch {
      bad(`room ${nid} does not decode`);
      continue;
    }
    if (!has(Ns.ROOM, nid)) bad(`room ${nid} has no room ID mapping`);
    if (r.createEventNid !== 0 && !metas.has(r.createEventNid)) bad(`room ${nid} -> create event ${r.createEventNid} not stored`);
    for (const e of r.extremities) if (!metas.has(e)) bad(`room ${nid} -> extremity ${e} not stored`);
    if (r.stateSnapshotNid !== 0) {
      const s = snapshots.get(r.stateSnapshotNid);
      if (s === undefined) bad(`room ${nid} -> missing snapshot ${r.stateSnapshotNid}`);
      else if (s.roomNid !== nid) bad(`room ${nid} -> snapshot ${r.stateSnapshotNid} of room ${s.roomNid}`);
    }
    if (r.lastOutputPos > head) bad(`room ${nid}: last output ${r.lastOutputPos} beyond head ${head}`);
  }

  // ---- outputs
  const outputRooms = new Map<number, number>();
  let expect = 1;
  for await (const [k, v] of scan(db, T_OUTPUT)) {
    const pos = readU64(k, 1);
    counts.outputs++;
    if (pos !== expect) bad(`output log gap: expected position ${expect}, found ${pos}`);
    expect = pos + 1;
    try {
      const { roomNid } = decodeTagged(v);
      outputRooms.set(pos, roomNid);
      if (!has(Ns.ROOM, roomNid)) bad(`output ${pos}: room NID ${roomNid} has no mapping`);
    } catch {
      bad(`output ${pos} does not decode`);
    }
  }
  let indexed = 0;
  for await (const [k] of scan(db, T_OUTPUT_BY_ROOM)) {
    const room = readU64(k, 1);
    const pos = readU64(k, 9);
    indexed++;
    if (outputRooms.get(pos) !== room) bad(`room index (${room}, ${pos}) does not match the output log`);
  }
  if (indexed !== counts.outputs) bad(`room index has ${indexed} entries for ${counts.outputs} outputs`);

  // ---- journal, membership, redactions
  for await (const [k, v] of scan(db, T_JOURNAL)) {
    counts.journal++;
    try {
      decodeTagged(v);
    } catch {
      bad(`journal entry ${readU64(k, 1)} does not decode`);
    }
  }
  for await (const [k, v] of scan(db, T_MEMBERSHIP)) {
    counts.memberships++;
    const room = readU64(k, 1);
    try {
      const m = decodeMembership(v);
      if (!metas.has(m.eventNid)) bad(`membership of ${k.toString('utf8', 9)} in room ${room} -> event ${m.eventNid} not stored`);
    } catch {
      bad(`membership entry in room ${room} does not decode`);
    }
    if (!has(Ns.ROOM, room)) bad(`membership: room NID ${room} has no mapping`);
  }
  for await (const [k] of scan(db, T_REDACTION)) {
    counts.redactions++;
    const target = readU64(k, 1);
    const redaction = readU64(k, 9);
    if (!has(Ns.EVENT, target)) bad(`redaction index: target NID ${target} has no mapping`);
    if (!metas.has(redaction)) bad(`redaction index: redaction event ${redaction} not stored`);
  }

  if (problemCount > problems.length) problems.push(`... and ${problemCount - problems.length} more`);
  return { ok: problemCount === 0, problems, counts, outputHead: head };
}
