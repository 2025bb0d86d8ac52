import { Store, Ns } from '../../storage/index.js';
import { rmSync } from 'node:fs';
rmSync('/tmp/dbt/m2', { recursive: true, force: true });
const store = await Store.open('/tmp/dbt/m2');
const N = 50000;
for (let round = 0; round < 5; round++) {
  const ids = Array.from({ length: N }, (_, i) => `$ev${round}_${i}_abcdefghijklmnopqrstuvwxyz0123456789`);
  let t = performance.now();
  const c0 = process.cpuUsage();
  const nids = await store.nids(Ns.EVENT, ids);
  const c = process.cpuUsage(c0);
  const t1 = performance.now() - t;
  t = performance.now();
  const keys = ids.map((s) => Buffer.from('\x01\x02' + s));
  const vals = await store.db.getMany(keys);
  const t2 = performance.now() - t;
  console.log(`nids ${(t1 / N * 1000).toFixed(2)}us cpu ${((c.user + c.system) / N).toFixed(1)}us; raw getMany ${(t2 / N * 1000).toFixed(2)}us`, nids.length, vals.length);
}
await store.close();
