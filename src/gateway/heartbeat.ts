/**
 * Connection liveness: every `intervalMs` each connection that has neither
 * answered the previous ping nor sent a frame since is terminated; the
 * others get a new ping. A peer that vanished without closing its TCP
 * connection is thus dropped after one to two intervals. (A client that
 * stops reading its socket for that long also stops answering pings and is
 * dropped; a resuming client subscribes again from its last position.)
 * A connection whose reading the server paused itself is not judged.
 */
export interface Beating {
  alive: boolean;
  /**
   * True while the server itself stopped reading this connection
   * (backpressure): pongs cannot be read then, so silence proves nothing.
   * Such a connection is still pinged (the client sees we are alive) but
   * not judged.
   */
  readonly heldByServer?: boolean;
  readonly ws: { ping(): void; terminate(): void; readonly readyState: number; readonly OPEN: number };
}

export function startHeartbeat(connections: () => Iterable<Beating>, intervalMs: number, onDead?: (c: Beating) => void): () => void {
  if (!(intervalMs > 0)) return () => undefined;
  const timer = setInterval(() => {
    for (const c of connections()) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.heldByServer) c.alive = true;
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
