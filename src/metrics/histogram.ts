import { formatValue } from './exposition.js';

/**
 * Bucket bounds with their `le` values formatted once. Bounds are sorted; `+Inf` is
 * implied (its count is the observation count).
 */
export class Buckets {
  readonly bounds: readonly number[];
  readonly le: readonly string[];

  constructor(bounds: readonly number[]) {
    this.bounds = [...bounds].sort((a, b) => a - b);
    this.le = this.bounds.map((b) => formatValue(b));
  }
}

/** The counts of one histogram series: per bucket (not cumulative), sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly buckets: Buckets) {
    this.counts = new Float64Array(buckets.bounds.length);
  }

  observe(value: number): void {
    const bounds = this.buckets.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }

  /**
   * Its `_bucket` (cumulative, `le` last), `_sum` and `_count` lines. `labels` is the
   * pre-rendered label text of the series without `le`.
   */
  render(name: string, labels: string): string {
    const le = this.buckets.le;
    const prefix = labels === '' ? `${name}_bucket{le="` : `${name}_bucket{${labels},le="`;
    let out = '';
    let cumulative = 0;
    for (let i = 0; i < le.length; i++) {
      cumulative += this.counts[i] as number;
      out += `${prefix}${le[i]}"} ${cumulative}\n`;
    }
    out += `${prefix}+Inf"} ${this.count}\n`;
    const braces = labels === '' ? '' : `{${labels}}`;
    out += `${name}_sum${braces} ${formatValue(this.sum)}\n`;
    out += `${name}_count${braces} ${this.count}\n`;
    return out;
  }
}
