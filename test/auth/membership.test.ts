// The m.room.member rules: join, invite, leave (and kick/unban), ban, knock,
// restricted and knock_restricted joins, per room version.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkAuth } from '../../src/auth/check.js';
import { adminUsers, ALL_VERSIONS, allowed, denied, TestRoom, versions } from './factory.js';

const A = '@alice:a.test'; // creator
const B = '@bob:b.test';
const C = '@carol:c.test';
const D = '@dan:d.test';

/** The number of the membership rule in version v ("5" v1-v5, "4" v6-v11, "5" v12). */
function mem(v: string): number {
  const n = Number(v);
  return n <= 5 ? 5 : n <= 11 ? 4 : 5;
}
/** Sub-rule numbers shift by one from v8 (join_authorised_via_users_server rule). */
function sub(v: string, name: 'join' | 'invite' | 'leave' | 'ban' | 'knock'): string {
  const o = Number(v) >= 8 ? 1 : 0;
  const k = { join: 2, invite: 3, leave: 4, ban: 5, knock: 6 }[name] + o;
  return `${mem(v)}.${k}`;
}

// ---------------------------------------------------------------- join

test('join .1: the creator may join when the only prev event is the create event', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v, { noCreatorJoin: true });
    const ev = room.event({ type: 'm.room.member', sender: A, stateKey: A, content: { membership: 'join' }, prevEvents: [room.create.eventId] });
    allowed(checkAuth(ev, room.state), `v${v} creator first join`);
    // Any other prev event and the creator is an ordinary user: no join rules event means invite-only.
    const ev2 = room.event({ type: 'm.room.member', sender: A, stateKey: A, content: { membership: 'join' }, prevEvents: [room.create.eventId, '$other'] });
    denied(checkAuth(ev2, room.state), 'join_not_allowed', `v${v} two prev events`);
  }
});

test('join .1: "the creator" is content.creator in v1-v10 and the create sender from v11', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v, { noCreatorJoin: true, createContent: { creator: C } });
    const first = (user: string) =>
      checkAuth(room.event({ type: 'm.room.member', sender: user, stateKey: user, content: { membership: 'join' }, prevEvents: [room.create.eventId] }), room.state);
    if (Number(v) <= 10) {
      allowed(first(C), `v${v} content.creator joins`);
      denied(first(A), 'join_not_allowed', `v${v} create sender is not the creator`);
    } else {
      allowed(first(A), `v${v} create sender joins`);
      denied(first(C), 'join_not_allowed', `v${v} content.creator means nothing`);
    }
  }
});

test('join .2/.3: only the user can join themselves; banned users cannot join (even public rooms)', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.joinRules('public');
    denied(room.checkMember(A, B, 'join'), 'sender_not_target', `v${v} join someone else`, `${sub(v, 'join')}.2`);
    room.member(B, 'ban', A);
    denied(room.checkMember(B, B, 'join'), 'sender_banned', `v${v} banned`, `${sub(v, 'join')}.3`);
    allowed(room.checkMember(C, C, 'join'), `v${v} public join`);
  }
});

test('join .4: invite rule allows invited or joined users only', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.joinRules('invite');
    const otherwise = `${sub(v, 'join')}.${Number(v) >= 8 ? 7 : 6}`;
    denied(room.checkMember(B, B, 'join'), 'join_not_allowed', `v${v} uninvited`, otherwise);
    room.member(B, 'invite', A);
    allowed(room.checkMember(B, B, 'join'), `v${v} invited`);
    room.member(B, 'join');
    allowed(room.checkMember(B, B, 'join'), `v${v} join -> join`);
    room.member(B, 'leave');
    denied(room.checkMember(B, B, 'join'), 'join_not_allowed', `v${v} left`);
    room.member(C, 'knock');
    denied(room.checkMember(C, C, 'join'), 'join_not_allowed', `v${v} knocked but not invited`);
  }
});

test('join: with no join rules event the room is invite-only', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    denied(room.checkMember(B, B, 'join'), 'join_not_allowed', `v${v} uninvited`);
    room.member(B, 'invite', A);
    allowed(room.checkMember(B, B, 'join'), `v${v} invited`);
  }
});

test('join .4: the knock join rule admits invited users from v7; before v7 it is an unknown rule', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.joinRules('knock');
    room.member(B, 'invite', A);
    if (Number(v) >= 7) allowed(room.checkMember(B, B, 'join'), `v${v}`);
    else denied(room.checkMember(B, B, 'join'), 'join_not_allowed', `v${v}`, `${sub(v, 'join')}.6`);
    denied(room.checkMember(C, C, 'join'), 'join_not_allowed', `v${v} uninvited`);
  }
});

test('join: private and unknown join rules reject, even for invited users', () => {
  for (const v of ALL_VERSIONS) {
    for (const rule of ['private', 'bogus']) {
      const room = new TestRoom(v);
      room.joinRules(rule);
      room.member(B, 'invite', A);
      denied(room.checkMember(B, B, 'join'), 'join_not_allowed', `v${v} ${rule}`);
    }
  }
});

test('join .5 (v8+): restricted rooms', () => {
  const signedBy = (server: string) => ({ signatures: { [server]: { 'ed25519:1': 'c2ln' } } });
  for (const v of versions(8)) {
    const r = `${sub(v, 'join')}.5.2`;
    const room = new TestRoom(v);
    room.joinRules('restricted');
    room.member(C, 'join', C);
    room.powerLevels({ users: Number(v) >= 12 ? { [C]: 0 } : { [A]: 100, [C]: 0 }, invite: 0 });
    // no authorising user
    denied(room.checkMember(B, B, 'join'), 'restricted_join_unauthorised', `v${v} no via`, r);
    // authorised by a joined member with invite power, signed by that member's server
    const join = (via: string, json = signedBy('c.test')) =>
      checkAuth(room.event({ type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join', join_authorised_via_users_server: via }, json }), room.state);
    allowed(join(C), `v${v} via joined member`);
    // the authorising user must be joined
    denied(join(D, signedBy('d.test')), 'restricted_join_unauthorised', `v${v} via non-member`, r);
    room.member(D, 'invite', A);
    denied(join(D, signedBy('d.test')), 'restricted_join_unauthorised', `v${v} via invited-only user`, r);
    // and able to invite
    room.powerLevels({ users: Number(v) >= 12 ? { [C]: 0 } : { [A]: 100, [C]: 0 }, invite: 10 });
    denied(join(C), 'restricted_join_unauthorised', `v${v} via below invite level`, r);
    // invited or already joined users need no authoriser
    room.member(B, 'invite', A);
    allowed(room.checkMember(B, B, 'join'), `v${v} invited`);
  }
});

test('join_authorised_via_users_server (v8+): the event must be signed by that user\'s server', () => {
  for (const v of versions(8)) {
    const rule = `${mem(v)}.2.1`;
    const room = new TestRoom(v);
    room.joinRules('restricted');
    room.member(C, 'join', C);
    const ev = (json: Record<string, never> | object) =>
      room.event({ type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join', join_authorised_via_users_server: C }, json: json as never });
    denied(checkAuth(ev({}), room.state), 'authorising_server_not_signed', `v${v} unsigned`, rule);
    denied(checkAuth(ev({ signatures: { 'b.test': { 'ed25519:1': 'x' } } }), room.state), 'authorising_server_not_signed', `v${v} signed by sender only`, rule);
    allowed(checkAuth(ev({ signatures: { 'c.test': { 'ed25519:1': 'x' } } }), room.state), `v${v} signed by c.test`);
    // a verifier, when supplied, decides
    const e = ev({ signatures: { 'c.test': { 'ed25519:1': 'x' } } });
    const seen: string[] = [];
    denied(checkAuth(e, room.state, { isSignedBy: (_ev, s) => (seen.push(s), false) }), 'authorising_server_not_signed', `v${v} verifier says no`, rule);
    assert.equal(seen, ['c.test']);
    allowed(checkAuth(ev({}), room.state, { isSignedBy: (_ev, s) => s === 'c.test' }), `v${v} verifier says yes`);
    // a non-string value is not signed by anyone
    const bad = room.event({ type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join', join_authorised_via_users_server: 5 } });
    denied(checkAuth(bad, room.state), 'authorising_server_not_signed', `v${v} non-string via`, rule);
    // the rule applies to any membership carrying the key
    room.joinRules('public');
    const leave = room.event({ type: 'm.room.member', sender: C, stateKey: C, content: { membership: 'leave', join_authorised_via_users_server: D } });
    denied(checkAuth(leave, room.state), 'authorising_server_not_signed', `v${v} on a leave`, rule);
  }
  // before v8 the key means nothing
  for (const v of versions(1, 7)) {
    const room = new TestRoom(v);
    room.joinRules('public');
    const ev = room.event({ type: 'm.room.member', sender: B, stateKey: B, content: { membership: 'join', join_authorised_via_users_server: C } });
    allowed(checkAuth(ev, room.state), `v${v} ignored`);
  }
});

test('restricted before v8 and knock_restricted before v10 are unknown join rules', () => {
  for (const v of versions(1, 7)) {
    const room = new TestRoom(v);
    room.joinRules('restricted');
    room.member(B, 'invite', A);
    denied(room.checkMember(B, B, 'join'), 'join_not_allowed', `v${v} restricted, invited`);
  }
  for (const v of versions(1, 9)) {
    const room = new TestRoom(v);
    room.joinRules('knock_restricted');
    room.member(B, 'invite', A);
    denied(room.checkMember(B, B, 'join'), 'join_not_allowed', `v${v} knock_restricted, invited`);
    denied(room.checkMember(C, C, 'knock'), Number(v) >= 7 ? 'knock_not_allowed' : 'unknown_membership', `v${v} knock on knock_restricted`);
  }
});

test('knock_restricted (v10+): joins like restricted, knocks like knock', () => {
  for (const v of versions(10)) {
    const room = new TestRoom(v);
    room.joinRules('knock_restricted');
    room.member(C, 'join', C);
    denied(room.checkMember(B, B, 'join'), 'restricted_join_unauthorised', `v${v} no via`);
    const ev = room.event({
      type: 'm.room.member', sender: B, stateKey: B,
      content: { membership: 'join', join_authorised_via_users_server: C },
      json: { signatures: { 'c.test': { 'ed25519:1': 'x' } } },
    });
    allowed(checkAuth(ev, room.state), `v${v} via joined member`);
    allowed(room.checkMember(D, D, 'knock'), `v${v} knock`);
    room.member(D, 'invite', A);
    allowed(room.checkMember(D, D, 'join'), `v${v} invited`);
  }
});

// ---------------------------------------------------------------- invite

test('invite: the sender must be joined, the target not joined or banned, the sender at the invite level', () => {
  for (const v of ALL_VERSIONS) {
    const r = sub(v, 'invite');
    const room = new TestRoom(v);
    denied(room.checkMember(B, C, 'invite'), 'sender_not_joined', `v${v} outsider invites`, `${r}.2`);
    allowed(room.checkMember(A, B, 'invite'), `v${v} member invites`);
    room.member(B, 'join', B);
    denied(room.checkMember(A, B, 'invite'), 'invalid_membership_transition', `v${v} invite a joined user`, `${r}.3`);
    room.member(C, 'ban', A);
    denied(room.checkMember(A, C, 'invite'), 'invalid_membership_transition', `v${v} invite a banned user`, `${r}.3`);
    room.member(D, 'leave', D);
    allowed(room.checkMember(A, D, 'invite'), `v${v} invite a user who left`);
    room.member(D, 'invite', A);
    allowed(room.checkMember(A, D, 'invite'), `v${v} invite -> invite`);
    // invite level
    room.powerLevels({ users: Number(v) >= 12 ? {} : { [A]: 100 }, invite: 50 });
    denied(room.checkMember(B, '@eve:e.test', 'invite'), 'insufficient_power', `v${v} below invite level`, `${r}.5`);
    allowed(room.checkMember(A, '@eve:e.test', 'invite'), `v${v} at invite level`);
  }
});

test('invite: a knocking user can be invited (v7+)', () => {
  for (const v of versions(7)) {
    const room = new TestRoom(v);
    room.joinRules('knock');
    room.member(B, 'knock', B);
    allowed(room.checkMember(A, B, 'invite'), `v${v}`);
  }
});

// ---------------------------------------------------------------- leave / kick / unban

test('leave .1: a user may leave only from invite, join or (v7+) knock; leave -> leave is rejected', () => {
  for (const v of ALL_VERSIONS) {
    const r = `${sub(v, 'leave')}.1`;
    const room = new TestRoom(v);
    room.joinRules('knock');
    room.member(B, 'join', B);
    allowed(room.checkMember(B, B, 'leave'), `v${v} join -> leave`);
    room.member(B, 'invite', A);
    allowed(room.checkMember(B, B, 'leave'), `v${v} reject invite`);
    room.member(B, 'leave', B);
    denied(room.checkMember(B, B, 'leave'), 'invalid_membership_transition', `v${v} leave -> leave`, r);
    denied(room.checkMember(C, C, 'leave'), 'invalid_membership_transition', `v${v} never a member`, r);
    room.member(B, 'ban', A);
    denied(room.checkMember(B, B, 'leave'), 'invalid_membership_transition', `v${v} banned user unbans self`, r);
    // knock -> leave (rescind a knock)
    const knocker = new TestRoom(v);
    knocker.member(D, 'knock', D); // put directly into state
    if (Number(v) >= 7) allowed(knocker.checkMember(D, D, 'leave'), `v${v} rescind knock`);
    else denied(knocker.checkMember(D, D, 'leave'), 'invalid_membership_transition', `v${v} knock is not a membership`, r);
  }
});

test('kick: sender joined, at the kick level, above the target', () => {
  for (const v of ALL_VERSIONS) {
    const r = sub(v, 'leave');
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    room.member(C, 'join', C);
    room.powerLevels({ users: { ...adminUsers(v), [B]: 50, [C]: 50 }, kick: 50 });
    allowed(room.checkMember(A, B, 'leave'), `v${v} admin kicks`);
    denied(room.checkMember(B, C, 'leave'), 'insufficient_power', `v${v} equal level`, `${r}.5`);
    denied(room.checkMember(D, B, 'leave'), 'sender_not_joined', `v${v} outsider kicks`, `${r}.2`);
    room.powerLevels({ users: { ...adminUsers(v), [B]: 40, [C]: 10 }, kick: 50 });
    denied(room.checkMember(B, C, 'leave'), 'insufficient_power', `v${v} below kick level`, `${r}.5`);
    // kicking a user who is not in the room is still a kick
    allowed(room.checkMember(A, D, 'leave'), `v${v} kick absent user`);
  }
});

test('unban needs the ban level and the kick level and a level above the target', () => {
  for (const v of ALL_VERSIONS) {
    const r = sub(v, 'leave');
    const base = adminUsers(v);
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    room.member(C, 'ban', A);
    // kick 50, ban 75: a 60 can kick but not unban
    room.powerLevels({ users: { ...base, [B]: 60 }, kick: 50, ban: 75 });
    denied(room.checkMember(B, C, 'leave'), 'insufficient_power', `v${v} has kick not ban`, `${r}.3`);
    // ban 50, kick 75: a 60 can ban but not unban
    room.powerLevels({ users: { ...base, [B]: 60 }, kick: 75, ban: 50 });
    denied(room.checkMember(B, C, 'leave'), 'insufficient_power', `v${v} has ban not kick`, `${r}.5`);
    // both
    room.powerLevels({ users: { ...base, [B]: 60 }, kick: 50, ban: 50 });
    allowed(room.checkMember(B, C, 'leave'), `v${v} has both`);
    // both, but the banned user is not below the sender
    room.powerLevels({ users: { ...base, [B]: 60, [C]: 60 }, kick: 50, ban: 50 });
    denied(room.checkMember(B, C, 'leave'), 'insufficient_power', `v${v} target not below`, `${r}.5`);
  }
});

// ---------------------------------------------------------------- ban

test('ban: sender joined, at the ban level, above the target', () => {
  for (const v of ALL_VERSIONS) {
    const r = sub(v, 'ban');
    const base = adminUsers(v);
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    room.member(C, 'join', C);
    room.powerLevels({ users: { ...base, [B]: 50, [C]: 50 } });
    allowed(room.checkMember(A, B, 'ban'), `v${v} admin bans member`);
    allowed(room.checkMember(A, D, 'ban'), `v${v} pre-emptive ban`);
    allowed(room.checkMember(B, D, 'ban'), `v${v} moderator bans default user`);
    denied(room.checkMember(B, C, 'ban'), 'insufficient_power', `v${v} equal level`, `${r}.3`);
    denied(room.checkMember(D, B, 'ban'), 'sender_not_joined', `v${v} outsider bans`, `${r}.1`);
    room.powerLevels({ users: { ...base, [B]: 40 }, ban: 50 });
    denied(room.checkMember(B, D, 'ban'), 'insufficient_power', `v${v} below ban level`, `${r}.3`);
    // ban -> ban is still a ban
    room.member(D, 'ban', A);
    allowed(room.checkMember(A, D, 'ban'), `v${v} re-ban`);
  }
});

test('without a power levels event the creator has 100 (v1-v11) and others 0', () => {
  for (const v of versions(1, 11)) {
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    allowed(room.checkMember(A, B, 'ban'), `v${v} creator bans`);
    denied(room.checkMember(B, A, 'ban'), 'insufficient_power', `v${v} member bans creator`);
  }
});

test('v12: creators have infinite power: nobody can kick or ban them, they can kick anyone', () => {
  const room = new TestRoom('12', { createContent: { additional_creators: [B] } });
  room.member(B, 'join', B);
  room.member(C, 'join', C);
  room.powerLevels({ users: { [C]: 9007199254740991 }, kick: 50, ban: 50 });
  denied(room.checkMember(C, A, 'leave'), 'insufficient_power', 'max-level user kicks the creator');
  denied(room.checkMember(C, B, 'ban'), 'insufficient_power', 'max-level user bans an additional creator');
  allowed(room.checkMember(B, C, 'ban'), 'additional creator bans a max-level user');
  allowed(room.checkMember(A, C, 'leave'), 'creator kicks a max-level user');
  denied(room.checkMember(A, B, 'ban'), 'insufficient_power', 'a creator cannot ban another creator');
  // Before v12 additional_creators means nothing.
  const v11 = new TestRoom('11', { createContent: { additional_creators: [B] } });
  v11.member(B, 'join', B);
  denied(v11.checkMember(B, A, 'ban'), 'insufficient_power', 'v11 additional creator has no power');
});

// ---------------------------------------------------------------- knock

test('knock (v7+): knock join rule, own membership, not from ban/invite/join', () => {
  for (const v of versions(7)) {
    const r = sub(v, 'knock');
    const room = new TestRoom(v);
    room.joinRules('public');
    denied(room.checkMember(B, B, 'knock'), 'knock_not_allowed', `v${v} public room`, `${r}.1`);
    room.joinRules('invite');
    denied(room.checkMember(B, B, 'knock'), 'knock_not_allowed', `v${v} invite room`, `${r}.1`);
    room.joinRules('knock');
    allowed(room.checkMember(B, B, 'knock'), `v${v} knock`);
    denied(room.checkMember(A, B, 'knock'), 'sender_not_target', `v${v} knock for someone else`, `${r}.2`);
    room.member(B, 'knock', B);
    allowed(room.checkMember(B, B, 'knock'), `v${v} knock -> knock`);
    room.member(B, 'leave', B);
    allowed(room.checkMember(B, B, 'knock'), `v${v} leave -> knock`);
    for (const m of ['ban', 'invite', 'join']) {
      room.member(B, m, A);
      denied(room.checkMember(B, B, 'knock'), 'invalid_membership_transition', `v${v} ${m} -> knock`, `${r}.4`);
    }
  }
  for (const v of versions(1, 6)) {
    const room = new TestRoom(v);
    room.joinRules('knock');
    denied(room.checkMember(B, B, 'knock'), 'unknown_membership', `v${v} knock membership`, `${mem(v)}.6`);
  }
});

// ---------------------------------------------------------------- format

test('member .1: a state key and content.membership are required; unknown memberships reject', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.joinRules('public');
    denied(room.check({ type: 'm.room.member', sender: B, stateKey: B, content: {} }), 'bad_membership_event', `v${v} no membership`, `${mem(v)}.1`);
    denied(room.check({ type: 'm.room.member', sender: B, content: { membership: 'join' } }), 'bad_membership_event', `v${v} no state key`, `${mem(v)}.1`);
    const unknown = `${mem(v)}.${(Number(v) >= 7 ? 7 : 6) + (Number(v) >= 8 ? 1 : 0)}`;
    denied(room.checkMember(B, B, 'foo'), 'unknown_membership', `v${v} foo`, unknown);
    denied(room.check({ type: 'm.room.member', sender: B, stateKey: B, content: { membership: 5 } }), 'unknown_membership', `v${v} non-string`, unknown);
  }
});

test('membership events are judged by the member rules alone: no "sender joined" or level check after them', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.joinRules('public');
    // m.room.member sits at state_default 50 if it were an ordinary state event; joins still pass.
    room.powerLevels({ users: Number(v) >= 12 ? {} : { [A]: 100 }, events: { 'm.room.member': 100 } });
    allowed(room.checkMember(B, B, 'join'), `v${v}`);
  }
});

test.run();
