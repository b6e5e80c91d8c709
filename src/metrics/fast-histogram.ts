/**
 * A histogram rendered straight to the text exposition format. prom-client formats
 * every sample through generic objects, which at ~200 lines per mailbox made /metrics
 * take seconds for 1,000 mailboxes (docs/BENCHMARKS.md); this keeps per series one
 * pre-escaped label string and an array of bucket counts, and renders with plain string
 * building. The output is what prom-client writes for a Histogram: `le` first, then the
 * labels in the order they were given.
 */
type Labels = Record<string, string>;

interface Series {
  labelText: string;
  counts: number[];
  sum: number;
  count: number;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  let text = '';
  for (const key of Object.keys(labels)) {
    text += `${text === '' ? '' : ','}${key}="${escapeLabelValue(String(labels[key]))}"`;
  }
  return text;
}

export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  readonly #le: string[];
  readonly #series = new Map<string, Series>();

  constructor(options: { name: string; help: string; buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.buckets = [...options.buckets].sort((a, b) => a - b);
    this.#le = this.buckets.map((b) => `le="${b}"`);
  }

  observe(labels: Labels, value: number): void {
    const text = labelText(labels);
    let series = this.#series.get(text);
    if (series === undefined) {
      series = {
        labelText: text,
        counts: new Array<number>(this.buckets.length).fill(0),
        sum: 0,
        count: 0,
      };
      this.#series.set(text, series);
    }
    const index = this.buckets.findIndex((bound) => value <= bound);
    if (index !== -1) series.counts[index] = (series.counts[index] ?? 0) + 1;
    series.sum += value;
    series.count += 1;
  }

  remove(labels: Labels): void {
    this.#series.delete(labelText(labels));
  }

  get seriesCount(): number {
    return this.#series.size;
  }

  /** The family in the text format (HELP, TYPE and every series), ending with a newline. */
  render(): string {
    const name = this.name;
    const parts: string[] = [
      `# HELP ${name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${name} histogram`,
    ];
    for (const series of this.#series.values()) {
      const rest = series.labelText === '' ? '' : `,${series.labelText}`;
      let cumulative = 0;
      for (let i = 0; i < this.#le.length; i++) {
        cumulative += series.counts[i] ?? 0;
        parts.push(`${name}_bucket{${this.#le[i]}${rest}} ${cumulative}`);
      }
      parts.push(`${name}_bucket{le="+Inf"${rest}} ${series.count}`);
      const braces = series.labelText === '' ? '' : `{${series.labelText}}`;
      parts.push(`${name}_sum${braces} ${series.sum}`);
      parts.push(`${name}_count${braces} ${series.count}`);
    }
    return `${parts.join('\n')}\n`;
  }
}
