// The event JSON the store writes is the canonical text computed while the
// event was checked (not a second encoding), and never a stale one: an event
// stored redacted is stored as its redacted form.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openServer, buildEvent, introduce } from '../helpers/servers.js';
import type { RoomServer } from '../../src/server.js';
import { canonicalJson } from '../../src/matrix/canonical-json.js';
import { Ns } from '../../storage/nids.js';
import { nidKey, T_EVENT_JSON } from '../../storage/keys.js';
import type { Store } from '../../storage/store.js';
import type { JsonObject } from '../../src/matrix/json.js';

const A = '@alice:a.test';

async function storedText(rs: RoomServer, eventId: string): Promise<string> {
  const store = (rs as unknown as { adapter: { store: Store } }).adapter.store;
  const nid = await store.lookupNid(Ns.EVENT, eventId);
  assert.ok(nid, `${eventId} has a NID`);
  const raw = await store.db.get(nidKey(T_EVENT_JSON, nid!));
  assert.ok(raw, `${eventId} has stored JSON`);
  return raw!.toString('utf8');
}

test('sent and received events are stored as their canonical JSON (unsigned kept)', async () => {
  const a = await openServer('a.test');
  const b = await openServer('b.test');
  introduce(a, b);
  const room = (await a.createRoom({ creator: A, roomVersion: '10', preset: 'public_chat' })).room_id;
  const sent = await a.send({ roomId: room, sender: A, type: 'm.room.message', content: { msgtype: 'm.text', body: 'zeta', alpha: [3, 1] } });
  const sentJson = (await a.query.event([sent.event_id])).events[0]!.event;
  assert.is(await storedText(a, sent.event_id), canonicalJson(sentJson));

  // the same room's events handed to b in reverse key order, the last with an unsigned section
  const ids = [...(await a.query.state(room, { idsOnly: true }) as { state_ids: string[] }).state_ids];
  const evs = (await a.query.event(ids)).events.sort((x, y) => Number(x.event.depth) - Number(y.event.depth));
  const reversed = (o: JsonObject): JsonObject => Object.fromEntries(Object.entries(o).reverse()) as JsonObject;
  const results = await b.input(evs.map((e) => ({ event: reversed(e.event), kind: 'outlier' as const })));
  assert.ok(results.results.every((r) => r.status === 'outlier'), JSON.stringify(results.results));
  const msg = { ...reversed(sentJson), unsigned: { age: 42 } };
  const r = await b.input([{ event: msg, kind: 'outlier' }]);
  assert.is(r.results[0]!.status, 'outlier');
  for (const e of evs) assert.is(await storedText(b, e.event_id), canonicalJson(e.event));
  const text = await storedText(b, sent.event_id);
  assert.is(text, canonicalJson(msg));
  assert.ok(text.includes('"unsigned":{"age":42}'));
  await a.close();
  await b.close();
});

test('an event whose redaction came first is stored as its redacted form', async () => {
  const rs = await openServer();
  const room = (await rs.createRoom({ creator: A, roomVersion: '10', preset: 'public_chat' })).room_id;
  const latest = (await rs.query.latest(room)).latest_event_ids;
  const target = await buildEvent(rs, room, { sender: A, type: 'm.room.message', content: { body: 'secret words' }, prevEvents: latest });
  const redaction = await buildEvent(rs, room, { sender: A, type: 'm.room.redaction', content: { redacts: target.id }, prevEvents: latest });
  assert.is((await rs.input([{ event: redaction.pdu }])).results[0]!.status, 'accepted');
  assert.is((await rs.input([{ event: target.pdu }])).results[0]!.status, 'accepted');
  const text = await storedText(rs, target.id);
  assert.not.ok(text.includes('secret words'), text);
  assert.equal((JSON.parse(text) as JsonObject).content, {});
  await rs.close();
});

test.run();
