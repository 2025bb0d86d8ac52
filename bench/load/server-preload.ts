/**
 * Loaded (`--import`) into a server the load tool spawns, never into a
 * server people run. Over the IPC channel the tool asks for a full garbage
 * collection before it reads `/metrics`, so heap figures compare runs
 * rather than the collector's timing. Needs `--expose-gc`. It also counts
 * the collector's pauses (gc-pauses.ts) and sends the totals when asked.
 */
import { readGcTotals, watchGc } from './gc-pauses.js';

const gc = (globalThis as { gc?: () => void }).gc;

if (typeof process.send === 'function') {
  watchGc();
  process.on('message', (msg: unknown) => {
    const type = typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined;
    if (type === 'gc-pauses') {
      process.send?.({ type: 'gc-pauses-done', totals: readGcTotals() });
      return;
    }
    if (type !== 'gc') return;
    gc?.();
    process.send?.({ type: 'gc-done', collected: gc !== undefined });
  });
  // the channel must not keep the server alive once it has stopped
  process.channel?.unref();
}
