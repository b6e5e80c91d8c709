/**
 * RFC 5322 §3.3 date-time, with the obsolete forms of §4.3 that old mailers still send:
 * two- and three-digit years, named zones (UT, GMT, EST ... PDT), military zones,
 * comments anywhere, no day of week, no seconds. Also the asctime() order
 * ("Tue Jul  1 10:52:37 2003") some broken clients write, and ISO 8601 with an explicit
 * zone. Date.parse alone is not used: it turns text such as "1" or "foo 12" into a date.
 */

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** The index of `token` in `names`, written in full or as its first three letters. */
function nameIndex(names: string[], token: string): number {
  const word = token.endsWith('.') ? token.slice(0, -1) : token;
  return names.findIndex((name) => word === name || word === name.slice(0, 3));
}

/** RFC 5322 §4.3 obs-zone, offsets in minutes. */
const NAMED_ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

/** Longer input is no date; this also bounds the work on hostile headers. */
const MAX_DATE_CHARS = 256;

const ISO_8601 =
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const NUMERIC_ZONE = /^([+-])(\d{2})(\d{2})$/;

/** Seconds since the epoch, or null when `text` is not a date. */
export function parseMailDate(text: string): number | null {
  if (text.length > MAX_DATE_CHARS) return null;
  const cleaned = stripComments(text);
  if (cleaned === null) return null;
  const trimmed = cleaned.trim();
  if (ISO_8601.test(trimmed)) {
    const ms = Date.parse(trimmed.replace(' ', 'T'));
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
  }
  return parseTokens(
    trimmed
      .replace(/,/g, ' ')
      .split(/[ \t]+/)
      .filter(Boolean),
  );
}

/** Removes (possibly nested) RFC 5322 comments; null when they are unbalanced. */
function stripComments(text: string): string | null {
  let depth = 0;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && depth > 0) {
      i++;
    } else if (c === '(') {
      depth++;
      out += ' ';
    } else if (c === ')') {
      if (depth === 0) return null;
      depth--;
    } else if (depth === 0) {
      out += c;
    }
  }
  return depth === 0 ? out : null;
}

function parseTokens(tokens: string[]): number | null {
  let month: number | null = null;
  let time: RegExpExecArray | null = null;
  let zoneMinutes: number | null = null;
  const numbers: string[] = [];
  for (const [i, raw] of tokens.entries()) {
    const token = raw.toLowerCase();
    if (i === 0 && nameIndex(DAYS, token) !== -1) continue;
    const monthIndex: number = month === null ? nameIndex(MONTHS, token) : -1;
    const zone: number | null = time !== null && zoneMinutes === null ? parseZone(token) : null;
    if (monthIndex !== -1) {
      month = monthIndex;
    } else if (time === null && TIME.test(token)) {
      time = TIME.exec(token);
    } else if (zone !== null) {
      zoneMinutes = zone;
    } else if (zoneMinutes !== null && /^[a-z]{1,5}$/.test(token)) {
      // "+0200 CEST" without the parentheses: the name repeats the offset; ignore it.
    } else if (/^\d{1,4}$/.test(token) && numbers.length < 2) {
      numbers.push(token);
    } else {
      return null;
    }
  }
  if (month === null || time === null || numbers.length !== 2) return null;
  const [dayText, yearText] = numbers as [string, string];
  if (dayText.length > 2 || yearText.length < 2) return null;
  const day = Number(dayText);
  const year = expandYear(yearText);
  const hour = Number(time[1]);
  const minute = Number(time[2]);
  const second = time[3] === undefined ? 0 : Number(time[3]);
  // Second 60 is a leap second (RFC 5322 §3.3); Date.UTC rolls it into the next minute.
  if (year < 1900 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  // Date.UTC rolls 31 Feb into March: refuse days the month does not have.
  if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return null;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // A missing zone is read as UTC, like RFC 5322's "-0000" (zone unknown).
  return Math.floor(ms / 1000) - (zoneMinutes ?? 0) * 60;
}

/** RFC 5322 §4.3: 2-digit years 00-49 are 20xx, 50-99 19xx; 3-digit years add 1900. */
function expandYear(text: string): number {
  const value = Number(text);
  if (text.length === 2) return value < 50 ? 2000 + value : 1900 + value;
  if (text.length === 3) return 1900 + value;
  return value;
}

function parseZone(token: string): number | null {
  const numeric = NUMERIC_ZONE.exec(token);
  if (numeric !== null) {
    const minutes = Number(numeric[3]);
    if (minutes > 59) return null;
    const offset = Number(numeric[2]) * 60 + minutes;
    return numeric[1] === '-' ? -offset : offset;
  }
  const named = NAMED_ZONES[token];
  if (named !== undefined) return named;
  // RFC 5322 §4.3: military zones were defined wrongly in RFC 822; treat them as -0000.
  if (/^[a-ik-z]$/.test(token)) return 0;
  return null;
}
