/**
 * A small typed layer over nact so the rest of the code never meets its
 * quirks:
 * - handlers are `(state, msg) => Promise<state>`; a handler's return value
 *   becomes the new state (nact's rule, kept), and `undefined` means "not
 *   loaded" so the next message reloads from storage;
 * - a handler that throws does not kill the actor: the error goes to
 *   `onError` (which fails that message's caller) and the state is dropped,
 *   so the actor restarts from storage with its mailbox intact;
 * - idle passivation uses nact's `shutdownAfter`; nact silently drops
 *   messages dispatched to a stopped actor, so `send` checks liveness first
 *   and reports `false` (the caller respawns);
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

export class ActorRuntime {
  private readonly system: NactRef;
  private stopped = false;
  private readonly live = new Set<NactRef>();

  constructor() {
    this.system = nact.start() as unknown as NactRef;
  }

  spawn<S, M>(name: string, handler: Handler<S, M>, opts: ActorOptions<S> = {}): ActorHandle<M> {
    if (this.stopped) throw new Error('actor runtime stopped');
    if (!NAME_RE.test(name)) throw new Error(`invalid actor name ${JSON.stringify(name)}`);
    const onError = opts.onError;
    const queue: M[] = [];
    let head = 0;
    let draining = false;
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
          nact.dispatch(ref as never, DRAIN as never);
        } else {
          queue.length = 0;
          head = 0;
          draining = false;
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
        opts.afterStop?.(state);
      },
    };
    if (opts.idleMs && opts.idleMs > 0) props.shutdownAfter = opts.idleMs;
    const ref = (nact.spawn as unknown as (p: unknown, f: unknown, n: string, pr: unknown) => NactRef)(
      this.system,
      wrapped,
      name,
      props,
    );
    this.live.add(ref);
    const isAlive = () => !!systemMap.find(ref.system.name, ref);
    return {
      name,
      isAlive,
      send: (msg: M) => {
        if (!isAlive()) return false;
        queue.push(msg);
        if (!draining) {
          draining = true;
          nact.dispatch(ref as never, DRAIN as never);
        }
        return true;
      },
      stop: () => nact.stop(ref as never),
    };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const ref of this.live) nact.stop(ref as never);
    this.live.clear();
    nact.stop(this.system as never);
  }
}
