const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest duration a config may hold: Node timers overflow past 2^31-1 ms (~24.8 days). */
export const MAX_DURATION_MS = 24 * 86_400_000;

/**
 * Parses `500ms`, `10s`, `5m`, `4h`, `1d`, `1h30m`, `1.5s`; a number (or numeric string)
 * is seconds. Returns milliseconds, or null when the text is not a duration.
 */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number') {
    const ms = value * 1000;
    return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : null;
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isFinite(ms) ? Math.round(ms) : null;
  }
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null = part.exec(text);
  while (match !== null) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    consumed = part.lastIndex;
    match = part.exec(text);
  }
  if (consumed === 0 || consumed !== text.length) return null;
  // A long run of digits parses as Infinity, which is no duration.
  return Number.isFinite(total) ? Math.round(total) : null;
}

/** The inverse for display: 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}

/**
 * A duration for people, in its two largest units, rounded down: `42s`, `5m 3s`, `2h 0m`,
 * `3d 4h`. What pages, logs, alert mail and the check line show for ages and such.
 */
export function humanDuration(seconds: number): string {
  const s = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
