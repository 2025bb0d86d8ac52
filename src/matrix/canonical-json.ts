/**
 * Canonical JSON (spec appendices, "Canonical JSON"): object keys sorted by
 * Unicode code point, no insignificant whitespace, shortest escapes, UTF-8.
 *
 * Encoding never fails for finite numbers: floats and out-of-range integers
 * are written as JavaScript writes them, so events from lenient room
 * versions (v1-5) can still be hashed. `strict` (v6+) refuses them, and -0
 * is written as 0 (spec example). Non-finite numbers are never encodable.
 */
import type { JsonObject, JsonValue } from './json.js';

export const MAX_SAFE = 2 ** 53 - 1;

export class CanonicalJsonError extends Error {
  readonly path: string;
  constructor(message: string, path: string) {
    super(`${message} at ${path || '(root)'}`);
    this.name = 'CanonicalJsonError';
    this.path = path;
  }
}

/**
 * Compares two strings by Unicode code point. JavaScript's `<` compares
 * UTF-16 code units, which orders U+E000..U+FFFF after astral characters
 * (surrogates are 0xD800..0xDFFF); shifting the units fixes that.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

const NEEDS_SLOW_SORT = /[\ud800-\uffff]/;

/**
 * Sorts strings in place by UTF-16 code units (what sort() does), without
 * allocating: sort() copies the array into a work area on every call, and
 * objects have few keys, where insertion sort is also the faster.
 */
function sortStrings(keys: string[]): void {
  const n = keys.length;
  if (n > 32) {
    keys.sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  if (keys.length < 2) return keys;
  let slow = false;
  for (const k of keys) {
    if (NEEDS_SLOW_SORT.test(k)) {
      slow = true;
      break;
    }
  }
  if (slow) return keys.sort(compareCodePoints);
  sortStrings(keys);
  return keys;
}

function encodeNumber(n: number, strict: boolean, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError('non-finite number', path);
  if (Number.isInteger(n)) {
    if (n > MAX_SAFE || n < -MAX_SAFE) {
      if (strict) throw new CanonicalJsonError('integer out of range', path);
      return JSON.stringify(n);
    }
    return n === 0 ? '0' : String(n);
  }
  if (strict) throw new CanonicalJsonError('float not permitted', path);
  return JSON.stringify(n);
}

function encode(v: unknown, strict: boolean, path: string): string {
  switch (typeof v) {
    case 'string':
      // JSON.stringify escapes exactly what canonical JSON escapes:
      // quote, backslash, \b \t \n \f \r and other controls as lowercase \u00xx.
      return JSON.stringify(v);
    case 'number':
      return encodeNumber(v, strict, path);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) {
          if (i) s += ',';
          s += encode(v[i], strict, strict ? `${path}[${i}]` : '');
        }
        return s + ']';
      }
      let s = '{';
      let first = true;
      const o = v as Record<string, unknown>;
      for (const k of sortedKeys(o)) {
        const val = o[k];
        if (val === undefined) continue;
        if (!first) s += ',';
        first = false;
        s += JSON.stringify(k) + ':' + encode(val, strict, strict ? (path ? `${path}.${k}` : k) : '');
      }
      return s + '}';
    }
    case 'undefined':
      throw new CanonicalJsonError('undefined is not JSON', path);
    default:
      throw new CanonicalJsonError(`${typeof v} is not JSON`, path);
  }
}

/*
 * The lenient encoder is on the hot path (hashes, signatures and event IDs
 * of every event), so it avoids the per-key work of `encode`: each key's
 * quoted form and whether it needs code point sorting are computed once
 * and cached (keys repeat across events: `content`, `type`, ...), and no
 * paths are built. Its output is the same as `encode(v, false, '')`.
 */
interface KeyInfo {
  /** JSON.stringify(key) + ':' */
  readonly prefix: string;
  /** contains a unit >= U+D800: UTF-16 order may differ from code point order */
  readonly astral: boolean;
}
const keyInfoCache = new Map<string, KeyInfo>();
const KEY_CACHE_MAX = 10_000;
const KEY_CACHE_MAX_LENGTH = 64;

function keyInfo(k: string): KeyInfo {
  let info = keyInfoCache.get(k);
  if (info === undefined) {
    info = { prefix: JSON.stringify(k) + ':', astral: NEEDS_SLOW_SORT.test(k) };
    if (k.length <= KEY_CACHE_MAX_LENGTH) {
      if (keyInfoCache.size >= KEY_CACHE_MAX) keyInfoCache.clear();
      keyInfoCache.set(k, info);
    }
  }
  return info;
}

function encodeLoose(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return encodeNumber(v, false, '');
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        const n = v.length;
        if (n === 0) return '[]';
        let s = '[' + encodeLoose(v[0]);
        for (let i = 1; i < n; i++) s += ',' + encodeLoose(v[i]);
        return s + ']';
      }
      return encodeObjectLoose(v as Record<string, unknown>, Object.keys(v));
    }
    case 'undefined':
      throw new CanonicalJsonError('undefined is not JSON', '');
    default:
      throw new CanonicalJsonError(`${typeof v} is not JSON`, '');
  }
}

/** Sorts an object's keys into canonical order, in place. */
function sortKeysLoose(keys: string[]): void {
  const n = keys.length;
  if (n < 2) return;
  // Keys often come in order already (events built canonically): then
  // there is nothing to sort, and sort() would still allocate.
  let astral = false;
  let ordered = true;
  for (let i = 0; i < n; i++) {
    if (keyInfo(keys[i]!).astral) {
      astral = true;
      break;
    }
    if (i > 0 && keys[i - 1]! > keys[i]!) ordered = false;
  }
  if (astral) keys.sort(compareCodePoints);
  else if (!ordered) sortStrings(keys);
}

/**
 * `members`, when given, receives each written top-level key and the offset
 * of its member in the returned text (see canonicalObjectText).
 */
function encodeObjectLoose(o: Record<string, unknown>, keys: string[], members?: { keys: string[]; starts: number[] }): string {
  const n = keys.length;
  sortKeysLoose(keys);
  let s = '{';
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    const val = o[k];
    if (val === undefined) continue;
    if (s.length > 1) s += ',';
    if (members !== undefined) {
      members.keys.push(k);
      members.starts.push(s.length);
    }
    s += keyInfo(k).prefix + encodeLoose(val);
  }
  return s + '}';
}

/** The path of the first value the lenient encoder cannot write (for error messages). */
function findUnencodable(v: unknown, path: string): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : path || '(root)';
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return undefined;
  if (typeof v !== 'object') return path || '(root)';
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = findUnencodable(v[i], `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    const p = findUnencodable(x, path ? `${path}.${k}` : k);
    if (p) return p;
  }
  return undefined;
}

function loose<T>(run: () => T, value: unknown): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof CanonicalJsonError) {
      throw new CanonicalJsonError(e.message.replace(/ at \(root\)$/, ''), findUnencodable(value, '') ?? '');
    }
    throw e;
  }
}

/** Canonical JSON text of a value. `strict` refuses floats and out-of-range integers. */
export function canonicalJson(value: JsonValue | object, strict = false): string {
  if (strict) return encode(value, true, '');
  return loose(() => encodeLoose(value), value);
}

/** Canonical JSON as UTF-8 bytes. */
export function canonicalJsonBytes(value: JsonValue | object, strict = false): Buffer {
  return Buffer.from(canonicalJson(value, strict), 'utf8');
}

/**
 * Canonical JSON of an object without some of its top-level keys (for
 * example `unsigned`, `signatures`, `hashes` for the content hash), without
 * copying it. Lenient numbers, as canonicalJson(value).
 */
export function canonicalJsonWithout(obj: JsonObject, omit: readonly string[]): string {
  const keys = Object.keys(obj).filter((k) => !omit.includes(k));
  return loose(() => encodeObjectLoose(obj, keys), obj);
}

/**
 * Canonical JSON of an object with the offset of each top-level member, so
 * that texts of the same object without some members (the content hash
 * input) or with more members (hashes and signatures added after signing)
 * are cut or spliced from it instead of encoded again.
 */
export interface CanonicalObjectText {
  readonly text: string;
  /** The top-level keys written, in order. */
  readonly keys: readonly string[];
  /** starts[i]: offset in `text` of member i (its quoted key). */
  readonly starts: readonly number[];
}

/** Canonical JSON of an object with its members' offsets (lenient numbers, as canonicalJson). */
export function canonicalObjectText(obj: JsonObject): CanonicalObjectText {
  const members = { keys: [] as string[], starts: [] as number[] };
  const text = loose(() => encodeObjectLoose(obj, Object.keys(obj), members), obj);
  return { text, keys: members.keys, starts: members.starts };
}

/** End offset (exclusive) of member i of a CanonicalObjectText. */
function memberEnd(t: CanonicalObjectText, i: number): number {
  return i + 1 < t.starts.length ? t.starts[i + 1]! - 1 : t.text.length - 1;
}

/** Member i of a CanonicalObjectText as written: its quoted key, a colon and its value. */
export function memberText(t: CanonicalObjectText, i: number): string {
  return t.text.slice(t.starts[i]!, memberEnd(t, i));
}

/** The canonical JSON of the same object without the members named in `omit` (same text as canonicalJsonWithout). */
export function withoutMembers(t: CanonicalObjectText, omit: readonly string[]): string {
  let out = '{';
  let runStart = -1;
  let runEnd = -1;
  for (let i = 0; i < t.keys.length; i++) {
    if (omit.includes(t.keys[i]!)) {
      if (runStart >= 0) {
        out += (out.length > 1 ? ',' : '') + t.text.slice(runStart, runEnd);
        runStart = -1;
      }
      continue;
    }
    if (runStart < 0) runStart = t.starts[i]!;
    runEnd = memberEnd(t, i);
  }
  if (runStart >= 0) out += (out.length > 1 ? ',' : '') + t.text.slice(runStart, runEnd);
  return out + '}';
}

/**
 * The canonical JSON of the same object with members added: `add` maps
 * keys the object does not have to their values (encoded here). Same text
 * as canonicalJson of the object with those keys set.
 */
export function withMembers(t: CanonicalObjectText, add: Readonly<Record<string, JsonValue>>): string {
  const extra = Object.keys(add).filter((k) => add[k] !== undefined);
  for (const k of extra) {
    if (t.keys.includes(k)) throw new Error(`withMembers: ${k} is already a member`);
  }
  if (extra.length === 0) return t.text;
  if (t.keys.some((k) => keyInfo(k).astral) || extra.some((k) => keyInfo(k).astral)) return withMembersSorted(t, add, extra);
  sortStrings(extra);
  // Each new member goes in front of the first member whose key sorts
  // after it (or before the closing brace): the text between insertions is
  // copied in one piece rather than member by member.
  const { text, keys, starts } = t;
  let out = '';
  let from = 0;
  let i = 0;
  for (let e = 0; e < extra.length; e++) {
    const k = extra[e]!;
    while (i < keys.length && keys[i]! < k) i++;
    const member = keyInfo(k).prefix + loose(() => encodeLoose(add[k]), add[k]);
    if (i < keys.length) {
      const at = starts[i]!;
      out += text.slice(from, at) + member + ',';
      from = at;
    } else {
      const at = text.length - 1;
      out += text.slice(from, at) + (keys.length > 0 || e > 0 ? ',' : '') + member;
      from = at;
    }
  }
  return out + text.slice(from);
}

/** withMembers by code point order, member by member (keys with units >= U+D800, where UTF-16 order may differ). */
function withMembersSorted(t: CanonicalObjectText, add: Readonly<Record<string, JsonValue>>, extra: string[]): string {
  const merged = [...t.keys, ...extra].sort(compareCodePoints);
  const parts: string[] = [];
  for (const k of merged) {
    const i = t.keys.indexOf(k);
    parts.push(i >= 0 ? t.text.slice(t.starts[i]!, memberEnd(t, i)) : keyInfo(k).prefix + loose(() => encodeLoose(add[k]), add[k]));
  }
  return '{' + parts.join(',') + '}';
}

/**
 * Checks that a value obeys the strict (v6+) number rules without encoding
 * it: integers only, within ±(2^53-1). Returns the path of the first
 * offending value, or undefined when the value is fine. -0 is refused here:
 * as an incoming value it cannot come from canonical JSON.
 */
export function findNonCanonicalNumber(v: unknown, path = ''): string | undefined {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v > MAX_SAFE || v < -MAX_SAFE || Object.is(v, -0)) return path || '(root)';
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = findNonCanonicalNumber(v[i], `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  for (const k of Object.keys(v)) {
    const p = findNonCanonicalNumber((v as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    if (p) return p;
  }
  return undefined;
}
