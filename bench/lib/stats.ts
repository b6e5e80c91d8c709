/** Small statistics and formatting helpers for the benchmark reports. */

/** The q-quantile (0..1) by linear interpolation between closest ranks; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** A number with `digits` decimals, or "n/a" for NaN/undefined. */
export function fmt(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toFixed(digits);
}

/** A Markdown table; cells are used as given. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** "met" or "missed by X" for a value that must stay at or below a limit. */
export function verdictAtMost(value: number, limit: number, unit: string, digits = 2): string {
  if (!Number.isFinite(value)) return 'not measured';
  if (value <= limit) return `met (${fmt(value, digits)}${unit} ≤ ${fmt(limit, digits)}${unit})`;
  const over = value - limit;
  const pct = limit > 0 ? ` = ${fmt((over / limit) * 100, 0)}% over` : '';
  return `**missed** by ${fmt(over, digits)}${unit}${pct} (${fmt(value, digits)}${unit} > ${fmt(limit, digits)}${unit})`;
}

/** "met" or "missed by X" for a value that must stay strictly below a limit. */
export function verdictBelow(value: number, limit: number, unit: string, digits = 2): string {
  if (!Number.isFinite(value)) return 'not measured';
  if (value < limit) return `met (${fmt(value, digits)}${unit} < ${fmt(limit, digits)}${unit})`;
  const over = value - limit;
  const pct = limit > 0 ? ` = ${fmt((over / limit) * 100, 0)}% over` : '';
  return `**missed** by ${fmt(over, digits)}${unit}${pct} (${fmt(value, digits)}${unit} ≥ ${fmt(limit, digits)}${unit})`;
}

/** Math.max without spreading a huge array onto the stack; NaN when empty. */
export function maxOf(values: readonly number[]): number {
  let max = Number.NaN;
  for (const v of values) if (!(v <= max)) max = v;
  return max;
}
