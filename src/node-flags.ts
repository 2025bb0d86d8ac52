/**
 * Node flags the server process runs with: `npm start` passes them (see
 * package.json), and the load tool passes them to a server it spawns, so
 * that a measured server is the server people run.
 *
 * --max-semi-space-size=64: a 64 MB young generation (Node's default is
 * 16 MB). Under load every event's allocations live for the ~100-150 ms it
 * is in flight; the smaller the young generation, the more often a scavenge
 * comes while they are alive and copies them. Measured on 2 cores:
 * - 16 -> 32 MB, over WebSocket, 3,000 rooms x 30 sends, alternating:
 *   scavenge pauses 4.99 / 4.77 s -> 3.29 / 3.43 s, 4,154 / 4,285 ->
 *   4,677 / 4,554 events/s.
 * - 32 -> 64 MB, once inputs no longer waited on a read for their event ID
 *   (bench/pipeline.ts one after the other): input of remote-signed events
 *   6,378 -> 7,746 events/s (280 -> 235 us CPU per event), local sends
 *   9,327 -> 9,702; in-process input with 1,000 rooms, alternating, minor GC
 *   pause 53 / 40 -> 27 / 25 us per event. Sends over WebSocket did not move
 *   beyond the noise; 128 MB was no better than 64.
 *
 * --no-parallel-scavenge: the main thread does each young-generation
 * collection alone instead of sharing it with V8's helper threads. The work
 * split over threads costs far more CPU than it saves in pause time when
 * the cores are busy anyway (the crypto worker, LevelDB's compaction, the
 * clients): on 2 cores under load (`--trace-gc-nvp`), a scavenge took
 * ~17-19 us of main-thread pause plus ~30-39 us of helper time per event
 * in parallel, ~22-24 us of main-thread pause alone. Over WebSocket, 10,000
 * rooms x 20 sends, three alternated pairs (2026-11-27): 6,725 / 6,707 /
 * 7,011 events/s and 205 / 206 / 197 us of server CPU per event, against
 * 5,207 / 6,067 / 5,502 events/s and 222 / 230 / 254 us in parallel; the
 * main thread's own CPU per event did not grow (113-119 vs 116-140 us).
 * (`--single-threaded-gc`, which also moves the old generation's concurrent
 * marking onto the main thread, gave the same throughput within the noise
 * in two alternated runs; this flag leaves that marking off the main
 * thread, which is what bounds a loaded server.)
 *
 * --no-allocation-site-pretenuring: every object starts in the young
 * generation. By default V8 watches where objects are allocated (a memento
 * behind each object of a tracked site, checked by every scavenge) and
 * allocates straight into the old generation from sites whose objects
 * survived a scavenge. Under this load that is most sites on the per-event
 * path: an event is in flight for tens of milliseconds, so whatever a
 * scavenge finds alive has a good chance of being one still in flight,
 * and V8 pretenured ~50 sites in one send run (`--trace-pretenuring-
 * statistics`); their objects, dead a few milliseconds later, then wait for
 * a full collection. Measured (2026-11-27, 2 cores, alternated pairs):
 * over WebSocket, 10,000 rooms x 20 sends, five pairs: events/s higher in
 * all five (+128 to +574), p99 input latency lower in all five (46.6-49.5
 * against 49.5-51.4 ms), main thread 72-76 against 76-78 us per event;
 * bench/pipeline.ts (a) sends, three pairs: 20,403-21,010 against
 * 19,740-20,014 events/s (88-92 against 92-94 us of CPU per event); (b)
 * input 10,526 against 10,234 events/s; heap per idle room unchanged
 * (1,329 against 1,325 B).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64', '--no-parallel-scavenge', '--no-allocation-site-pretenuring'];
