/**
 * One output subscription on one connection, with flow control: the pump
 * pulls the next output from the RoomServer's subscription only while the
 * socket's buffered bytes are below the high-water mark, and otherwise
 * waits until what was written has been flushed to the kernel. The
 * RoomServer's subscription reads from the stored log when its consumer is
 * behind, so a slow client costs a log cursor, not memory, and catches up
 * from the log once it reads again; other subscribers never wait for it.
 *
 * Pushed frames: `{"op":"output","subscription","pos","type",...}`. When the
 * RoomServer ends a subscription on its own (it is closing, or reading the
 * log failed) the client gets `{"op":"subscription_closed","subscription",
 * "last_pos","error"?}` so it can subscribe again from `last_pos`.
 */
import type { Output, Subscription } from '../api.js';
import type { Logger } from '../log.js';
import { subscriberLag, subscriptions as subscriptionsGauge, addSubscriberLagSource } from '../metrics.js';
import { RoomServerError } from '../errors.js';
import type { FrameKind } from './codec.js';
import { eventTextOf } from '../output-text.js';

/** The connection side a pump writes to. */
export interface OutputSink {
  readonly open: boolean;
  bufferedAmount(): number;
  /** Resolves once everything written so far has been flushed (or the socket closed). */
  waitFlushed(): Promise<void>;
  sendFrame(obj: object, kind: FrameKind): boolean;
  /** Writes a frame already encoded for its kind. */
  sendEncoded(data: string | Buffer, kind: FrameKind): void;
}

/** `,"key":` for an output's member (the handful of keys outputs have, cached). */
const PREFIXES = new Map<string, string>();
function memberPrefix(k: string): string {
  let p = PREFIXES.get(k);
  if (p === undefined) {
    p = ',' + JSON.stringify(k) + ':';
    if (PREFIXES.size < 64) PREFIXES.set(k, p);
  }
  return p;
}

export class SubscriptionPump {
  readonly id: string;
  readonly head: number;
  #sub: Subscription;
  #kind: FrameKind;
  #sink: OutputSink;
  #highWaterMark: number;
  #headNow: () => number;
  #log: Logger;
  #closed = false;
  #lastPos: number;
  #removeLag: () => void;
  /** `{"op":"output","subscription":"<id>"`: how every text frame of this pump starts */
  #frameHead: string;
  #done: Promise<void> | undefined;
  /** Called once when the pump stops, for whatever reason. */
  onEnd: (() => void) | undefined;

  constructor(sub: Subscription, kind: FrameKind, sink: OutputSink, highWaterMark: number, headNow: () => number, log: Logger) {
    this.#sub = sub;
    this.id = sub.id;
    this.head = sub.head;
    this.#kind = kind;
    this.#sink = sink;
    this.#highWaterMark = highWaterMark;
    this.#headNow = headNow;
    this.#log = log;
    this.#lastPos = sub.head;
    this.#frameHead = '{"op":"output","subscription":' + JSON.stringify(sub.id);
    subscriptionsGauge.inc();
    this.#removeLag = addSubscriberLagSource(() => Math.max(0, this.#headNow() - this.#lastPos));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts pushing; call after the subscribe reply has been written. */
  start(): Promise<void> {
    this.#done ??= this.#run();
    return this.#done;
  }

  /** Stops the pump: no output frame is written after this returns. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#sub.close();
    } catch (err) {
      this.#log.warn({ err, subscription: this.id }, 'closing a subscription failed');
    }
  }

  async #run(): Promise<void> {
    const it = this.#sub[Symbol.asyncIterator]();
    let failure: unknown;
    try {
      for (;;) {
        if (this.#closed || !this.#sink.open) break;
        if (this.#sink.bufferedAmount() >= this.#highWaterMark) {
          await this.#sink.waitFlushed();
          continue;
        }
        const r = await it.next();
        if (r.done || this.#closed || !this.#sink.open) break;
        this.#push(r.value);
      }
    } catch (err) {
      failure = err;
    } finally {
      const endedByServer = !this.#closed;
      this.close();
      this.#removeLag();
      subscriptionsGauge.dec();
      if (endedByServer && this.#sink.open) {
        const frame: Record<string, unknown> = { op: 'subscription_closed', subscription: this.id, last_pos: this.#lastPos };
        if (failure !== undefined) {
          this.#log.error({ err: failure, subscription: this.id }, 'subscription failed');
          frame.error = failure instanceof RoomServerError ? { code: failure.code, message: failure.message } : { code: 'M_UNKNOWN', message: 'subscription failed' };
        }
        this.#sink.sendFrame(frame, this.#kind);
      }
      this.onEnd?.();
      // release the iterator if it is still open (never throws into us)
      void Promise.resolve(it.return?.()).catch(() => undefined);
    }
  }

  #push(o: Output): void {
    this.#lastPos = o.pos;
    const text = this.#kind === 'text' ? eventTextOf(o) : undefined;
    if (text !== undefined) {
      // The event's canonical text goes in as it is: only the small rest of
      // the frame is encoded, member by member (no copies of the output).
      let frame = this.#frameHead;
      const fields = o as unknown as Record<string, unknown>;
      for (const k in fields) {
        if (k === 'event') continue;
        const v = fields[k];
        if (v !== undefined) frame += memberPrefix(k) + JSON.stringify(v);
      }
      this.#sink.sendEncoded(frame + ',"event":' + text + '}', 'text');
    } else {
      this.#sink.sendFrame({ op: 'output', subscription: this.id, ...o }, this.#kind);
    }
    subscriberLag.observe(Math.max(0, this.#headNow() - o.pos));
  }
}
