/**
 * Frame codec. A text frame carries JSON, a binary frame carries msgpack of
 * the same object (msgpackr with `useRecords: false`, so every frame is plain
 * standard msgpack). Replies use the request's frame kind.
 *
 * Decoding never throws: it returns the decoded value or the protocol code
 * that says why not (M_NOT_JSON: the bytes are not JSON / msgpack at all;
 * M_BAD_JSON: they are, but not a JSON object of JSON values).
 */
import { isUtf8 } from 'node:buffer';
import { Packr, Unpackr } from 'msgpackr';
import type { JsonObject, JsonValue } from '../matrix/json.js';

export type FrameKind = 'text' | 'binary';

/** The wire encoders. skipValues drops `undefined` fields as JSON.stringify does. */
const packr = new Packr({ useRecords: false, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);
/** 64-bit integers decode as (possibly lossy) numbers, the same reading JSON.parse gives them. */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export type Decoded =
  | { ok: true; value: JsonObject }
  | { ok: false; code: 'M_NOT_JSON' | 'M_BAD_JSON'; message: string };

/** Encodes one object for the given frame kind. */
export function encodeFrame(obj: unknown, kind: FrameKind): string | Buffer {
  return kind === 'binary' ? packr.pack(obj) : JSON.stringify(obj);
}

/**
 * Decodes a frame from a trusted peer (our own gateway, as seen by the
 * client) without the JSON-compatibility walk. Throws when undecodable.
 */
export function decodeTrusted(data: Buffer, kind: FrameKind): unknown {
  return kind === 'binary' ? unpackr.unpack(data) : JSON.parse(data.toString('utf8'));
}

/** Decodes a frame's bytes. */
export function decodeFrame(data: Buffer, kind: FrameKind): Decoded {
  let value: unknown;
  if (kind === 'text') {
    if (!isUtf8(data)) return { ok: false, code: 'M_NOT_JSON', message: 'text frame is not valid UTF-8' };
    try {
      value = JSON.parse(data.toString('utf8'));
    } catch {
      return { ok: false, code: 'M_NOT_JSON', message: 'text frame is not JSON' };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, code: 'M_BAD_JSON', message: 'a request must be a JSON object' };
    }
    return { ok: true, value: value as JsonObject };
  }
  try {
    value = unpackr.unpack(data);
  } catch {
    return { ok: false, code: 'M_NOT_JSON', message: 'binary frame is not msgpack' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !isPlainObject(value)) {
    return { ok: false, code: 'M_BAD_JSON', message: 'a request must be a msgpack map' };
  }
  const problem = jsonProblem(value, 0);
  if (problem) return { ok: false, code: 'M_BAD_JSON', message: `msgpack value is not JSON: ${problem}` };
  return { ok: true, value: value as JsonObject };
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const MAX_DEPTH = 512;

/**
 * msgpack can carry what JSON cannot (binary, undefined, extension types,
 * non-finite floats). Returns why a decoded value is not plain JSON, or
 * undefined when it is.
 */
function jsonProblem(v: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return 'nested too deeply';
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(v) ? undefined : 'non-finite number';
    case 'object': {
      if (v === null) return undefined;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const p = jsonProblem(v[i], depth + 1);
          if (p) return p;
        }
        return undefined;
      }
      if (!isPlainObject(v)) return 'binary or extension value';
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const p = jsonProblem(o[k], depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    default:
      return `a value of type ${typeof v}`;
  }
}

const JSON_ID = /^\s*\{\s*"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,16})\s*[,}]/;

/**
 * Best-effort request id of a frame too large to decode, read from its
 * first bytes only: JSON whose first member is "id", or a msgpack map whose
 * first key is "id" with a string or integer value. Null when not found.
 */
export function peekRequestId(data: Buffer, kind: FrameKind): string | number | null {
  if (kind === 'text') {
    const m = JSON_ID.exec(data.subarray(0, 512).toString('utf8'));
    if (!m) return null;
    try {
      const id: unknown = JSON.parse(m[1]!);
      return typeof id === 'string' || typeof id === 'number' ? id : null;
    } catch {
      return null;
    }
  }
  return peekMsgpackId(data);
}

function peekMsgpackId(b: Buffer): string | number | null {
  let p = 0;
  const t = b[p++];
  if (t === undefined) return null;
  if (t >= 0x80 && t <= 0x8f) {
    /* fixmap */
  } else if (t === 0xde) p += 2;
  else if (t === 0xdf) p += 4;
  else return null;
  // key must be the 2-byte fixstr "id"
  if (b[p] !== 0xa2 || b[p + 1] !== 0x69 || b[p + 2] !== 0x64) return null;
  p += 3;
  const vt = b[p++];
  if (vt === undefined) return null;
  if (vt <= 0x7f) return vt;
  if (vt >= 0xe0) return vt - 0x100;
  let len = -1;
  if (vt >= 0xa0 && vt <= 0xbf) len = vt - 0xa0;
  else if (vt === 0xd9 && p < b.length) len = b[p++]!;
  if (len >= 0) return p + len <= b.length ? b.toString('utf8', p, p + len) : null;
  try {
    switch (vt) {
      case 0xcc: return b.readUInt8(p);
      case 0xcd: return b.readUInt16BE(p);
      case 0xce: return b.readUInt32BE(p);
      case 0xd0: return b.readInt8(p);
      case 0xd1: return b.readInt16BE(p);
      case 0xd2: return b.readInt32BE(p);
      default: return null;
    }
  } catch {
    return null;
  }
}

export type { JsonValue };
