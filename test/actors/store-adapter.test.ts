// Event records read through the room actors' storage interface: the same
// record whether the strings its NIDs name are in memory or must be read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { Ns, Store, TYPE_MEMBER } from '../../storage/index.js';
import { StoreAdapter } from '../../actors/store-adapter.js';
import { countReads, meta, tempDir } from '../storage/helpers.js';
import type { EventRecord } from '../../actors/room-store.js';

/** A room with a create event, a member event (state) and a rejected message. */
async function write(store: Store): Promise<void> {
  const u = store.unit();
  const room = await u.nid(Ns.ROOM, '!r:example.org');
  const [create, member, message] = await u.nids(Ns.EVENT, ['$create', '$member', '$message']);
  const typeCreate = await u.nid(Ns.TYPE, 'm.room.create');
  const typeMessage = await u.nid(Ns.TYPE, 'm.room.message');
  const emptyKey = await u.nid(Ns.STATE_KEY, '');
  const alice = await u.nid(Ns.STATE_KEY, '@alice:example.org');
  u.putEvent(create!, meta(room, typeCreate, { stateKeyNid: emptyKey, depth: 1 }));
  u.putEvent(member!, meta(room, TYPE_MEMBER, { stateKeyNid: alice, depth: 2, prevEventNids: [create!], authEventNids: [create!], stateBeforeNid: 0 }));
  u.putEvent(message!, meta(room, typeMessage, { depth: 3, prevEventNids: [member!], authEventNids: [create!, member!], rejected: true, rejectReason: 'not allowed' }));
  await store.commit(u);
}

const EXPECTED = {
  $create: { eventId: '$create', roomId: '!r:example.org', stateKey: 'm.room.create\u0000', depth: 1, prevEvents: [], authEvents: [], rejected: false },
  $member: { eventId: '$member', roomId: '!r:example.org', stateKey: 'm.room.member\u0000@alice:example.org', depth: 2, prevEvents: ['$create'], authEvents: ['$create'], rejected: false },
  $message: { eventId: '$message', roomId: '!r:example.org', stateKey: undefined, depth: 3, prevEvents: ['$member'], authEvents: ['$create', '$member'], rejected: true, rejectReason: 'not allowed' },
} as const;

function check(rec: unknown, id: keyof typeof EXPECTED): void {
  const want = EXPECTED[id];
  const got = rec as Record<string, unknown>;
  for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, `${id}.${k}`);
}

test('records are the same with their strings in memory and read from disk', async () => {
  const dir = tempDir('adapter-records');
  let store = await Store.open(dir);
  await write(store);
  let adapter = new StoreAdapter(store);
  for (const id of ['$create', '$member', '$message'] as const) check(await adapter.getEvent(id), id);
  await store.close();
  // reopened with a one-entry NID cache: most strings must be read back
  store = await Store.open(dir, { nidCacheSize: 1 });
  adapter = new StoreAdapter(store);
  for (const id of ['$message', '$member', '$create'] as const) check(await adapter.getEvent(id), id);
  assert.is(await adapter.getEvent('$absent'), undefined);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a room\'s NID hints stand in for look-ups, and a unit naming a hinted NID whose mapping is not on disk yet writes that mapping', async () => {
  const dir = tempDir('adapter-hints');
  let store = await Store.open(dir);
  let adapter = new StoreAdapter(store);
  // an event NID allocated by a unit that is never committed: its mapping is pending, in memory only
  const x = store.unit().nidNow(Ns.EVENT, '$x') as number;
  const hints = { room: 0, lastId: '', lastNid: 0, events: new Map([['$x', x]]) };
  const head = { roomId: '!h:example.org', roomVersion: '10', createEventId: '$x', extremities: ['$x', '$y'], currentSnapshot: 0, depth: 1 };
  await adapter.commit('!h:example.org', { head, nids: hints });
  // the room's NID and the other extremity's joined the hints; the hinted one was used as given
  assert.ok(hints.room > 0);
  assert.is(hints.events.get('$x'), x);
  assert.is(hints.events.get('$y'), await store.lookupNid(Ns.EVENT, '$y'));
  assert.is(store.pendingCount(), 0, 'the hinted mapping was written with the unit');
  await store.close();
  // read back with nothing in memory: every string, the hinted one included, was written
  store = await Store.open(dir, { nidCacheSize: 1 });
  adapter = new StoreAdapter(store);
  const back = await adapter.getRoom('!h:example.org');
  assert.equal(back && { create: back.createEventId, extremities: back.extremities }, { create: '$x', extremities: ['$x', '$y'] });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a chain of messages committed through a room\'s hints reads no NID from disk, and each names its prev event\'s NID', async () => {
  const dir = tempDir('adapter-chain');
  const store = await Store.open(dir);
  const adapter = new StoreAdapter(store);
  const roomId = '!chain:example.org';
  const hints = { room: 0, lastId: '', lastNid: 0, events: new Map<string, number>() };
  const rec = (eventId: string, depth: number, prev: string[], stateKey?: string): EventRecord => ({
    eventId, roomId, stateKey, depth, prevEvents: prev, authEvents: prev.length ? ['$c0'] : [],
    outlier: false, rejected: false, softFailed: false, redacted: false, beforeSnapshot: 0,
  });
  const json = (type: string) => ({ type, sender: '@a:example.org', origin_server_ts: 1 });
  await adapter.commit(roomId, { event: { record: rec('$c0', 1, [], 'm.room.create\u0000'), json: json('m.room.create'), fresh: true }, nids: hints });
  // (messages are not kept in the large NID cache once durable: only the hints can answer for them)
  const reads = countReads(store, (k) => k[0] === 0x01 && k[1] === Ns.EVENT); // event ID -> NID keys
  let prev = '$c0';
  for (let i = 1; i <= 10; i++) {
    const id = `$m${i}`;
    store.markNew(Ns.EVENT, id);
    await adapter.commit(roomId, { event: { record: rec(id, i + 1, [prev]), json: json('m.room.message'), fresh: true }, nids: hints });
    prev = id;
  }
  assert.is(reads.n, 0, 'every prev and auth event NID came from the hints');
  for (let i = 2; i <= 10; i++) {
    const m = await store.getEventMeta((await store.lookupNid(Ns.EVENT, `$m${i}`))!);
    assert.equal(m?.prevEventNids, [(await store.lookupNid(Ns.EVENT, `$m${i - 1}`))!], `$m${i}'s prev event`);
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('strs: the same strings whether all, some or none are in memory; a bad NID still fails', async () => {
  const dir = tempDir('adapter-strs');
  let store = await Store.open(dir);
  await write(store);
  const nids = (await store.lookupNids(Ns.EVENT, ['$create', '$member', '$message'])) as number[];
  assert.equal(await store.strs(Ns.EVENT, nids), ['$create', '$member', '$message']);
  await store.close();
  store = await Store.open(dir, { nidCacheSize: 1 });
  assert.equal(await store.strs(Ns.EVENT, [nids[2]!, nids[0]!, nids[1]!, 999_999]), ['$message', '$create', '$member', undefined]);
  assert.equal(await store.strs(Ns.EVENT, []), []);
  let failed = false;
  await store.strs(Ns.EVENT, [nids[0]!, 0]).catch(() => (failed = true));
  assert.ok(failed, 'NID 0 is refused');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
