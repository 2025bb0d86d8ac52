/** The storage package: everything room actors and tools import from storage/. */
export * from './store.js';
export * from './nids.js';
export { MAX_BLOCKS } from './snapshot-record.js';
export { SNAPSHOT_TUNING } from './snapshots.js';
export { compactionPriority, type CompactionPriority } from './compaction-priority.js';
