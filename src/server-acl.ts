/**
 * Server ACLs (`m.room.server_acl`): whether a server may take part in a
 * room. Deny globs win over allow globs; a missing `allow` allows nobody;
 * IP literals are refused unless `allow_ip_literals` is true (the default).
 * Ports are ignored. Globs: `*` any run of characters, `?` one character.
 */
import type { JsonObject } from './matrix/json.js';

const globCache = new Map<string, RegExp>();

function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, 'i');
    if (globCache.size > 1000) globCache.clear();
    globCache.set(glob, re);
  }
  return re;
}

function hostOf(server: string): string {
  if (server.startsWith('[')) {
    const end = server.indexOf(']');
    return end > 0 ? server.slice(0, end + 1) : server;
  }
  const i = server.lastIndexOf(':');
  return i > 0 ? server.slice(0, i) : server;
}

function isIpLiteral(host: string): boolean {
  return host.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

function globs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function serverAllowedByAcl(server: string, content: JsonObject): boolean {
  const host = hostOf(server);
  if (content.allow_ip_literals === false && isIpLiteral(host)) return false;
  if (globs(content.deny).some((g) => globToRegExp(g).test(host))) return false;
  return globs(content.allow).some((g) => globToRegExp(g).test(host));
}
