import { type CronFields, dayMatches, fieldsOf } from './cron-fields.js';
import { SchedulerError } from './errors.js';

/*
 * When does a cron expression fire next after an arbitrary instant? node-cron 4 can only
 * answer that for the real `new Date()` (ScheduledTask.getNextRuns), so this searches its
 * parsed fields (cron.parse) itself, with time taken from the caller (an injected Clock).
 *
 * - Resolution is one second; five-field expressions fire at second 0 (node-cron's rule).
 * - The search jumps field by field: months that do not match are skipped whole, days one
 *   by one, and within a matching day the first hour/minute/second is picked directly.
 *   It gives up (null) after five years.
 * - Day of month and day of week: cron's OR rule when both are restricted (cron-fields.ts).
 * - Fields are read on the UTC wall clock unless a time zone is given. In a zone with
 *   daylight saving time every instant whose local wall time matches fires: wall times
 *   skipped by the spring change never fire, and wall times repeated by the autumn change
 *   fire at both occurrences (so an every-minute schedule keeps firing every real minute).
 */

const SECOND = 1000;
const DAY = 86_400_000;
/** The search horizon, in days: five years including leap days. */
const SEARCH_DAYS = 5 * 366;
/** Offset changes are looked for at this spacing; zones never change twice within it. */
const OFFSET_SAMPLE_MS = 7 * DAY;
const CACHE_LIMIT = 512;

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface CronOptions {
  /** IANA zone name (`Europe/Berlin`); default UTC. */
  timezone?: string | undefined;
}

/** The first (hour, minute, second) of the fields at or after the given time of day. */
function firstTimeFrom(
  f: CronFields,
  h0: number,
  m0: number,
  s0: number,
): [number, number, number] | null {
  for (const h of f.hours) {
    if (h < h0) continue;
    for (const m of f.minutes) {
      if (h === h0 && m < m0) continue;
      const from = h === h0 && m === m0 ? s0 : 0;
      for (const s of f.seconds) if (s >= from) return [h, m, s];
    }
  }
  return null;
}

/** The first wall time at or after `start` that the fields match, up to `lastDayNumber`. */
function nextWall(f: CronFields, start: Wall, lastDayNumber: number): Wall | null {
  let { year, month, day, hour, minute, second } = start;
  for (;;) {
    const dayNumber = Date.UTC(year, month - 1, day) / DAY;
    if (dayNumber > lastDayNumber) return null;
    if (f.months[month] !== true) {
      // Skip the whole month: on to the first day of the next allowed one.
      do {
        month += 1;
        if (month > 12) {
          month = 1;
          year += 1;
        }
      } while (f.months[month] !== true);
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const weekday = (((dayNumber + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
    if (dayMatches(f, year, month, day, weekday, lastDay)) {
      const time = firstTimeFrom(f, hour, minute, second);
      if (time !== null)
        return { year, month, day, hour: time[0], minute: time[1], second: time[2] };
    }
    hour = minute = second = 0;
    if (day < lastDay) {
      day += 1;
    } else {
      day = 1;
      month += 1;
      if (month > 12) {
        month = 1;
        year += 1;
      }
    }
  }
}

function wallMs(w: Wall): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

function utcWall(ms: number): Wall {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneFormat(timezone: string): Intl.DateTimeFormat {
  let format = zoneFormats.get(timezone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (cause) {
      throw new SchedulerError(
        'invalid_timezone',
        `unknown time zone: ${JSON.stringify(timezone)}`,
        { cause },
      );
    }
    if (zoneFormats.size >= CACHE_LIMIT) zoneFormats.clear();
    zoneFormats.set(timezone, format);
  }
  return format;
}

/** Local time minus UTC at `ms` (whole seconds), in ms. */
function offsetAt(ms: number, timezone: string): number {
  const parts: Record<string, number> = {};
  for (const part of zoneFormat(timezone).formatToParts(ms)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const local = Date.UTC(
    parts['year'] ?? 1970,
    (parts['month'] ?? 1) - 1,
    parts['day'] ?? 1,
    (parts['hour'] ?? 0) % 24,
    parts['minute'] ?? 0,
    parts['second'] ?? 0,
  );
  return local - Math.floor(ms / SECOND) * SECOND;
}

/** The first whole second in (from, to] whose offset is not `offset`, or null. */
function firstOffsetChange(
  from: number,
  to: number,
  offset: number,
  timezone: string,
): number | null {
  let lo = from;
  let hi = from;
  for (;;) {
    hi = Math.min(lo + OFFSET_SAMPLE_MS, to);
    if (hi <= lo) return null;
    if (offsetAt(hi, timezone) !== offset) break;
    if (hi >= to) return null;
    lo = hi;
  }
  while (hi - lo > SECOND) {
    const mid = lo + Math.floor((hi - lo) / 2 / SECOND) * SECOND;
    if (offsetAt(mid, timezone) === offset) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Search one stretch of constant UTC offset at a time: within a stretch, wall time and
 * real time run together, so the first matching wall time is the first matching instant.
 * A match that lies past the next offset change is discarded and the search starts again
 * at the change, with the new offset.
 */
function nextZoned(f: CronFields, start: number, timezone: string): number | null {
  const limit = start + SEARCH_DAYS * DAY;
  let from = start;
  while (from <= limit) {
    const offset = offsetAt(from, timezone);
    const wall = nextWall(f, utcWall(from + offset), Math.floor((limit + offset) / DAY));
    if (wall === null) return null;
    const at = wallMs(wall) - offset;
    const change = firstOffsetChange(from, at, offset, timezone);
    if (change === null) return at;
    from = change;
  }
  return null;
}

/**
 * The first instant strictly after `afterMs` (whole seconds, ms since the epoch) at which
 * `expr` fires, or null when it does not fire within five years. Throws a SchedulerError
 * (`invalid_schedule`, `invalid_timezone`) for a bad expression or zone.
 */
export function nextFireTime(
  expr: string,
  afterMs: number,
  options: CronOptions = {},
): number | null {
  const fields = fieldsOf(expr);
  if (!Number.isFinite(afterMs)) return null;
  const start = Math.floor(afterMs / SECOND) * SECOND + SECOND;
  const timezone = options.timezone;
  if (timezone !== undefined && timezone !== 'UTC' && timezone !== 'Etc/UTC') {
    return nextZoned(fields, start, timezone);
  }
  const wall = nextWall(fields, utcWall(start), Math.floor(start / DAY) + SEARCH_DAYS);
  return wall === null ? null : wallMs(wall);
}

/**
 * The gap between the next two fires after `atMs`, in ms: the schedule's interval there,
 * and so the window a mailbox's start is spread over. Infinity when it fires fewer than
 * twice within the horizon.
 */
export function intervalOf(expr: string, atMs: number, options: CronOptions = {}): number {
  const first = nextFireTime(expr, atMs, options);
  const second = first === null ? null : nextFireTime(expr, first, options);
  return first === null || second === null ? Number.POSITIVE_INFINITY : second - first;
}
