/**
 * The OAuth2 part of a probe: an access token from the injected TokenProvider before the
 * connection (phase `token`), and a login with it that, when the mail server refuses a
 * token the cache held, fetches a fresh one and tries once more in the same session.
 */
import { performance } from 'node:perf_hooks';
import type { MailboxConfig } from '../config/schema.js';
import { displayEndpoint, TokenError } from '../oauth/token-error.js';
import type { TokenLease, TokenProvider } from '../oauth/token-source.js';
import type { AuthChoice } from '../pop3/auth.js';
import type { Command, Pop3Client } from '../pop3/client.js';
import { Pop3Error } from '../pop3/errors.js';
import type { Reply } from '../pop3/framing.js';
import type { ProbeOAuth2, ProbeResult } from './result.js';

export type OAuth2Mailbox = MailboxConfig & { oauth2: NonNullable<MailboxConfig['oauth2']> };

/** The token request's budget: its own timeout (half the probe's by default), within what is left. */
function tokenBudget(mailbox: OAuth2Mailbox, client: Pop3Client): number {
  const own = mailbox.oauth2.timeout ?? mailbox.timeout / 2;
  return Math.max(1, Math.min(own, client.remainingMs()));
}

/** A token for the probe, timed as phase `token`; a TokenError when none can be had. */
export async function fetchToken(
  mailbox: OAuth2Mailbox,
  tokens: TokenProvider | undefined,
  client: Pop3Client,
): Promise<TokenLease> {
  if (tokens === undefined) {
    const endpoint = displayEndpoint(mailbox.oauth2.token_url);
    throw new TokenError('unreachable', endpoint, 'no token source configured');
  }
  const started = performance.now();
  try {
    return await tokens.getToken(mailbox.oauth2, tokenBudget(mailbox, client));
  } finally {
    // The client's timings become the result's phases (probe.ts): the token time joins them.
    const phases: ProbeResult['phases'] = client.phases;
    phases.token = (phases.token ?? 0) + (performance.now() - started) / 1000;
  }
}

/**
 * Logs in with the token; a cached token the server refuses (revoked, or the server's
 * clock is ahead) is dropped and one fresh token is tried on the same connection. A
 * freshly fetched token that is refused is not retried: a new one would fare no better.
 */
export async function loginWithToken(
  client: Pop3Client,
  method: AuthChoice,
  mailbox: OAuth2Mailbox,
  tokens: TokenProvider | undefined,
  lease: TokenLease,
  then: Command[],
  info: ProbeOAuth2,
): Promise<Reply[]> {
  try {
    return await client.login(method, mailbox.username, lease.token, then);
  } catch (error) {
    const refused = error instanceof Pop3Error && error.code === 'auth';
    if (!refused || !lease.cached || tokens === undefined || client.state !== 'authorization')
      throw error;
    tokens.invalidate(mailbox.oauth2, lease.token);
    const fresh = await fetchToken(mailbox, tokens, client);
    info.retried = true;
    info.cached = fresh.cached;
    client.currentPhase = 'auth';
    return await client.login(method, mailbox.username, fresh.token, then);
  }
}
