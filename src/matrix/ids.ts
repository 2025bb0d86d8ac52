/**
 * Identifier grammars (spec appendices, "Identifier Grammar", and the room
 * version pages for event and room IDs). The `...Problem` functions return
 * undefined for a valid identifier and a short reason otherwise; the
 * `isValid...` forms return a boolean.
 *
 * Lengths are limited to 255 bytes of UTF-8 (user IDs, room IDs, event IDs).
 */
import type { RoomVersion } from './room-versions.js';

export const MAX_ID_BYTES = 255;

/** True when `s` is longer than `max` bytes of UTF-8. */
export function exceedsBytes(s: string, max = MAX_ID_BYTES): boolean {
  if (s.length * 3 <= max) return false;
  if (s.length > max) return true;
  return Buffer.byteLength(s, 'utf8') > max;
}

// ---------------------------------------------------------------------------
// Server names: hostname [ ":" port ]

const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const IPV4_LIKE = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/;
const PORT = /^[0-9]{1,5}$/;
const HEX16 = /^[0-9A-Fa-f]{1,4}$/;

/** An IPv6 address in the text forms of RFC 3513 section 2.2 (no zone). */
export function isValidIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let head = s;
  let groupsForV4 = 0;
  // x:x:x:x:x:x:d.d.d.d — a trailing IPv4 counts as two groups.
  const lastColon = s.lastIndexOf(':');
  if (lastColon === -1) return false;
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isValidIPv4(tail)) return false;
    head = s.slice(0, lastColon + 1);
    // keep "::" intact when the IPv4 follows it; otherwise drop the separator
    if (!head.endsWith('::')) head = head.slice(0, -1);
    groupsForV4 = 2;
  }
  const dbl = head.indexOf('::');
  if (dbl !== -1) {
    if (head.indexOf('::', dbl + 1) !== -1) return false;
    const left = head.slice(0, dbl);
    const right = head.slice(dbl + 2);
    const l = left === '' ? [] : left.split(':');
    const r = right === '' ? [] : right.split(':');
    if (!l.every((g) => HEX16.test(g)) || !r.every((g) => HEX16.test(g))) return false;
    return l.length + r.length + groupsForV4 <= 7;
  }
  const groups = head === '' ? [] : head.split(':');
  if (!groups.every((g) => HEX16.test(g))) return false;
  return groups.length + groupsForV4 === 8;
}

/** A dotted-quad IPv4 literal, each part 0..255. */
export function isValidIPv4(s: string): boolean {
  const m = IPV4_LIKE.exec(s);
  if (!m) return false;
  for (let i = 1; i <= 4; i++) if (Number(m[i]) > 255) return false;
  return true;
}

/** Why `s` is not a server name, or undefined when it is one. */
export function serverNameProblem(s: string): string | undefined {
  if (s.length === 0) return 'empty server name';
  let host = s;
  let port: string | undefined;
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf(']');
    if (close === -1) return 'unterminated IPv6 literal';
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (rest.charCodeAt(0) !== 58) return 'junk after IPv6 literal';
      port = rest.slice(1);
    }
    if (!isValidIPv6(host)) return 'invalid IPv6 literal';
  } else {
    const colon = s.lastIndexOf(':');
    if (colon !== -1) {
      host = s.slice(0, colon);
      port = s.slice(colon + 1);
    }
    if (!DNS_NAME.test(host)) return 'invalid host name';
    // Four dotted numbers are an IPv4 literal, whose parts must be 0..255.
    if (IPV4_LIKE.test(host) && !isValidIPv4(host)) return 'invalid IPv4 literal';
  }
  if (port !== undefined && !PORT.test(port)) return 'invalid port';
  return undefined;
}

export function isValidServerName(s: string): boolean {
  return serverNameProblem(s) === undefined;
}

// ---------------------------------------------------------------------------
// User IDs: "@" localpart ":" server_name

const USER_LOCALPART = /^[a-z0-9._=\-/+]+$/;

export interface UserIdOptions {
  /**
   * Accept historical localparts (any non-surrogate code points except `:`
   * and NUL, even empty), which servers MUST accept in events. Default true;
   * false applies the current grammar (`a-z 0-9 . _ = - / +`, non-empty).
   */
  historical?: boolean;
}

/** Why `id` is not a user ID, or undefined when it is one. */
export function userIdProblem(id: string, opts: UserIdOptions = {}): string | undefined {
  if (id.charCodeAt(0) !== 64 /* @ */) return 'user ID must start with @';
  if (exceedsBytes(id)) return 'user ID longer than 255 bytes';
  const colon = id.indexOf(':');
  if (colon === -1) return 'user ID has no server name';
  const local = id.slice(1, colon);
  if (opts.historical === false) {
    if (!USER_LOCALPART.test(local)) return 'user ID localpart has characters outside a-z 0-9 . _ = - / +';
  } else if (!opaqueLocalpartOk(local)) {
    return 'user ID localpart contains NUL or a lone surrogate';
  }
  const p = serverNameProblem(id.slice(colon + 1));
  return p && `user ID: ${p}`;
}

export function isValidUserId(id: string, opts?: UserIdOptions): boolean {
  return userIdProblem(id, opts) === undefined;
}

/** The server name of a `@user:server` (or `!room:server`, `$event:server`) ID; undefined without a colon. */
export function serverNameOf(id: string): string | undefined {
  const colon = id.indexOf(':');
  return colon === -1 ? undefined : id.slice(colon + 1);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A localpart of non-surrogate code points other than NUL (`:` is excluded by splitting at the first colon). */
function opaqueLocalpartOk(s: string): boolean {
  return s.indexOf('\u0000') === -1 && !LONE_SURROGATE.test(s);
}

// ---------------------------------------------------------------------------
// Room IDs: "!" opaque ":" server_name (v1-v11), "!" + 43 URL-safe base64 (v12)

const HASH_URLSAFE = /^[A-Za-z0-9_-]{43}$/;
const HASH_STD = /^[A-Za-z0-9+/]{43}$/;

function domainIdProblem(kind: string, id: string): string | undefined {
  if (exceedsBytes(id)) return `${kind} longer than 255 bytes`;
  const colon = id.indexOf(':');
  if (colon === -1) return `${kind} has no server name`;
  if (!opaqueLocalpartOk(id.slice(1, colon))) return `${kind} localpart contains NUL or a lone surrogate`;
  const p = serverNameProblem(id.slice(colon + 1));
  return p && `${kind}: ${p}`;
}

/**
 * Why `id` is not a room ID, or undefined. With a room version, the
 * version's format is required (v12: a hash; earlier: `!opaque:server`);
 * without one, either form is accepted.
 */
export function roomIdProblem(id: string, rv?: RoomVersion): string | undefined {
  if (id.charCodeAt(0) !== 33 /* ! */) return 'room ID must start with !';
  const hashForm = rv ? rv.roomIdFromCreateEvent : id.indexOf(':') === -1;
  if (hashForm) return HASH_URLSAFE.test(id.slice(1)) ? undefined : 'room ID must be ! and 43 URL-safe base64 characters';
  return domainIdProblem('room ID', id);
}

export function isValidRoomId(id: string, rv?: RoomVersion): boolean {
  return roomIdProblem(id, rv) === undefined;
}

// ---------------------------------------------------------------------------
// Event IDs: "$" opaque ":" server_name (v1, v2); "$" + 43 standard base64
// (v3); "$" + 43 URL-safe base64 (v4+)

/** Why `id` is not an event ID of room version `rv` (any version when omitted), or undefined. */
export function eventIdProblem(id: string, rv?: RoomVersion): string | undefined {
  if (id.charCodeAt(0) !== 36 /* $ */) return 'event ID must start with $';
  const fmt = rv?.eventIdFormat;
  if (fmt === 'v4') return id.length === 44 && HASH_URLSAFE.test(id.slice(1)) ? undefined : 'event ID must be $ and 43 URL-safe base64 characters';
  if (fmt === 'v3') return id.length === 44 && HASH_STD.test(id.slice(1)) ? undefined : 'event ID must be $ and 43 base64 characters';
  if (fmt === 'v1') return domainIdProblem('event ID', id);
  // any version
  if (id.length === 44 && (HASH_URLSAFE.test(id.slice(1)) || HASH_STD.test(id.slice(1)))) return undefined;
  return domainIdProblem('event ID', id);
}

export function isValidEventId(id: string, rv?: RoomVersion): boolean {
  return eventIdProblem(id, rv) === undefined;
}

/** Fast check for the hash-form event IDs of v3 and v4+, used on the hot path. */
export function isHashEventId(id: string, urlSafe: boolean): boolean {
  return id.length === 44 && id.charCodeAt(0) === 36 && (urlSafe ? HASH_URLSAFE : HASH_STD).test(id.slice(1));
}
