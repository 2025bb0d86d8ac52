/**
 * Request parameter readers. Each names the parameter it refuses:
 * M_MISSING_PARAM when a required one is absent (or null), M_INVALID_PARAM
 * when present with the wrong type or value. The reply carries the name in
 * `error.param` as well as in the message.
 */
import { RoomServerError } from '../errors.js';
import type { JsonObject, JsonValue } from '../matrix/json.js';
import { isJsonObject } from '../matrix/json.js';

export class ParamError extends RoomServerError {
  readonly param: string;
  /** what the param must be (M_INVALID_PARAM) */
  readonly want: string;
  constructor(code: 'M_MISSING_PARAM' | 'M_INVALID_PARAM', param: string, want = '') {
    super(code, code === 'M_MISSING_PARAM' ? `missing param '${param}'` : `param '${param}' must be ${want}`);
    this.name = 'ParamError';
    this.param = param;
    this.want = want;
  }

  /** The same error for a param nested in another (`events[2]` + `kind`). */
  under(prefix: string): ParamError {
    return new ParamError(this.code as 'M_MISSING_PARAM' | 'M_INVALID_PARAM', `${prefix}.${this.param}`, this.want);
  }
}

export function missing(param: string): ParamError {
  return new ParamError('M_MISSING_PARAM', param);
}

export function invalid(param: string, want: string): ParamError {
  return new ParamError('M_INVALID_PARAM', param, want);
}

/** Runs a reader over a nested object, naming errors by their full path. */
export function nested<T>(prefix: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw e instanceof ParamError ? e.under(prefix) : e;
  }
}

function present(p: JsonObject, name: string): JsonValue | undefined {
  const v = p[name];
  return v === undefined || v === null ? undefined : v;
}

export function reqString(p: JsonObject, name: string): string {
  const v = present(p, name);
  if (v === undefined) throw missing(name);
  if (typeof v !== 'string' || v.length === 0) throw invalid(name, 'a non-empty string');
  return v;
}

export function optString(p: JsonObject, name: string): string | undefined {
  const v = present(p, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(name, 'a string');
  return v;
}

export function optBoolean(p: JsonObject, name: string): boolean | undefined {
  const v = present(p, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(name, 'a boolean');
  return v;
}

/** A non-negative safe integer. */
export function optInt(p: JsonObject, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = present(p, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw invalid(name, `an integer between 0 and ${max}`);
  }
  return v;
}

export function reqObject(p: JsonObject, name: string): JsonObject {
  const v = present(p, name);
  if (v === undefined) throw missing(name);
  if (!isJsonObject(v)) throw invalid(name, 'an object');
  return v;
}

export function reqArray(p: JsonObject, name: string): JsonValue[] {
  const v = present(p, name);
  if (v === undefined) throw missing(name);
  if (!Array.isArray(v)) throw invalid(name, 'an array');
  return v;
}

export function optArray(p: JsonObject, name: string): JsonValue[] | undefined {
  const v = present(p, name);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw invalid(name, 'an array');
  return v;
}

function stringItems(arr: JsonValue[], name: string): string[] {
  for (const s of arr) if (typeof s !== 'string' || s.length === 0) throw invalid(name, 'an array of non-empty strings');
  return arr as string[];
}

export function reqStringArray(p: JsonObject, name: string): string[] {
  return stringItems(reqArray(p, name), name);
}

export function optStringArray(p: JsonObject, name: string): string[] | undefined {
  const a = optArray(p, name);
  return a === undefined ? undefined : stringItems(a, name);
}

export function optEnum<T extends string>(p: JsonObject, name: string, allowed: readonly T[]): T | undefined {
  const v = present(p, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalid(name, `one of ${allowed.join(', ')}`);
  return v as T;
}
