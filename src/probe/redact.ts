import type { Secret } from '../secret.js';
import type { ProbeResult } from './result.js';

const MASK = '***';

/**
 * The forms in which a password could come back from a hostile or buggy server that
 * echoes what it was sent: as is and base64-encoded (SASL responses).
 */
function secretForms(secret: string): string[] {
  if (secret.length < 3) return [];
  return [secret, Buffer.from(secret, 'utf8').toString('base64').replace(/=+$/, '')];
}

const BASE64_RUN = /[A-Za-z0-9+/]{4,}={0,2}/g;

/**
 * Many words searched for at once: each position of a text is looked up by its first three
 * characters, so a config of a thousand secrets costs one map lookup per character, not a
 * thousand scans of the text.
 */
class WordIndex {
  readonly #byHead = new Map<number, string[]>();

  constructor(words: readonly string[]) {
    for (const word of words) {
      if (word.length < 3) continue;
      const key = WordIndex.#head(word, 0);
      const list = this.#byHead.get(key) ?? [];
      if (!list.includes(word)) list.push(word);
      this.#byHead.set(key, list);
    }
    // The longest word first, so one that contains another is masked whole.
    for (const list of this.#byHead.values()) list.sort((a, b) => b.length - a.length);
  }

  /** A small-integer hash of three characters (a collision only costs a startsWith). */
  static #head(text: string, i: number): number {
    return (
      ((text.charCodeAt(i) * 961 + text.charCodeAt(i + 1) * 31 + text.charCodeAt(i + 2)) | 0) &
      0x3fffffff
    );
  }

  /** The length of the longest word at `i`, or 0. */
  #at(text: string, i: number): number {
    const list = this.#byHead.get(WordIndex.#head(text, i));
    if (list !== undefined)
      for (const word of list) if (text.startsWith(word, i)) return word.length;
    return 0;
  }

  contains(text: string): boolean {
    for (let i = 0; i + 3 <= text.length; i++) if (this.#at(text, i) > 0) return true;
    return false;
  }

  /** Every occurrence replaced by MASK, left to right. */
  mask(text: string): string {
    let out = '';
    let from = 0;
    for (let i = 0; i + 3 <= text.length; ) {
      const length = this.#at(text, i);
      if (length === 0) {
        i += 1;
        continue;
      }
      out += text.slice(from, i) + MASK;
      i += length;
      from = i;
    }
    return from === 0 ? text : out + text.slice(from);
  }
}

/**
 * A function that removes every trace of `secrets` from a text a server produced or a
 * transcript holds: each secret as is, base64-encoded, and any base64 run that carries it.
 * Built once for many texts (a transcript's lines), so the secrets are prepared once.
 *
 * A SASL PLAIN or XOAUTH2 blob (RFC 4616 §2) puts the password after other fields, at any
 * of three byte alignments, so it is not a substring of base64(password); a server echoing
 * the blob would otherwise leak it. So every base64 run is decoded at each of its four
 * character offsets and searched for the secrets' bytes; a run too short to hold the
 * shortest secret is not decoded at all (most words of a text are such runs). Whole runs
 * go first, so an echoed blob is masked as one piece.
 */
export function secretMasker(secrets: readonly (Secret | undefined)[]): Masker {
  let masker = built.get(secrets);
  if (masker === undefined) {
    masker = buildMasker(secrets);
    built.set(secrets, masker);
  }
  return masker;
}

export type Masker = (text: string) => string;

/**
 * Maskers by the list they were built from: preparing a thousand secrets takes
 * milliseconds, so a caller that keeps its list (the config's secrets, until a reload)
 * prepares them once.
 */
const built = new WeakMap<readonly (Secret | undefined)[], Masker>();

function buildMasker(secrets: readonly (Secret | undefined)[]): Masker {
  const values = secrets.flatMap((s) => (s && s.length >= 3 ? [s.reveal()] : []));
  if (values.length === 0) return (text) => text;
  const needles = values.map((v) => Buffer.from(v, 'utf8'));
  const shortest = Math.min(...needles.map((n) => n.length));
  // Bytes as latin1 characters: a string search then finds exactly the byte sequences.
  const inDecoded = new WordIndex(needles.map((n) => n.toString('latin1')));
  const literal = new WordIndex(values.flatMap((v) => secretForms(v)));
  return (text) => {
    const runsMasked = text.replace(BASE64_RUN, (run) => {
      for (let skip = 0; skip < 4; skip++) {
        if (Math.floor(((run.length - skip) * 3) / 4) < shortest) break;
        if (inDecoded.contains(Buffer.from(run.slice(skip), 'base64').toString('latin1')))
          return MASK;
      }
      return run;
    });
    return literal.mask(runsMasked);
  };
}

/**
 * Removes any trace of the given secrets from the server-provided text of a result: the
 * mailbox's own, and every other configured one, since a hostile server could quote
 * another mailbox's password (one it saw in another session) in this one's reply.
 */
export function redactSecrets(
  result: ProbeResult,
  secrets: readonly (Secret | undefined)[] | Masker,
): ProbeResult {
  if (!result.error) return result;
  const mask = typeof secrets === 'function' ? secrets : secretMasker(secrets);
  result.error.message = mask(result.error.message);
  if (result.error.response !== null) result.error.response = mask(result.error.response);
  return result;
}
