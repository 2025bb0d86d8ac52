/**
 * The final check must catch a server that holds something other than what
 * it acknowledged: each kind of difference fails its own check, with an
 * example naming the room or event.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyRooms, type VerifyResult } from '../../bench/load/verify.js';
import { RoomModel } from '../../bench/load/room-model.js';
import { RoomServer } from '../../src/server.js';
import { rootLogger } from '../../src/log.js';

rootLogger.level = process.env.LOG_LEVEL ?? 'silent';
let dir: string;
let rs: RoomServer;
let roomId: string;
let eventIds: string[];
let messageId: string;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rs-load-verify-'));
  rs = await RoomServer.open({ dataDir: dir, serverName: 'v.test' });
  const r = await rs.createRoom({ creator: '@c:v.test', preset: 'public_chat' });
  roomId = r.room_id;
  eventIds = r.event_ids;
  messageId = (await rs.send({ roomId, sender: '@c:v.test', type: 'm.room.message', content: { body: 'hi' } })).event_id;
});

test.after(async () => {
  await rs.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The model of the room as the tool would build it from the acknowledgements. */
function model(): RoomModel {
  const m = new RoomModel(0, roomId);
  const kinds: Array<[string, string]> = [['m.room.create', ''], ['m.room.member', '@c:v.test'], ['m.room.power_levels', ''], ['m.room.join_rules', ''], ['m.room.history_visibility', '']];
  eventIds.forEach((id, i) => m.apply([{ id, type: kinds[i]![0], stateKey: kinds[i]![1], content: {} }]));
  m.apply([{ id: messageId, type: 'm.room.message', content: {} }]);
  return m;
}

async function check(m: RoomModel, outputs = 6, head = 6): Promise<VerifyResult> {
  return verifyRooms(rs, [m], { verifyRooms: 10, verifyStates: 10, verifyEvents: 100, seed: 1, outputsByRoom: new Map([[roomId, outputs]]), outputHeadDelta: head });
}

function failed(v: VerifyResult): string[] {
  return v.checks.filter((c) => c.failed > 0).map((c) => c.name.split(':')[0]!);
}

test('the truth passes every check', async () => {
  const v = await check(model());
  assert.ok(v.ok, JSON.stringify(v.checks));
  assert.equal(v.checks.map((c) => c.checked), [1, 1, 6, 1, 1]);
});

test('an acknowledged event the server does not hold fails the event check (and the depth)', async () => {
  const m = model();
  m.apply([{ id: '$notthere', type: 'm.room.message', content: {} }]);
  const v = await check(m, 7, 7);
  assert.not.ok(v.ok);
  assert.equal(failed(v), ['rooms', 'events']);
  const ev = v.checks.find((c) => c.name.startsWith('events'))!;
  assert.is(ev.failed, 1);
  assert.match(ev.examples[0]!, /\$notthere: missing/);
});

test('a different state entry fails the state check; a different member count the room check', async () => {
  const m = model();
  m.state.set('m.room.member\u0000@ghost:v.test', ['$ghost']);
  const v = await check(m);
  assert.equal(failed(v), ['rooms', 'rooms']);
  assert.ok(v.checks[0]!.examples[0]!.includes('joined members'));
  assert.ok(v.checks[1]!.examples[0]!.includes('@ghost'));
});

test('a wrong forward extremity fails the room check', async () => {
  const m = model();
  m.extremities = [eventIds[4]!];
  const v = await check(m);
  assert.equal(failed(v), ['rooms']);
  assert.match(v.checks[0]!.examples[0]!, /latest/);
});

test('missing outputs and a log that moved differently fail the output checks', async () => {
  const v = await check(model(), 5, 9);
  assert.equal(failed(v), ['outputs', 'output log']);
  assert.match(v.checks[3]!.examples[0]!, /5 outputs, 6 accepted/);
});

test('a room the server does not know fails with its error code', async () => {
  const m = model();
  m.roomId = '!nope:v.test';
  const v = await verifyRooms(rs, [m], { verifyRooms: 10, verifyStates: 10, verifyEvents: 0, seed: 1, outputsByRoom: new Map([['!nope:v.test', 6]]), outputHeadDelta: 6 });
  assert.match(v.checks[0]!.examples[0]!, /M_NOT_FOUND/);
  assert.not.ok(v.ok);
});

test('sampling: at most verifyRooms rooms and verifyEvents events are asked about', async () => {
  const v = await verifyRooms(rs, [model()], { verifyRooms: 0, verifyStates: 0, verifyEvents: 2, seed: 1, outputsByRoom: new Map([[roomId, 6]]), outputHeadDelta: 6 });
  assert.equal(v.checks.map((c) => [c.checked, c.of]), [[0, 1], [0, 1], [2, 6], [1, 1], [1, 1]]);
});

test.run();
