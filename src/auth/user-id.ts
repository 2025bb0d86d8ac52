/**
 * The identifier checks the authorization rules need: "is this a valid user
 * ID" (power level `users` keys, v12 `additional_creators`) and "the domain
 * of" a user, room or v1/v2 event ID. Pure.
 *
 * User IDs are accepted with the historical grammar (spec appendices,
 * "Historical User IDs"): servers MUST accept localparts made of any
 * non-surrogate code point except `:` and NUL, including the empty string,
 * because rooms exist whose state holds such IDs. The server name must follow
 * the `server_name` grammar, and the whole ID is at most 255 bytes.
 */

const PORT = /^[0-9]{1,5}$/;
const IPV4 = /^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/;
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** `hostname [":" port]` per the spec's server name grammar. */
export function isValidServerName(name: string): boolean {
  let host = name;
  if (name.startsWith('[')) {
    const close = name.indexOf(']');
    if (close < 0) return false;
    host = name.slice(0, close + 1);
    const rest = name.slice(close + 1);
    if (rest !== '' && !(rest.startsWith(':') && PORT.test(rest.slice(1)))) return false;
    return IPV6.test(host);
  }
  const colon = name.lastIndexOf(':');
  if (colon >= 0) {
    if (!PORT.test(name.slice(colon + 1))) return false;
    host = name.slice(0, colon);
  }
  if (IPV4.test(host)) return host.split('.').every((p) => Number(p) <= 255);
  return DNS_NAME.test(host);
}

/**
 * The common shape (compliant localpart, a DNS name with at least one letter
 * so it cannot be an out-of-range IPv4 literal, optional port): valid
 * without the slower checks.
 */
const COMMON_USER_ID = /^@[a-z0-9._=\-/+]+:(?=[0-9.-]*[A-Za-z])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?$/;

/** A user ID under the historical grammar (see file comment). */
export function isValidUserId(id: unknown): id is string {
  if (typeof id !== 'string' || !id.startsWith('@')) return false;
  if (id.length <= 255 && COMMON_USER_ID.test(id)) return true;
  if (Buffer.byteLength(id, 'utf8') > 255) return false;
  const colon = id.indexOf(':');
  if (colon < 0) return false;
  const localpart = id.slice(1, colon);
  if (localpart.includes('\u0000') || LONE_SURROGATE.test(localpart)) return false;
  return isValidServerName(id.slice(colon + 1));
}

/**
 * The domain (server name) of a `@user:domain`, `!room:domain`,
 * `$event:domain` or `#alias:domain` identifier: everything after the first
 * colon. undefined when there is no colon.
 */
export function domainOf(id: string): string | undefined {
  const colon = id.indexOf(':');
  return colon < 0 ? undefined : id.slice(colon + 1);
}
