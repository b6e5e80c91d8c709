import cron from 'node-cron';
import { SchedulerError } from './errors.js';

/*
 * A cron expression compiled for searching: node-cron parses it (cron.parse), this turns
 * the parsed fields into sorted lists and day tests.
 *
 * Day of month and day of week: when both are restricted (neither starts with `*` nor is
 * `?`), a day matches if EITHER matches, as in Vixie cron / POSIX crontab; otherwise both
 * must. (node-cron itself always requires both; we follow cron.)
 */

const CACHE_LIMIT = 512;

/** `(year, month 1-12, day 1-31, weekday 0-6 with 0 = Sunday, last day of the month)` */
export type DayTest = (
  year: number,
  month: number,
  day: number,
  weekday: number,
  lastDay: number,
) => boolean;

export interface CronFields {
  seconds: number[];
  minutes: number[];
  hours: number[];
  /** Indexed 1-12. */
  months: boolean[];
  dayOfMonth: DayTest;
  dayOfWeek: DayTest;
  /** Both day fields restricted: cron's OR rule applies. */
  eitherDay: boolean;
}

const compiled = new Map<string, CronFields>();

export function fieldsOf(expr: string): CronFields {
  let fields = compiled.get(expr);
  if (fields === undefined) {
    fields = compile(expr);
    if (compiled.size >= CACHE_LIMIT) compiled.clear();
    compiled.set(expr, fields);
  }
  return fields;
}

function invalid(expr: string, cause?: unknown): SchedulerError {
  return new SchedulerError(
    'invalid_schedule',
    `not a valid cron expression: ${JSON.stringify(expr)}`,
    {
      cause,
    },
  );
}

function compile(expr: string): CronFields {
  let parsed: ReturnType<typeof cron.parse>;
  try {
    parsed = cron.parse(expr);
  } catch (cause) {
    throw invalid(expr, cause);
  }
  const numbers = (values: (number | string)[]): number[] =>
    [...new Set(values.filter((v): v is number => typeof v === 'number'))].sort((a, b) => a - b);
  const months = new Array<boolean>(13).fill(false);
  for (const m of numbers(parsed.month)) months[m] = true;
  // Vixie cron's rule: a day field counts as unrestricted when it starts with `*`.
  const text = expr.trim();
  const raw = text.startsWith('@') ? [] : text.split(/\s+/);
  const [domRaw, dowRaw] = raw.length === 5 ? [raw[2], raw[4]] : [raw[3], raw[5]];
  const restricted = (f: string | undefined) => f !== undefined && !f.startsWith('*') && f !== '?';
  const fields: CronFields = {
    seconds: numbers(parsed.second),
    minutes: numbers(parsed.minute),
    hours: numbers(parsed.hour),
    months,
    dayOfMonth: dayOfMonthTest(expr, parsed.dayOfMonth),
    dayOfWeek: dayOfWeekTest(expr, parsed.dayOfWeek),
    eitherDay: restricted(domRaw) && restricted(dowRaw),
  };
  if (fields.seconds.length === 0 || fields.minutes.length === 0 || fields.hours.length === 0) {
    throw invalid(expr);
  }
  if (!months.includes(true)) throw invalid(expr);
  return fields;
}

function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

/** The `nW` rule: the weekday nearest to day n, without leaving the month. */
function nearestWeekday(year: number, month: number, target: number, lastDay: number): number {
  if (target < 1 || target > lastDay) return -1;
  const weekday = weekdayOf(year, month, target);
  if (weekday === 6) return target === 1 ? 3 : target - 1;
  if (weekday === 0) return target === lastDay ? target - 2 : target + 1;
  return target;
}

/** Day of month: numbers, `L`, `L-n`, `nW`, `LW` (the tokens node-cron accepts). */
function dayOfMonthTest(expr: string, values: (number | string)[]): DayTest {
  const days = new Array<boolean>(32).fill(false);
  const special: DayTest[] = [];
  for (const value of values) {
    if (typeof value === 'number') {
      days[value] = true;
      continue;
    }
    const weekday = /^(\d{1,2}|L)W$/.exec(value);
    const fromLast = /^L-(\d{1,2})$/.exec(value);
    if (value === 'L') {
      special.push((_y, _m, d, _w, last) => d === last);
    } else if (weekday) {
      const target = weekday[1] === 'L' ? null : Number(weekday[1]);
      special.push((y, m, d, _w, last) => nearestWeekday(y, m, target ?? last, last) === d);
    } else if (fromLast) {
      const n = Number(fromLast[1]);
      special.push((_y, _m, d, _w, last) => d === last - n);
    } else {
      throw invalid(expr);
    }
  }
  return (y, m, d, w, last) => days[d] === true || special.some((test) => test(y, m, d, w, last));
}

/** Day of week: numbers (0 = Sunday), `nL` (last such weekday), `n#k` (k-th such weekday). */
function dayOfWeekTest(expr: string, values: (number | string)[]): DayTest {
  const weekdays = new Array<boolean>(7).fill(false);
  const special: DayTest[] = [];
  for (const value of values) {
    if (typeof value === 'number') {
      weekdays[value % 7] = true;
      continue;
    }
    const last = /^([0-7])L$/i.exec(value);
    const nth = /^([0-7])#([1-5])$/.exec(value);
    if (last) {
      const target = Number(last[1]) % 7;
      special.push((_y, _m, d, w, lastDay) => w === target && d + 7 > lastDay);
    } else if (nth) {
      const target = Number(nth[1]) % 7;
      const k = Number(nth[2]);
      special.push((_y, _m, d, w) => w === target && Math.floor((d - 1) / 7) + 1 === k);
    } else {
      throw invalid(expr);
    }
  }
  return (y, m, d, w, lastDay) =>
    weekdays[w] === true || special.some((test) => test(y, m, d, w, lastDay));
}

export function dayMatches(
  f: CronFields,
  y: number,
  m: number,
  d: number,
  w: number,
  last: number,
): boolean {
  const dom = f.dayOfMonth(y, m, d, w, last);
  const dow = f.dayOfWeek(y, m, d, w, last);
  return f.eitherDay ? dom || dow : dom && dow;
}
