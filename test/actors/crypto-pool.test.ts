import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CryptoPool } from '../../actors/crypto-pool.js';
import { generateSigningKey, signBytes, verifyBytes } from '../../src/matrix/ed25519.js';
import { encodeBase64 } from '../../src/matrix/base64.js';

for (const size of [0, 1, 2]) {
  test(`pool of ${size}: signatures match inline ones and verify; tampered data fails`, async () => {
    const pool = new CryptoPool(size);
    const key = generateSigningKey();
    const datas = Array.from({ length: 100 }, (_, i) => Buffer.from(`message ${i}`)); // several messages to a worker
    const sigs = await Promise.all(datas.map((d) => pool.sign(key, d)));
    for (let i = 0; i < datas.length; i++) assert.ok(sigs[i]!.equals(signBytes(key, datas[i]!)), 'ed25519 is deterministic');
    const ok = await Promise.all(datas.map((d, i) => pool.verify(key.publicKeyBase64, d, encodeBase64(sigs[i]!))));
    assert.ok(ok.every(Boolean));
    const bad = await Promise.all(datas.map((d, i) => pool.verify(key.publicKeyBase64, Buffer.concat([d, Buffer.from('!')]), encodeBase64(sigs[i]!))));
    assert.ok(bad.every((x) => x === false));
    assert.not.ok(await pool.verify('not a key', datas[0]!, encodeBase64(sigs[0]!)));
    assert.ok(verifyBytes(key.publicKeyBase64, datas[0]!, encodeBase64(sigs[0]!)));
    assert.is(pool.activeWorkers, size, 'the jobs ran on workers, none failed');
    await pool.close();
  });
}

test('one batch mixing signs with two keys and verifies (good, bad, malformed) gets each its own answer', async () => {
  const pool = new CryptoPool(1);
  const k1 = generateSigningKey();
  const k2 = generateSigningKey();
  const good = signBytes(k1, Buffer.from('known'));
  const jobs: Array<Promise<unknown>> = [];
  for (let i = 0; i < 40; i++) {
    const d = Buffer.from(`data ${i} `.repeat(i + 1));
    jobs.push(pool.sign(i % 2 ? k2 : k1, d).then((s) => ['sign', i, s]));
    jobs.push(pool.verify(k1.publicKeyBase64, Buffer.from(i % 3 ? 'known' : 'other'), encodeBase64(good)).then((v) => ['verify', i, v]));
    if (i % 10 === 0) jobs.push(pool.verify(k1.publicKeyBase64, d, 'not base64!').then((v) => ['malformed', i, v]));
  }
  for (const [kind, i, r] of (await Promise.all(jobs)) as Array<[string, number, unknown]>) {
    const d = Buffer.from(`data ${i} `.repeat(i + 1));
    if (kind === 'sign') assert.ok((r as Buffer).equals(signBytes(i % 2 ? k2 : k1, d)), `signature ${i} by its own key`);
    else if (kind === 'verify') assert.is(r, i % 3 !== 0, `verify ${i}`);
    else assert.is(r, false, `malformed ${i}`);
  }
  assert.is(pool.activeWorkers, 1, 'no worker failed');
  await pool.close();
});

test('more signing keys than the workers keep: every signature is still by its own key, none fails over to inline', async () => {
  const pool = new CryptoPool(1);
  const keys = Array.from({ length: 150 }, () => generateSigningKey());
  for (let round = 0; round < 3; round++) {
    // one flush per round: each registers keys, and a later one makes the workers forget them
    const sigs = await Promise.all(keys.map((k, i) => pool.sign(k, Buffer.from(`round ${round} key ${i}`))));
    sigs.forEach((s, i) => assert.ok(s.equals(signBytes(keys[i]!, Buffer.from(`round ${round} key ${i}`))), `round ${round} key ${i}`));
  }
  assert.is(pool.activeWorkers, 1, 'no worker failed (an unknown key slot would fail it)');
  await pool.close();
});

test('jobs still pending at close are finished inline', async () => {
  const pool = new CryptoPool(1);
  const key = generateSigningKey();
  const p = Promise.all(Array.from({ length: 20 }, (_, i) => pool.sign(key, Buffer.from(`m${i}`))));
  await new Promise((r) => setImmediate(r));
  await pool.close();
  const sigs = await p;
  assert.is(sigs.length, 20);
  assert.ok(sigs.every((s, i) => s.equals(signBytes(key, Buffer.from(`m${i}`)))));
});

test.run();
