// The m.room.power_levels rule (rule 10 of v1-v5, 9 of v6-v11, 10 of v12):
// value validity per version and the limits on changes.
import { test } from 'uvu';
import type { JsonObject } from '../../src/matrix/json.js';
import { adminUsers, ALL_VERSIONS, allowed, denied, TestRoom, versions } from './factory.js';

const A = '@alice:a.test';
const M = '@mod:m.test';
const B = '@bob:b.test';

function plRule(v: string): number {
  const n = Number(v);
  return n <= 5 ? 10 : n <= 11 ? 9 : 10;
}
/** Sub-rule number of the change rules: levels, maps removed, maps added, users removed, users added. */
function changeRule(v: string, which: 'levels' | 'mapsRemoved' | 'mapsAdded' | 'usersRemoved' | 'usersAdded'): string {
  const n = Number(v);
  const first = n <= 9 ? 3 : n <= 11 ? 5 : 6;
  const k = first + { levels: 0, mapsRemoved: 1, mapsAdded: 2, usersRemoved: 3, usersAdded: 4 }[which];
  return `${plRule(v)}.${k}`;
}

/** A room where M is a joined moderator at 50 and B a joined user at 0; A is admin (v12: creator). */
function modRoom(v: string, extra: JsonObject = {}): TestRoom {
  const room = new TestRoom(v as never);
  room.member(M, 'join', M);
  room.member(B, 'join', B);
  const users: JsonObject = v === '12' ? { [M]: 50 } : { [A]: 100, [M]: 50 };
  room.powerLevels({ users, state_default: 50, events: { 'm.room.power_levels': 50 }, ...extra });
  return room;
}

/** The moderator sends new power levels: the current content with `change` applied. */
function modSends(room: TestRoom, content: JsonObject) {
  return room.check({ type: 'm.room.power_levels', sender: M, stateKey: '', content });
}

function currentUsers(v: string): JsonObject {
  return v === '12' ? { [M]: 50 } : { [A]: 100, [M]: 50 };
}

test('the first power levels event is allowed once the value rules pass (needs state_default 50)', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.member(B, 'join', B);
    const users: JsonObject = v === '12' ? { [B]: 9000 } : { [A]: 9000 };
    allowed(room.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content: { users, ban: 1000 } }), `v${v} creator`);
    // without a power levels event state_default is 50 and bob has 0
    denied(room.check({ type: 'm.room.power_levels', sender: B, stateKey: '', content: { users: { [B]: 100 } } }), 'insufficient_power', `v${v} ordinary member`, String(plRule(v) - 2));
  }
});

test('string levels are accepted before v10', () => {
  for (const v of versions(1, 9)) {
    const room = modRoom(v);
    allowed(room.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content: { users: { [A]: '100', [M]: '50' }, ban: '50', events: { 'm.room.name': '50' }, notifications: { room: '20' } } }), `v${v}`);
  }
});

test('from v10 every level must be a JSON integer (rules .1 .2 .3)', () => {
  for (const v of versions(10)) {
    const p = plRule(v);
    const room = modRoom(v);
    const send = (content: JsonObject) => room.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content });
    for (const k of ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite']) {
      denied(send({ [k]: '50' }), 'invalid_power_levels', `v${v} ${k} string`, `${p}.1`);
      denied(send({ [k]: 50.5 }), 'invalid_power_levels', `v${v} ${k} float`, `${p}.1`);
      denied(send({ [k]: null }), 'invalid_power_levels', `v${v} ${k} null`, `${p}.1`);
    }
    denied(send({ events: { 'm.room.name': '50' } }), 'invalid_power_levels', `v${v} events string`, `${p}.2`);
    denied(send({ events: 'x' }), 'invalid_power_levels', `v${v} events not object`, `${p}.2`);
    denied(send({ notifications: { room: '50' } }), 'invalid_power_levels', `v${v} notifications string`, `${p}.2`);
    denied(send({ notifications: { room: null } }), 'invalid_power_levels', `v${v} notifications null`, `${p}.2`);
    denied(send({ users: { [M]: '50' } }), 'invalid_power_levels', `v${v} users string`, `${p}.3`);
    denied(send({ users: { 'not-a-user': 50 } }), 'invalid_power_levels', `v${v} users key`, `${p}.3`);
  }
});

test('before v10 users keys must be user IDs and values integers or integer strings (rule .1)', () => {
  for (const v of versions(1, 9)) {
    const p = plRule(v);
    const room = modRoom(v);
    const send = (content: JsonObject) => room.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content });
    denied(send({ users: { 'not-a-user': 50 } }), 'invalid_power_levels', `v${v} users key`, `${p}.1`);
    denied(send({ users: { [M]: 'fifty' } }), 'invalid_power_levels', `v${v} users value`, `${p}.1`);
    denied(send({ users: { [M]: 50.5 } }), 'invalid_power_levels', `v${v} users float`, `${p}.1`);
    denied(send({ users: 'x' }), 'invalid_power_levels', `v${v} users not object`, `${p}.1`);
    // historical user IDs are still user IDs
    allowed(send({ users: { [A]: 100, '@Old Style!:a.test': 5 } }), `v${v} historical user ID`);
  }
});

test('changing users_default, events_default, state_default, ban, redact, kick, invite', () => {
  for (const v of ALL_VERSIONS) {
    const r = changeRule(v, 'levels');
    for (const k of ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite']) {
      const users = currentUsers(v);
      // raise to own level: fine; above: rejected (.2)
      allowed(modSends(modRoom(v), { users, events: { 'm.room.power_levels': 50 }, [k]: 50 }), `v${v} ${k} -> 50`);
      denied(modSends(modRoom(v), { users, events: { 'm.room.power_levels': 50 }, [k]: 51 }), 'insufficient_power', `v${v} ${k} -> 51`, `${r}.2`);
      // current value above the sender: cannot change (.1) or remove it
      const high = modRoom(v, { [k]: 60 });
      denied(modSends(high, { users, events: { 'm.room.power_levels': 50 }, [k]: 10 }), 'insufficient_power', `v${v} ${k} 60 -> 10`, `${r}.1`);
      denied(modSends(high, { users, events: { 'm.room.power_levels': 50 } }), 'insufficient_power', `v${v} ${k} 60 removed`, `${r}.1`);
      // unchanged: no check even though it is above the sender
      allowed(modSends(high, { users, events: { 'm.room.power_levels': 50 }, [k]: 60 }), `v${v} ${k} 60 kept`);
    }
  }
});

test('users_default changes are checked like the others', () => {
  for (const v of ALL_VERSIONS) {
    const users = currentUsers(v);
    denied(modSends(modRoom(v), { users, events: { 'm.room.power_levels': 50 }, users_default: 100 }), 'insufficient_power', `v${v} users_default -> 100`, `${changeRule(v, 'levels')}.2`);
  }
});

test('before v10 a string and an integer of the same value are no change', () => {
  for (const v of versions(1, 9)) {
    const room = modRoom(v, { ban: '75' });
    allowed(modSends(room, { users: currentUsers(v), events: { 'm.room.power_levels': 50 }, ban: 75 }), `v${v}`);
  }
});

test('events: entries changed or removed above the sender, and entries added or changed above the sender', () => {
  for (const v of ALL_VERSIONS) {
    const users = currentUsers(v);
    const base = { 'm.room.power_levels': 50 };
    const room = modRoom(v, { events: { ...base, 'm.room.tombstone': 100, 'm.room.topic': 10 } });
    denied(modSends(room, { users, events: { ...base, 'm.room.tombstone': 10, 'm.room.topic': 10 } }), 'insufficient_power', `v${v} lower a 100 entry`, `${changeRule(v, 'mapsRemoved')}.1`);
    denied(modSends(room, { users, events: { ...base, 'm.room.topic': 10 } }), 'insufficient_power', `v${v} remove a 100 entry`, `${changeRule(v, 'mapsRemoved')}.1`);
    denied(modSends(room, { users, events: { ...base, 'm.room.tombstone': 100, 'm.room.topic': 60 } }), 'insufficient_power', `v${v} raise an entry above self`, `${changeRule(v, 'mapsAdded')}.1`);
    denied(modSends(room, { users, events: { ...base, 'm.room.tombstone': 100, 'm.room.topic': 10, 'm.x': 51 } }), 'insufficient_power', `v${v} add above self`, `${changeRule(v, 'mapsAdded')}.1`);
    allowed(modSends(room, { users, events: { ...base, 'm.room.tombstone': 100, 'm.room.topic': 50, 'm.x': 50 } }), `v${v} changes at or below own level`);
    allowed(modSends(room, { users, events: { ...base, 'm.room.tombstone': 100 } }), `v${v} remove a low entry`);
  }
});

test('notifications: limited like events from v6; ignored in v1-v5', () => {
  for (const v of ALL_VERSIONS) {
    const users = currentUsers(v);
    const events = { 'm.room.power_levels': 50 };
    const room = modRoom(v, { notifications: { room: 75 } });
    const lower = modSends(room, { users, events, notifications: { room: 10 } });
    const removed = modSends(room, { users, events });
    const fresh = modRoom(v);
    const raise = modSends(fresh, { users, events, notifications: { room: 100 } });
    if (Number(v) >= 6) {
      denied(lower, 'insufficient_power', `v${v} lower 75`, `${changeRule(v, 'mapsRemoved')}.1`);
      denied(removed, 'insufficient_power', `v${v} remove 75`, `${changeRule(v, 'mapsRemoved')}.1`);
      denied(raise, 'insufficient_power', `v${v} set 100`, `${changeRule(v, 'mapsAdded')}.1`);
      allowed(modSends(fresh, { users, events, notifications: { room: 50 } }), `v${v} set 50`);
    } else {
      allowed(lower, `v${v} lower 75`);
      allowed(removed, `v${v} remove 75`);
      allowed(raise, `v${v} set 100`);
    }
  }
});

test('users: others at or above the sender cannot be changed or removed; nobody can be set above the sender', () => {
  for (const v of ALL_VERSIONS) {
    const events = { 'm.room.power_levels': 50 };
    const base = currentUsers(v);
    const C = '@carol:c.test';
    const D = '@dan:d.test';
    const room = modRoom(v);
    room.powerLevels({ users: { ...base, [C]: 50, [D]: 20 }, events });
    const ur = `${changeRule(v, 'usersRemoved')}.1`;
    const ua = `${changeRule(v, 'usersAdded')}.1`;
    denied(modSends(room, { users: { ...base, [C]: 10, [D]: 20 }, events }), 'insufficient_power', `v${v} demote an equal`, ur);
    denied(modSends(room, { users: { ...base, [D]: 20 }, events }), 'insufficient_power', `v${v} remove an equal`, ur);
    allowed(modSends(room, { users: { ...base, [C]: 50, [D]: 0 }, events }), `v${v} demote a lower user`);
    allowed(modSends(room, { users: { ...base, [C]: 50 }, events }), `v${v} remove a lower user`);
    allowed(modSends(room, { users: { ...base, [C]: 50, [D]: 50 }, events }), `v${v} promote to own level`);
    denied(modSends(room, { users: { ...base, [C]: 50, [D]: 51 }, events }), 'insufficient_power', `v${v} promote above self`, ua);
    allowed(modSends(room, { users: { ...base, [C]: 50, [D]: 20, [B]: 50 }, events }), `v${v} add at own level`);
    denied(modSends(room, { users: { ...base, [C]: 50, [D]: 20, [B]: 60 }, events }), 'insufficient_power', `v${v} add above self`, ua);
    // own entry: may lower it, may not raise it
    const self = adminUsers(v);
    allowed(modSends(room, { users: { ...self, [M]: 10, [C]: 50, [D]: 20 }, events }), `v${v} demote self`);
    denied(modSends(room, { users: { ...self, [M]: 60, [C]: 50, [D]: 20 }, events }), 'insufficient_power', `v${v} promote self`, ua);
    if (v !== '12') {
      // the admin at 100 is above the moderator: cannot be touched
      denied(modSends(room, { users: { [M]: 50, [C]: 50, [D]: 20 }, events }), 'insufficient_power', `v${v} remove the admin`, ur);
    }
  }
});

test('the sender needs the power to send m.room.power_levels at all (required level rule)', () => {
  for (const v of ALL_VERSIONS) {
    const room = modRoom(v, { events: { 'm.room.power_levels': 100 } });
    denied(modSends(room, { users: currentUsers(v) }), 'insufficient_power', `v${v}`, String(plRule(v) - 2));
  }
});

test('v12 rule 10.4: creators must not appear in users', () => {
  const room = new TestRoom('12', { createContent: { additional_creators: [B] } });
  room.member(B, 'join', B);
  denied(room.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content: { users: { [A]: 100 } } }), 'creator_in_power_levels', 'create sender listed (first PL event)', '10.4');
  denied(room.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content: { users: { [B]: 100 } } }), 'creator_in_power_levels', 'additional creator listed', '10.4');
  allowed(room.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content: { users: { [M]: 100 } } }), 'non-creator listed');
  room.powerLevels({ users: { [M]: 100 } });
  // a creator can do anything else: infinite level
  allowed(room.check({ type: 'm.room.power_levels', sender: B, stateKey: '', content: { users: { [M]: 9007199254740991 }, ban: 9007199254740991 } }), 'additional creator sets max levels');
  // before v12 the creator may list themselves (and must, to keep power)
  const v11 = new TestRoom('11');
  allowed(v11.check({ type: 'm.room.power_levels', sender: A, stateKey: '', content: { users: { [A]: 100 } } }), 'v11');
});

test('v12: a non-creator at the top level cannot demote others at that level', () => {
  const room = new TestRoom('12');
  room.member(M, 'join', M);
  room.member(B, 'join', B);
  room.powerLevels({ users: { [M]: 100, [B]: 100 } });
  denied(modSends(room, { users: { [M]: 100, [B]: 0 } }), 'insufficient_power', 'demote an equal', '10.9.1');
});

test.run();
