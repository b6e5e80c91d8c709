/**
 * PURE: when a cached access token stops being usable, and the cache key that decides
 * which mailboxes share one. Time comes in as milliseconds; nothing here reads a clock.
 */
import { createHash } from 'node:crypto';
import type { OAuth2Config } from '../config/oauth2.js';
import type { Secret } from '../secret.js';

export interface CachedToken {
  token: Secret;
  /** When the server said it expires: request time + expires_in. */
  expiresAt: number;
  /** From here on it is replaced before use: ahead of expiry, by REFRESH_AHEAD. */
  refreshAt: number;
}

/**
 * A token is replaced once a fifth of its lifetime is left, and at most 5 minutes ahead
 * (what MSAL does for Entra ID tokens of about an hour): a probe never starts with a token
 * that could expire while it logs in, and a 10 s test token is refreshed 2 s ahead.
 */
export const REFRESH_AHEAD = { fraction: 0.2, maxMs: 5 * 60_000 } as const;

/** A server that leaves out expires_in (RFC 6749 §5.1 only recommends it): assume this. */
export const DEFAULT_LIFETIME_MS = 5 * 60_000;

/**
 * The cache entry for a token obtained by a request sent at `requestedAt` (counting from
 * the request, not the answer, errs on the early side).
 */
export function cacheEntry(
  token: Secret,
  requestedAt: number,
  expiresInSeconds: number | undefined,
): CachedToken {
  const lifetime =
    expiresInSeconds !== undefined && Number.isFinite(expiresInSeconds) && expiresInSeconds > 0
      ? expiresInSeconds * 1000
      : DEFAULT_LIFETIME_MS;
  const ahead = Math.min(REFRESH_AHEAD.maxMs, lifetime * REFRESH_AHEAD.fraction);
  return { token, expiresAt: requestedAt + lifetime, refreshAt: requestedAt + lifetime - ahead };
}

export function isFresh(entry: CachedToken, now: number): boolean {
  return now < entry.refreshAt;
}

/**
 * What a token is for: (token endpoint, client, scope, user). An app-only token
 * (client_credentials) serves every mailbox of the client, whatever its SASL user; a
 * refresh token belongs to one user, named here by the file that holds it. A digest of the
 * client secret is part of the client: a mailbox configured with another secret for the
 * same client must not be handed a token that the right secret got.
 */
export function tokenKey(config: OAuth2Config): string {
  const user = config.grant === 'refresh_token' ? (config.refresh_token_file ?? '') : '';
  const secret = config.client_secret
    ? createHash('sha256').update(config.client_secret.reveal()).digest('hex').slice(0, 16)
    : '';
  return JSON.stringify([
    config.token_url,
    config.client_id,
    secret,
    config.scope ?? '',
    config.grant,
    user,
  ]);
}
