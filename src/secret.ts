import { inspect } from 'node:util';

/** What a secret looks like wherever it would have been shown: logs, JSON, pages, errors. */
export const MASK = '***';

/**
 * A credential that cannot be printed by accident: JSON, string conversion and
 * util.inspect (which pino and console use) all show the mask. Only `reveal()` gives the
 * value, and only the code that puts it on the wire calls it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toJSON(): string {
    return MASK;
  }

  toString(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}

/**
 * Shorter secrets are not searched for in text: they would mask ordinary words. (The
 * word index below also looks a word up by its first three characters.)
 */
export const MIN_MASKED_LENGTH = 3;

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

export type Masker = (text: string) => string;

type SecretList = readonly (Secret | string | undefined)[];

/**
 * Maskers by the list they were built from: preparing a thousand secrets takes
 * milliseconds, so a caller that keeps its list (the config's secrets, until a reload)
 * prepares them once.
 */
const built = new WeakMap<SecretList, Masker>();

/**
 * A function that removes every trace of `secrets` from a text that a server, a library or
 * a parser produced, or a transcript holds (a server may echo or quote what it was sent,
 * and any other configured secret): each secret as is, base64-encoded, and any base64 run
 * that carries it anywhere inside. A SASL PLAIN, AUTH PLAIN or XOAUTH2 blob (RFC 4616
 * section 2) puts the password after other fields, at any of three byte alignments, so it
 * is not a substring of base64(password): every base64 run long enough to hold the
 * shortest secret is decoded at each of its four character offsets and searched for the
 * secrets' bytes. Whole runs go first, so an echoed blob is masked as one piece.
 * Built once for many texts (a transcript's lines).
 */
export function secretMasker(secrets: SecretList): Masker {
  let masker = built.get(secrets);
  if (masker === undefined) {
    masker = buildMasker(secrets);
    built.set(secrets, masker);
  }
  return masker;
}

function buildMasker(secrets: SecretList): Masker {
  const values = secrets
    .map((s) => (s instanceof Secret ? s.reveal() : s))
    .filter((value): value is string => value !== undefined && value.length >= MIN_MASKED_LENGTH);
  if (values.length === 0) return (text) => text;
  const needles = values.map((value) => Buffer.from(value, 'utf8'));
  const shortest = Math.min(...needles.map((n) => n.length));
  // Bytes as latin1 characters: a string search then finds exactly the byte sequences.
  const inDecoded = new WordIndex(needles.map((n) => n.toString('latin1')));
  const literal = new WordIndex(values);
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

/** `text` without any trace of `secrets` (see secretMasker), for a one-off text. */
export function maskSecrets(text: string, secrets: SecretList): string {
  return secretMasker(secrets)(text);
}
