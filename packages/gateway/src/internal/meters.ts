/** Small measuring helpers for per-stream metrics. Times in ms from a monotonic clock. */

/** Counts events per one-second bucket; `rate` is the last complete second. */
export class RateMeter {
  private bucket = -1;
  private current = 0;
  private previous = 0;

  add(n: number, nowMs: number): void {
    this.roll(nowMs);
    this.current += n;
  }

  /** Events (or bytes) in the last complete second. */
  rate(nowMs: number): number {
    this.roll(nowMs);
    return this.previous;
  }

  private roll(nowMs: number): void {
    const b = Math.floor(nowMs / 1000);
    if (b === this.bucket) return;
    this.previous = b === this.bucket + 1 ? this.current : 0;
    this.current = 0;
    this.bucket = b;
  }
}

/** Keeps the last `capacity` samples and answers percentiles over them. */
export class SampleWindow {
  private readonly values: number[] = [];
  private next = 0;
  private total = 0;

  constructor(private readonly capacity = 512) {}

  add(v: number): void {
    if (this.values.length < this.capacity) this.values.push(v);
    else this.values[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
    this.total++;
  }

  /** Number of samples ever added. */
  get count(): number {
    return this.total;
  }

  /** The most recent sample. */
  get last(): number | undefined {
    if (this.values.length === 0) return undefined;
    return this.values[(this.next - 1 + this.values.length) % this.values.length];
  }

  /** The p-th percentile (0..100) of the kept samples, nearest-rank. */
  percentile(p: number): number | undefined {
    if (this.values.length === 0) return undefined;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
  }
}
