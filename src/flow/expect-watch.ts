import libmime from 'libmime';
import type { ExpectConfig } from '../config/schema.js';
import type { ScannedMessage } from '../probe/new-messages.js';

/**
 * PURE: expect watches. A watch matches the headers of new messages (`from`, `subject`:
 * regular expressions, case-insensitive, against the header with RFC 2047 encoded words
 * decoded; both must match when both are given) and remembers when the newest match
 * arrived. Its age (the rule metric expect_age_seconds) is the time since then, or since
 * watching began while there was no match.
 */

export interface WatchState {
  /** When the newest match arrived, ms since the epoch; null before the first. */
  last_match_at: number | null;
  /** When watching began, ms: the age counts from here until the first match. */
  since: number;
}

export interface CompiledWatch {
  name: string;
  from: RegExp | null;
  subject: RegExp | null;
  within: number;
}

/** Header text a pattern sees at most: no header line needs more (RFC 5322 §2.1.1 folds at 998). */
const MATCHED_CHARS = 4096;

export function compileWatch(watch: ExpectConfig): CompiledWatch {
  // The config loader compiled them once already; invalid ones never get here.
  const pattern = (source: string | undefined) =>
    source === undefined ? null : new RegExp(source, 'iu');
  return {
    name: watch.name,
    from: pattern(watch.from),
    subject: pattern(watch.subject),
    within: watch.within,
  };
}

/** A header as a person reads it: encoded words decoded, bounded. */
export function decodedHeader(value: string | null): string {
  if (value === null) return '';
  let text: string;
  try {
    text = libmime.decodeWords(value);
  } catch {
    text = value;
  }
  return text.slice(0, MATCHED_CHARS);
}

export function watchMatches(watch: CompiledWatch, message: ScannedMessage): boolean {
  if (watch.from !== null && !watch.from.test(decodedHeader(message.from))) return false;
  if (watch.subject !== null && !watch.subject.test(decodedHeader(message.subject))) return false;
  return true;
}

/**
 * When a message arrived, ms: its newest Received: field (the server's own time), else its
 * Date:, never later than when the monitor saw it.
 */
export function arrivalMs(message: ScannedMessage, seenAt: number): number {
  const stamp = message.received_at ?? message.date;
  return stamp === null ? seenAt : Math.min(seenAt, stamp * 1000);
}

/** The state after a scan's new messages were read; the newest match wins. */
export function observeWatch(
  state: WatchState,
  watch: CompiledWatch,
  messages: readonly ScannedMessage[],
  seenAt: number,
): WatchState {
  let last = state.last_match_at;
  for (const message of messages) {
    if (!watchMatches(watch, message)) continue;
    const at = arrivalMs(message, seenAt);
    if (last === null || at > last) last = at;
  }
  return last === state.last_match_at ? state : { ...state, last_match_at: last };
}

/** expect_age_seconds at `nowMs`. */
export function watchAgeSeconds(state: WatchState, nowMs: number): number {
  return Math.max(0, nowMs - (state.last_match_at ?? state.since)) / 1000;
}
