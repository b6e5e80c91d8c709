import { CodedError } from '../errors.js';

/**
 * PURE: the threshold ranges of the Monitoring Plugins development guidelines
 * ("Threshold and Ranges"): `[@]start:end`, where start defaults to 0, `~` is minus
 * infinity and an empty end is infinity. A value alerts when it lies outside the range,
 * or inside it with `@`:
 *
 *   10      alert if < 0 or > 10        10:     alert if < 10
 *   ~:10    alert if > 10               10:20   alert if < 10 or > 20
 *   @10:20  alert if >= 10 and <= 20
 *
 * Each number may carry a unit (`2h`, `500ms`, `10MiB`) that `units` turns into the
 * quantity's base unit; the range is shown back in base units, as perfdata wants it.
 */

export interface Range {
  start: number;
  end: number;
  /** `@`: alert inside the range instead of outside. */
  inside: boolean;
}

/** A threshold that is not a range of the guidelines' syntax. */
export class ThresholdError extends CodedError<'bad_range'> {
  constructor(message: string) {
    super('bad_range', message);
  }
}

/** Unit suffix → factor to the base unit; '' is the bare number. */
export type Units = Readonly<Record<string, number>>;

function parseNumber(text: string, units: Units, whole: string): number {
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([A-Za-z]*)$/.exec(text);
  const factor = m ? units[m[2] as string] : undefined;
  if (!m || factor === undefined) {
    const suffixes = Object.keys(units).filter((u) => u !== '');
    const allowed = suffixes.length > 0 ? ` (units: ${suffixes.join(', ')})` : '';
    throw new ThresholdError(`${JSON.stringify(whole)} is not a threshold range${allowed}`);
  }
  return Number(m[1]) * factor;
}

export function parseRange(text: string, units: Units = { '': 1 }): Range {
  let body = text.trim();
  const inside = body.startsWith('@');
  if (inside) body = body.slice(1);
  if (body === '') throw new ThresholdError(`${JSON.stringify(text)} is not a threshold range`);
  const colon = body.indexOf(':');
  let start = 0;
  let end = Number.POSITIVE_INFINITY;
  if (colon === -1) {
    end = parseNumber(body, units, text);
  } else {
    const head = body.slice(0, colon);
    const tail = body.slice(colon + 1);
    start = head === '~' ? Number.NEGATIVE_INFINITY : parseNumber(head, units, text);
    if (tail !== '') end = parseNumber(tail, units, text);
  }
  if (start > end) {
    throw new ThresholdError(
      `${JSON.stringify(text)}: the start of a range must not exceed its end`,
    );
  }
  return { start, end, inside };
}

/** Whether `value` raises the alert of `range`. */
export function rangeAlerts(range: Range, value: number): boolean {
  const within = value >= range.start && value <= range.end;
  return range.inside ? within : !within;
}

function shown(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/** The range in the guidelines' syntax, in base units: `10`, `10:`, `~:10`, `@10:20`. */
export function formatRange(range: Range): string {
  const at = range.inside ? '@' : '';
  const start = range.start === Number.NEGATIVE_INFINITY ? '~' : shown(range.start);
  if (range.end === Number.POSITIVE_INFINITY) return `${at}${start}:`;
  if (range.start === 0 && !range.inside) return shown(range.end);
  return `${at}${start}:${shown(range.end)}`;
}

/** Why it alerts, for the output line: `> 500`, `< 10`, `outside 10..20`, `within 10..20`. */
export function describeBreach(range: Range, value: number, unit = ''): string {
  if (range.inside) return `within ${shown(range.start)}${unit}..${shown(range.end)}${unit}`;
  if (value > range.end) return `> ${shown(range.end)}${unit}`;
  return `< ${shown(range.start)}${unit}`;
}
