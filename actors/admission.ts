/**
 * Admission control. nact mailboxes are unbounded, so bounds are ours:
 * a per-room bound on queued inputs and a global bound on in-flight inputs
 * and bytes. `tryAcquire` is for async callers (refused at once when full:
 * M_LIMIT_EXCEEDED); `acquire` is for sync callers, who wait their turn in
 * FIFO order until there is room or their deadline passes.
 */
import { RoomServerError } from '../src/errors.js';

export interface AdmissionLimits {
  /** queued + processing inputs per room */
  maxPerRoom: number;
  /** inputs in flight across all rooms */
  maxInFlight: number;
  /** bytes of inputs in flight across all rooms */
  maxInFlightBytes: number;
}

export const DEFAULT_ADMISSION: AdmissionLimits = {
  maxPerRoom: 1_000,
  maxInFlight: 50_000,
  maxInFlightBytes: 256 * 1024 * 1024,
};

interface Waiter {
  room: string;
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class Admission {
  private inFlight = 0;
  private inFlightBytes = 0;
  private readonly perRoom = new Map<string, number>();
  private readonly waiters: Waiter[] = [];
  private closed = false;

  constructor(readonly limits: AdmissionLimits = DEFAULT_ADMISSION) {}

  get stats() {
    return { inFlight: this.inFlight, inFlightBytes: this.inFlightBytes, waiting: this.waiters.length, rooms: this.perRoom.size };
  }

  roomDepth(room: string): number {
    return this.perRoom.get(room) ?? 0;
  }

  private fits(room: string, bytes: number): boolean {
    if (this.inFlight === 0) return true; // one input always fits, however big
    return (
      this.inFlight + 1 <= this.limits.maxInFlight &&
      this.inFlightBytes + bytes <= this.limits.maxInFlightBytes &&
      (this.perRoom.get(room) ?? 0) + 1 <= this.limits.maxPerRoom
    );
  }

  private take(room: string, bytes: number): void {
    this.inFlight += 1;
    this.inFlightBytes += bytes;
    this.perRoom.set(room, (this.perRoom.get(room) ?? 0) + 1);
  }

  /** Takes a place if there is one now (and nobody is waiting ahead). */
  tryAcquire(room: string, bytes: number): boolean {
    if (this.closed) throw new RoomServerError('M_LIMIT_EXCEEDED', 'the server is shutting down');
    if (this.waiters.length > 0 || !this.fits(room, bytes)) return false;
    this.take(room, bytes);
    return true;
  }

  /** Takes a place, waiting for one; rejects with M_LIMIT_EXCEEDED at the deadline. */
  acquire(room: string, bytes: number, deadlineMs?: number): Promise<void> {
    if (this.tryAcquire(room, bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { room, bytes, resolve, reject, timer: undefined };
      if (deadlineMs !== undefined) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new RoomServerError('M_LIMIT_EXCEEDED', 'timed out waiting for admission'));
          this.wake();
        }, deadlineMs);
      }
      this.waiters.push(w);
    });
  }

  release(room: string, bytes: number): void {
    this.inFlight -= 1;
    this.inFlightBytes -= bytes;
    const n = (this.perRoom.get(room) ?? 1) - 1;
    if (n <= 0) this.perRoom.delete(room);
    else this.perRoom.set(room, n);
    this.wake();
  }

  private wake(): void {
    // FIFO, but a waiter blocked only by its own room's bound must not hold
    // up other rooms behind it.
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (this.fits(w.room, w.bytes)) {
        this.waiters.splice(i, 1);
        if (w.timer) clearTimeout(w.timer);
        this.take(w.room, w.bytes);
        w.resolve();
        continue;
      }
      if (this.inFlight >= this.limits.maxInFlight || this.inFlightBytes >= this.limits.maxInFlightBytes) break;
      i++;
    }
  }

  /** Refuses all waiters and any later admission. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new RoomServerError('M_LIMIT_EXCEEDED', 'the server is shutting down'));
    }
  }
}
