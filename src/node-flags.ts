/**
 * Node flags the server process runs with: `npm start` passes them (see
 * package.json), and the load tool passes them to a server it spawns, so
 * that a measured server is the server people run.
 *
 * --max-semi-space-size=32: a 32 MB young generation (Node's default is
 * 16 MB). Under load every event's allocations live for the ~100 ms it is in
 * flight; with the default size more of them are still alive, and copied,
 * when a scavenge comes. Over WebSocket, 3,000 rooms x 30 sends on 2 cores,
 * alternating: scavenge pauses 4.99 / 4.77 s with 16 MB and 3.29 / 3.43 s
 * with 32 MB; 4,154 / 4,285 events/s against 4,677 / 4,554. 64 MB was no
 * better than 32 (runs that noisy could not rank 24, 32 and 48 MB).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
