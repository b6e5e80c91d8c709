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

/** Shorter secrets are not searched for in text: they would mask ordinary words. */
export const MIN_MASKED_LENGTH = 3;

const BASE64_RUN = /[A-Za-z0-9+/]{4,}={0,2}/g;

/**
 * Removes every trace of `secrets` from a text that a server, a library or a parser
 * produced (a server may echo or quote what it was sent, and any other configured secret):
 * each secret as is, base64-encoded, and any base64 run that carries it anywhere inside.
 * A SASL PLAIN, AUTH PLAIN or XOAUTH2 blob (RFC 4616 section 2) puts the password after
 * other fields, at any of three byte alignments, so it is not a substring of
 * base64(password); each of the four character offsets of a run is decoded, once.
 */
export function maskSecrets(
  text: string,
  secrets: readonly (Secret | string | undefined)[],
): string {
  const values = secrets
    .map((s) => (s instanceof Secret ? s.reveal() : s))
    .filter((value): value is string => value !== undefined && value.length >= MIN_MASKED_LENGTH);
  const needles = values.map((value) => Buffer.from(value));
  // Base64 runs first (base64(secret) itself is one), so an echoed blob is masked whole.
  let out = text.replace(BASE64_RUN, (run) => {
    for (let skip = 0; skip < 4; skip++) {
      const decoded = Buffer.from(run.slice(skip), 'base64');
      if (needles.some((needle) => decoded.includes(needle))) return MASK;
    }
    return run;
  });
  for (const value of values) out = out.split(value).join(MASK);
  return out;
}
