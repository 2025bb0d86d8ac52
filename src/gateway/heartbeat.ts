/**
 * Connection liveness: every `intervalMs` each connection that has neither
 * answered the previous ping nor sent a frame since is terminated; the
 * others get a new ping. A peer that vanished without closing its TCP
 * connection is thus dropped after one to two intervals. (A client that
 * stops reading its socket for that long also stops answering pings and is
 * dropped; a resuming client subscribes again from its last position.)
 */
export interface Beating {
  alive: boolean;
  readonly ws: { ping(): void; terminate(): void; readonly readyState: number; readonly OPEN: number };
}

export function startHeartbeat(connections: () => Iterable<Beating>, intervalMs: number, onDead?: (c: Beating) => void): () => void {
  if (!(intervalMs > 0)) return () => undefined;
  const timer = setInterval(() => {
    for (const c of connections()) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (!c.alive) {
        onDead?.(c);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        c.ws.terminate();
      }
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
