// The rules after the membership rule: sender joined, m.room.third_party_invite,
// required power level, state keys starting with @, v1-v2 redactions, and
// the v1-v5 m.room.aliases rule.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkAuth } from '../../src/auth/check.js';
import { ruleNumbers } from '../../src/auth/rule-numbers.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import { adminUsers, ALL_VERSIONS, allowed, denied, TestRoom, versions } from './factory.js';

const A = '@alice:a.test';
const B = '@bob:b.test';
const C = '@carol:c.test';

function top(v: string, offset: number): string {
  const n = Number(v);
  const member = n <= 5 ? 5 : n <= 11 ? 4 : 5;
  return String(member + offset);
}

test('rule numbers follow each version page', () => {
  const expect: Record<string, [string, string, string, string, string]> = {
    // senderJoined, thirdPartyInvite, requiredLevel, stateKeyUser, powerLevels
    '1': ['6', '7', '8', '9', '10'],
    '5': ['6', '7', '8', '9', '10'],
    '6': ['5', '6', '7', '8', '9'],
    '11': ['5', '6', '7', '8', '9'],
    '12': ['6', '7', '8', '9', '10'],
  };
  for (const [v, want] of Object.entries(expect)) {
    const n = ruleNumbers(roomVersion(v));
    assert.equal([n.senderJoined, n.thirdPartyInvite, n.requiredLevel, n.stateKeyUser, n.powerLevels], want, `v${v}`);
  }
  assert.is(ruleNumbers(roomVersion('1')).redaction, '11');
  assert.is(ruleNumbers(roomVersion('1')).aliases, '4');
  assert.is(ruleNumbers(roomVersion('7')).join, '4.2');
  assert.is(ruleNumbers(roomVersion('8')).join, '4.3');
  assert.is(ruleNumbers(roomVersion('12')).knock, '5.7');
  assert.is(ruleNumbers(roomVersion('12')).authEvents, '3');
  assert.is(ruleNumbers(roomVersion('12')).federate, '4');
});

test('non-member events: the sender must be joined', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    const msg = (sender: string) => room.check({ type: 'm.room.message', sender, content: { body: 'hi' } });
    allowed(msg(A), `v${v} joined`);
    denied(msg(B), 'sender_not_joined', `v${v} never joined`, top(v, 1));
    for (const m of ['invite', 'leave', 'ban', 'knock']) {
      room.member(B, m, A);
      denied(msg(B), 'sender_not_joined', `v${v} ${m}`, top(v, 1));
    }
  }
});

test('m.room.third_party_invite needs the invite level and nothing else', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    const tpi = (sender: string, stateKey = 'tok') => room.check({ type: 'm.room.third_party_invite', sender, stateKey, content: { public_key: 'x' } });
    allowed(tpi(B), `v${v} invite level 0`);
    room.powerLevels({ users: v === '12' ? {} : { [A]: 100 }, invite: 10, events: { 'm.room.third_party_invite': 100 } });
    denied(tpi(B), 'insufficient_power', `v${v} below invite level`, `${top(v, 2)}.1`);
    // the events level for the type is not what decides (the rule returns first)
    allowed(tpi(A), `v${v} admin, events level ignored`);
    // and a state key starting with @ is not checked for it either
    allowed(tpi(A, '@someone:else.test'), `v${v} @ state key`);
    denied(tpi(C), 'sender_not_joined', `v${v} non-member`);
  }
});

test('required power level: events map, else state_default for state and events_default for messages', () => {
  for (const v of ALL_VERSIONS) {
    const r = top(v, 3);
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    room.powerLevels({ users: { ...adminUsers(v), [B]: 20 }, state_default: 30, events_default: 10, events: { 'm.room.name': 20, 'm.sticker': 25 } });
    allowed(room.check({ type: 'm.room.name', sender: B, stateKey: '', content: {} }), `v${v} name at 20`);
    denied(room.check({ type: 'm.room.topic', sender: B, stateKey: '', content: {} }), 'insufficient_power', `v${v} topic needs state_default 30`, r);
    allowed(room.check({ type: 'm.room.message', sender: B, content: {} }), `v${v} message needs 10`);
    denied(room.check({ type: 'm.sticker', sender: B, content: {} }), 'insufficient_power', `v${v} sticker needs 25`, r);
    // the same type as a state event uses the events map too
    allowed(room.check({ type: 'm.room.name', sender: B, stateKey: 'x', content: {} }), `v${v} name with other key`);
    room.powerLevels({ users: { ...adminUsers(v), [B]: 20 }, events_default: 21 });
    denied(room.check({ type: 'm.room.message', sender: B, content: {} }), 'insufficient_power', `v${v} events_default 21`, r);
  }
});

test('without a power levels event, state events need 50 and messages 0', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    denied(room.check({ type: 'm.room.name', sender: B, stateKey: '', content: {} }), 'insufficient_power', `v${v} member sets name`, top(v, 3));
    allowed(room.check({ type: 'm.room.name', sender: A, stateKey: '', content: {} }), `v${v} creator sets name`);
    allowed(room.check({ type: 'm.room.message', sender: B, content: {} }), `v${v} member speaks`);
  }
});

test('a state key starting with @ must be the sender', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.powerLevels({ users: v === '12' ? {} : { [A]: 100 }, state_default: 0 });
    room.member(B, 'join', B);
    const r = top(v, 4);
    denied(room.check({ type: 'm.custom', sender: B, stateKey: A, content: {} }), 'state_key_not_sender', `v${v} someone else's`, r);
    denied(room.check({ type: 'm.custom', sender: A, stateKey: '@', content: {} }), 'state_key_not_sender', `v${v} bare @`, r);
    allowed(room.check({ type: 'm.custom', sender: B, stateKey: B, content: {} }), `v${v} own`);
    allowed(room.check({ type: 'm.custom', sender: B, stateKey: 'x' + A, content: {} }), `v${v} not starting with @`);
    // the level rule comes first
    room.powerLevels({ users: v === '12' ? {} : { [A]: 100 }, state_default: 50 });
    denied(room.check({ type: 'm.custom', sender: B, stateKey: A, content: {} }), 'insufficient_power', `v${v} level first`, top(v, 3));
  }
});

test('v1-v2 redactions: the redact level, or the same event ID domain', () => {
  for (const v of versions(1, 2)) {
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    const r = `${top(v, 6)}.3`;
    const redact = (sender: string, target: string) => room.check({ type: 'm.room.redaction', sender, content: {}, redacts: target });
    // bob (b.test) redacts an event from b.test: same domain
    allowed(redact(B, '$xyz:b.test'), `v${v} same domain`);
    denied(redact(B, '$xyz:a.test'), 'insufficient_power', `v${v} other domain`, r);
    denied(room.check({ type: 'm.room.redaction', sender: B, content: {} }), 'insufficient_power', `v${v} no redacts`, r);
    // the creator (100 without a power levels event) is above the redact level (50)
    allowed(redact(A, '$xyz:b.test'), `v${v} redact level`);
    room.powerLevels({ users: { [A]: 100, [B]: 50 }, redact: 50 });
    allowed(redact(B, '$xyz:a.test'), `v${v} bob at redact level`);
    room.powerLevels({ users: { [A]: 100, [B]: 49 }, redact: 50 });
    denied(redact(B, '$xyz:a.test'), 'insufficient_power', `v${v} bob below`, r);
    // the domain compared is the redaction's event ID domain, not the sender's
    const ev = room.event({ type: 'm.room.redaction', sender: B, content: {}, redacts: '$xyz:a.test', eventId: '$r1:a.test' });
    allowed(checkAuth(ev, room.state), `v${v} event ID domain matches`);
  }
});

test('v3+: redactions pass the auth rules like any event (redact level enforced later)', () => {
  for (const v of versions(3)) {
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    room.powerLevels({ users: { ...adminUsers(v), [B]: 0 }, redact: 50 });
    allowed(room.check({ type: 'm.room.redaction', sender: B, content: {}, redacts: '$someone-elses' }), `v${v} below redact level`);
    room.powerLevels({ users: { ...adminUsers(v), [B]: 0 }, events: { 'm.room.redaction': 10 } });
    denied(room.check({ type: 'm.room.redaction', sender: B, content: {}, redacts: '$x' }), 'insufficient_power', `v${v} events level for m.room.redaction`, top(v, 3));
  }
});

test('v1-v5 m.room.aliases: state key must be the sender domain; no membership needed', () => {
  for (const v of versions(1, 5)) {
    const room = new TestRoom(v);
    const aliases = (sender: string, stateKey?: string) => room.check({ type: 'm.room.aliases', sender, stateKey, content: { aliases: ['#x:b.test'] } });
    allowed(aliases(B, 'b.test'), `v${v} non-member, own domain`);
    denied(aliases(B, 'a.test'), 'bad_aliases_event', `v${v} other domain`, '4.2');
    denied(aliases(B), 'bad_aliases_event', `v${v} no state key`, '4.1');
    // the power levels do not matter for it
    room.powerLevels({ users: { [A]: 100 }, events: { 'm.room.aliases': 100 } });
    allowed(aliases(B, 'b.test'), `v${v} above events level`);
  }
});

test('v6+: m.room.aliases is an ordinary state event', () => {
  for (const v of versions(6)) {
    const room = new TestRoom(v);
    const aliases = (sender: string, stateKey: string) => room.check({ type: 'm.room.aliases', sender, stateKey, content: {} });
    denied(aliases(B, 'b.test'), 'sender_not_joined', `v${v} non-member`);
    room.member(B, 'join', B);
    denied(aliases(B, 'b.test'), 'insufficient_power', `v${v} member below state_default`);
    allowed(aliases(A, 'b.test'), `v${v} creator, any state key`);
  }
});

test('an event that passes every rule is allowed (rule "otherwise, allow")', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    room.powerLevels({ users: v === '12' ? { [B]: 50 } : { [A]: 100, [B]: 50 } });
    allowed(room.check({ type: 'm.room.topic', sender: B, stateKey: '', content: { topic: 't' } }), `v${v} topic`);
    allowed(room.check({ type: 'org.example.custom', sender: B, content: {} }), `v${v} custom message`);
  }
});

test.run();
