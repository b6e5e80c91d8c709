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
 * Masks every base64 run that carries the secret anywhere inside it. A SASL PLAIN or
 * XOAUTH2 blob (RFC 4616 §2) puts the password after other fields, at any of three byte
 * alignments, so it is not a substring of base64(password); a server echoing the blob
 * would otherwise leak it. The run may also start mid-group: each of the four character
 * offsets is decoded.
 */
function redactBase64Runs(text: string, secret: string): string {
  if (secret.length < 3) return text;
  const needle = Buffer.from(secret, 'utf8');
  return text.replace(BASE64_RUN, (run) => {
    for (let skip = 0; skip < 4; skip++) {
      if (Buffer.from(run.slice(skip), 'base64').includes(needle)) return MASK;
    }
    return run;
  });
}

function redact(text: string, secret: string): string {
  return redactBase64Runs(redactText(text, secretForms(secret)), secret);
}

/** Removes any trace of the mailbox's secret from the server-provided text of a result. */
export function redactSecrets(result: ProbeResult, secret: Secret | undefined): ProbeResult {
  if (!secret || !result.error) return result;
  const value = secret.reveal();
  result.error.message = redact(result.error.message, value);
  if (result.error.response !== null) result.error.response = redact(result.error.response, value);
  return result;
}
