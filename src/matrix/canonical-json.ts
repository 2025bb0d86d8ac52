/**
 * Canonical JSON (spec appendices, "Canonical JSON"): object keys sorted by
 * Unicode code point, no insignificant whitespace, shortest escapes, UTF-8.
 *
 * Encoding never fails for finite numbers: floats and out-of-range integers
 * are written as JavaScript writes them, so events from lenient room
 * versions (v1-5) can still be hashed. `strict` (v6+) refuses them, and -0
 * is written as 0 (spec example). Non-finite numbers are never encodable.
 */
import type { JsonValue } from './json.js';

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
  return slow ? keys.sort(compareCodePoints) : keys.sort();
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

/** Canonical JSON text of a value. `strict` refuses floats and out-of-range integers. */
export function canonicalJson(value: JsonValue | object, strict = false): string {
  return encode(value, strict, '');
}

/** Canonical JSON as UTF-8 bytes. */
export function canonicalJsonBytes(value: JsonValue | object, strict = false): Buffer {
  return Buffer.from(encode(value, strict, ''), 'utf8');
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
