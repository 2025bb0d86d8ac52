/**
 * Server signing keys: generation, the usual one-line file format
 * `ed25519 <version> <unpadded base64 seed>` (key ID `ed25519:<version>`),
 * and the self-signed key object served at `/_matrix/key/v2/server`.
 *
 * The file helpers are the only I/O in src/matrix; they are separate
 * functions so pure code never touches them.
 */
import { readFile, writeFile, mkdir, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RoomServerError } from '../errors.js';
import type { JsonObject } from './json.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { generateSigningKey, signingKeyFromSeed, type SigningKey } from './ed25519.js';
import { signJson } from './signing.js';

export type { SigningKey } from './ed25519.js';

/** Key versions: the part after `ed25519:`; letters, digits and `_` (the spec's key ID grammar). */
const KEY_VERSION = /^[A-Za-z0-9_]+$/;

export function isValidKeyId(keyId: string): boolean {
  return keyId.startsWith('ed25519:') && KEY_VERSION.test(keyId.slice(8));
}

/** A new random ed25519 key; `version` defaults to `a_` + 4 random characters. */
export function generateServerKey(version?: string): SigningKey {
  if (version === undefined) {
    const k = generateSigningKey();
    const v = 'a_' + k.keyId.slice('ed25519:'.length).replace(/[^A-Za-z0-9_]/g, 'x');
    return signingKeyFromSeed(`ed25519:${v}`, k.seed);
  }
  if (!KEY_VERSION.test(version)) throw new RoomServerError('M_INVALID_PARAM', `invalid key version ${JSON.stringify(version)}`, 'key_bad_version');
  return generateSigningKey(`ed25519:${version}`);
}

/** One key as a line of the key file: `ed25519 <version> <seed>`. */
export function formatSigningKey(key: SigningKey): string {
  return `ed25519 ${key.keyId.slice('ed25519:'.length)} ${encodeBase64(key.seed)}`;
}

/**
 * Parses a key file: one key per non-empty line, `ed25519 <version> <seed>`
 * (padded or unpadded base64; the first key is the one to sign with).
 * Throws RoomServerError (M_INVALID_PARAM, reason `key_file_malformed`).
 */
export function parseSigningKeys(text: string): SigningKey[] {
  const keys: SigningKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    const bad = (why: string) => new RoomServerError('M_INVALID_PARAM', `signing key file line ${i + 1}: ${why}`, 'key_file_malformed');
    if (parts.length !== 3) throw bad('expected "ed25519 <version> <base64 seed>"');
    const [alg, version, seedB64] = parts as [string, string, string];
    if (alg !== 'ed25519') throw bad(`unsupported algorithm ${JSON.stringify(alg)}`);
    if (!KEY_VERSION.test(version)) throw bad(`invalid key version ${JSON.stringify(version)}`);
    const seed = decodeBase64(seedB64);
    if (!seed || seed.length !== 32) throw bad('seed must be 32 bytes of base64');
    keys.push(signingKeyFromSeed(`ed25519:${version}`, seed));
  }
  return keys;
}

/** Parses a key file and returns its first key (throws when there is none). */
export function parseSigningKey(text: string): SigningKey {
  const keys = parseSigningKeys(text);
  if (keys.length === 0) throw new RoomServerError('M_INVALID_PARAM', 'signing key file holds no key', 'key_file_malformed');
  return keys[0]!;
}

/** Writes `key` to `path` (mode 0600, creating parent directories). */
export async function saveSigningKey(path: string, key: SigningKey): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, formatSigningKey(key) + '\n', { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Reads the first key of the key file at `path`. */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  return parseSigningKey(await readFile(path, 'utf8'));
}

/**
 * Loads the key at `path`; when the file does not exist, generates a key
 * and creates the file with mode 0600 (never overwriting an existing one).
 */
export async function loadOrCreateSigningKey(path: string, version?: string): Promise<SigningKey> {
  try {
    return await loadSigningKey(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = generateServerKey(version);
  await mkdir(dirname(path), { recursive: true });
  try {
    await writeFile(path, formatSigningKey(key) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    // Someone created it meanwhile: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadSigningKey(path);
    throw e;
  }
  return key;
}

/** A key this server used to sign with, for `old_verify_keys`. */
export interface OldVerifyKey {
  readonly keyId: string;
  readonly publicKeyBase64: string;
  readonly expiredTs: number;
}

/**
 * The server's key object as served at `/_matrix/key/v2/server`:
 * `server_name`, `valid_until_ts`, `verify_keys`, `old_verify_keys`, signed
 * by `key` itself.
 */
export function serverKeysObject(serverName: string, key: SigningKey, validUntilTs: number, oldKeys: readonly OldVerifyKey[] = []): JsonObject {
  const old: JsonObject = {};
  for (const k of oldKeys) old[k.keyId] = { key: k.publicKeyBase64, expired_ts: k.expiredTs };
  return signJson(
    {
      server_name: serverName,
      valid_until_ts: validUntilTs,
      verify_keys: { [key.keyId]: { key: key.publicKeyBase64 } },
      old_verify_keys: old,
    },
    serverName,
    key,
  );
}
