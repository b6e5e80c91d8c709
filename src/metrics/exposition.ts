/**
 * The Prometheus text exposition format (version 0.0.4), the one owner of its escaping
 * and number formatting. The per-mailbox and per-server series are written with these
 * directly: prom-client formats every sample through generic objects, which for tens of
 * thousands of mailboxes took seconds of the event loop (docs/BENCHMARKS.md).
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `a="x",b="y"` in the order given, values escaped; '' for no labels. */
export function labelText(labels: Labels): string {
  let text = '';
  for (const key of Object.keys(labels)) {
    text += `${text === '' ? '' : ','}${key}="${escapeLabelValue(String(labels[key]))}"`;
  }
  return text;
}

/** Joins pre-rendered label texts, skipping empty ones. */
export function joinLabels(...texts: string[]): string {
  let out = '';
  for (const t of texts) if (t !== '') out = out === '' ? t : `${out},${t}`;
  return out;
}

/** A sample value as Prometheus writes it: integers plain, +Inf / -Inf / NaN spelled out. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** One sample line, newline included. */
export function sampleLine(name: string, labels: string, value: number): string {
  return labels === ''
    ? `${name} ${formatValue(value)}\n`
    : `${name}{${labels}} ${formatValue(value)}\n`;
}

export type MetricType = 'gauge' | 'counter' | 'histogram';

/** The HELP and TYPE lines that open a family. */
export function familyHeader(name: string, help: string, type: MetricType): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}
