/**
 * A subscription as the client sees it: an async iterator over outputs (or
 * a callback), that survives reconnects. The client subscribes again from
 * the last position delivered, and drops any output at or below it, so the
 * consumer sees every output of its filter exactly once and in order.
 *
 * Outputs not yet taken by the consumer are buffered here; when a buffer
 * passes its bound the client stops reading the socket, which stops the
 * gateway pulling outputs for this connection (its flow control), and
 * reading resumes once the consumer has caught up.
 */
import type { Output, OutputType } from '../api.js';
import type { RoomServerError } from '../errors.js';

export interface ClientSubscribeOptions {
  rooms?: string[];
  types?: OutputType[];
  /** exclusive; omit = from now; 0 replays the whole log */
  from?: number;
}

/** What the subscription needs from its client. */
export interface SubscriptionOwner {
  unsubscribe(sub: ClientSubscription): Promise<void>;
  /** outputs one subscription may buffer before the owner stops reading */
  readonly subscriptionBuffer: number;
  bufferChanged(): void;
}

export class ClientSubscription implements AsyncIterable<Output> {
  /** the id of the first server subscription (stable across reconnects) */
  readonly id: string;
  /** the log head when the subscription first started */
  readonly head: number;
  readonly filter: { rooms?: string[]; types?: OutputType[] };
  /** the server's id for the current connection */
  serverId: string;
  #lastPos: number;
  #buffer: Output[] = [];
  #waiter: { resolve: (r: IteratorResult<Output>) => void; reject: (e: unknown) => void } | undefined;
  #ended = false;
  #error: RoomServerError | undefined;
  #owner: SubscriptionOwner;
  #onOutput: ((o: Output) => void) | undefined;
  #delivered = 0;

  constructor(owner: SubscriptionOwner, serverId: string, head: number, opts: ClientSubscribeOptions, onOutput?: (o: Output) => void) {
    this.#owner = owner;
    this.id = serverId;
    this.serverId = serverId;
    this.head = head;
    const filter: { rooms?: string[]; types?: OutputType[] } = {};
    if (opts.rooms) filter.rooms = [...opts.rooms];
    if (opts.types) filter.types = [...opts.types];
    this.filter = filter;
    this.#lastPos = opts.from ?? head;
    this.#onOutput = onOutput;
  }

  /** The last position delivered (or the start position before any). */
  get lastPos(): number {
    return this.#lastPos;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Outputs received and not yet taken by the consumer. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Outputs delivered so far (each position once). */
  get delivered(): number {
    return this.#delivered;
  }

  /** The request that resumes this subscription on a new connection. */
  resumeParams(): Record<string, unknown> {
    return { ...this.filter, from: this.#lastPos };
  }

  /** Called by the client for each output frame of this subscription. */
  deliver(o: Output): void {
    if (this.#ended || o.pos <= this.#lastPos) return; // already seen (resent after a reconnect)
    this.#lastPos = o.pos;
    this.#delivered++;
    if (this.#onOutput) {
      this.#onOutput(o);
      return;
    }
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: o, done: false });
      return;
    }
    this.#buffer.push(o);
    if (this.#buffer.length >= this.#owner.subscriptionBuffer) this.#owner.bufferChanged();
  }

  /** Ends the iterator: normally (error undefined) or with an error after buffered outputs. */
  end(error?: RoomServerError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (this.#waiter && this.#buffer.length === 0) {
      const w = this.#waiter;
      this.#waiter = undefined;
      if (error) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  /** Stops the subscription on the server and ends the iterator. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.end();
    this.#buffer = [];
    this.#owner.bufferChanged();
    await this.#owner.unsubscribe(this);
  }

  next(): Promise<IteratorResult<Output>> {
    const o = this.#buffer.shift();
    if (o !== undefined) {
      const n = this.#buffer.length;
      if (n === 0 || n === Math.floor(this.#owner.subscriptionBuffer / 2)) this.#owner.bufferChanged();
      return Promise.resolve({ value: o, done: false });
    }
    if (this.#ended) {
      if (this.#error) {
        const e = this.#error;
        this.#error = undefined;
        return Promise.reject(e);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter) return Promise.reject(new Error('ClientSubscription: next() called while another next() is pending'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Output> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
