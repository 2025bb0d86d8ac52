import { Store, Ns, TYPE_MEMBER } from '../../storage/index.js';
import { rmSync } from 'node:fs';
rmSync('/tmp/dbt/m1', { recursive: true, force: true });
const store = await Store.open('/tmp/dbt/m1');
const N = 50000;
const roomNid = await store.nid(Ns.ROOM, '!r:x');
const typeNid = await store.nid(Ns.TYPE, 'm.room.message');
const json = { type: 'm.room.message', content: { body: 'hello world this is a message', msgtype: 'm.text' }, sender: '@a:b', room_id: '!r:x', origin_server_ts: 1, depth: 5, prev_events: ['$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq'], auth_events: ['$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq','$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq'], hashes: { sha256: 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq' }, signatures: { 'b': { 'ed25519:x': 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqabcdefghijklmnopqrstuvwxyzabcdefghijklmnopq' } } };
for (let round = 0; round < 5; round++) {
  const c0 = process.cpuUsage();
  let t = performance.now();
  const ids = Array.from({ length: N }, (_, i) => `$ev${round}_${i}`);
  const nids = await store.nids(Ns.EVENT, ids);
  const tNid = performance.now() - t; t = performance.now();
  const units = [];
  for (let i = 0; i < N; i++) {
    const u = store.unit();
    u.ref(Ns.EVENT, nids[i]!);
    u.putEvent(nids[i]!, { roomNid, typeNid, stateKeyNid: 0, sender: '@a:b', depth: i, originServerTs: i, prevEventNids: [nids[i - 1] ?? nids[0]!], authEventNids: [], outlier: false, rejected: false, softFailed: false, redacted: false, stateBeforeNid: 0 }, json);
    u.putRoom(roomNid, { roomVersion: '12', createEventNid: nids[0]!, extremities: [nids[i]!], stateSnapshotNid: 0, maxDepth: i, lastOutputPos: 0 });
    u.appendOutput(roomNid, { type: 'new_room_event', event_nid: nids[i]! });
    u.removeJournal(i + 1);
    units.push(u);
  }
  const tBuild = performance.now() - t; t = performance.now();
  await Promise.all(units.map((u) => store.commit(u)));
  const tCommit = performance.now() - t;
  const c = process.cpuUsage(c0);
  console.log(`cpu ${((c.user + c.system) / N).toFixed(1)}us/unit nids ${(tNid / N * 1000).toFixed(1)}us build ${(tBuild / N * 1000).toFixed(1)}us commit ${(tCommit / N * 1000).toFixed(1)}us per unit; writes ${store.commitStats.writes}`);
}
await store.close();
