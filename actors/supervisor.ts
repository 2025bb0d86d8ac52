/**
 * The supervisor: one per RoomServer. It routes every message to its room's
 * actor, spawning the actor on first use and letting it passivate when idle
 * (its hot state is dropped; it reloads from storage on the next message).
 * Per-room data that must outlive passivation (parked events) lives in the
 * room's entry here, which is dropped once the actor stopped with nothing
 * parked.
 */
import { createHash } from 'node:crypto';
import { ActorRuntime, type ActorHandle } from './runtime.js';
import type { RoomMsg } from './messages.js';
import { RoomLogic, type RoomDeps, type RoomEntry, type RoomHot } from './room-actor.js';
import { ParkedEvents } from './missing-prev.js';
import { RoomServerError } from '../src/errors.js';
import { parkedEvents as parkedGauge } from '../src/metrics.js';

/** Actor names: a base64url hash of the room ID (nact's alphabet, fixed length). */
export function actorNameFor(roomId: string): string {
  return 'room-' + createHash('sha256').update(roomId).digest('base64url').slice(0, 22);
}

interface Slot {
  entry: RoomEntry;
  logic: RoomLogic;
  actor: ActorHandle<RoomMsg> | undefined;
}

export interface SupervisorOptions {
  /** idle time before a room actor passivates (ms) */
  idleMs: number;
}

export class Supervisor {
  private readonly runtime = new ActorRuntime();
  private readonly slots = new Map<string, Slot>();
  private closed = false;
  private readonly deps: RoomDeps;

  constructor(
    deps: Omit<RoomDeps, 'dispatch'>,
    private readonly opts: SupervisorOptions,
  ) {
    this.deps = { ...deps, dispatch: (roomId, msg) => this.dispatch(roomId, msg) };
  }

  /** Number of live (not passivated) room actors. */
  get liveActors(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.actor?.isAlive()) n++;
    return n;
  }

  get roomsTracked(): number {
    return this.slots.size;
  }

  private slot(roomId: string): Slot {
    let s = this.slots.get(roomId);
    if (!s) {
      const entry: RoomEntry = {
        roomId,
        parked: new ParkedEvents(this.deps.park, () => this.dispatch(roomId, { op: 'retry' }), (d) => this.parkedDelta(d)),
      };
      s = { entry, logic: new RoomLogic(this.deps, entry), actor: undefined };
      this.slots.set(roomId, s);
    }
    return s;
  }

  private spawn(roomId: string, s: Slot): ActorHandle<RoomMsg> {
    const actor = this.runtime.spawn<RoomHot, RoomMsg>(actorNameFor(roomId), (state, msg) => s.logic.handle(state, msg), {
      idleMs: this.opts.idleMs,
      onError: (err, msg) => {
        this.deps.log.error({ err, roomId }, 'room actor failed; restarting from storage');
        const m = msg as RoomMsg;
        if ('reply' in m) {
          m.reply.reject(err instanceof RoomServerError ? err : new RoomServerError('M_UNKNOWN', `internal error: ${(err as Error)?.message ?? String(err)}`));
        }
      },
      afterStop: () => {
        const cur = this.slots.get(roomId);
        if (cur === s && s.actor === actor) {
          s.actor = undefined;
          if (s.entry.parked.size === 0) this.slots.delete(roomId);
        }
      },
    });
    s.actor = actor;
    return actor;
  }

  dispatch(roomId: string, msg: RoomMsg): void {
    if (this.closed) {
      if ('reply' in msg) msg.reply.reject(new RoomServerError('M_LIMIT_EXCEEDED', 'the server is shutting down'));
      return;
    }
    const s = this.slot(roomId);
    if (s.actor && s.actor.send(msg)) return;
    // never spawned, or passivated (nact drops messages to stopped actors)
    this.spawn(roomId, s).send(msg);
  }

  /** Parked events across all rooms (kept as a running count: no walk over the rooms). */
  parkedCount(): number {
    return this.parked;
  }

  private parked = 0;

  private parkedDelta(d: number): void {
    this.parked += d;
    parkedGauge.set(this.parked);
  }

  /** Stops taking messages; parked inputs fail; waits for mailboxes to drain. */
  async close(drain: () => Promise<void>): Promise<void> {
    await drain();
    this.closed = true;
    for (const s of this.slots.values()) s.entry.parked.drain('shutting_down');
    this.runtime.stop();
    this.slots.clear();
  }
}
