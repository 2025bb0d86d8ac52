/**
 * A set of strings that answers "certainly absent" or "maybe present", in
 * about 10 bits per string (a Bloom filter, about 1% false positives). It
 * grows: when the current filter holds as many strings as it was sized
 * for, a new one twice as large takes the new strings, and a query checks
 * every filter. Strings are never removed, and no string that was added is
 * ever reported absent.
 *
 * The NID maps use it to answer "this event ID has no NID" without a
 * database read (see nid-maps.ts).
 */

/** Bits per string and probes per string: about 1% false positives. */
const BITS_PER_ITEM = 10;
const PROBES = 7;

class Filter {
  readonly bits: Uint32Array;
  readonly mask: number;
  count = 0;

  constructor(readonly capacity: number) {
    // a power of two of bits, so a probe index is a mask, not a division
    let size = 1 << 10;
    while (size < capacity * BITS_PER_ITEM) size *= 2;
    this.bits = new Uint32Array(size >>> 5);
    this.mask = size - 1;
  }

  add(h1: number, h2: number): void {
    for (let i = 0; i < PROBES; i++) {
      const b = (h1 + Math.imul(i, h2)) & this.mask;
      this.bits[b >>> 5]! |= 1 << (b & 31);
    }
    this.count++;
  }

  has(h1: number, h2: number): boolean {
    for (let i = 0; i < PROBES; i++) {
      const b = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.bits[b >>> 5]! & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }
}

let H1 = 0;
let H2 = 0;

/** Two independent 32-bit hashes of the string's UTF-16 code units (FNV-1a and a multiplicative mix), in H1 and H2. */
function hash(s: string): void {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  H1 = a >>> 0;
  H2 = (b | 1) >>> 0; // odd: the probes of one string never collapse onto one bit
}

export class StringFilter {
  private readonly filters: Filter[];

  /** `expected`: how many strings the first filter is sized for. */
  constructor(expected = 1 << 16) {
    this.filters = [new Filter(Math.max(1024, expected))];
  }

  add(s: string): void {
    let f = this.filters[this.filters.length - 1]!;
    if (f.count >= f.capacity) {
      f = new Filter(f.capacity * 2);
      this.filters.push(f);
    }
    hash(s);
    f.add(H1, H2);
  }

  /** false: `s` was certainly never added; true: it may have been. */
  mightHave(s: string): boolean {
    hash(s);
    for (let i = this.filters.length - 1; i >= 0; i--) if (this.filters[i]!.has(H1, H2)) return true;
    return false;
  }

  /** Strings added so far. */
  get size(): number {
    let n = 0;
    for (const f of this.filters) n += f.count;
    return n;
  }

  /** Bytes of filter bits held. */
  get bytes(): number {
    let n = 0;
    for (const f of this.filters) n += f.bits.byteLength;
    return n;
  }
}
