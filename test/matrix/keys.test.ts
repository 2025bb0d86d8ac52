// Server signing keys: the one-line file format, file creation with mode
// 0600, and the self-signed /_matrix/key/v2/server object.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, stat, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateServerKey,
  formatSigningKey,
  parseSigningKey,
  parseSigningKeys,
  loadSigningKey,
  saveSigningKey,
  loadOrCreateSigningKey,
  serverKeysObject,
  isValidKeyId,
} from '../../src/matrix/keys.js';
import { verifyJsonSignature } from '../../src/matrix/signing.js';
import { RoomServerError } from '../../src/errors.js';
import type { JsonObject } from '../../src/matrix/json.js';

const SPEC_LINE = 'ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
const SPEC_PUB = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI';

test('parse the one-line format (spec seed, with its odd last character)', () => {
  const k = parseSigningKey(SPEC_LINE);
  assert.is(k.keyId, 'ed25519:1');
  assert.is(k.publicKeyBase64, SPEC_PUB);
  // written back in canonical unpadded base64
  assert.is(formatSigningKey(k), 'ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
  assert.is(parseSigningKey(formatSigningKey(k)).publicKeyBase64, SPEC_PUB);
});
test('key id without prefix in the file, with prefix in memory', () => {
  const k = parseSigningKey('ed25519 a_abcd YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0=\n');
  assert.is(k.keyId, 'ed25519:a_abcd');
});
test('several keys: the first signs; blank lines and comments skipped', () => {
  const a = generateServerKey('a');
  const b = generateServerKey('b');
  const keys = parseSigningKeys(`# keys\n${formatSigningKey(a)}\n\n${formatSigningKey(b)}\r\n`);
  assert.equal(
    keys.map((k) => k.keyId),
    ['ed25519:a', 'ed25519:b'],
  );
  assert.is(keys[1]!.publicKeyBase64, b.publicKeyBase64);
});
test('malformed key files are refused with a typed error', () => {
  for (const text of ['', 'ed25519 1', 'rsa 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0', 'ed25519 b@d YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0', 'ed25519 1 c2hvcnQ', 'ed25519 1 !!!!', 'ed25519 1 a b']) {
    assert.throws(
      () => parseSigningKey(text),
      (e: unknown) => e instanceof RoomServerError && e.reason === 'key_file_malformed',
      JSON.stringify(text),
    );
  }
});
test('generated keys have valid ids and distinct seeds', () => {
  const a = generateServerKey();
  const b = generateServerKey();
  assert.ok(isValidKeyId(a.keyId), a.keyId);
  assert.match(a.keyId, /^ed25519:a_/);
  assert.is.not(a.seed.toString('hex'), b.seed.toString('hex'));
  assert.ok(isValidKeyId('ed25519:abc_1'));
  assert.not.ok(isValidKeyId('ed25519:a-b'));
  assert.not.ok(isValidKeyId('curve25519:a'));
  assert.throws(() => generateServerKey('a b'));
});

test('loadOrCreateSigningKey creates the file with mode 0600, then loads the same key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keys-'));
  try {
    const path = join(dir, 'sub', 'signing.key');
    const k1 = await loadOrCreateSigningKey(path);
    const st = await stat(path);
    assert.is(st.mode & 0o777, 0o600);
    assert.match(await readFile(path, 'utf8'), /^ed25519 a_[A-Za-z0-9_]+ [A-Za-z0-9+/]{43}\n$/);
    const k2 = await loadOrCreateSigningKey(path);
    assert.is(k2.keyId, k1.keyId);
    assert.is(k2.publicKeyBase64, k1.publicKeyBase64);
    const k3 = await loadSigningKey(path);
    assert.is(k3.publicKeyBase64, k1.publicKeyBase64);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
test('saveSigningKey writes 0600 even over an existing file; a broken file is not overwritten', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keys-'));
  try {
    const path = join(dir, 'signing.key');
    await writeFile(path, 'junk', { mode: 0o644 });
    await assert_rejects(loadOrCreateSigningKey(path));
    assert.is(await readFile(path, 'utf8'), 'junk', 'not overwritten');
    const k = parseSigningKey(SPEC_LINE);
    await saveSigningKey(path, k);
    assert.is((await stat(path)).mode & 0o777, 0o600);
    assert.is((await loadSigningKey(path)).publicKeyBase64, SPEC_PUB);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
async function assert_rejects(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch {
    return;
  }
  assert.unreachable('expected a rejection');
}

test('serverKeysObject: the self-signed key object', () => {
  const k = parseSigningKey(SPEC_LINE);
  const obj = serverKeysObject('domain', k, 1234567890, [{ keyId: 'ed25519:0', publicKeyBase64: 'AAAA', expiredTs: 1000 }]);
  assert.is(obj.server_name, 'domain');
  assert.is(obj.valid_until_ts, 1234567890);
  assert.equal(obj.verify_keys, { 'ed25519:1': { key: SPEC_PUB } });
  assert.equal(obj.old_verify_keys, { 'ed25519:0': { key: 'AAAA', expired_ts: 1000 } });
  assert.ok(verifyJsonSignature(obj, 'domain', 'ed25519:1', SPEC_PUB));
  assert.not.ok(verifyJsonSignature({ ...obj, valid_until_ts: 1234567891 }, 'domain', 'ed25519:1', SPEC_PUB));
  assert.equal(Object.keys(obj.signatures as JsonObject), ['domain']);
  assert.equal(serverKeysObject('domain', k, 1).old_verify_keys, {});
});

test.run();
