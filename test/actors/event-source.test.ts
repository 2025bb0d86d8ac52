// EventSource: parsed events by ID, from the caches, then from storage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventCache, EventSource, parseStored } from '../../actors/event-source.js';
import type { RoomStore } from '../../actors/room-store.js';
import { buildPdu } from '../../actors/local-events.js';
import { generateServerKey } from '../../src/matrix/keys.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import { computeEventId } from '../../src/matrix/event-id.js';
import type { JsonObject } from '../../src/matrix/json.js';

const rv = roomVersion('10');
const key = generateServerKey();
const PREV = '$' + 'p'.repeat(43);
const AUTH = '$' + 'a'.repeat(43);
const topic = buildPdu(rv, { roomId: '!r:x.test', sender: '@a:x.test', type: 'm.room.topic', stateKey: '', content: { topic: 'hi' }, prevEvents: [{ id: PREV }], authEvents: [{ id: AUTH }], depth: 4 }, 'x.test', key);
const topicId = computeEventId(topic, rv);

function storeOf(rows: Record<string, JsonObject>): { store: RoomStore; reads: string[] } {
  const reads: string[] = [];
  const store = { getEventJson: async (id: string) => (reads.push(id), rows[id]) } as unknown as RoomStore;
  return { store, reads };
}

test('an event read from storage parses to the same event, is cached, and is read once', async () => {
  const { store, reads } = storeOf({ [topicId]: topic });
  const src = new EventSource(store, new EventCache(100), rv, 4);
  const ev = await src.get(topicId);
  assert.ok(ev);
  assert.is(ev!.eventId, topicId);
  assert.is(ev!.type, 'm.room.topic');
  assert.is(ev!.stateKey, '');
  assert.equal(ev!.content, { topic: 'hi' });
  assert.equal(ev!.prevEvents, [PREV]);
  assert.is(await src.get(topicId), ev);
  assert.equal(reads, [topicId]);
  assert.is(await src.get('$missing'), undefined);
});

test('stored events are taken under the ID they were stored with (their reference hash is not recomputed)', () => {
  // the ID a stored row is keyed by was computed when the event came in; reloading a room does not hash again
  const ev = parseStored(topic, rv, '$stored_under_this_id');
  assert.is(ev?.eventId, '$stored_under_this_id');
  assert.is.not(computeEventId(topic, rv), '$stored_under_this_id');
});

test('stored JSON that no longer parses reads as absent', () => {
  assert.is(parseStored({ ...topic, type: 7 }, rv, topicId), undefined);
  assert.is(parseStored({ ...topic, depth: 'x' }, rv, topicId), undefined);
});

test.run();
