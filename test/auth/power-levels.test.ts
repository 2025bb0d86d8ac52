// Power level values per version, defaults, creators, and the lookups.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  parsePowerLevelsContent,
  parsePowerLevelValue,
  roomCreators,
  RoomPowerLevels,
  userPowerLevel,
} from '../../src/auth/power-levels.js';
import { roomVersion } from '../../src/matrix/room-versions.js';
import type { JsonObject } from '../../src/matrix/json.js';
import { ALL_VERSIONS, TestRoom, versions } from './factory.js';

const v1 = roomVersion('1');
const v9 = roomVersion('9');
const v10 = roomVersion('10');

test('values before v10: integers, integer strings, floats truncated; nothing else', () => {
  const cases: Array<[unknown, number | undefined]> = [
    [50, 50],
    [-7, -7],
    ['50', 50],
    [' 50 ', 50],
    ['+50', 50],
    ['-5', -5],
    ['0', 0],
    ['-0', 0],
    [50.7, 50],
    [-50.7, -50],
    ['5.5', undefined],
    ['abc', undefined],
    ['', undefined],
    ['5e2', undefined],
    ['0x10', undefined],
    [true, undefined],
    [null, undefined],
    [{}, undefined],
    [[50], undefined],
    [2 ** 53, undefined],
    ['9007199254740993', undefined],
    [9007199254740991, 9007199254740991],
  ];
  for (const [input, want] of cases) {
    assert.is(parsePowerLevelValue(input as never, v9), want, `v9 ${JSON.stringify(input)}`);
    assert.is(parsePowerLevelValue(input as never, v1), want, `v1 ${JSON.stringify(input)}`);
  }
  assert.is(parsePowerLevelValue(50.5, v9, false), undefined, 'users values: no floats');
  assert.is(parsePowerLevelValue('50', v9, false), 50, 'users values: integer strings ok');
});

test('values from v10: only JSON integers', () => {
  const cases: Array<[unknown, number | undefined]> = [
    [50, 50],
    [-1, -1],
    [0, 0],
    ['50', undefined],
    [50.5, undefined],
    [null, undefined],
    [true, undefined],
    [2 ** 53, undefined],
  ];
  for (const v of versions(10)) {
    for (const [input, want] of cases) assert.is(parsePowerLevelValue(input as never, roomVersion(v)), want, `v${v} ${JSON.stringify(input)}`);
  }
});

test('content parsing: strict reports the first invalid field per version', () => {
  const bad = (content: JsonObject, v: string) => {
    const r = parsePowerLevelsContent(content, roomVersion(v));
    return r.ok ? undefined : r.field;
  };
  // users must have valid user ID keys and integer(-string) values in every version
  for (const v of ALL_VERSIONS) {
    assert.is(bad({ users: { alice: 10 } }, v), 'users', `v${v} key not a user ID`);
    assert.is(bad({ users: { '@a:b.test': 'ten' } }, v), 'users.@a:b.test', `v${v} bad value`);
    assert.is(bad({ users: [] }, v), 'users', `v${v} users array`);
    assert.is(bad({ users: { '@a:b.test': 10 } }, v), undefined, `v${v} good`);
    assert.is(bad({}, v), undefined, `v${v} empty content`);
  }
  for (const v of versions(1, 9)) {
    assert.is(bad({ users: { '@a:b.test': '10' }, ban: '50', events: { 'm.room.name': '20' } }, v), undefined, `v${v} strings`);
    assert.is(bad({ ban: 'fifty' }, v), 'ban', `v${v} ban not a number`);
    assert.is(bad({ events: [] }, v), 'events', `v${v} events array`);
  }
  for (const v of versions(10)) {
    assert.is(bad({ ban: '50' }, v), 'ban', `v${v} string ban`);
    assert.is(bad({ users_default: null }, v), 'users_default', `v${v} null users_default`);
    assert.is(bad({ events: { 'm.room.name': '20' } }, v), 'events.m.room.name', `v${v} string event level`);
    assert.is(bad({ notifications: { room: null } }, v), 'notifications.room', `v${v} null notification`);
    assert.is(bad({ notifications: 5 }, v), 'notifications', `v${v} notifications not an object`);
    assert.is(bad({ users: { '@a:b.test': '10' } }, v), 'users.@a:b.test', `v${v} string user level`);
  }
  // notifications only exist from v6
  for (const v of versions(1, 5)) assert.is(bad({ notifications: { room: 'junk' } }, v), undefined, `v${v} ignores notifications`);
  for (const v of versions(6, 9)) {
    assert.is(bad({ notifications: { room: '20' } }, v), undefined, `v${v} string notification`);
    assert.is(bad({ notifications: { room: 'junk' } }, v), 'notifications.room', `v${v} junk notification`);
  }
});

test('content parsing keeps what is explicit, as numbers', () => {
  const r = parsePowerLevelsContent({ ban: '60', users: { '@a:b.test': '7' }, events: { x: 3 }, notifications: { room: '9' } }, v9);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.content.levels, { ban: 60 });
  assert.is(r.content.users.get('@a:b.test'), 7);
  assert.is(r.content.events.get('x'), 3);
  assert.is(r.content.notifications.get('room'), 9);
  // lenient mode skips bad values instead of failing
  const l = parsePowerLevelsContent({ ban: 'x', kick: 10, users: { bad: 1, '@a:b.test': 2 } }, v10, false);
  assert.ok(l.ok);
  if (l.ok) {
    assert.equal(l.content.levels, { kick: 10 });
    assert.equal([...l.content.users], [['@a:b.test', 2]]);
  }
});

test('defaults without a power levels event', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    const pl = RoomPowerLevels.fromState(room.state, room.rv);
    assert.is(pl.ban, 50, `v${v} ban`);
    assert.is(pl.kick, 50, `v${v} kick`);
    assert.is(pl.redact, 50, `v${v} redact`);
    assert.is(pl.invite, 0, `v${v} invite`);
    assert.is(pl.sendLevel('m.room.name', true), 50, `v${v} state_default`);
    assert.is(pl.sendLevel('m.room.message', false), 0, `v${v} events_default`);
    assert.is(pl.notificationLevel('room'), 50, `v${v} notifications.room`);
    assert.is(pl.userLevel('@bob:b.test'), 0, `v${v} other user`);
    assert.is(pl.userLevel(room.creator), v === '12' ? Infinity : 100, `v${v} creator`);
  }
});

test('defaults for keys a power levels event leaves out', () => {
  for (const v of ALL_VERSIONS) {
    const room = new TestRoom(v);
    room.powerLevels({});
    const pl = RoomPowerLevels.fromState(room.state, room.rv);
    assert.is(pl.ban, 50);
    assert.is(pl.sendLevel('m.room.name', true), 50);
    assert.is(pl.sendLevel('m.room.message', false), 0);
    // with a power levels event the v1-v11 creator has no special level
    assert.is(pl.userLevel(room.creator), v === '12' ? Infinity : 0, `v${v} creator`);
  }
});

test('explicit levels, users_default, events overrides', () => {
  const room = new TestRoom('9');
  room.powerLevels({ users: { '@bob:b.test': '75' }, users_default: '5', events: { 'm.room.name': 20, 'm.custom': '80' }, state_default: 40, events_default: 10, invite: 3, kick: 4, ban: 6, redact: 7 });
  const pl = RoomPowerLevels.fromState(room.state, room.rv);
  assert.is(pl.userLevel('@bob:b.test'), 75);
  assert.is(pl.userLevel('@carol:c.test'), 5);
  assert.is(pl.sendLevel('m.room.name', true), 20);
  assert.is(pl.sendLevel('m.custom', false), 80);
  assert.is(pl.sendLevel('m.room.topic', true), 40);
  assert.is(pl.sendLevel('m.room.message', false), 10);
  assert.equal([pl.invite, pl.kick, pl.ban, pl.redact], [3, 4, 6, 7]);
  assert.is(userPowerLevel(room.state, room.rv, '@bob:b.test'), 75);
});

test('room creators per version', () => {
  const mk = (v: string, content: JsonObject, sender = '@alice:a.test') => new TestRoom(v as never, { creator: sender, createContent: content }).create;
  assert.equal(roomCreators(mk('10', { creator: '@carol:c.test' }), roomVersion('10')), ['@carol:c.test']);
  assert.equal(roomCreators(mk('11', { creator: '@carol:c.test' }), roomVersion('11')), ['@alice:a.test']);
  assert.equal(roomCreators(mk('12', { additional_creators: ['@b:b.test', '@alice:a.test'] }), roomVersion('12')), ['@alice:a.test', '@b:b.test']);
  assert.equal(roomCreators(mk('11', { additional_creators: ['@b:b.test'] }), roomVersion('11')), ['@alice:a.test']);
  assert.equal(roomCreators(undefined, roomVersion('12')), []);
});

test('v12: creators are infinite with or without a power levels event', () => {
  const room = new TestRoom('12', { createContent: { additional_creators: ['@b:b.test'] } });
  let pl = RoomPowerLevels.fromState(room.state, room.rv);
  assert.is(pl.userLevel('@alice:a.test'), Infinity);
  assert.is(pl.userLevel('@b:b.test'), Infinity);
  assert.is(pl.userLevel('@c:c.test'), 0);
  room.powerLevels({ users_default: 10 });
  pl = RoomPowerLevels.fromState(room.state, room.rv);
  assert.is(pl.userLevel('@b:b.test'), Infinity);
  assert.is(pl.userLevel('@c:c.test'), 10);
});

test.run();
