/**
 * Bounded caches that keep recently used entries: two generations of Maps.
 * New and recently read entries live in the young generation; when it is
 * full (half the capacity) it becomes the old generation and the previous
 * old one is dropped. A read that hits the old generation moves the entry
 * back to the young one. Every operation is O(1) with no reordering on a
 * young hit, and at most `capacity` (weight) is held.
 */
export class Lru<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(readonly capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  get(k: K): V | undefined {
    const y = this.young.get(k);
    if (y !== undefined) return y;
    const o = this.old.get(k);
    if (o === undefined) return undefined;
    this.old.delete(k);
    this.insert(k, o);
    return o;
  }

  /** Reads without refreshing recency. */
  peek(k: K): V | undefined {
    return this.young.get(k) ?? this.old.get(k);
  }

  has(k: K): boolean {
    return this.young.has(k) || this.old.has(k);
  }

  set(k: K, v: V): void {
    if (this.young.has(k)) {
      this.young.set(k, v);
      return;
    }
    if (this.old.size > 0) this.old.delete(k);
    this.insert(k, v);
  }

  /** Adds a key the caller knows is absent (skips the lookups of set). */
  add(k: K, v: V): void {
    this.insert(k, v);
  }

  private insert(k: K, v: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(k, v);
  }

  delete(k: K): void {
    if (!this.young.delete(k)) this.old.delete(k);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

/** The same policy where each entry has a weight (e.g. the entries of a state block). */
export class WeightedLru<K, V> {
  private young = new Map<K, { v: V; w: number }>();
  private old = new Map<K, { v: V; w: number }>();
  private youngWeight = 0;
  private oldWeight = 0;
  private readonly half: number;

  constructor(readonly capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  get(k: K): V | undefined {
    const y = this.young.get(k);
    if (y !== undefined) return y.v;
    const o = this.old.get(k);
    if (o === undefined) return undefined;
    this.old.delete(k);
    this.oldWeight -= o.w;
    this.insert(k, o);
    return o.v;
  }

  peek(k: K): V | undefined {
    return (this.young.get(k) ?? this.old.get(k))?.v;
  }

  set(k: K, v: V, w: number): void {
    this.delete(k);
    if (w > this.half) return; // never cache what could not fit in a generation
    this.insert(k, { v, w });
  }

  private insert(k: K, e: { v: V; w: number }): void {
    if (this.youngWeight + e.w > this.half) {
      this.old = this.young;
      this.oldWeight = this.youngWeight;
      this.young = new Map();
      this.youngWeight = 0;
    }
    this.young.set(k, e);
    this.youngWeight += e.w;
  }

  delete(k: K): void {
    const y = this.young.get(k);
    if (y !== undefined) {
      this.young.delete(k);
      this.youngWeight -= y.w;
      return;
    }
    const o = this.old.get(k);
    if (o !== undefined) {
      this.old.delete(k);
      this.oldWeight -= o.w;
    }
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  get totalWeight(): number {
    return this.youngWeight + this.oldWeight;
  }
}
