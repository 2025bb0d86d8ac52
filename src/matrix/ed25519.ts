/**
 * ed25519 primitives on node:crypto. Keys are handled as 32-byte seeds and
 * 32-byte public keys (Matrix's unpadded base64 forms); node:crypto wants
 * DER, so the fixed PKCS#8 / SPKI prefixes are added here and KeyObjects are
 * cached, because building them costs more than a verify.
 */
import { createPrivateKey, createPublicKey, sign, verify, randomBytes, type KeyObject } from 'node:crypto';
import { decodeBase64, encodeBase64 } from './base64.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface SigningKey {
  /** e.g. `ed25519:a_AbCd` */
  readonly keyId: string;
  readonly seed: Buffer;
  readonly privateKey: KeyObject;
  /** unpadded base64 of the 32-byte public key */
  readonly publicKeyBase64: string;
}

export function signingKeyFromSeed(keyId: string, seed: Uint8Array): SigningKey {
  if (seed.length !== 32) throw new Error(`ed25519 seed must be 32 bytes, got ${seed.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const pub = spki.subarray(spki.length - 32);
  return { keyId, seed: Buffer.from(seed), privateKey, publicKeyBase64: encodeBase64(pub) };
}

export function generateSigningKey(keyId = `ed25519:${randomBytes(4).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`): SigningKey {
  return signingKeyFromSeed(keyId, randomBytes(32));
}

export function signBytes(key: SigningKey, data: Uint8Array): Buffer {
  return sign(null, data, key.privateKey);
}

const publicKeyCache = new Map<string, KeyObject | null>();

/** A public KeyObject from unpadded (or padded) base64; null when malformed. Cached. */
export function publicKeyFromBase64(b64: string): KeyObject | null {
  let k = publicKeyCache.get(b64);
  if (k !== undefined) return k;
  const raw = decodeBase64(b64);
  k = null;
  if (raw && raw.length === 32) {
    try {
      k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    } catch {
      k = null;
    }
  }
  if (publicKeyCache.size > 10_000) publicKeyCache.clear();
  publicKeyCache.set(b64, k);
  return k;
}

/** Verifies an ed25519 signature (base64, padded or not) over data. Never throws. */
export function verifyBytes(publicKeyBase64: string, data: Uint8Array, signatureBase64: string): boolean {
  const key = publicKeyFromBase64(publicKeyBase64);
  if (!key) return false;
  const sig = decodeBase64(signatureBase64);
  if (!sig || sig.length !== 64) return false;
  try {
    return verify(null, data, key, sig);
  } catch {
    return false;
  }
}
