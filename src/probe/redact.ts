import { type Masker, type Secret, secretMasker } from '../secret.js';
import type { ProbeResult } from './result.js';

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
