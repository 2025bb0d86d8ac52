/**
 * Unsigned LEB128 varints for integers up to 2^53 (7 bits a byte, low
 * groups first), and a small growable writer / bounds-checked reader used by
 * the state block and snapshot encodings.
 */
import { RoomServerError } from '../src/errors.js';

const TWO31 = 2147483648;

export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 64) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  varint(n: number): void {
    this.ensure(8);
    const b = this.buf;
    let len = this.len;
    if (n < TWO31) {
      while (n >= 0x80) {
        b[len++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      b[len++] = n;
    } else {
      while (n >= 0x80) {
        b[len++] = (n % 128) | 0x80;
        n = Math.floor(n / 128);
      }
      b[len++] = n;
    }
    this.len = len;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
  }

  /** A copy of the bytes written so far (the writer may be reused). */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  get length(): number {
    return this.len;
  }
}

export class ByteReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    const b = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= b.length) break;
      const byte = b[this.pos++]!;
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new RoomServerError('M_UNKNOWN', 'truncated or oversized varint in stored data', 'storage_corrupt');
  }
}

/** Writes a varint at off; returns the offset after it. */
export function writeVarint(buf: Uint8Array, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

/** Bytes a varint of n takes. */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Zigzag for signed deltas: 0,-1,1,-2,2 -> 0,1,2,3,4 (safe up to +-2^52). */
export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}
