/**
 * A JSON reader for bytes and text received from outside, which reports
 * what JSON.parse hides:
 *
 * - invalid UTF-8 in byte input (JSON.parse never sees it: Buffer decoding
 *   silently replaces it with U+FFFD) and lone surrogates (raw in text
 *   input, or written as `\udXXX` escapes), which canonical JSON cannot
 *   represent;
 * - duplicate object keys (JSON.parse keeps the last one silently);
 * - numbers that canonical JSON cannot carry, including the ones whose
 *   parsed value no longer shows it: `1e5`, `1.0` and `-0` parse to
 *   integers (or 0) but were not written as canonical integers; and
 *   integers outside ±(2^53-1).
 *
 * Speed: JSON.parse does the parsing; one linear scan over the text (which
 * skips string bodies with indexOf) counts object members and inspects
 * number tokens, and one walk over the parsed value counts keys. A
 * duplicate shows as fewer keys than members. Only when something is
 * wrong does a slower, path-tracking pass run to name where.
 */
import { isUtf8 } from 'node:buffer';
import { RoomServerError } from '../errors.js';
import type { JsonValue } from './json.js';
import { MAX_SAFE } from './canonical-json.js';

export type StrictJsonReason =
  | 'json_syntax'
  | 'json_invalid_utf8'
  | 'json_lone_surrogate'
  | 'json_too_deep'
  | 'json_duplicate_key'
  | 'json_bad_number';

/**
 * A refusal from the strict reader. `code` is M_NOT_JSON for input that is
 * not JSON text at all (syntax, invalid UTF-8) and M_BAD_JSON for JSON that
 * breaks our rules; `path` names the offending place (`a.b[2]`, '' = root).
 */
export class StrictJsonError extends RoomServerError {
  override readonly reason: StrictJsonReason;
  readonly path: string;
  constructor(reason: StrictJsonReason, message: string, path = '') {
    const code = reason === 'json_syntax' || reason === 'json_invalid_utf8' ? 'M_NOT_JSON' : 'M_BAD_JSON';
    super(code, path ? `${message} at ${path}` : message, reason);
    this.name = 'StrictJsonError';
    this.reason = reason;
    this.path = path;
  }
}

export const DEFAULT_MAX_DEPTH = 256;

export interface JsonScanOptions {
  /** Deepest allowed nesting of objects and arrays (default 256). */
  maxDepth?: number;
}

/**
 * What a scan found besides the value. The paths are those of the first
 * offence in document order; undefined when there is none.
 */
export interface JsonScan {
  readonly value: JsonValue;
  /** Where an object repeats a key. */
  readonly duplicateKeyPath: string | undefined;
  /**
   * Where a number is not a canonical integer as written: a fraction, an
   * exponent, `-0`, or a value outside ±(2^53-1).
   */
  readonly nonCanonicalNumberPath: string | undefined;
}

export interface StrictJsonOptions extends JsonScanOptions {
  /** Accept repeated keys (the last one wins, as in JSON.parse). Default false. */
  allowDuplicateKeys?: boolean;
  /** Refuse numbers that are not canonical integers (room versions 6+). Default false. */
  canonicalNumbers?: boolean;
}

/** Parses JSON and throws a StrictJsonError on anything the options refuse. */
export function parseStrictJson(input: string | Uint8Array, opts: StrictJsonOptions = {}): JsonValue {
  const r = scanJson(input, opts);
  if (r.duplicateKeyPath !== undefined && !opts.allowDuplicateKeys) {
    throw new StrictJsonError('json_duplicate_key', 'duplicate object key', r.duplicateKeyPath);
  }
  if (r.nonCanonicalNumberPath !== undefined && opts.canonicalNumbers) {
    throw new StrictJsonError('json_bad_number', 'number is not a canonical integer', r.nonCanonicalNumberPath);
  }
  return r.value;
}

const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function wellFormed(s: string): boolean {
  return isWellFormed ? isWellFormed.call(s) : !LONE_SURROGATE.test(s);
}

/**
 * Parses JSON and reports duplicate keys and non-canonical numbers instead
 * of throwing for them (the caller decides by room version). Throws a
 * StrictJsonError for syntax errors, invalid UTF-8, lone surrogates and
 * nesting deeper than `maxDepth`.
 */
export function scanJson(input: string | Uint8Array, opts: JsonScanOptions = {}): JsonScan {
  let text: string;
  if (typeof input === 'string') {
    text = input;
    if (!wellFormed(text)) throw new StrictJsonError('json_lone_surrogate', 'text contains a lone surrogate');
  } else {
    if (!isUtf8(input)) throw new StrictJsonError('json_invalid_utf8', 'input is not valid UTF-8');
    text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new StrictJsonError('json_syntax', `invalid JSON: ${(e as Error).message}`);
  }
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const s = scanText(text, maxDepth);
  let duplicate = false;
  if (s.members > 0) duplicate = countKeys(value) !== s.members;
  if (!duplicate && !s.badNumber && !s.loneSurrogate) {
    return { value, duplicateKeyPath: undefined, nonCanonicalNumberPath: undefined };
  }
  // Something is off: walk again, this time tracking paths.
  const w = new PathWalker(text);
  w.value('');
  if (w.loneSurrogatePath !== undefined) {
    throw new StrictJsonError('json_lone_surrogate', 'string contains a lone surrogate escape', w.loneSurrogatePath);
  }
  return { value, duplicateKeyPath: w.duplicatePath, nonCanonicalNumberPath: w.badNumberPath };
}

interface TextScan {
  members: number;
  badNumber: boolean;
  loneSurrogate: boolean;
}

const QUOTE = 34;
const BACKSLASH = 92;

/** The fast pass over text that JSON.parse has accepted (so it is valid JSON). */
function scanText(t: string, maxDepth: number): TextScan {
  const n = t.length;
  let members = 0;
  let depth = 0;
  let badNumber = false;
  let loneSurrogate = false;
  // The next backslash at or after the scan position (n when none): found
  // once and reused, so strings without escapes cost one indexOf each.
  let bs = -1;
  let i = 0;
  while (i < n) {
    const c = t.charCodeAt(i);
    if (c === QUOTE) {
      const end = t.indexOf('"', i + 1);
      if (bs <= i) {
        bs = t.indexOf('\\', i + 1);
        if (bs === -1) bs = n;
      }
      if (bs > end) {
        i = end + 1;
        continue;
      }
      // A string with escapes: walk it, checking \u escapes pair up.
      let k = bs;
      for (;;) {
        const ch = t.charCodeAt(k);
        if (ch === QUOTE) break;
        if (ch !== BACKSLASH) {
          k++;
          continue;
        }
        if (t.charCodeAt(k + 1) !== 117 /* u */) {
          k += 2;
          continue;
        }
        const unit = parseInt(t.slice(k + 2, k + 6), 16);
        k += 6;
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (t.charCodeAt(k) === BACKSLASH && t.charCodeAt(k + 1) === 117) {
            const low = parseInt(t.slice(k + 2, k + 6), 16);
            if (low >= 0xdc00 && low <= 0xdfff) {
              k += 6;
              continue;
            }
          }
          loneSurrogate = true;
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          loneSurrogate = true;
        }
      }
      i = k + 1;
      continue;
    }
    if (c === 58 /* : */) {
      members++;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) throw new StrictJsonError('json_too_deep', `nesting deeper than ${maxDepth}`);
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      const start = i;
      if (c === 45) i++;
      const digits = i;
      while (i < n) {
        const d = t.charCodeAt(i);
        if (d < 48 || d > 57) break;
        i++;
      }
      const end = i;
      const next = i < n ? t.charCodeAt(i) : 0;
      if (next === 46 /* . */ || next === 101 /* e */ || next === 69 /* E */) {
        badNumber = true;
        while (i < n) {
          const d = t.charCodeAt(i);
          if (!((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45)) break;
          i++;
        }
      } else if (c === 45 && end - digits === 1 && t.charCodeAt(digits) === 48) {
        badNumber = true; // -0
      } else if (end - digits >= 16 && Math.abs(Number(t.slice(start, end))) > MAX_SAFE) {
        badNumber = true;
      }
      continue;
    }
    i++;
  }
  return { members, badNumber, loneSurrogate };
}

function countKeys(v: JsonValue): number {
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (typeof x === 'object' && x !== null) n += countKeys(x);
    }
    return n;
  }
  for (const k in v) {
    n++;
    const x = v[k]!;
    if (typeof x === 'object' && x !== null) n += countKeys(x);
  }
  return n;
}

function joinPath(path: string, key: string): string {
  const simple = /^[A-Za-z_$][\w$]*$/.test(key);
  const part = simple ? key : JSON.stringify(key);
  if (!path) return simple ? part : `[${part}]`;
  return simple ? `${path}.${part}` : `${path}[${part}]`;
}

/**
 * The slow pass: a recursive descent over valid JSON text that records the
 * path of the first duplicate key, non-canonical number and lone
 * surrogate escape. Used only when the fast pass found a problem.
 */
class PathWalker {
  private i = 0;
  duplicatePath: string | undefined;
  badNumberPath: string | undefined;
  loneSurrogatePath: string | undefined;
  constructor(private readonly t: string) {}

  private ws(): void {
    const t = this.t;
    for (;;) {
      const c = t.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else return;
    }
  }

  /** Reads a string token and returns its decoded value. */
  private str(path: string): string {
    const t = this.t;
    const start = this.i;
    let k = start + 1;
    for (;;) {
      const ch = t.charCodeAt(k);
      if (ch === QUOTE) break;
      k += ch === BACKSLASH ? (t.charCodeAt(k + 1) === 117 ? 6 : 2) : 1;
    }
    this.i = k + 1;
    const decoded = JSON.parse(t.slice(start, k + 1)) as string;
    if (this.loneSurrogatePath === undefined && !wellFormed(decoded)) this.loneSurrogatePath = path;
    return decoded;
  }

  value(path: string): void {
    this.ws();
    const t = this.t;
    const c = t.charCodeAt(this.i);
    if (c === 123) {
      this.i++;
      const seen = new Set<string>();
      this.ws();
      if (t.charCodeAt(this.i) === 125) {
        this.i++;
        return;
      }
      for (;;) {
        this.ws();
        const key = this.str(path);
        const p = joinPath(path, key);
        if (seen.has(key)) {
          if (this.duplicatePath === undefined) this.duplicatePath = p;
        } else seen.add(key);
        this.ws();
        this.i++; // ':'
        this.value(p);
        this.ws();
        if (t.charCodeAt(this.i++) === 125) return; // '}' else ','
      }
    }
    if (c === 91) {
      this.i++;
      this.ws();
      if (t.charCodeAt(this.i) === 93) {
        this.i++;
        return;
      }
      for (let idx = 0; ; idx++) {
        this.value(`${path}[${idx}]`);
        this.ws();
        if (t.charCodeAt(this.i++) === 93) return; // ']' else ','
      }
    }
    if (c === QUOTE) {
      this.str(path);
      return;
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      const start = this.i;
      while (this.i < t.length && /[-+0-9.eE]/.test(t[this.i]!)) this.i++;
      const lexeme = t.slice(start, this.i);
      if (this.badNumberPath === undefined) {
        const n = Number(lexeme);
        if (!/^-?(0|[1-9][0-9]*)$/.test(lexeme) || lexeme === '-0' || Math.abs(n) > MAX_SAFE) {
          this.badNumberPath = path || '(root)';
        }
      }
      return;
    }
    // true / false / null
    this.i += c === 102 ? 5 : 4;
  }
}
