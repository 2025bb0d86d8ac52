/**
 * A small typed layer over nact so the rest of the code never meets its
 * quirks:
 * - handlers are `(state, msg) => Promise<state>`; a handler's return value
 *   becomes the new state (nact's rule, kept), and `undefined` means "not
 *   loaded" so the next message reloads from storage;
 * - a handler that throws does not kill the actor: the error goes to
 *   `onError` (which fails that message's caller) and the state is dropped,
 *   so the actor restarts from storage with its mailbox intact;
 * - idle passivation is ours, not nact's `shutdownAfter`: nact arms a new
 *   timer after every message it delivers, an object that lives until the
 *   next message and so, in a room that is busy now and then, always
 *   outlives the young generation of the heap. Instead each actor notes
 *   the runtime's clock when its mailbox empties, and one unreferenced
 *   sweep timer stops the actors idle for longer than their `idleMs`
 *   (checked every quarter of the shortest `idleMs`, at most every second:
 *   an actor stops between `idleMs` and about 1.5 x `idleMs` after its last
 *   message). nact silently drops messages dispatched to a stopped actor,
 *   so `send` checks liveness first and reports `false` (the caller
 *   respawns);
 * - stopping the system does not stop its actors in nact (their idle
 *   timers would keep the process alive), so `stop` stops each one;
 * - actor names are checked against nact's allowed alphabet;
 * - messages wait in the handle's own queue, and one nact message drains
 *   it: nact spends an event loop turn, a context object and idle timer
 *   updates on every message it delivers, which a busy room would pay per
 *   event. Order is kept (one drain at a time, first in first out), and
 *   the actor is busy in nact's eyes while it drains, so it never idles
 *   out with messages waiting.
 */
import nact from 'nact';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// nact keeps its registry of systems here; it is how nact itself finds a
// live actor, and the only way to tell a stopped one from a live one.
const systemMap = require('nact/lib/system-map.js') as { find(systemName: string, ref: unknown): unknown };

const NAME_RE = /^[a-z0-9-$_.+!*'(),]+$/i;

// nact's typings do not match its runtime shape closely enough to be useful
// here (Ref generics, missing exports); we type our side and keep nact's
// values opaque.
type NactRef = { system: { name: string } };

export interface ActorOptions<S> {
  /** Stop the actor after this long without messages (ms); 0 = never. */
  idleMs?: number;
  /** Called when a handler throws; the message's caller should be failed. */
  onError?: (err: unknown, msg: unknown) => void;
  /** Called after the actor stopped (idle or explicit), with its last state. */
  afterStop?: (state: S | undefined) => void;
}

export interface ActorHandle<M> {
  readonly name: string;
  /** Queue a message; false when the actor has stopped (nothing was queued). */
  send(msg: M): boolean;
  stop(): void;
  isAlive(): boolean;
}

export type Handler<S, M> = (state: S | undefined, msg: M) => Promise<S | undefined>;

/** An actor's mailbox state; in the sweep's set when it has an idle timeout. */
interface IdleEntry {
  readonly ref: NactRef;
  /** 0: never idles out */
  readonly idleMs: number;
  /** the runtime's clock when its mailbox last emptied */
  last: number;
  /** a drain is dispatched or running (never idle meanwhile) */
  draining: boolean;
}

/**
 * The sender given with every dispatch: left out, nact makes a new
 * placeholder object per message, which the message's context then keeps.
 */
const NO_SENDER = Object.freeze({});
/** nact's dispatch with its third argument, the sender (its typings leave it out). */
const dispatch = nact.dispatch as unknown as (ref: NactRef, msg: unknown, sender: unknown) => void;

/** Bounds of the sweep interval (ms). */
const SWEEP_MIN_MS = 5;
const SWEEP_MAX_MS = 1000;

export class ActorRuntime {
  private readonly system: NactRef;
  private stopped = false;
  private readonly live = new Set<NactRef>();
  /** live actors with an idle timeout */
  private readonly idle = new Set<IdleEntry>();
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private sweepEvery = Infinity;
  /**
   * Milliseconds since the runtime started, as of the last sweep (or
   * spawn). Actors read it rather than the time itself: an integer that
   * changes only per sweep is stored without allocating.
   */
  private clock = 0;
  private readonly t0 = performance.now();

  constructor() {
    this.system = nact.start() as unknown as NactRef;
  }

  private now(): number {
    return Math.floor(performance.now() - this.t0);
  }

  /** Starts (or tightens) the sweep for an actor idle after `idleMs`. */
  private watch(e: IdleEntry): void {
    this.idle.add(e);
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(e.idleMs / 4)));
    if (every >= this.sweepEvery && this.sweepTimer !== undefined) return;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepEvery = every;
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  /**
   * Stops the actors idle past their timeout. `last` lags the true time of
   * the last message by up to one sweep interval, hence the slack.
   */
  private sweep(): void {
    const now = (this.clock = this.now());
    const slack = this.sweepEvery;
    for (const e of this.idle) {
      if (!e.draining && now - e.last >= e.idleMs + slack) {
        this.idle.delete(e);
        nact.stop(e.ref as never);
      }
    }
    if (this.idle.size === 0 && this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
      this.sweepEvery = Infinity;
    }
  }

  spawn<S, M>(name: string, handler: Handler<S, M>, opts: ActorOptions<S> = {}): ActorHandle<M> {
    if (this.stopped) throw new Error('actor runtime stopped');
    if (!NAME_RE.test(name)) throw new Error(`invalid actor name ${JSON.stringify(name)}`);
    const onError = opts.onError;
    const queue: M[] = [];
    let head = 0;
    const DRAIN = {};
    const wrapped = async (state: S | undefined): Promise<S | undefined> => {
      try {
        while (head < queue.length) {
          const msg = queue[head]!;
          queue[head++] = undefined as M; // let it go as soon as it is handled
          if (head >= 1024 && head * 2 >= queue.length) {
            queue.splice(0, head);
            head = 0;
          }
          try {
            state = await handler(state, msg);
          } catch (err) {
            onError?.(err, msg);
            state = undefined;
          }
        }
      } finally {
        if (head < queue.length) {
          // only a throw from onError itself ends the loop early: drain the rest in a new turn
          dispatch(ref, DRAIN, NO_SENDER);
        } else {
          queue.length = 0;
          head = 0;
          entry.draining = false;
          entry.last = this.clock;
        }
      }
      return state;
    };
    const props: Record<string, unknown> = {
      initialState: undefined,
      // A throw escaping `wrapped` would be a bug in onError itself; keep
      // the actor and its mailbox alive rather than stopping it.
      onCrash: (_msg: unknown, _err: unknown, ctx: { reset: symbol }) => ctx.reset,
      afterStop: (state: S | undefined) => {
        this.live.delete(ref);
        this.idle.delete(entry);
        opts.afterStop?.(state);
      },
    };
    const ref = (nact.spawn as unknown as (p: unknown, f: unknown, n: string, pr: unknown) => NactRef)(
      this.system,
      wrapped,
      name,
      props,
    );
    this.live.add(ref);
    const entry: IdleEntry = { ref, idleMs: opts.idleMs && opts.idleMs > 0 ? opts.idleMs : 0, last: 0, draining: false };
    if (entry.idleMs > 0) {
      entry.last = this.clock = this.now();
      this.watch(entry);
    }
    const isAlive = () => !!systemMap.find(ref.system.name, ref);
    return {
      name,
      isAlive,
      send: (msg: M) => {
        if (!isAlive()) return false;
        queue.push(msg);
        if (!entry.draining) {
          entry.draining = true;
          dispatch(ref, DRAIN, NO_SENDER);
        }
        return true;
      },
      stop: () => {
        this.idle.delete(entry);
        nact.stop(ref as never);
      },
    };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.idle.clear();
    for (const ref of this.live) nact.stop(ref as never);
    this.live.clear();
    nact.stop(this.system as never);
  }
}
