/**
 * PURE: performance data as the Monitoring Plugins guidelines write it, after the `|` of a
 * plugin's first output line: `'label'=value[UOM];[warn];[crit];[min];[max]`, fields
 * separated by spaces, trailing empty fields left out.
 */

export interface PerfDatum {
  label: string;
  value: number;
  /** '' (a count), `s`, `B`, `%`, `c`. */
  uom: string;
  warn?: string;
  crit?: string;
  min?: number;
  max?: number;
}

/** A plain decimal (no exponent), to the microsecond for fractions. */
export function perfNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toFixed(6)));
}

/** Labels with anything but letters, digits, `_`, `-`, `.` and `/` are quoted; `'` doubled. */
function perfLabel(label: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(label) ? label : `'${label.replaceAll("'", "''")}'`;
}

export function formatPerfDatum(d: PerfDatum): string {
  const fields = [
    `${perfLabel(d.label)}=${perfNumber(d.value)}${d.uom}`,
    d.warn ?? '',
    d.crit ?? '',
    d.min === undefined ? '' : perfNumber(d.min),
    d.max === undefined ? '' : perfNumber(d.max),
  ];
  while (fields.length > 1 && fields.at(-1) === '') fields.pop();
  return fields.join(';');
}

export function formatPerfData(data: readonly PerfDatum[]): string {
  return data.map(formatPerfDatum).join(' ');
}
