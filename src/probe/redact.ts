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

export function redactText(text: string, forms: string[]): string {
  let out = text;
  for (const form of forms) if (form.length >= 3) out = out.split(form).join(MASK);
  return out;
}

const BASE64_RUN = /[A-Za-z0-9+/]{4,}={0,2}/g;

/**
 * Masks every base64 run that carries one of the secrets anywhere inside it. A SASL PLAIN
 * or XOAUTH2 blob (RFC 4616 §2) puts the password after other fields, at any of three
 * byte alignments, so it is not a substring of base64(password); a server echoing the
 * blob would otherwise leak it. The run may also start mid-group: each of the four
 * character offsets is decoded, once, whatever the number of secrets.
 */
function redactBase64Runs(text: string, needles: Buffer[]): string {
  if (needles.length === 0) return text;
  return text.replace(BASE64_RUN, (run) => {
    for (let skip = 0; skip < 4; skip++) {
      const decoded = Buffer.from(run.slice(skip), 'base64');
      if (needles.some((needle) => decoded.includes(needle))) return MASK;
    }
    return run;
  });
}

function redact(text: string, values: string[], needles: Buffer[]): string {
  // Whole base64 runs first, so an echoed SASL blob is masked as one piece.
  let out = redactBase64Runs(text, needles);
  for (const value of values) {
    if (out.includes(value)) out = redactText(out, [value]);
    const b64 = secretForms(value)[1];
    if (b64 !== undefined && out.includes(b64)) out = redactText(out, [b64]);
  }
  return out;
}

/**
 * Removes any trace of the given secrets from the server-provided text of a result: the
 * mailbox's own, and every other configured one, since a hostile server could quote
 * another mailbox's password (one it saw in another session) in this one's reply.
 */
export function redactSecrets(
  result: ProbeResult,
  secrets: readonly (Secret | undefined)[],
): ProbeResult {
  if (!result.error) return result;
  const values = secrets.flatMap((s) => (s && s.length >= 3 ? [s.reveal()] : []));
  const needles = values.map((v) => Buffer.from(v, 'utf8'));
  result.error.message = redact(result.error.message, values, needles);
  if (result.error.response !== null)
    result.error.response = redact(result.error.response, values, needles);
  return result;
}
