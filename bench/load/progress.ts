/**
 * A one-line live progress bar (done/total, rate, ETA) redrawn a few times
 * a second on a terminal; silent when the stream is not a terminal (CI
 * logs, pipes) unless forced on.
 */

export interface ProgressStream {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export class Progress {
  private label = '';
  private total = 0;
  private done = 0;
  private started = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly enabled: boolean;

  constructor(
    private readonly stream: ProgressStream,
    force?: boolean,
    private readonly intervalMs = 200,
  ) {
    this.enabled = force ?? stream.isTTY === true;
  }

  start(label: string, total: number): void {
    this.stop();
    this.label = label;
    this.total = total;
    this.done = 0;
    this.started = performance.now();
    if (!this.enabled) return;
    this.draw();
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    this.timer.unref();
  }

  add(n = 1): void {
    this.done += n;
  }

  /** The current line (without control characters). */
  line(now = performance.now()): string {
    const secs = Math.max(1e-3, (now - this.started) / 1000);
    const rate = this.done / secs;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const fill = Math.round(frac * width);
    const bar = '#'.repeat(fill) + '.'.repeat(width - fill);
    const eta = rate > 0 && this.done < this.total ? `ETA ${formatSeconds((this.total - this.done) / rate)}` : `${formatSeconds(secs)}`;
    return `${this.label.padEnd(6)} [${bar}] ${this.done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')}  ${Math.round(rate).toLocaleString('en-US')}/s  ${eta}`;
  }

  private draw(): void {
    const cols = this.stream.columns ?? 100;
    this.stream.write(`\r\x1b[2K${this.line().slice(0, Math.max(20, cols - 1))}`);
  }

  /** Stops redrawing and clears the line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled && this.started !== 0) this.stream.write('\r\x1b[2K');
    this.started = 0;
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}
