/**
 * Helpers of the OAuth2 integration tests: mailboxes of the Dovecot users that log in with
 * tokens of the test authorization server (test/servers/oauth-server.ts), and that
 * server's test routes (token request counts, minted refresh tokens) and revocation.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import type { OAuth2Config } from '../../src/config/oauth2.js';
import type { MailboxConfig } from '../../src/config/schema.js';
import { Secret } from '../../src/secret.js';
import { mailboxConfig } from '../fixtures/mailbox-config.js';
import { DOVECOT, OAUTH } from '../servers/env.js';

type Client = { clientId: string; clientSecret: string };

/** The app-only client (client_credentials, client_secret_post), as Entra ID would have it. */
export function appOAuth2(overrides: Partial<OAuth2Config> = {}): OAuth2Config {
  return {
    provider: 'generic',
    grant: 'client_credentials',
    token_url: OAUTH.tokenUrl,
    issuer: OAUTH.url,
    client_id: OAUTH.app.clientId,
    client_secret: new Secret(OAUTH.app.clientSecret),
    client_secret_file: undefined,
    client_auth: 'post',
    refresh_token: undefined,
    refresh_token_file: undefined,
    scope: OAUTH.scope,
    timeout: undefined,
    ...overrides,
  };
}

/** A user's refresh token in `file` (rotated on every use), as a Google client would have it. */
export function userOAuth2(
  file: string,
  refreshToken: string,
  client: Client = OAUTH.user,
): OAuth2Config {
  return appOAuth2({
    grant: 'refresh_token',
    client_id: client.clientId,
    client_secret: new Secret(client.clientSecret),
    client_auth: 'basic',
    refresh_token: new Secret(refreshToken),
    refresh_token_file: file,
    scope: undefined,
  });
}

/** A mailbox of an oauth.test user on the plain POP3 port with STLS (the token never goes in clear). */
export function oauthMailbox(
  oauth2: OAuth2Config,
  overrides: Partial<MailboxConfig> = {},
): MailboxConfig {
  return mailboxConfig({
    name: 'oauth',
    port: DOVECOT.plainPort,
    tls: 'starttls',
    tls_ca: readFileSync(DOVECOT.caFile, 'utf8'),
    tls_servername: 'localhost',
    username: OAUTH.users.app,
    password: undefined,
    auth: 'xoauth2',
    oauth2,
    ...overrides,
  });
}

/** Token requests the server has answered (or refused) so far, by grant type. */
export async function tokenRequests(): Promise<{
  client_credentials: number;
  refresh_token: number;
}> {
  const response = await fetch(`${OAUTH.url}/test/stats`, { signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as { token_requests: Record<string, number> };
  return {
    client_credentials: body.token_requests.client_credentials ?? 0,
    refresh_token: body.token_requests.refresh_token ?? 0,
  };
}

/** A new refresh token for `account`, as after the user's consent; written to `file` (0600). */
export async function mintRefreshToken(
  file: string,
  account: string,
  client: 'user' | 'canary' = 'user',
): Promise<string> {
  const url = `${OAUTH.url}/test/refresh-token?account=${account}&client=${client}`;
  const response = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(5000) });
  const { refresh_token: token } = (await response.json()) as { refresh_token: string };
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

/**
 * RFC 7009 revocation at the server, authenticated as the client the token was issued to,
 * the way that client authenticates (app clients post their secret, user clients use Basic).
 */
export async function revoke(token: string, client: Client, how: 'post' | 'basic'): Promise<void> {
  const basic = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64');
  const body = new URLSearchParams({ token });
  if (how === 'post') {
    body.set('client_id', client.clientId);
    body.set('client_secret', client.clientSecret);
  }
  const response = await fetch(OAUTH.revocationUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(how === 'basic' ? { authorization: `Basic ${basic}` } : {}),
    },
    body: body.toString(),
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 200) throw new Error(`revocation answered HTTP ${response.status}`);
}
