/**
 * State resolution scenarios, written from the algorithm descriptions of
 * the room version pages (v1, v2 and v2.1). Each builds a small room with
 * the factory, forks it, and checks the resolved state.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RoomServerError } from '../../src/errors.js';
import type { RoomVersionId } from '../../src/matrix/room-versions.js';
import { stateKey, type StateMap } from '../../src/matrix/state-key.js';
import { AUTH_RULES, EventCache, resolveState } from '../../src/stateres/index.js';
import { resolveV2, type V2Trace } from '../../src/stateres/v2.js';
import { ALICE, BOB, CAROL, DAVE, ZARA, Graph } from './factory.js';

const V2_VERSIONS: RoomVersionId[] = ['2', '3', '4', '5', '6', '7', '8', '9', '10', '11'];
const ALL_V2: RoomVersionId[] = [...V2_VERSIONS, '12'];
const EVERY: RoomVersionId[] = ['1', ...ALL_V2];

const TOPIC = stateKey('m.room.topic', '');
const PL = stateKey('m.room.power_levels', '');
const JR = stateKey('m.room.join_rules', '');
const member = (u: string) => stateKey('m.room.member', u);

async function resolve(g: Graph, sets: StateMap[]): Promise<StateMap> {
  return resolveState(g.rv, sets, g.lookup());
}

function at(g: Graph, s: StateMap, key: string): string | undefined {
  const id = s.get(key);
  return id === undefined ? undefined : g.name(id);
}

for (const v of EVERY) {
  test(`v${v}: a ban racing a demotion of the banner loses`, async () => {
    const g = new Graph(v);
    const b = g.start(ALICE);
    b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
    b.send('CJOIN', CAROL, 'm.room.member', CAROL, { membership: 'join' });
    b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
    const s1 = b.fork();
    const s2 = b.fork();
    s1.send('PL2', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 0 }));
    s2.send('BAN', BOB, 'm.room.member', CAROL, { membership: 'ban' });

    for (const sets of [[s1.state, s2.state], [s2.state, s1.state]]) {
      const r = await resolve(g, sets);
      assert.is(at(g, r, PL), 'PL2');
      assert.is(at(g, r, member(CAROL)), 'CJOIN', 'the ban by the demoted user is not applied');
      assert.is(at(g, r, member(BOB)), 'BJOIN');
    }
  });

  test(`v${v}: a demotion racing a ban by a user above the target keeps the ban`, async () => {
    // Control for the case above: the demotion here is of someone else, so the ban stands.
    const g = new Graph(v);
    const b = g.start(ALICE);
    b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
    b.send('CJOIN', CAROL, 'm.room.member', CAROL, { membership: 'join' });
    b.send('DJOIN', DAVE, 'm.room.member', DAVE, { membership: 'join' });
    b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [DAVE]: 10 }));
    const s1 = b.fork();
    const s2 = b.fork();
    s1.send('PL2', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [DAVE]: 0 }));
    s2.send('BAN', BOB, 'm.room.member', CAROL, { membership: 'ban' });
    const r = await resolve(g, [s1.state, s2.state]);
    assert.is(at(g, r, PL), 'PL2');
    assert.is(at(g, r, member(CAROL)), 'BAN');
  });
}

for (const v of ALL_V2) {
  test(`v${v}: a join racing a change of the join rules to invite is undone`, async () => {
    const g = new Graph(v);
    const b = g.start(ALICE, 'public');
    b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
    const s1 = b.fork();
    const s2 = b.fork();
    s1.send('JR2', ALICE, 'm.room.join_rules', '', { join_rule: 'invite' });
    s2.send('DJOIN', DAVE, 'm.room.member', DAVE, { membership: 'join' });
    const r = await resolve(g, [s1.state, s2.state]);
    assert.is(at(g, r, JR), 'JR2');
    assert.is(r.has(member(DAVE)), false, 'the join fails against the invite-only rule');
    assert.is(at(g, r, member(BOB)), 'BJOIN');
  });
}

test('v1: a join racing a change of the join rules stays (a key one state lacks is no conflict in v1)', async () => {
  const g = new Graph('1');
  const b = g.start(ALICE, 'public');
  const s1 = b.fork();
  const s2 = b.fork();
  s1.send('JR2', ALICE, 'm.room.join_rules', '', { join_rule: 'invite' });
  s2.send('DJOIN', DAVE, 'm.room.member', DAVE, { membership: 'join' });
  const r = await resolve(g, [s1.state, s2.state]);
  assert.is(at(g, r, JR), 'JR2');
  assert.is(at(g, r, member(DAVE)), 'DJOIN');
});

for (const v of ALL_V2) {
  test(`v${v}: the topic resets when its sender is banned after being promoted`, async () => {
    const g = new Graph(v);
    const b = g.start(ALICE);
    b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
    b.send('T1', ALICE, 'm.room.topic', '', { topic: 'one' });
    const old = b.fork(); // saw nothing after T1
    b.send('PA', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
    b.send('T2', BOB, 'm.room.topic', '', { topic: 'two' });
    b.send('MB', ALICE, 'm.room.member', BOB, { membership: 'ban' });
    const trace = await resolve(g, [old.state, b.state]);
    assert.is(at(g, trace, TOPIC), 'T1', "Bob's topic goes: Bob is banned in the resolved state");
    assert.is(at(g, trace, member(BOB)), 'MB');
    assert.is(at(g, trace, PL), 'PA');
  });
}

for (const v of ALL_V2) {
  test(`v${v}: mainline position decides before origin_server_ts`, async () => {
    const g = new Graph(v);
    const b = g.start(ALICE);
    b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
    b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 10 }));
    const s1 = b.fork();
    const s2 = b.fork();
    s1.send('PL2', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 20 }));
    // X1 sits on the newer power levels (mainline position 0) but has the
    // smaller timestamp; X2 cites PL1 (position 1). Mainline order applies X2
    // first, so X1 wins; a timestamp order would have picked X2.
    s1.send('X1', ALICE, 'm.room.topic', '', { topic: 'x1' }, { ts: 1 });
    s2.send('X2', ALICE, 'm.room.topic', '', { topic: 'x2' }, { ts: 99_999 });
    const r = await resolve(g, [s1.state, s2.state]);
    assert.is(at(g, r, PL), 'PL2');
    assert.is(at(g, r, TOPIC), 'X1');
  });

  test(`v${v}: same mainline position: origin_server_ts, then event ID`, async () => {
    for (const [tsA, tsB, winner] of [
      [5, 6, 'TB'],
      [6, 5, 'TA'],
      [7, 7, 'TB'], // equal timestamps: the larger event ID is applied last
    ] as const) {
      const g = new Graph(v);
      const b = g.start(ALICE);
      const s1 = b.fork();
      const s2 = b.fork();
      s1.send('TA', ALICE, 'm.room.topic', '', { topic: 'a' }, { ts: tsA });
      s2.send('TB', ALICE, 'm.room.topic', '', { topic: 'b' }, { ts: tsB });
      const r = await resolve(g, [s2.state, s1.state]);
      assert.is(at(g, r, TOPIC), winner, `ts ${tsA} vs ${tsB}`);
    }
  });

  test(`v${v}: reverse topological power order: origin_server_ts, then event ID`, async () => {
    for (const [tsX, tsY, winner] of [
      [5000, 4000, 'JRX'],
      [4000, 5000, 'JRY'],
      [4500, 4500, 'JRY'],
    ] as const) {
      const g = new Graph(v);
      const b = g.start(ALICE);
      const s1 = b.fork();
      const s2 = b.fork();
      s1.send('JRX', ALICE, 'm.room.join_rules', '', { join_rule: 'invite' }, { ts: tsX });
      s2.send('JRY', ALICE, 'm.room.join_rules', '', { join_rule: 'private' }, { ts: tsY });
      const r = await resolve(g, [s1.state, s2.state]);
      assert.is(at(g, r, JR), winner, `ts ${tsX} vs ${tsY}`);
    }
  });

  test(`v${v}: reverse topological power order: the more powerful sender goes first`, async () => {
    const g = new Graph(v);
    const b = g.start(ALICE);
    b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
    b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
    const s1 = b.fork();
    const s2 = b.fork();
    // Alice (100 or creator) is ordered before Bob (50) although her event is
    // newer, so Bob's change is applied last and wins.
    s1.send('JRA', ALICE, 'm.room.join_rules', '', { join_rule: 'invite' }, { ts: 9000 });
    s2.send('JRB', BOB, 'm.room.join_rules', '', { join_rule: 'private' }, { ts: 1000 });
    const r = await resolve(g, [s1.state, s2.state]);
    assert.is(at(g, r, JR), 'JRB');
  });
}

/**
 * MSC4297 problem A: both forks agree Alice has left, one fork holds an
 * outdated join rules event. v2 replays both join rules events on the
 * unconflicted state, where Alice is gone, and loses the join rules; v2.1
 * replays them on their auth events and keeps the newer one.
 */
function problemA(v: RoomVersionId): { g: Graph; sets: StateMap[] } {
  const g = new Graph(v);
  const b = g.start(ALICE, 'public');
  b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
  b.send('JR1', ALICE, 'm.room.join_rules', '', { join_rule: 'invite' });
  b.send('ALEAVE', ALICE, 'm.room.member', ALICE, { membership: 'leave' });
  const stale = new Map(b.state);
  stale.set(JR, g.id('IJR'));
  return { g, sets: [b.state, stale] };
}

for (const v of V2_VERSIONS) {
  test(`v${v} (v2): MSC4297 problem A loses the join rules`, async () => {
    const { g, sets } = problemA(v);
    const r = await resolve(g, sets);
    assert.is(r.has(JR), false);
    assert.is(at(g, r, member(ALICE)), 'ALEAVE');
  });
}

test('v12 (v2.1): MSC4297 problem A keeps the newer join rules', async () => {
  const { g, sets } = problemA('12');
  const r = await resolve(g, sets);
  assert.is(at(g, r, JR), 'JR1');
  assert.is(at(g, r, member(ALICE)), 'ALEAVE');
});

test('v12 events under v2 and v2.1: only the algorithm differs (problem A)', async () => {
  const { g, sets } = problemA('12');
  const asV2 = { ...g.rv, stateRes: 'v2' as const };
  const r2 = await resolveState(asV2, sets, g.lookup());
  const r21 = await resolveState(g.rv, sets, g.lookup());
  assert.is(r2.has(JR), false);
  assert.is(at(g, r21, JR), 'JR1');
});

/**
 * MSC4297 problem B: Alice promotes Bob, Bob promotes Carol, Carol promotes
 * Dave; one fork's state holds the first promotion. Bob's promotion of
 * Carol is in every auth chain, so it is not in the auth difference: v2
 * replays Carol's change on top of Alice's and refuses it; v2.1 adds it as
 * part of the conflicted state subgraph and replays the whole chain.
 */
function problemB(v: RoomVersionId): { g: Graph; sets: StateMap[] } {
  const g = new Graph(v);
  const b = g.start(ALICE);
  for (const [n, u] of [['BJOIN', BOB], ['CJOIN', CAROL], ['DJOIN', DAVE]] as const) b.send(n, u, 'm.room.member', u, { membership: 'join' });
  b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
  b.send('PL2', BOB, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [CAROL]: 50 }));
  b.send('ZJOIN', ZARA, 'm.room.member', ZARA, { membership: 'join' });
  b.send('PL3', CAROL, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [CAROL]: 50, [DAVE]: 50 }));
  const stale = new Map(b.state);
  stale.set(PL, g.id('PL1'));
  return { g, sets: [b.state, stale] };
}

for (const v of V2_VERSIONS) {
  test(`v${v} (v2): MSC4297 problem B resets the power levels`, async () => {
    const { g, sets } = problemB(v);
    const r = await resolve(g, sets);
    assert.is(at(g, r, PL), 'PL1');
  });
}

test('v12 (v2.1): MSC4297 problem B keeps the latest power levels', async () => {
  const { g, sets } = problemB('12');
  const r = await resolve(g, sets);
  assert.is(at(g, r, PL), 'PL3');
  const asV2 = { ...g.rv, stateRes: 'v2' as const };
  const r2 = await resolveState(asV2, sets, g.lookup());
  assert.is(at(g, r2, PL), 'PL1', 'the same events under v2 reset');
});

for (const v of ALL_V2) {
  test(`v${v}: a chain of promotions on one side is replayed through the auth difference`, async () => {
    const g = new Graph(v);
    const b = g.start(ALICE);
    b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
    const s1 = b.fork();
    const s2 = b.fork();
    // PL1 is superseded on side 1 but sits in its auth chain: it is in the
    // auth difference, so it is replayed before Bob's PL2, which needs it.
    s1.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
    s1.send('PL2', BOB, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [CAROL]: 50 }));
    s2.send('T', ALICE, 'm.room.topic', '', { topic: 't' });
    const r = await resolve(g, [s1.state, s2.state]);
    assert.is(at(g, r, PL), 'PL2');
    assert.is(at(g, r, TOPIC), 'T');
  });

  test(`v${v}: a stale conflicted event below the full conflicted set is still ordered before the power events above it`, async () => {
    // One state holds Bob's old power levels PLOLD, which every state's auth
    // chain contains; Alice's PLNEW reaches it only through PLMID, which is
    // in every auth chain and so outside the full conflicted set. PLOLD is
    // in the auth chain of PLNEW, so the reverse topological power ordering
    // puts it first even though Alice outranks Bob; replayed in that order
    // PLNEW wins. (Ordering by sender power alone would replay PLOLD last and
    // keep it, since Bob may make that change.)
    const g = new Graph(v);
    const b = g.start(ALICE);
    for (const [n, u] of [['BJOIN', BOB], ['CJOIN', CAROL]] as const) b.send(n, u, 'm.room.member', u, { membership: 'join' });
    b.send('PLA', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
    b.send('PLOLD', BOB, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [CAROL]: 10 }));
    b.send('ZJOIN', ZARA, 'm.room.member', ZARA, { membership: 'join' });
    b.send('PLMID', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [CAROL]: 20 }));
    b.send('DJOIN', DAVE, 'm.room.member', DAVE, { membership: 'join' });
    b.send('PLNEW', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50, [CAROL]: 30 }));
    const stale = new Map(b.state);
    stale.set(PL, g.id('PLOLD'));
    const cache = new EventCache(g.lookup());
    const trace: V2Trace = {};
    const r = await resolveV2(g.rv, [b.state, stale], cache, AUTH_RULES, trace);
    assert.is(at(g, r, PL), 'PLNEW');
    const order = trace.powerOrder!.map((id) => g.name(id));
    assert.ok(order.indexOf('PLOLD') < order.indexOf('PLNEW'), order.join(','));
    if (v === '12') assert.ok(trace.fullConflictedSet!.has(g.id('PLMID')), 'v2.1: PLMID is in the conflicted state subgraph');
    else assert.not.ok(trace.fullConflictedSet!.has(g.id('PLMID')));
  });
}

test('v12: creators have infinite power and sort before everyone', async () => {
  // Bob is an additional creator, Carol has 100. Bob's change is newer than
  // Carol's, but infinite power puts it first, so Carol's is applied last and
  // wins. (Were Bob at 100 like Carol, the older one, Carol's, would go first.)
  const g = new Graph('12');
  const b = g.start(ALICE, 'public', { additional_creators: [BOB] });
  b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
  b.send('CJOIN', CAROL, 'm.room.member', CAROL, { membership: 'join' });
  b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [CAROL]: 100 }));
  // Both speak on the common history, so their joins are in every auth chain.
  b.send('TOPIC', BOB, 'm.room.topic', '', { topic: 'hi' });
  b.send('NAME', CAROL, 'm.room.name', '', { name: 'room' });
  const s1 = b.fork();
  const s2 = b.fork();
  s1.send('JRB', BOB, 'm.room.join_rules', '', { join_rule: 'invite' }, { ts: 9000 });
  s2.send('JRC', CAROL, 'm.room.join_rules', '', { join_rule: 'private' }, { ts: 1000 });
  const cache = new EventCache(g.lookup());
  const trace: V2Trace = {};
  const r = await resolveV2(g.rv, [s1.state, s2.state], cache, AUTH_RULES, trace);
  assert.equal(trace.powerOrder!.map((id) => g.name(id)), ['JRB', 'JRC']);
  assert.is(at(g, r, JR), 'JRC');
});

test('auth events forming a cycle are refused with a stable code', async () => {
  // Only possible with made-up events (their IDs are not hashes): X and Y
  // name each other as auth events.
  const g = new Graph('2');
  const b = g.start(ALICE);
  g.add({ id: 'X', type: 'm.room.power_levels', sender: ALICE, stateKey: '', content: g.powerLevels({ [BOB]: 1 }), auth: ['CREATE', 'IMA', 'Y'], prev: ['IJR'] });
  g.add({ id: 'Y', type: 'm.room.power_levels', sender: ALICE, stateKey: '', content: g.powerLevels({ [BOB]: 2 }), auth: ['CREATE', 'IMA', 'X'], prev: ['IJR'] });
  const s1 = new Map(b.state).set(PL, g.id('X'));
  const s2 = new Map(b.state).set(PL, g.id('Y'));
  try {
    await resolve(g, [s1, s2]);
    assert.unreachable('a cycle must be refused');
  } catch (e) {
    assert.instance(e, RoomServerError);
    assert.is((e as RoomServerError).code, 'M_INVALID_PARAM');
    assert.is((e as RoomServerError).reason, 'stateres_auth_cycle');
  }
});

test('v2: rejected events are never applied', async () => {
  const g = new Graph('11');
  const b = g.start(ALICE);
  const s1 = b.fork();
  const s2 = b.fork();
  s1.send('TA', ALICE, 'm.room.topic', '', { topic: 'a' }, { ts: 5 });
  s2.send('TB', ALICE, 'm.room.topic', '', { topic: 'b' }, { ts: 6 });
  const plain = await resolveState(g.rv, [s1.state, s2.state], g.lookup());
  assert.is(at(g, plain, TOPIC), 'TB');
  const r = await resolveState(g.rv, [s1.state, s2.state], g.lookup({ rejected: ['TB'] }));
  assert.is(at(g, r, TOPIC), 'TA');
});

test('v2: the unconflicted state map always wins', async () => {
  const g = new Graph('10');
  const b = g.start(ALICE);
  b.send('T1', ALICE, 'm.room.topic', '', { topic: 'shared' });
  const s1 = b.fork();
  const s2 = b.fork();
  s1.send('N1', ALICE, 'm.room.name', '', { name: 'one' });
  s2.send('N2', ALICE, 'm.room.name', '', { name: 'two' });
  const r = await resolve(g, [s1.state, s2.state]);
  assert.is(at(g, r, TOPIC), 'T1');
  assert.equal(g.names(r), ['CREATE', 'IJR', 'IMA', 'IPOWER', 'N2', 'T1']);
});

test('no conflict: the result is the common state; one set: a copy', async () => {
  const g = new Graph('11');
  const b = g.start(ALICE);
  const r = await resolve(g, [b.state, new Map(b.state)]);
  assert.equal([...r].sort(), [...b.state].sort());
  const one = await resolve(g, [b.state]);
  assert.equal([...one].sort(), [...b.state].sort());
  assert.is.not(one, b.state);
  assert.equal((await resolve(g, [])).size, 0);
});

test('v1: power levels: ascending depth, each next one kept until one is refused', async () => {
  const g = new Graph('1');
  const b = g.start(ALICE);
  b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
  const s1 = b.fork();
  const s2 = b.fork();
  const s3 = b.fork();
  s1.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 60 }));
  s1.send('PL2', BOB, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 60, [CAROL]: 10 }));
  s2.send('PLX', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 0 }));
  s3.send('T', ALICE, 'm.room.topic', '', { topic: 't' });
  s3.send('T2', ALICE, 'm.room.topic', '', { topic: 't2' });
  s3.send('PLC', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 0, [DAVE]: 5 }));
  assert.equal([g.get('PLX').depth, g.get('PL2').depth, g.get('PLC').depth], [6, 7, 8]);
  // PLX goes in first; Bob's PL2 is refused under it, which ends the pass:
  // PLC, deeper and allowed, is never tried.
  for (const sets of [[s1.state, s2.state, s3.state], [s3.state, s1.state, s2.state]]) {
    const r = await resolve(g, sets);
    assert.is(at(g, r, PL), 'PLX');
    assert.is(at(g, r, TOPIC), 'T2', 'a key one state lacks is not a conflict');
  }
});

test('v1: each member key is settled against the state after the join rules, not against other member keys', async () => {
  // Bob's member key and Carol's are both conflicted. Settling Bob's first
  // and letting it feed Carol's would allow Bob's kick; settling Carol's
  // first would not (Bob's membership is a conflicted key, absent from R).
  // Settling each against R as it stood keeps the result independent of
  // the order: the kick is refused either way.
  const g = new Graph('1');
  const b = g.start(ALICE);
  b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
  b.send('CJOIN', CAROL, 'm.room.member', CAROL, { membership: 'join' });
  b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
  const s1 = b.fork();
  const s2 = b.fork();
  s1.send('BNAME', BOB, 'm.room.member', BOB, { membership: 'join', displayname: 'Bob' });
  s2.send('KICK', BOB, 'm.room.member', CAROL, { membership: 'leave' });
  for (const sets of [[s1.state, s2.state], [s2.state, s1.state]]) {
    for (const order of [0, 1]) {
      const shuffledSets = sets.map((m) => new Map(order ? [...m].reverse() : m));
      const r = await resolve(g, shuffledSets);
      assert.is(at(g, r, member(BOB)), 'BNAME');
      assert.is(at(g, r, member(CAROL)), 'CJOIN');
    }
  }
});

test('v1: other keys: the highest depth that passes, else the last', async () => {
  const g = new Graph('1');
  const b = g.start(ALICE);
  b.send('BJOIN', BOB, 'm.room.member', BOB, { membership: 'join' });
  b.send('PL1', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 50 }));
  const s1 = b.fork();
  const s2 = b.fork();
  s1.send('PL2', ALICE, 'm.room.power_levels', '', g.powerLevels({ [BOB]: 0 }));
  s2.send('X', BOB, 'm.room.topic', '', { topic: 'deep' });
  s2.send('Y', BOB, 'm.room.topic', '', { topic: 'deeper' });
  s1.send('Z', ALICE, 'm.room.topic', '', { topic: 'shallow' });
  // PL2 wins; Bob's topic Y (the deepest) then fails, Alice's Z passes.
  const r = await resolve(g, [s1.state, s2.state]);
  assert.is(at(g, r, PL), 'PL2');
  assert.is(at(g, r, TOPIC), 'Z');
  // Without Alice's topic on the other side, both candidates fail: the
  // lowest-depth one is kept rather than dropping the key.
  const r2 = await resolve(g, [g.state('CREATE', 'IMA', 'IJR', 'BJOIN', 'PL2'), new Map([...s2.state, [TOPIC, g.id('X')]]), s2.state]);
  assert.is(at(g, r2, PL), 'PL2');
  assert.is(at(g, r2, TOPIC), 'X');
});

test.run();
