/**
 * The key store: which ed25519 public keys we trust for which server.
 * Sources: our own signing key, keys configured as trusted, keys added with
 * `add_server_key` (persisted by the caller through `persist`), and keys
 * fetched from peers (`server_keys`), whose self-signature is checked.
 *
 * Signature verification is synchronous, so callers first `ensure` the
 * servers an event needs, then look keys up with `lookup`.
 */
import type { SigningKey } from './matrix/ed25519.js';
import { verifyBytes } from './matrix/ed25519.js';
import { canonicalJson } from './matrix/canonical-json.js';
import { isJsonObject, type JsonObject } from './matrix/json.js';
import type { PeerFetcher } from './peers.js';

export interface StoredKey {
  publicKey: string;
  /** 0 = no expiry known (configured or added without one) */
  validUntilTs: number;
}

export interface KeyRingOptions {
  serverName: string;
  signingKey: SigningKey;
  trustedKeys?: Record<string, Record<string, string>>;
  peers?: PeerFetcher;
  /** called for keys added with addServerKey or fetched from peers */
  persist?: (serverName: string, keyId: string, key: StoredKey) => void | Promise<void>;
  /** how long to wait before asking a peer again for a server's keys */
  refetchAfterMs?: number;
}

/** Checks a `/_matrix/key/v2/server` object's self-signature; returns its verify keys or undefined. */
export function verifySelfSignedKeys(obj: unknown, expectedServer: string): Map<string, StoredKey> | undefined {
  if (!isJsonObject(obj) || obj.server_name !== expectedServer) return undefined;
  const verifyKeys = obj.verify_keys;
  const sigs = obj.signatures;
  if (!isJsonObject(verifyKeys) || !isJsonObject(sigs) || !isJsonObject(sigs[expectedServer])) return undefined;
  const validUntil = typeof obj.valid_until_ts === 'number' ? obj.valid_until_ts : 0;
  const own = sigs[expectedServer] as JsonObject;
  const unsigned: JsonObject = { ...obj };
  delete unsigned.signatures;
  delete unsigned.unsigned;
  const bytes = Buffer.from(canonicalJson(unsigned), 'utf8');
  const keys = new Map<string, StoredKey>();
  let selfSigned = false;
  for (const [keyId, v] of Object.entries(verifyKeys)) {
    if (!keyId.startsWith('ed25519:') || !isJsonObject(v) || typeof v.key !== 'string') continue;
    const sig = own[keyId];
    if (typeof sig === 'string' && verifyBytes(v.key, bytes, sig)) selfSigned = true;
    keys.set(keyId, { publicKey: v.key, validUntilTs: validUntil });
  }
  return selfSigned ? keys : undefined;
}

export class KeyRing {
  private readonly keys = new Map<string, Map<string, StoredKey>>();
  private readonly lastFetch = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly opts: KeyRingOptions) {
    this.set(opts.serverName, opts.signingKey.keyId, { publicKey: opts.signingKey.publicKeyBase64, validUntilTs: 0 });
    for (const [server, ks] of Object.entries(opts.trustedKeys ?? {})) {
      for (const [keyId, pk] of Object.entries(ks)) this.set(server, keyId, { publicKey: pk, validUntilTs: 0 });
    }
  }

  private set(server: string, keyId: string, key: StoredKey): void {
    let m = this.keys.get(server);
    if (!m) this.keys.set(server, (m = new Map()));
    m.set(keyId, key);
  }

  /** Loads keys persisted earlier (does not persist again). */
  load(server: string, keyId: string, key: StoredKey): void {
    this.set(server, keyId, key);
  }

  /** Trusts a key (add_server_key); persisted. */
  async add(server: string, keyId: string, publicKey: string, validUntilTs = 0): Promise<void> {
    const key = { publicKey, validUntilTs };
    this.set(server, keyId, key);
    await this.opts.persist?.(server, keyId, key);
  }

  has(server: string): boolean {
    return (this.keys.get(server)?.size ?? 0) > 0;
  }

  /**
   * The public key of server/keyId usable at `atTs` (validity is enforced only
   * when `enforceValidity`, i.e. room v5+, and only for keys with a known expiry).
   */
  lookup(server: string, keyId: string, atTs?: number, enforceValidity = false): string | undefined {
    const k = this.keys.get(server)?.get(keyId);
    if (!k) return undefined;
    if (enforceValidity && atTs !== undefined && k.validUntilTs > 0 && atTs > k.validUntilTs) return undefined;
    return k.publicKey;
  }

  /** Makes sure we hold keys for these servers, asking peers for unknown ones. Never throws. */
  async ensure(servers: Iterable<string>): Promise<void> {
    const peers = this.opts.peers;
    if (!peers) return;
    const waits: Promise<void>[] = [];
    for (const s of servers) {
      if (this.has(s) || s === this.opts.serverName) continue;
      waits.push(this.fetch(s));
    }
    if (waits.length) await Promise.all(waits);
  }

  private fetch(server: string): Promise<void> {
    const existing = this.inFlight.get(server);
    if (existing) return existing;
    const last = this.lastFetch.get(server) ?? 0;
    if (Date.now() - last < (this.opts.refetchAfterMs ?? 30_000)) return Promise.resolve();
    this.lastFetch.set(server, Date.now());
    const p = (async () => {
      try {
        if (!this.opts.peers!.knownServers().includes(server)) return;
        const obj = await this.opts.peers!.serverKeys(server);
        const keys = verifySelfSignedKeys(obj, server);
        if (!keys) return;
        for (const [keyId, k] of keys) {
          this.set(server, keyId, k);
          await this.opts.persist?.(server, keyId, k);
        }
      } catch {
        // an unreachable peer just leaves the key unknown
      } finally {
        this.inFlight.delete(server);
      }
    })();
    this.inFlight.set(server, p);
    return p;
  }
}
