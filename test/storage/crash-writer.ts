/**
 * Child process of the crash test: writes commit units for many rooms in a
 * loop until it is killed. Each input is journaled first (and, once the
 * append resolved, acknowledged by a line in the ack file), then processed
 * in one unit: event metadata and JSON, a snapshot derived from the room's
 * previous one (or rebuilt from a full state now and then, like after state
 * resolution), the room record, an output, the membership index, sometimes a
 * redaction index entry and a txn record, and the journal entry's removal.
 * At start it resumes from what is on disk and first processes the journal
 * entries a previous run left behind. It opens the database only once a
 * line arrives on stdin, so the test can start it (and pay for loading the
 * modules) while it is still checking the previous run's database.
 *
 *   node --import tsx test/storage/crash-writer.ts <dir> <ack file> [seed]
 */
import { appendFileSync } from 'node:fs';
import { once } from 'node:events';
import { Ns, Store, stateKeyNum, TYPE_MEMBER, type StateChange } from '../../storage/index.js';
import type { JsonObject } from '../../src/matrix/json.js';

const ROOMS = 16;
const USERS = 40;

export interface CrashInput extends JsonObject {
  room: number;
  eventId: string;
  /** 'msg', 'join' (sets the member's state entry) or 'remove' (removes it). */
  op: string;
  user: string;
}

interface Room {
  id: string;
  nid: number;
  snapshot: number;
  extremities: number[];
  depth: number;
  createNid: number;
  state: Map<number, number>;
  queue: Array<{ seq: number; input: CrashInput }>;
}

const [dir, ackFile, seedArg] = process.argv.slice(2);
if (dir === undefined || ackFile === undefined) throw new Error('usage: crash-writer.ts <dir> <ack file> [seed]');
let seed = Number(seedArg ?? 1) >>> 0 || 1;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}
const runTag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
let counter = 0;

process.stdout.write('loaded\n');
await once(process.stdin, 'data');
const store = await Store.open(dir);
const rooms: Room[] = [];
for (let i = 0; i < ROOMS; i++) {
  const id = `!crash${i}:test`;
  const nid = (await store.lookupNid(Ns.ROOM, id)) ?? 0;
  const rec = nid === 0 ? undefined : await store.getRoom(nid);
  rooms.push({
    id,
    nid,
    snapshot: rec?.stateSnapshotNid ?? 0,
    extremities: rec?.extremities ?? [],
    depth: rec?.maxDepth ?? 0,
    createNid: rec?.createEventNid ?? 0,
    state: new Map(rec === undefined ? [] : await store.loadSnapshot(rec.stateSnapshotNid)),
    queue: [],
  });
}
for (const { seq, value } of await store.readJournal()) {
  const input = value as CrashInput;
  rooms[input.room]!.queue.push({ seq, input });
}
process.stdout.write('ready\n');

function newInput(room: number): CrashInput {
  const r = rnd(10);
  return { room, eventId: `$${runTag}_${room}_${counter++}`, op: r < 5 ? 'msg' : r < 8 ? 'join' : 'remove', user: `@u${rnd(USERS)}:test` };
}

async function process1(room: Room, seq: number, input: CrashInput): Promise<void> {
  const u = store.unit();
  const roomNid = room.nid !== 0 ? room.nid : await u.nid(Ns.ROOM, room.id);
  const eventNid = await u.nid(Ns.EVENT, input.eventId);
  let typeNid = TYPE_MEMBER;
  let skNid = 0;
  let after = room.snapshot;
  let nextState = room.state;
  if (input.op === 'msg') {
    typeNid = await u.nid(Ns.TYPE, 'm.room.message');
  } else {
    skNid = await u.nid(Ns.STATE_KEY, input.user);
    const change: StateChange = [TYPE_MEMBER, skNid, input.op === 'join' ? eventNid : 0];
    nextState = new Map(room.state);
    if (change[2] === 0) nextState.delete(stateKeyNum(TYPE_MEMBER, skNid));
    else nextState.set(stateKeyNum(TYPE_MEMBER, skNid), eventNid);
    after = rnd(8) === 0
      ? await store.snapshotFromState(u, roomNid, nextState, rnd(2) === 0 ? room.snapshot : undefined)
      : await store.deriveSnapshot(u, roomNid, room.snapshot, [change]);
    u.putMembership(roomNid, input.user, input.op === 'join' ? 'join' : 'leave', eventNid);
  }
  const depth = room.depth + 1;
  u.putEvent(eventNid, {
    roomNid,
    typeNid,
    stateKeyNid: skNid,
    sender: input.user,
    depth,
    originServerTs: Date.now(),
    prevEventNids: room.extremities,
    authEventNids: room.createNid !== 0 ? [room.createNid] : [],
    outlier: false,
    rejected: false,
    softFailed: false,
    redacted: false,
    stateBeforeNid: room.snapshot,
  }, { event_id: input.eventId, room_id: room.id, op: input.op, user: input.user, depth });
  const createNid = room.createNid !== 0 ? room.createNid : eventNid;
  u.putRoom(roomNid, { roomVersion: '12', createEventNid: createNid, extremities: [eventNid], stateSnapshotNid: after, maxDepth: depth, lastOutputPos: 0 });
  u.appendOutput(roomNid, { event_nid: eventNid, event_id: input.eventId });
  if (rnd(7) === 0) u.appendOutput(roomNid, { event_nid: eventNid, event_id: input.eventId, extra: true });
  if (rnd(9) === 0) {
    const target = await u.nid(Ns.EVENT, rnd(2) === 0 && room.extremities.length > 0 ? (await store.str(Ns.EVENT, room.extremities[0]!))! : `$unseen_${runTag}_${counter++}`);
    u.addRedaction(target, eventNid);
  }
  if (rnd(5) === 0) u.putTxn(input.user, `txn_${input.eventId}`, { eventId: input.eventId, status: 'accepted' });
  u.removeJournal(seq);
  await store.commit(u);
  room.nid = roomNid;
  room.snapshot = after;
  room.extremities = [eventNid];
  room.depth = depth;
  room.createNid = createNid;
  room.state = nextState;
}

await Promise.all(
  rooms.map(async (room, i) => {
    for (;;) {
      let next = room.queue.shift();
      if (next === undefined) {
        const input = newInput(i);
        const [seq] = await store.appendJournal([input]);
        appendFileSync(ackFile, JSON.stringify({ seq, input }) + '\n');
        next = { seq: seq!, input };
      }
      await process1(room, next.seq, next.input);
    }
  }),
);
