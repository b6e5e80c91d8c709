import { humanDuration } from '../../config/duration.js';
import { type Html, html } from '../../html.js';

/** PURE: how the pages show times, durations and sizes. */

/** ISO-8601 UTC to the second: 2026-01-01T10:00:00Z. */
export function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `3m 2s ago` with the exact time as its tooltip (a <time> element). */
export function ago(seconds: number | undefined, nowMs: number): Html {
  if (seconds === undefined) return html`<span class="none">never</span>`;
  const iso = isoTime(seconds);
  return html`<time datetime="${iso}" title="${iso}">${humanDuration(nowMs / 1000 - seconds)} ago</time>`;
}

/** A probe's or a phase's time: `93 ms`, `1.25 s`. */
export function millis(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 0.01) return `${(seconds * 1000).toFixed(1)} ms`;
  if (seconds < 10) return `${Math.round(seconds * 1000)} ms`;
  return `${seconds.toFixed(1)} s`;
}

/** Octets as people read them: 1208 B, 4.7 KiB, 12.0 MiB. */
export function bytes(octets: number | null | undefined): string {
  if (octets === null || octets === undefined) return '';
  if (octets < 1024) return `${octets} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = octets / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** The page of a mailbox; names are printable ASCII, but `/`, `?` and `#` must not split it. */
export function mailboxHref(name: string): string {
  return `/mailboxes/${encodeURIComponent(name)}`;
}

/** A text cut to `max` characters, the whole of it in the tooltip. */
export function cut(text: string, max: number): Html {
  if (text.length <= max) return html`${text}`;
  return html`<span title="${text}">${text.slice(0, max - 1)}…</span>`;
}
