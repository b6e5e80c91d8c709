import { maskSecrets, type Secret } from '../secret.js';
import type { ProbeResult } from './result.js';

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
  result.error.message = maskSecrets(result.error.message, secrets);
  if (result.error.response !== null)
    result.error.response = maskSecrets(result.error.response, secrets);
  return result;
}
