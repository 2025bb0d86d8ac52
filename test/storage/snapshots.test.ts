import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { MAX_BLOCKS, Ns, SNAPSHOT_TUNING, Store, stateKeyNum, TYPE_MEMBER, type StateChange } from '../../storage/index.js';
import { bucketOf } from '../../storage/snapshot-record.js';
import { decodeBlock } from '../../storage/state-block.js';
import { nidKey, T_BLOCK, T_BLOCK_HASH, T_SNAPSHOT_HASH } from '../../storage/keys.js';
import { splitStateKeyNum } from '../../storage/nids.js';
import { countReads, rejectsWith, tempDir, withStore } from './helpers.js';

function rnd(n: number): number {
  return Math.floor(Math.random() * n);
}

function applyModel(model: Map<number, number>, changes: readonly StateChange[]): void {
  for (const [t, sk, ev] of changes) {
    if (ev === 0) model.delete(stateKeyNum(t, sk));
    else model.set(stateKeyNum(t, sk), ev);
  }
}

async function rawCount(store: Store, table: string): Promise<number> {
  return (await store.tableStats()).find((s) => s.table === table)?.count ?? 0;
}

async function newRoom(store: Store, id = '!room:example.org'): Promise<number> {
  const u = store.unit();
  const n = await u.nid(Ns.ROOM, id);
  u.putRoom(n, { roomVersion: '12', createEventNid: 0, extremities: [], stateSnapshotNid: 0, maxDepth: 0, lastOutputPos: 0 });
  await store.commit(u);
  return n;
}

test('derived snapshots match a model over thousands of random changes, before and after reopen', async () => {
  const dir = tempDir('model');
  let store = await Store.open(dir);
  const roomNid = await newRoom(store);
  const model = new Map<number, number>();
  const checkpoints: Array<[number, Map<number, number>]> = [];
  let snap = 0;
  let ev = 1;
  for (let i = 0; i < 2500; i++) {
    const changes: StateChange[] = [];
    const n = rnd(10) === 0 ? 1 + rnd(60) : 1 + rnd(3);
    for (let j = 0; j < n; j++) {
      const t = 1 + rnd(6);
      const sk = 1 + rnd(i < 1500 ? 3000 : 400);
      changes.push([t, sk, rnd(8) === 0 ? 0 : ev++]);
    }
    const u = store.unit();
    const next = await store.deriveSnapshot(u, roomNid, snap, changes);
    applyModel(model, changes);
    if (model.size === 0) assert.is(next, 0);
    if (next !== 0) {
      const rec = await store.getSnapshotRecord(next);
      assert.ok(rec.blocks.length <= MAX_BLOCKS);
      assert.is(rec.roomNid, roomNid);
    }
    await store.commit(u);
    snap = next;
    if (i % 97 === 0 || i === 2499) {
      const loaded = await store.loadSnapshot(snap);
      assert.equal(new Map(loaded), model, `state after change ${i}`);
      checkpoints.push([snap, new Map(model)]);
      const [t0, sk0] = [1 + rnd(6), 1 + rnd(400)];
      assert.is(await store.getStateEntry(snap, t0, sk0), model.get(stateKeyNum(t0, sk0)) ?? 0);
    }
  }
  await store.close();
  store = await Store.open(dir);
  for (const [nid, expected] of checkpoints) assert.equal(new Map(await store.loadSnapshot(nid)), expected);
  const report = await store.checkIntegrity();
  // This test uses made-up type, state key and event NIDs: only block and snapshot structure must be sound.
  const structural = report.problems.filter((p) => !p.includes('not stored') && !p.includes('has no mapping') && !p.startsWith('...'));
  assert.equal(structural, []);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a message shares its predecessor snapshot: no changes, no new records', async () => {
  await withStore('share', async (store) => {
    const roomNid = await newRoom(store);
    const u = store.unit();
    const s1 = await store.deriveSnapshot(u, roomNid, 0, [[TYPE_MEMBER, 10, 100]]);
    await store.commit(u);
    const before = (await rawCount(store, 'snapshots')) + (await rawCount(store, 'state blocks'));
    const u2 = store.unit();
    assert.is(await store.deriveSnapshot(u2, roomNid, s1, []), s1);
    await store.loadSnapshot(s1); // base state now cached: a change to the same value is a no-op too
    assert.is(await store.deriveSnapshot(u2, roomNid, s1, [[TYPE_MEMBER, 10, 100]]), s1);
    assert.is(store.pendingCount(), 0);
    await store.commit(u2);
    assert.is((await rawCount(store, 'snapshots')) + (await rawCount(store, 'state blocks')), before);
  });
});

test('same content, same NID: also while the first copy is pending, and across reopen', async () => {
  const dir = tempDir('dedup');
  let store = await Store.open(dir);
  const roomNid = await newRoom(store);
  const base = store.unit();
  const s0 = await store.deriveSnapshot(base, roomNid, 0, [[TYPE_MEMBER, 1, 1], [TYPE_MEMBER, 2, 2]]);
  await store.commit(base);
  const u1 = store.unit();
  const u2 = store.unit();
  // Two units derive the same change concurrently: one snapshot NID, one block NID.
  const [a, b] = await Promise.all([
    store.deriveSnapshot(u1, roomNid, s0, [[TYPE_MEMBER, 3, 3]]),
    store.deriveSnapshot(u2, roomNid, s0, [[TYPE_MEMBER, 3, 3]]),
  ]);
  assert.is(a, b);
  // A later unit sees the pending snapshot too.
  const u3 = store.unit();
  assert.is(await store.deriveSnapshot(u3, roomNid, s0, [[TYPE_MEMBER, 3, 3]]), a);
  await Promise.all([store.commit(u1), store.commit(u2), store.commit(u3)]);
  assert.is(await rawCount(store, 'snapshots'), 2);
  await store.close();
  store = await Store.open(dir);
  const u4 = store.unit();
  assert.is(await store.deriveSnapshot(u4, roomNid, s0, [[TYPE_MEMBER, 3, 3]]), a, 'found through the hash index on disk');
  assert.is(store.pendingCount(), 0);
  await store.commit(u4);
  assert.is(await rawCount(store, 'snapshots'), 2);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a state change naming a pending event is interned without hash lookups on disk; content seen before still dedups', async () => {
  const dir = tempDir('fresh');
  let store = await Store.open(dir);
  const roomNid = await newRoom(store);
  // count the database reads of the block and snapshot hash indexes
  const hashReads = countReads(store, (key) => key[0] === T_BLOCK_HASH || key[0] === T_SNAPSHOT_HASH);
  const base = store.unit();
  const s0 = await store.deriveSnapshot(base, roomNid, 0, [[TYPE_MEMBER, 1, 900]]);
  await store.commit(base);
  const before = hashReads.n;
  // a new event: its NID is pending while the unit is built
  const u1 = store.unit();
  const e = await u1.nid(Ns.EVENT, '$new');
  const u2 = store.unit();
  const [a, b] = await Promise.all([
    store.deriveSnapshot(u1, roomNid, s0, [[TYPE_MEMBER, 2, e]]),
    store.deriveSnapshot(u2, roomNid, s0, [[TYPE_MEMBER, 2, e]]),
  ]);
  assert.is(a, b, 'the same pending content gets one snapshot');
  assert.is(hashReads.n, before, 'no hash lookups for content naming a pending event');
  await Promise.all([store.commit(u1), store.commit(u2)]);
  // durable now: the same content is found again, through memory or disk
  const u3 = store.unit();
  assert.is(await store.deriveSnapshot(u3, roomNid, s0, [[TYPE_MEMBER, 2, e]]), a);
  await store.close();
  store = await Store.open(dir);
  const u4 = store.unit();
  assert.is(await store.deriveSnapshot(u4, roomNid, s0, [[TYPE_MEMBER, 2, e]]), a, 'found through the hash index on disk');
  await store.commit(u4);
  assert.is(await rawCount(store, 'snapshots'), 2);
  assert.is(await rawCount(store, 'state blocks'), 2);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a unit that builds on an uncommitted unit writes the blocks and snapshot it needs', async () => {
  const dir = tempDir('pending');
  let store = await Store.open(dir);
  const roomNid = await newRoom(store);
  const u1 = store.unit();
  const e1 = await u1.nid(Ns.EVENT, '$e1');
  const s1 = await store.deriveSnapshot(u1, roomNid, 0, [[TYPE_MEMBER, 1, e1]]);
  // u1 is never committed (say its event was dropped); u2 reuses its snapshot as a base.
  const u2 = store.unit();
  const s2 = await store.deriveSnapshot(u2, roomNid, s1, [[TYPE_MEMBER, 2, 77]]);
  u2.putRoom(roomNid, { roomVersion: '12', createEventNid: 0, extremities: [], stateSnapshotNid: s2, maxDepth: 1, lastOutputPos: 0 });
  await store.commit(u2);
  await store.close();
  store = await Store.open(dir);
  const room = await store.getRoom(roomNid);
  assert.is(room?.stateSnapshotNid, s2);
  assert.equal(new Map(await store.loadSnapshot(s2)), new Map([[stateKeyNum(TYPE_MEMBER, 1), e1], [stateKeyNum(TYPE_MEMBER, 2), 77]]));
  assert.is(await store.str(Ns.EVENT, e1), '$e1', 'the event NID the block names was written with it');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a room growing to thousands of members folds into hash buckets that later snapshots reuse', async () => {
  await withStore('fold', async (store) => {
    const roomNid = await newRoom(store);
    let snap = 0;
    const model = new Map<number, number>();
    for (let i = 1; i <= 4000; i++) {
      const u = store.unit();
      const changes: StateChange[] = [[TYPE_MEMBER, i, i]];
      snap = await store.deriveSnapshot(u, roomNid, snap, changes);
      applyModel(model, changes);
      await store.commit(u);
    }
    assert.equal(new Map(await store.loadSnapshot(snap)), model);
    const rec = await store.getSnapshotRecord(snap);
    assert.ok(rec.baseCount > 0, 'the state was folded into a base');
    assert.ok(rec.bucketBits >= 3, `bucket bits ${rec.bucketBits}`);
    assert.ok(rec.blocks.length - rec.baseCount <= 16, 'few deltas on top');
    assert.ok(rec.blocks.length <= MAX_BLOCKS);
    // Base blocks hold one bucket each, in bucket order, with no removals.
    let lastBucket = -1;
    for (const nid of rec.blocks.slice(0, rec.baseCount)) {
      const block = decodeBlock((await store.db.get(nidKey(T_BLOCK, nid)))!);
      const buckets = new Set([...block.keys].map((k) => bucketOf(...splitStateKeyNum(k), rec.bucketBits)));
      assert.is(buckets.size, 1);
      const bucket = [...buckets][0]!;
      assert.ok(bucket > lastBucket);
      lastBucket = bucket;
      assert.ok(block.events.every((e) => e !== 0));
    }
    const stats = await store.tableStats();
    const blocks = stats.find((s) => s.table === 'state blocks')!;
    const snaps = stats.find((s) => s.table === 'snapshots')!;
    assert.is(snaps.count, 4000);
    // Storing the full state at every change would take sum(i) entries; blocks hold a small multiple of the state.
    let entries = 0;
    for (let i = 1; i <= 4000; i++) entries += i;
    assert.ok(blocks.valueBytes < entries / 50, `${blocks.valueBytes} bytes of blocks`);
  });
});

test('a fold rewrites only the buckets whose keys changed', async () => {
  await withStore('fold2', async (store) => {
    const roomNid = await newRoom(store);
    const full = new Map<number, number>();
    for (let i = 1; i <= 3000; i++) full.set(stateKeyNum(TYPE_MEMBER, i), i);
    const u = store.unit();
    const s0 = await store.snapshotFromState(u, roomNid, full);
    await store.commit(u);
    const r0 = await store.getSnapshotRecord(s0);
    assert.is(r0.baseCount, r0.blocks.length, 'a state built from scratch is all base buckets');
    assert.ok(r0.bucketBits > 0);
    // Change many keys of one bucket only: enough to force a fold.
    const target = bucketOf(TYPE_MEMBER, 1, r0.bucketBits);
    const changes: StateChange[] = [];
    for (let sk = 1; changes.length < 40 && sk < 100_000; sk++) {
      if (bucketOf(TYPE_MEMBER, sk, r0.bucketBits) === target) changes.push([TYPE_MEMBER, sk, 100_000 + sk]);
    }
    const saved = { ...SNAPSHOT_TUNING };
    SNAPSHOT_TUNING.foldMin = 10; // fold as soon as the deltas pass 10 entries
    SNAPSHOT_TUNING.foldDivisor = 1e9;
    try {
      const u2 = store.unit();
      const s1 = await store.deriveSnapshot(u2, roomNid, s0, changes);
      await store.commit(u2);
      const r1 = await store.getSnapshotRecord(s1);
      assert.is(r1.baseCount, r1.blocks.length, 'folded: no deltas left');
      assert.is(r1.bucketBits, r0.bucketBits);
      const changed = r1.blocks.filter((b, i) => b !== r0.blocks[i]);
      assert.is(changed.length, 1, 'exactly one bucket block was rewritten');
      const model = new Map(full);
      applyModel(model, changes);
      assert.equal(new Map(await store.loadSnapshot(s1)), model);
    } finally {
      Object.assign(SNAPSHOT_TUNING, saved);
    }
  });
});

test('snapshots never exceed 64 blocks, even when folding is held off', async () => {
  await withStore('max', async (store) => {
    const roomNid = await newRoom(store);
    const saved = { ...SNAPSHOT_TUNING };
    SNAPSHOT_TUNING.foldMin = 1e9;
    try {
      let snap = 0;
      const model = new Map<number, number>();
      let maxBlocks = 0;
      // Growing delta sizes defeat the binary-counter merges, so only the 64-block limit folds.
      for (let i = 0; i < 300; i++) {
        const u = store.unit();
        const changes: StateChange[] = [];
        for (let j = 0; j < 300 - i; j++) changes.push([TYPE_MEMBER, i * 1000 + j + 1, i * 1000 + j + 1]);
        snap = await store.deriveSnapshot(u, roomNid, snap, changes);
        applyModel(model, changes);
        await store.commit(u);
        maxBlocks = Math.max(maxBlocks, (await store.getSnapshotRecord(snap)).blocks.length);
      }
      assert.ok(maxBlocks <= MAX_BLOCKS);
      assert.ok(maxBlocks > 32, `the limit was approached (${maxBlocks})`);
      assert.equal(new Map(await store.loadSnapshot(snap)), model);
    } finally {
      Object.assign(SNAPSHOT_TUNING, saved);
    }
  });
});

test('snapshotFromState: dedups equal states, stores only the difference from a base', async () => {
  await withStore('fromstate', async (store) => {
    const roomNid = await newRoom(store);
    const state = new Map<number, number>();
    for (let i = 1; i <= 1000; i++) state.set(stateKeyNum(TYPE_MEMBER, i), 5000 + i);
    const u = store.unit();
    const a = await store.snapshotFromState(u, roomNid, state);
    const b = await store.snapshotFromState(u, roomNid, new Map([...state].reverse()));
    assert.is(a, b);
    await store.commit(u);
    assert.equal(new Map(await store.loadSnapshot(a)), state);
    const blocksBefore = await rawCount(store, 'state blocks');
    const resolved = new Map(state);
    resolved.set(stateKeyNum(TYPE_MEMBER, 3), 1);
    resolved.delete(stateKeyNum(TYPE_MEMBER, 4));
    const u2 = store.unit();
    const c = await store.snapshotFromState(u2, roomNid, resolved, a);
    await store.commit(u2);
    assert.equal(new Map(await store.loadSnapshot(c)), resolved);
    const rec = await store.getSnapshotRecord(c);
    const base = await store.getSnapshotRecord(a);
    assert.equal(rec.blocks.slice(0, base.blocks.length), base.blocks, 'the base blocks are reused');
    assert.is(await rawCount(store, 'state blocks'), blocksBefore + 1, 'one small delta block');
    const u3 = store.unit();
    assert.is(await store.snapshotFromState(u3, roomNid, new Map()), 0, 'the empty state is snapshot 0');
    assert.is(await store.snapshotFromState(u3, roomNid, state, a), a, 'no difference: the base itself');
  });
});

test('deriving from another room snapshot, or a missing one, is refused', async () => {
  await withStore('wrongroom', async (store) => {
    const r1 = await newRoom(store, '!one:a');
    const r2 = await newRoom(store, '!two:a');
    const u = store.unit();
    const s = await store.deriveSnapshot(u, r1, 0, [[TYPE_MEMBER, 1, 1]]);
    await store.commit(u);
    await rejectsWith(store.deriveSnapshot(store.unit(), r2, s, [[TYPE_MEMBER, 2, 2]]), 'storage_snapshot_room');
    await rejectsWith(store.deriveSnapshot(store.unit(), r2, 999, [[TYPE_MEMBER, 2, 2]]), 'storage_missing_snapshot');
    await rejectsWith(store.loadSnapshot(12345), 'storage_missing_snapshot');
    await rejectsWith(async () => store.deriveSnapshot(store.unit(), r1, 0, [[TYPE_MEMBER, 2, -1]]), 'storage_bad_nid');
    await rejectsWith(async () => store.deriveSnapshot(store.unit(), r1, 0, [[2 ** 21, 2, 1]]), 'storage_bad_nid');
    assert.is((await store.loadSnapshot(0)).size, 0);
  });
});

test.run();
