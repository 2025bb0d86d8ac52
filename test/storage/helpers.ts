/** Shared helpers of the storage tests: temporary stores and event metadata. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, type EventMeta, type StoreOptions } from '../../storage/index.js';
import { RoomServerError } from '../../src/errors.js';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `storage-${tag}-`));
}

export async function withStore<T>(tag: string, fn: (store: Store, dir: string) => Promise<T>, opts: StoreOptions = {}): Promise<T> {
  const dir = tempDir(tag);
  const store = await Store.open(dir, opts);
  try {
    return await fn(store, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function meta(roomNid: number, typeNid: number, over: Partial<EventMeta> = {}): EventMeta {
  return {
    roomNid,
    typeNid,
    stateKeyNid: 0,
    sender: '@alice:example.org',
    depth: 1,
    originServerTs: 1_700_000_000_000,
    prevEventNids: [],
    authEventNids: [],
    outlier: false,
    rejected: false,
    softFailed: false,
    redacted: false,
    stateBeforeNid: 0,
    ...over,
  };
}

export async function rejectsWith(p: Promise<unknown> | (() => unknown), reason: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (!(e instanceof RoomServerError)) throw new Error(`expected RoomServerError ${reason}, got ${String(e)}`);
    if (e.reason !== reason) throw new Error(`expected reason ${reason}, got ${e.reason} (${e.message})`);
    return;
  }
  throw new Error(`expected an error with reason ${reason}`);
}

/** Counts the store's point reads of keys that `match` (from now on): the count is `counter.n`. */
export function countReads(store: Store, match: (key: Buffer) => boolean): { n: number } {
  const getter = (store as unknown as { getter: { fetch(key: Buffer, cb: unknown): void } }).getter;
  const fetch = getter.fetch.bind(getter);
  const counter = { n: 0 };
  getter.fetch = (key: Buffer, cb: unknown) => {
    if (match(key)) counter.n++;
    fetch(key, cb);
  };
  return counter;
}
