// Auth events selection and the rules about the auth_events list
// (rule 2 of v1-v11; rules 2 and 3 of v12).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { authEventSelection } from '../../src/auth/selection.js';
import { authStateFromEvents, checkAuthEvents, checkAuthWithAuthEvents } from '../../src/auth/auth-events.js';
import type { MatrixEvent } from '../../src/matrix/event.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import { ALL_VERSIONS, allowed, denied, TestRoom, versions } from './factory.js';

const A = '@alice:a.test';
const B = '@bob:b.test';
const C = '@carol:c.test';

const sel = (v: string, ev: { type: string; sender: string; stateKey?: string; content: Record<string, unknown> }) =>
  authEventSelection({ ...ev, stateKey: ev.stateKey, content: ev.content as never }, roomVersion(v)).map(([t, k]) => `${t}|${k}`);

// ---------------------------------------------------------------- selection

test('selection: create (not v12), power levels, sender member', () => {
  for (const v of ALL_VERSIONS) {
    const got = sel(v, { type: 'm.room.message', sender: B, content: {} });
    const want = [...(v === '12' ? [] : ['m.room.create|']), 'm.room.power_levels|', `m.room.member|${B}`];
    assert.equal(got, want, `v${v}`);
  }
});

test('selection: the create event has none', () => {
  for (const v of ALL_VERSIONS) assert.equal(sel(v, { type: 'm.room.create', sender: A, stateKey: '', content: {} }), [], `v${v}`);
});

test('selection for member events', () => {
  const pre = (v: string) => (v === '12' ? [] : ['m.room.create|']);
  for (const v of ALL_VERSIONS) {
    // join: target member (same as sender here, listed once) and join rules
    assert.equal(sel(v, { type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join' } }), [...pre(v), 'm.room.power_levels|', `m.room.member|${B}`, 'm.room.join_rules|'], `v${v} join`);
    // invite: target member and join rules
    assert.equal(
      sel(v, { type: 'm.room.member', sender: A, stateKey: B, content: { membership: 'invite' } }),
      [...pre(v), 'm.room.power_levels|', `m.room.member|${A}`, `m.room.member|${B}`, 'm.room.join_rules|'],
      `v${v} invite`,
    );
    // leave and ban: no join rules
    for (const m of ['leave', 'ban']) {
      assert.equal(sel(v, { type: 'm.room.member', sender: A, stateKey: B, content: { membership: m } }), [...pre(v), 'm.room.power_levels|', `m.room.member|${A}`, `m.room.member|${B}`], `v${v} ${m}`);
    }
    // knock: join rules
    assert.ok(sel(v, { type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'knock' } }).includes('m.room.join_rules|'), `v${v} knock`);
    // 3PID invite: the third-party invite named by the token
    assert.ok(
      sel(v, { type: 'm.room.member', sender: A, stateKey: B, content: { membership: 'invite', third_party_invite: { signed: { token: 'tok', mxid: B } } } }).includes('m.room.third_party_invite|tok'),
      `v${v} 3pid`,
    );
    assert.not.ok(
      sel(v, { type: 'm.room.member', sender: A, stateKey: B, content: { membership: 'invite', third_party_invite: { signed: { token: 5 } } } }).some((s) => s.startsWith('m.room.third_party_invite')),
      `v${v} 3pid non-string token`,
    );
    // join_authorised_via_users_server: only for joins, only v8+
    const via = sel(v, { type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join', join_authorised_via_users_server: C } });
    assert.is(via.includes(`m.room.member|${C}`), Number(v) >= 8, `v${v} restricted join`);
    const viaLeave = sel(v, { type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'leave', join_authorised_via_users_server: C } });
    assert.not.ok(viaLeave.includes(`m.room.member|${C}`), `v${v} via on leave`);
  }
});

// ---------------------------------------------------------------- auth_events list

/** A room with the usual state and a helper that lists given events as auth events. */
function setup(v: string) {
  const room = new TestRoom(v as never);
  const pl = room.powerLevels({ users: v === '12' ? {} : { [A]: 100 } });
  const jr = room.joinRules('public');
  const aliceJoin = room.state.get('m.room.member', A)!;
  return { room, pl, jr, aliceJoin };
}

function withAuth(room: TestRoom, spec: Parameters<TestRoom['event']>[0], auth: MatrixEvent[]): MatrixEvent {
  return room.event({ ...spec, authEvents: auth.map((e) => e.eventId) });
}

test('auth events: a correct list passes and yields the state the rules run on', () => {
  for (const v of ALL_VERSIONS) {
    const { room, pl, jr } = setup(v);
    const auth = v === '12' ? [pl, jr] : [room.create, pl, jr];
    const ev = withAuth(room, { type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join' } }, auth);
    const res = checkAuthEvents(ev, auth, { createEvent: room.create });
    assert.ok(res.ok, `v${v}`);
    if (res.ok) {
      assert.is(res.state.get('m.room.create', ''), room.create, `v${v} create in state`);
      assert.is(res.state.get('m.room.join_rules', ''), jr);
      assert.is(res.state.get('m.room.member', B), undefined);
    }
    allowed(checkAuthWithAuthEvents(ev, auth, { createEvent: room.create }), `v${v} full check`);
    // the rules then run on the auth events' state only: a join rules event left out means invite-only
    const short = v === '12' ? [pl] : [room.create, pl];
    denied(checkAuthWithAuthEvents(withAuth(room, { type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join' } }, short), short, { createEvent: room.create }), 'join_not_allowed', `v${v} join rules not listed`);
  }
});

test('auth events: duplicate (type, state_key) entries are rejected', () => {
  for (const v of ALL_VERSIONS) {
    const { room, pl, aliceJoin } = setup(v);
    const pl2 = room.powerLevels({ users: v === '12' ? {} : { [A]: 100 }, ban: 40 });
    const base = v === '12' ? [] : [room.create];
    const auth = [...base, pl, pl2, aliceJoin];
    const ev = withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth);
    denied(checkAuthEvents(ev, auth, { createEvent: room.create }), 'duplicate_auth_event', `v${v}`, v === '12' ? '3.1' : '2.1');
    // the same event listed twice is a duplicate too
    const twice = room.event({ type: 'm.room.message', sender: A, content: {}, authEvents: [...base, pl, aliceJoin, pl].map((e) => e.eventId) });
    denied(checkAuthEvents(twice, [...base, pl, aliceJoin], { createEvent: room.create }), 'duplicate_auth_event', `v${v} same ID twice`);
  }
});

test('auth events: entries the selection would not pick are rejected', () => {
  for (const v of ALL_VERSIONS) {
    const { room, pl, jr, aliceJoin } = setup(v);
    const r = v === '12' ? '3.2' : '2.2';
    const base = v === '12' ? [] : [room.create];
    // join rules are not selected for a message
    const auth = [...base, pl, aliceJoin, jr];
    denied(checkAuthEvents(withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth), auth, { createEvent: room.create }), 'unexpected_auth_event', `v${v} join rules on a message`, r);
    // another user's member event
    const bob = room.member(B, 'join', B);
    const auth2 = [...base, pl, aliceJoin, bob];
    denied(checkAuthEvents(withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth2), auth2, { createEvent: room.create }), 'unexpected_auth_event', `v${v} other member`, r);
    // a non-state event
    const msg = room.add({ type: 'm.room.message', sender: A, content: {} });
    const auth3 = [...base, pl, aliceJoin, msg];
    denied(checkAuthEvents(withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth3), auth3, { createEvent: room.create }), 'unexpected_auth_event', `v${v} message as auth event`, r);
    // a subset is fine
    const auth4 = [...base, aliceJoin];
    assert.ok(checkAuthEvents(withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth4), auth4, { createEvent: room.create }).ok, `v${v} subset`);
  }
});

test('auth events: rejected entries are rejected', () => {
  for (const v of ALL_VERSIONS) {
    const { room, pl, aliceJoin } = setup(v);
    const auth = [...(v === '12' ? [] : [room.create]), pl, aliceJoin];
    const ev = withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth);
    const r = v === '12' ? '3.3' : '2.3';
    denied(checkAuthEvents(ev, auth, { createEvent: room.create, rejected: new Set([pl.eventId]) }), 'rejected_auth_event', `v${v} set`, r);
    denied(checkAuthEvents(ev, auth, { createEvent: room.create, rejected: (id) => id === aliceJoin.eventId }), 'rejected_auth_event', `v${v} fn`, r);
    assert.ok(checkAuthEvents(ev, auth, { createEvent: room.create, rejected: new Set(['$other']) }).ok, `v${v} unrelated rejection`);
  }
});

test('auth events (v1-v11): a create event must be among them', () => {
  for (const v of versions(1, 11)) {
    const { room, pl, aliceJoin } = setup(v);
    const auth = [pl, aliceJoin];
    denied(checkAuthEvents(withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth), auth), 'missing_create_event', `v${v}`, '2.4');
  }
});

test('auth events: entries from another room are rejected', () => {
  for (const v of ALL_VERSIONS) {
    const { room, pl, aliceJoin } = setup(v);
    const other = new TestRoom(v as never);
    const foreignPl = other.powerLevels({ users: {} });
    const auth = [...(v === '12' ? [] : [room.create]), foreignPl, aliceJoin];
    assert.is.not(foreignPl.roomId, room.roomId);
    denied(checkAuthEvents(withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth), auth, { createEvent: room.create }), 'auth_event_wrong_room', `v${v}`, v === '12' ? '3.5' : '2.5');
    void pl;
  }
});

test('auth events (v12): the create event must not be listed; the room ID must name it', () => {
  const { room, pl, aliceJoin } = setup('12');
  const auth = [room.create, pl, aliceJoin];
  denied(checkAuthEvents(withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth), auth, { createEvent: room.create }), 'create_event_listed', 'create listed', '3.2');
  const ok = [pl, aliceJoin];
  const ev = withAuth(room, { type: 'm.room.message', sender: A, content: {} }, ok);
  denied(checkAuthEvents(ev, ok), 'missing_create_event', 'create not supplied', '2');
  const other = new TestRoom('12');
  denied(checkAuthEvents(ev, ok, { createEvent: other.create }), 'room_id_mismatch', 'another room\'s create event', '2');
  denied(checkAuthEvents(ev, ok, { createEvent: room.create, rejected: new Set([room.create.eventId]) }), 'rejected_auth_event', 'rejected create event', '2');
  denied(checkAuthEvents(ev, ok, { createEvent: pl }), 'missing_create_event', 'not a create event', '2');
  assert.ok(checkAuthEvents(ev, ok, { createEvent: room.create }).ok);
});

test('auth events: the list and the supplied events must correspond', () => {
  const { room, pl, aliceJoin } = setup('10');
  const auth = [room.create, pl, aliceJoin];
  const ev = withAuth(room, { type: 'm.room.message', sender: A, content: {} }, auth);
  denied(checkAuthEvents(ev, [room.create, pl]), 'missing_auth_event', 'one not supplied');
  const extra = room.joinRules('invite');
  denied(checkAuthEvents(ev, [...auth, extra]), 'auth_event_not_listed', 'one too many');
});

test('auth events: the create event needs none and is judged by rule 1 alone', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    assert.ok(checkAuthEvents(room.create, []).ok, `v${v}`);
    allowed(checkAuthWithAuthEvents(room.create, []), `v${v}`);
  }
});

test('authStateFromEvents: later entries win, message events are ignored, create added when given', () => {
  const room = new TestRoom('12');
  const pl1 = room.powerLevels({ ban: 1 });
  const pl2 = room.powerLevels({ ban: 2 });
  const msg = room.add({ type: 'm.room.message', sender: A, content: {} });
  const s = authStateFromEvents([pl1, pl2, msg], room.create);
  assert.is(s.get('m.room.power_levels', ''), pl2);
  assert.is(s.get('m.room.create', ''), room.create);
  assert.is(s.map.size, 2);
});

test.run();
