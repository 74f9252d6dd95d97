/**
 * A small Prometheus text-format writer (exposition format 0.0.4): counters with labels, gauges and
 * histograms. The daemon exports few series; a dependency for this would be larger than the code.
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** One sample of a gauge or counter. */
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

/** A histogram's cumulative buckets (upper bound -> count), sum and count. */
export interface HistogramSnapshot {
  /** Upper bounds in ascending order with the cumulative count of observations <= bound. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  readonly sum: number;
  readonly count: number;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels | undefined, extra?: Labels): string {
  const all = { ...labels, ...extra };
  const keys = Object.keys(all);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(all[k] ?? '')}"`).join(',')}}`;
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** Builds one exposition document. */
export class PrometheusText {
  private readonly lines: string[] = [];

  /** A gauge or counter family. */
  family(name: string, type: 'gauge' | 'counter', help: string, samples: readonly Sample[]): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of samples) this.lines.push(`${name}${labelText(s.labels)} ${num(s.value)}`);
    return this;
  }

  /** A histogram family with one series. */
  histogram(name: string, help: string, h: HistogramSnapshot, labels?: Labels): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    let last = 0;
    for (const b of h.buckets) {
      this.lines.push(`${name}_bucket${labelText(labels, { le: num(b.le) })} ${b.count}`);
      last = b.count;
    }
    if (!h.buckets.some((b) => b.le === Infinity)) {
      this.lines.push(
        `${name}_bucket${labelText(labels, { le: '+Inf' })} ${Math.max(last, h.count)}`,
      );
    }
    this.lines.push(`${name}_sum${labelText(labels)} ${num(h.sum)}`);
    this.lines.push(`${name}_count${labelText(labels)} ${h.count}`);
    return this;
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** A counter keyed by label values, e.g. HTTP requests by route and status. */
export class LabeledCounter {
  private readonly counts = new Map<string, { labels: Labels; value: number }>();

  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels: Labels, by = 1): void {
    const key = JSON.stringify(labels);
    const c = this.counts.get(key);
    if (c) c.value += by;
    else this.counts.set(key, { labels, value: by });
  }

  samples(): Sample[] {
    return [...this.counts.values()].map((c) => ({ labels: c.labels, value: c.value }));
  }
}
