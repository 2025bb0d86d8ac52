/**
 * The room actors' bounded caches use storage's two-generation LRU: a hit
 * costs one or two Map look-ups at any size. (A single Map with
 * delete-and-reinsert slows down as it fills: deleted slots pile up until
 * the Map rehashes, and finding the oldest entry walks over them.)
 */
export { Lru } from '../storage/lru.js';
