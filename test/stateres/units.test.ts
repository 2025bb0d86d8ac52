/**
 * The pieces of state resolution on their own: splitting state sets, the
 * comparison relations, the heap, the numbered auth graph, the event cache.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stateKey, type StateMap } from '../../src/matrix/state-key.js';
import { splitV1, splitV2 } from '../../src/stateres/conflicts.js';
import { comparePowerKeys, mainlineOrder } from '../../src/stateres/ordering.js';
import { MinHeap } from '../../src/stateres/heap.js';
import { AuthIndex } from '../../src/stateres/auth-index.js';
import { EventCache } from '../../src/stateres/lookup.js';
import { isPowerEvent } from '../../src/stateres/power.js';
import { ALICE, BOB, Graph } from './factory.js';

const K = (t: string, k = '') => stateKey(t, k);

test('splitV2: a key missing from one set is conflicted; agreeing keys are not', () => {
  const a: StateMap = new Map([[K('a'), '$1'], [K('b'), '$2'], [K('c'), '$3']]);
  const b: StateMap = new Map([[K('a'), '$1'], [K('b'), '$9'], [K('d'), '$4']]);
  for (const sets of [[a, b], [b, a]]) {
    const { unconflicted, conflicted } = splitV2(sets);
    assert.equal([...unconflicted.toMap()], [[K('a'), '$1']]);
    assert.equal(unconflicted.ids(), ['$1']);
    assert.ok(unconflicted.has(K('a')));
    assert.not.ok(unconflicted.has(K('b')));
    assert.equal([...conflicted.keys()].sort(), [K('b'), K('c'), K('d')].sort());
    assert.equal([...conflicted.get(K('b'))!].sort(), ['$2', '$9']);
    assert.equal(conflicted.get(K('c')), ['$3']);
  }
});

test('splitV1: only differing values conflict; the union of the rest is unconflicted', () => {
  const a: StateMap = new Map([[K('a'), '$1'], [K('b'), '$2'], [K('c'), '$3']]);
  const b: StateMap = new Map([[K('a'), '$1'], [K('b'), '$9'], [K('d'), '$4']]);
  const { unconflicted, conflicted } = splitV1([a, b]);
  assert.equal([...unconflicted].sort(), [[K('a'), '$1'], [K('c'), '$3'], [K('d'), '$4']].sort());
  assert.equal([...conflicted.keys()], [K('b')]);
});

test('comparePowerKeys: greater power first (Infinity above all), then older, then smaller event ID', () => {
  const keys = [
    { id: '$b', power: 50, ts: 1 },
    { id: '$a', power: 50, ts: 1 },
    { id: '$c', power: 100, ts: 9 },
    { id: '$d', power: Infinity, ts: 99 },
    { id: '$e', power: 50, ts: 0 },
  ];
  assert.equal(keys.sort(comparePowerKeys).map((k) => k.id), ['$d', '$c', '$e', '$a', '$b']);
  // Event IDs compare by code point, not UTF-16 unit.
  assert.ok(comparePowerKeys({ id: '$\uFFFF', power: 0, ts: 0 }, { id: '$\u{1F600}', power: 0, ts: 0 }) < 0);
});

test('MinHeap pops in comparator order', () => {
  const h = new MinHeap<number>((a, b) => a - b);
  const xs = [5, 3, 9, 1, 1, 7, 0, 4];
  for (const x of xs) h.push(x);
  const out: number[] = [];
  for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
  assert.equal(out, [...xs].sort((a, b) => a - b));
});

test('mainlineOrder: position first (older mainline first, none first of all), then ts, then ID', () => {
  const g = new Graph('11');
  const b = g.start(ALICE);
  b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 1 }));
  b.send('X1', ALICE, 'm.room.topic', '', { topic: '1' }, { ts: 50 }); // cites PL1: position 1
  b.send('PL2', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 2 }));
  b.send('X2', ALICE, 'm.room.topic', '', { topic: '2' }, { ts: 10 }); // cites PL2: position 0
  b.send('X3', ALICE, 'm.room.topic', '', { topic: '3' }, { ts: 10 });
  // An event citing no power levels event at all: position infinity.
  g.add({ id: 'X0', type: 'm.room.topic', sender: ALICE, stateKey: '', content: {}, auth: ['CREATE', 'IMA'], prev: ['IJR'], ts: 99 });
  const cache = new EventCache(g.lookup());
  const ids = ['X3', 'X2', 'X1', 'X0'].map((n) => g.id(n));
  cache.load([...g.events.keys()]);
  assert.equal(mainlineOrder(ids, g.id('PL2'), cache).map((id) => g.name(id)), ['X0', 'X1', 'X2', 'X3']);
  // With no power levels event every position is infinite: ts, then ID.
  assert.equal(mainlineOrder(ids, undefined, cache).map((id) => g.name(id)), ['X2', 'X3', 'X1', 'X0']);
});

test('isPowerEvent: power levels, join rules, kicks and bans; not self-leaves or joins', () => {
  const g = new Graph('11');
  const b = g.start(ALICE);
  b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
  const kick = b.fork().send('KICK', ALICE, 'm.room.member', BOB, { membership: 'leave' });
  const leave = b.fork().send('LEAVE', BOB, 'm.room.member', BOB, { membership: 'leave' });
  const ban = b.fork().send('BAN', ALICE, 'm.room.member', BOB, { membership: 'ban' });
  assert.equal(
    [g.get('IPOWER'), g.get('IJR'), kick, ban, leave, g.get('BJOIN'), g.get('CREATE')].map(isPowerEvent),
    [true, true, true, true, false, false, false],
  );
});

test('AuthIndex: numbers loaded events, walks post-order, survives a cycle', async () => {
  const g = new Graph('2');
  g.start(ALICE);
  g.add({ id: 'X', type: 't', sender: ALICE, stateKey: 'x', content: {}, auth: ['Y', 'IPOWER', 'GONE'], prev: [] });
  g.add({ id: 'Y', type: 't', sender: ALICE, stateKey: 'y', content: {}, auth: ['X', 'CREATE'], prev: [] });
  const cache = new EventCache(g.lookup());
  await cache.loadAuthClosure([g.id('X')]);
  const ix = AuthIndex.build(cache, [g.id('X')]);
  assert.is(ix.indexOf(g.id('GONE')), undefined, 'events the lookup lacks are not numbered');
  const order: string[] = [];
  ix.postOrder([ix.indexOf(g.id('X'))!], (i) => order.push(g.name(ix.ids[i]!)), new Uint8Array(ix.size));
  assert.is(order.length, ix.size);
  assert.is(order[order.length - 1], 'X');
  assert.ok(order.indexOf('CREATE') < order.indexOf('IPOWER'));
  assert.ok(order.indexOf('CREATE') < order.indexOf('Y'));
});

test('EventCache: one lookup call per batch, never asks twice, remembers missing events', async () => {
  const g = new Graph('11');
  g.start(ALICE);
  const lookup = g.lookup({ async: true });
  const cache = new EventCache(lookup);
  await cache.load([g.id('IMA'), g.id('IPOWER'), '$nope', g.id('IMA')]);
  assert.is(lookup.calls, 1);
  await cache.load([g.id('IMA'), '$nope']);
  assert.is(lookup.calls, 1);
  assert.is(cache.get('$nope'), undefined);
  assert.is(cache.get(g.id('IPOWER'))!.type, 'm.room.power_levels');
  await cache.loadAuthClosure([g.id('IJR')]);
  assert.ok(cache.get(g.id('CREATE')));
});

test.run();
