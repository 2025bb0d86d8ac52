/** JSON values as they appear in Matrix events. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A shallow copy of `obj` with `key` set to `value` (same result as
 * `{ ...obj, [key]: value }`). The spread form, at a call site that sees
 * objects of many shapes (events with and without `state_key`, outputs of
 * several kinds), makes V8 create a new hidden class for every copy: each
 * costs a few hundred bytes while the object lives and makes every later
 * property read on it a slow lookup. Copying key by key reuses shared
 * hidden classes.
 */
export function copyWith<T extends object, K extends string, V>(obj: T, key: K, value: V): T & Record<K, V> {
  const out = Object.assign({}, obj) as T & Record<K, V>;
  (out as Record<string, unknown>)[key] = value;
  return out;
}
