/**
 * Write batching: the first frame written in a tick corks the socket and
 * the socket is uncorked on the next tick, so every reply and output
 * written while one batch of work completes leaves in one writev instead
 * of one syscall per frame. Used by the gateway and the client.
 */
import type { WebSocket } from 'ws';

interface Corkable {
  cork(): void;
  uncork(): void;
  destroyed?: boolean;
}

const corked = new WeakSet<Corkable>();

function uncork(socket: Corkable): void {
  corked.delete(socket);
  if (!socket.destroyed) socket.uncork();
}

/** Corks the socket under `ws` until the next tick (once per tick). */
export function corkUntilNextTick(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: Corkable })._socket;
  if (!socket || corked.has(socket) || socket.destroyed) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(uncork, socket);
}
