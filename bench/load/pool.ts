/**
 * Runs the steps of many rooms with a bounded number in flight: at most one
 * request per room at a time (a room's events go in order, as one client
 * in a room would send them), rooms taken round-robin so every room is
 * active throughout the run.
 */

export interface PoolOptions {
  /** requests in flight at once */
  concurrency: number;
  /** stop taking new steps when this returns true */
  aborted?: () => boolean;
}

/**
 * `step(room)` does the room's next step and says whether it has more.
 * Resolves when every room is done (or the run was aborted).
 */
export async function runRooms(rooms: number[], o: PoolOptions, step: (room: number) => Promise<boolean>): Promise<void> {
  const queue = rooms.slice();
  let head = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (o.aborted?.()) return;
      if (head >= queue.length) return; // the rest are held by other workers, which carry them to the end
      const room = queue[head++]!;
      if (head > 65_536 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      if (await step(room)) queue.push(room);
    }
  };
  const n = Math.max(1, Math.min(o.concurrency, rooms.length));
  await Promise.all(Array.from({ length: n }, worker));
}

/** A random sample of k of the numbers 0..n-1 (all of them when k >= n), in ascending order. */
export function sampleIndices(n: number, k: number, random: () => number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a.slice(0, k).sort((x, y) => x - y);
}
