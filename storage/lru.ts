/**
 * A bounded least-recently-used cache on a Map (insertion order = recency).
 * Each entry has a weight (1 by default); the least recently used entries
 * are dropped while the total weight exceeds the capacity.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { v: V; w: number }>();
  private weight = 0;

  constructor(readonly capacity: number) {}

  get(k: K): V | undefined {
    const e = this.map.get(k);
    if (e === undefined) return undefined;
    this.map.delete(k);
    this.map.set(k, e);
    return e.v;
  }

  /** Reads without refreshing recency. */
  peek(k: K): V | undefined {
    return this.map.get(k)?.v;
  }

  has(k: K): boolean {
    return this.map.has(k);
  }

  set(k: K, v: V, w = 1): void {
    const old = this.map.get(k);
    if (old !== undefined) {
      this.weight -= old.w;
      this.map.delete(k);
    }
    if (w > this.capacity) return; // never cache what could not fit
    this.map.set(k, { v, w });
    this.weight += w;
    if (this.weight > this.capacity) this.evict();
  }

  delete(k: K): void {
    const old = this.map.get(k);
    if (old === undefined) return;
    this.weight -= old.w;
    this.map.delete(k);
  }

  clear(): void {
    this.map.clear();
    this.weight = 0;
  }

  get size(): number {
    return this.map.size;
  }

  get totalWeight(): number {
    return this.weight;
  }

  private evict(): void {
    for (const [k, e] of this.map) {
      if (this.weight <= this.capacity) break;
      this.map.delete(k);
      this.weight -= e.w;
    }
  }
}
