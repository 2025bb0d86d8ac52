/**
 * Connection authentication. A token comes in `Authorization: Bearer T` or
 * `?access_token=T` and maps to a role: `admin` (every op) or `peer` with
 * the server name it speaks for (only the peer read ops, with `asServer`).
 * With no token configured every connection is admin; the configuration
 * refuses to bind a non-loopback address in that case.
 *
 * Tokens are looked up by their SHA-256 digest, so the lookup time does not
 * depend on how many leading characters of a guess are right.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type Role = 'admin' | 'peer';
export type Principal = { role: 'admin' } | { role: 'peer'; server: string };

/** The configuration form (PROTOCOL.md): `"admin"` or `{ "role": "peer", "server": "b.test" }`. */
export type TokenSpec = 'admin' | 'peer' | { role: Role; server?: string };
export type TokenConfig = Record<string, TokenSpec>;

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64');
}

/** Validates one token entry; returns a message naming what is wrong, or undefined. */
export function tokenSpecProblem(token: string, spec: unknown): string | undefined {
  if (token.length < 8) return 'a token must be at least 8 characters';
  if (spec === 'admin') return undefined;
  if (spec === 'peer') return `peer token needs a server: use { "role": "peer", "server": "<name>" }`;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    return `a token's value must be "admin" or { "role": "peer", "server": "<name>" }`;
  }
  const s = spec as { role?: unknown; server?: unknown };
  if (s.role === 'admin') return undefined;
  if (s.role !== 'peer') return `role must be "admin" or "peer", got ${JSON.stringify(s.role)}`;
  if (typeof s.server !== 'string' || s.server.length === 0) return 'a peer token needs "server": the server name it speaks for';
  return undefined;
}

export class TokenTable {
  readonly #byDigest = new Map<string, Principal>();

  constructor(tokens?: TokenConfig) {
    for (const [token, spec] of Object.entries(tokens ?? {})) {
      const problem = tokenSpecProblem(token, spec);
      if (problem) throw new Error(`tokens: ${problem}`);
      const principal: Principal =
        spec === 'admin' || (typeof spec === 'object' && spec.role === 'admin')
          ? { role: 'admin' }
          : { role: 'peer', server: (spec as { server: string }).server };
      this.#byDigest.set(digest(token), principal);
    }
  }

  /** True when no token is configured: every connection is admin. */
  get open(): boolean {
    return this.#byDigest.size === 0;
  }

  /** The principal for a presented token; null when refused. */
  authenticate(token: string | undefined): Principal | null {
    if (this.open) return { role: 'admin' };
    if (token === undefined || token.length === 0) return null;
    return this.#byDigest.get(digest(token)) ?? null;
  }
}

/** The token a request presents, from the Authorization header or the query string. */
export function tokenFromRequest(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const t = new URLSearchParams(url.slice(q + 1)).get('access_token');
  return t ?? undefined;
}
