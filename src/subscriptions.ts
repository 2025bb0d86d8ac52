/**
 * Output subscriptions. Every committed output is published here in
 * position order. A subscription that keeps up is fed live from a small
 * buffer; one that falls behind (its buffer fills because the consumer
 * stopped pulling) stops buffering and later reads what it missed from the
 * stored log, so a slow reader never holds memory for others and never
 * loses an output. Consumers pull with the async iterator (or get a
 * callback driven by it).
 */
import type { Output, OutputType, Subscription, SubscribeOptions } from './api.js';

/** Reads the stored output log. */
export interface OutputLog {
  /** outputs with pos > after, in order, at most `limit`, only for these rooms when given */
  read(after: number, limit: number, rooms?: ReadonlySet<string>): Promise<Output[]>;
  head(): number;
}

const LIVE_BUFFER = 1024;
const READ_BATCH = 512;

let nextId = 1;

class Sub implements Subscription {
  readonly id: string;
  readonly head: number;
  /** position of the last output handed to the consumer (or skipped by the filter) */
  private cursor: number;
  /** highest position accounted for: handed out, buffered, or skipped */
  private seenUpTo: number;
  private buffer: Output[] = [];
  /** true while outputs must come from the stored log rather than live */
  private behind: boolean;
  private closed = false;
  private waiting: ((r: IteratorResult<Output>) => void) | undefined;
  private readonly rooms: ReadonlySet<string> | undefined;
  private readonly types: ReadonlySet<OutputType> | undefined;

  constructor(
    private readonly hub: SubscriptionHub,
    opts: SubscribeOptions,
  ) {
    this.id = `s${nextId++}`;
    this.head = hub.lastPublished;
    const from = opts.from ?? this.head;
    this.cursor = this.seenUpTo = Number.isInteger(from) && from > 0 ? from : 0;
    this.rooms = opts.rooms ? new Set(opts.rooms) : undefined;
    this.types = opts.types ? new Set(opts.types) : undefined;
    // Resuming from an older position starts by reading the log.
    this.behind = this.cursor < hub.lastPublished;
  }

  get position(): number {
    return this.cursor;
  }

  private matches(o: Output): boolean {
    return (!this.rooms || this.rooms.has(o.room_id)) && (!this.types || this.types.has(o.type));
  }

  /** Called by the hub for each published (committed) output, in order. */
  offer(o: Output): void {
    if (this.closed || this.behind || o.pos <= this.seenUpTo) return;
    if (!this.matches(o)) {
      this.seenUpTo = o.pos;
      if (this.buffer.length === 0) this.cursor = o.pos;
      return;
    }
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      this.cursor = this.seenUpTo = o.pos;
      w({ value: o, done: false });
      return;
    }
    if (this.buffer.length >= LIVE_BUFFER) {
      this.behind = true; // read the rest from the log once the consumer catches up
      return;
    }
    this.buffer.push(o);
    this.seenUpTo = o.pos;
  }

  /** Reads from the log until something is buffered or we are live again. */
  private async fill(): Promise<void> {
    while (!this.closed && this.behind && this.buffer.length === 0) {
      const publishedBefore = this.hub.lastPublished;
      const batch = await this.hub.log.read(this.seenUpTo, READ_BATCH, this.rooms);
      for (const o of batch) {
        if (o.pos <= this.seenUpTo) continue;
        this.seenUpTo = o.pos;
        if (!this.types || this.types.has(o.type)) this.buffer.push(o);
      }
      if (batch.length < READ_BATCH) {
        // Everything published before the read began was committed, so the
        // read saw it: nothing for us up to there remains.
        if (publishedBefore > this.seenUpTo) this.seenUpTo = publishedBefore;
        if (this.hub.lastPublished === publishedBefore) this.behind = false;
      }
      if (this.buffer.length === 0) this.cursor = this.seenUpTo;
    }
  }

  async next(): Promise<IteratorResult<Output>> {
    for (;;) {
      if (this.closed) return { value: undefined, done: true };
      const o = this.buffer.shift();
      if (o) {
        this.cursor = this.buffer.length ? o.pos : this.seenUpTo;
        return { value: o, done: false };
      }
      if (this.behind) {
        await this.fill();
        continue;
      }
      return new Promise<IteratorResult<Output>>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Output> {
    return { next: () => this.next(), return: async () => (this.close(), { value: undefined, done: true }) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.remove(this);
    const w = this.waiting;
    this.waiting = undefined;
    w?.({ value: undefined, done: true });
  }
}

export class SubscriptionHub {
  private readonly subs = new Set<Sub>();
  /** The position of the last published output. */
  lastPublished: number;

  constructor(readonly log: OutputLog) {
    this.lastPublished = log.head();
  }

  subscribe(opts: SubscribeOptions, onOutput?: (o: Output) => void): Subscription {
    const sub = new Sub(this, opts);
    this.subs.add(sub);
    if (onOutput) {
      void (async () => {
        for await (const o of sub) onOutput(o);
      })();
    }
    return sub;
  }

  /** Outputs must be committed and given in position order. */
  publish(outputs: readonly Output[]): void {
    for (const o of outputs) {
      if (o.pos > this.lastPublished) this.lastPublished = o.pos;
      for (const s of this.subs) s.offer(o);
    }
  }

  remove(s: Sub): void {
    this.subs.delete(s);
  }

  get size(): number {
    return this.subs.size;
  }

  closeAll(): void {
    for (const s of [...this.subs]) s.close();
  }
}
