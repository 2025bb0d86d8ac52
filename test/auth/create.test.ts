// Rule 1 (the create event), the v12 room ID rule, and the m.federate rule,
// written from the room version pages' wording.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkAuth } from '../../src/auth/check.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import { ALL_VERSIONS, allowed, denied, makeEvent, StateMapLookup, TestRoom, versions } from './factory.js';

const empty = new StateMapLookup();

function create(v: string, spec: Partial<Parameters<typeof makeEvent>[1]> = {}, content?: Record<string, unknown>) {
  const rv = roomVersion(v);
  const sender = spec.sender ?? '@alice:a.test';
  const c = (content ?? (rv.v11Format ? { room_version: v } : { room_version: v, creator: sender })) as never;
  return makeEvent(rv, { type: 'm.room.create', sender, stateKey: '', content: c, ...spec });
}

test('a well-formed create event is allowed in every version', () => {
  for (const v of ALL_VERSIONS) allowed(checkAuth(create(v), empty), `v${v}`);
});

test('1.1: a create event with prev_events is rejected (all versions)', () => {
  for (const v of ALL_VERSIONS) denied(checkAuth(create(v, { prevEvents: ['$x:a.test'] }), empty), 'bad_create_event', `v${v}`, '1.1');
});

test('1.2 (v1-v11): the room ID domain must match the sender domain', () => {
  for (const v of versions(1, 11)) {
    denied(checkAuth(create(v, { roomId: '!r:b.test' }), empty), 'bad_create_event', `v${v} other domain`, '1.2');
    denied(checkAuth(create(v, { roomId: '!nodomain' }), empty), 'bad_create_event', `v${v} no domain`, '1.2');
    allowed(checkAuth(create(v, { roomId: '!r:a.test' }), empty), `v${v} same domain`);
  }
});

test('1.2 (v12): a create event with a room_id is rejected; the domain rule is gone', () => {
  denied(checkAuth(create('12', { withRoomIdInJson: true }), empty), 'bad_create_event', 'v12 room_id present', '1.2');
  // No room_id in the JSON: allowed even though the sender's domain appears nowhere in the room ID.
  const ev = create('12', { sender: '@zed:z.test' });
  assert.not.ok(ev.roomId.includes('z.test'));
  allowed(checkAuth(ev, empty), 'v12 hash room ID');
});

test('1.3: content.room_version must be a recognised version when present', () => {
  for (const v of ALL_VERSIONS) {
    const rv = roomVersion(v);
    const base: Record<string, unknown> = rv.v11Format ? {} : { creator: '@alice:a.test' };
    denied(checkAuth(create(v, {}, { ...base, room_version: '13' }), empty), 'bad_create_event', `v${v} "13"`, '1.3');
    denied(checkAuth(create(v, {}, { ...base, room_version: 5 }), empty), 'bad_create_event', `v${v} number`, '1.3');
    denied(checkAuth(create(v, {}, { ...base, room_version: null }), empty), 'bad_create_event', `v${v} null`, '1.3');
    allowed(checkAuth(create(v, {}, { ...base }), empty), `v${v} absent`);
  }
});

test('1.4 (v1-v10): content.creator is required; v11+ no longer needs it', () => {
  for (const v of versions(1, 10)) denied(checkAuth(create(v, {}, { room_version: v }), empty), 'bad_create_event', `v${v}`, '1.4');
  for (const v of versions(11)) allowed(checkAuth(create(v, {}, { room_version: v }), empty), `v${v}`);
});

test('1.4 (v12): additional_creators must be an array of valid user IDs', () => {
  const bad: unknown[] = ['@bob:b.test', ['bob'], ['@bob'], ['@bob:b.test', 5], [null], [{}], ['@bob:bad_host!'], {}];
  for (const extra of bad) {
    denied(checkAuth(create('12', {}, { room_version: '12', additional_creators: extra }), empty), 'bad_create_event', `v12 ${JSON.stringify(extra)}`, '1.4');
  }
  for (const extra of [[], ['@bob:b.test'], ['@bob:b.test', '@carol:c.test:8448'], ['@Histor!c:b.test']]) {
    allowed(checkAuth(create('12', {}, { room_version: '12', additional_creators: extra }), empty), `v12 ${JSON.stringify(extra)}`);
  }
  // Before v12 the field means nothing and is not validated.
  allowed(checkAuth(create('11', {}, { room_version: '11', additional_creators: 'junk' }), empty), 'v11 ignores it');
});

test('create-event rules hold for any event of type m.room.create (v1: a second create with prev_events)', () => {
  const room = new TestRoom('1');
  denied(room.check({ type: 'm.room.create', sender: room.creator, stateKey: '', content: { creator: room.creator } }), 'bad_create_event', 'second create', '1.1');
});

test('v12 rule 2: the room ID must be the create event ID with ! for $', () => {
  const room = new TestRoom('12');
  assert.is(room.roomId, '!' + room.create.eventId.slice(1));
  allowed(room.check({ type: 'm.room.message', sender: room.creator, content: {} }), 'right room ID');
  denied(room.check({ type: 'm.room.message', sender: room.creator, content: {}, roomId: '!other' }), 'room_id_mismatch', 'wrong room ID', '2');
});

test('no create event in the state: rejected (v1-v11 rule 2.4, v12 rule 2)', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.state.delete('m.room.create', '');
    denied(room.check({ type: 'm.room.message', sender: room.creator, content: {} }), 'missing_create_event', `v${v}`, v === '12' ? '2' : '2.4');
  }
});

test('m.federate false: senders from other servers are rejected (rule 3, v12 rule 4)', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v, { createContent: { 'm.federate': false } });
    room.joinRules('public');
    const rule = v === '12' ? '4' : '3';
    denied(room.checkMember('@bob:b.test', '@bob:b.test', 'join'), 'federation_forbidden', `v${v} remote join`, rule);
    allowed(room.checkMember('@carol:a.test', '@carol:a.test', 'join'), `v${v} local join`);
    allowed(room.check({ type: 'm.room.message', sender: room.creator, content: {} }), `v${v} local message`);
  }
  // m.federate true or absent: remote users are fine.
  for (const fed of [true, undefined]) {
    const room = new TestRoom('10', { createContent: fed === undefined ? {} : { 'm.federate': fed } });
    room.joinRules('public');
    allowed(room.checkMember('@bob:b.test', '@bob:b.test', 'join'), `m.federate ${fed}`);
  }
  // Only the literal false counts.
  const room = new TestRoom('10', { createContent: { 'm.federate': 'false' } });
  room.joinRules('public');
  allowed(room.checkMember('@bob:b.test', '@bob:b.test', 'join'), 'm.federate "false" string');
});

test.run();
