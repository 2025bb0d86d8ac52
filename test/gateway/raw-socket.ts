/**
 * A bare WebSocket for protocol tests: sends exact bytes and hands back
 * every frame the server sends, decoded, with its frame kind.
 */
import WebSocket from 'ws';
import { Packr, Unpackr } from 'msgpackr';

export const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export interface Frame {
  binary: boolean;
  msg: Record<string, unknown>;
  /** the frame as received: UTF-8 text of a text frame, undefined for binary */
  text?: string;
}

export class RawSocket {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  #waiters: Array<() => void> = [];
  closeCode: number | undefined;
  #closed: Promise<number>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      const text = isBinary ? undefined : buf.toString('utf8');
      const msg = (text === undefined ? unpackr.unpack(buf) : JSON.parse(text)) as Record<string, unknown>;
      this.frames.push(text === undefined ? { binary: true, msg } : { binary: false, msg, text });
      for (const w of this.#waiters.splice(0)) w();
    });
    this.#closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        for (const w of this.#waiters.splice(0)) w();
        resolve(code);
      }),
    );
    ws.on('error', () => undefined);
  }

  static open(url: string, opts: WebSocket.ClientOptions = {}): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
      ws.once('open', () => resolve(new RawSocket(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  closed(): Promise<number> {
    return this.#closed;
  }

  sendJson(obj: unknown): void {
    this.ws.send(JSON.stringify(obj));
  }

  sendPack(obj: unknown): void {
    this.ws.send(packr.pack(obj), { binary: true });
  }

  sendText(s: string | Buffer): void {
    this.ws.send(s, { binary: false });
  }

  sendBinary(b: Buffer): void {
    this.ws.send(b, { binary: true });
  }

  /** Waits for the next frame matching pred (frames before it stay queued). */
  async take(pred: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (!this.open && this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) while waiting for a frame`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; have ${JSON.stringify(this.frames.slice(0, 3))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The reply to request `id`. */
  reply(id: unknown, timeoutMs = 5000): Promise<Record<string, unknown>> {
    return this.take((f) => f.msg.id === id && f.msg.op === undefined, timeoutMs).then((f) => f.msg);
  }

  /** Sends a JSON request and returns its reply. */
  async call(obj: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.sendJson(obj);
    return this.reply(obj.id);
  }

  close(): void {
    this.ws.close();
  }
}

export function errorCode(reply: Record<string, unknown>): string | undefined {
  return (reply.error as { code?: string } | undefined)?.code;
}
