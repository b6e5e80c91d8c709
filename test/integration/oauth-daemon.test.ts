/**
 * The built daemon with oauth2 mailboxes against the real authorization server and
 * Dovecot, for longer than two token lifetimes: mailboxes of one client share one token
 * and the monitor asks for a new one about once per lifetime; a user's rotating refresh
 * token keeps working; a revoked refresh token fires the built-in login_failed alert.
 * `probe --json` shows the login method and whether the token came from the cache.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cacheEntry } from '../../src/oauth/token-cache.js';
import { Secret } from '../../src/secret.js';
import { DOVECOT, OAUTH } from '../servers/env.js';
import { Daemon, runCli, type Scrape, stopAllDaemons, tempDir } from './daemon-support.js';
import { mintRefreshToken, revoke, tokenRequests } from './oauth-support.js';

const work = tempDir('oauth-daemon-');
after(async () => {
  await stopAllDaemons();
  work.remove();
});

const APP_MAILBOXES = 5;
/** When the monitor replaces a token of the server's lifetime, ms after it asked. */
const REFRESH_AFTER_MS = cacheEntry(new Secret('x'), 0, OAUTH.tokenTtlSeconds).refreshAt;

function sum(scrape: Scrape, name: string, prefix: string): number {
  return scrape
    .all(name)
    .filter((s) => s.labels.mailbox?.startsWith(prefix))
    .reduce((total, s) => total + s.value, 0);
}

describe('the daemon with oauth2 mailboxes', () => {
  it('asks for one token per lifetime for all mailboxes of a client, over two lifetimes and more', async (t) => {
    const secretFile = join(work.dir, 'client-secret');
    writeFileSync(secretFile, `${OAUTH.app.clientSecret}\n`, { mode: 0o600 });
    const userSecretFile = join(work.dir, 'user-client-secret');
    writeFileSync(userSecretFile, `${OAUTH.user.clientSecret}\n`, { mode: 0o600 });
    const rotating = join(work.dir, 'rotating-refresh-token');
    await mintRefreshToken(rotating, 'daemon-rotating');
    const revokedFile = join(work.dir, 'revoked-refresh-token');
    await revoke(await mintRefreshToken(revokedFile, 'daemon-revoked'), OAUTH.user, 'basic');

    const server = {
      host: DOVECOT.host,
      port: DOVECOT.plainPort,
      tls: 'starttls',
      tls_ca_file: DOVECOT.caFile,
      tls_servername: 'localhost',
    };
    const user = (file: string) => ({
      provider: 'generic',
      token_url: OAUTH.tokenUrl,
      grant: 'refresh_token',
      client_id: OAUTH.user.clientId,
      client_secret_file: userSecretFile,
      refresh_token_file: file,
    });
    const config = {
      defaults: { schedule: '*/2 * * * * *', timeout: '5s', auth_failure_backoff: '0s' },
      mailboxes: [
        ...Array.from({ length: APP_MAILBOXES }, (_, i) => ({
          name: `app-${i}`,
          ...server,
          username: OAUTH.users.app,
          auth: i % 2 === 0 ? 'xoauth2' : 'oauthbearer',
          oauth2: {
            provider: 'generic',
            token_url: OAUTH.tokenUrl,
            grant: 'client_credentials',
            client_id: OAUTH.app.clientId,
            client_secret_file: secretFile,
            client_auth: 'post',
            scope: OAUTH.scope,
          },
        })),
        { name: 'user-rotating', ...server, username: OAUTH.users.user, oauth2: user(rotating) },
        { name: 'user-revoked', ...server, username: OAUTH.users.user, oauth2: user(revokedFile) },
      ],
    };
    const before = await tokenRequests();
    const startedAt = performance.now();
    const daemon = await Daemon.startReady({ config }, 15_000);
    // Two and a half token lifetimes of probes every 2 s.
    const rounds = Math.ceil((2.5 * OAUTH.tokenTtlSeconds) / 2);
    const scrape = await daemon.waitForMetrics(
      `${rounds} probes of every app mailbox and login_failed firing for user-revoked`,
      (s) =>
        s.all('pop3_probes_total').filter((p) => p.labels.mailbox?.startsWith('app-')).length ===
          APP_MAILBOXES &&
        s
          .all('pop3_probes_total')
          .filter((p) => p.labels.mailbox?.startsWith('app-'))
          .every((p) => p.value >= rounds) &&
        s.get('pop3_alerts_firing', { mailbox: 'user-revoked', rule: 'login_failed' }) === 1,
      (rounds * 2 + 20) * 1000,
    );
    const elapsedMs = performance.now() - startedAt;
    const now = await tokenRequests();
    await daemon.stop();
    const appRequests = now.client_credentials - before.client_credentials;
    const probes = sum(scrape, 'pop3_probes_total', 'app-');
    const failures = sum(scrape, 'pop3_probe_failures_total', 'app-');
    const lifetimes = elapsedMs / (OAUTH.tokenTtlSeconds * 1000);
    t.diagnostic(
      `${probes} probes of ${APP_MAILBOXES} app mailboxes over ${(elapsedMs / 1000).toFixed(1)} s ` +
        `(${lifetimes.toFixed(1)} token lifetimes of ${OAUTH.tokenTtlSeconds} s): ` +
        `${appRequests} client_credentials token requests, ${failures} failed probes; ` +
        `refresh_token requests ${now.refresh_token - before.refresh_token}`,
    );
    assert.equal(failures, 0);
    assert.equal(scrape.value('pop3_up', { mailbox: 'user-rotating' }), 1);
    // One request per refresh point, at most: never one per mailbox or per probe.
    const bound = Math.ceil(elapsedMs / REFRESH_AFTER_MS) + 1;
    assert.ok(
      appRequests >= 2 && appRequests <= bound,
      `${appRequests} requests, expected 2..${bound}`,
    );
    assert.ok(probes >= APP_MAILBOXES * rounds);
    assert.equal(
      scrape.value('pop3_login_failures_total', { mailbox: 'user-revoked', reason: 'token' }) >= 1,
      true,
    );
    const down = daemon.events('mailbox_down').find((l) => l.mailbox === 'user-revoked');
    assert.equal(down?.reason, 'token');
    assert.match(String(down?.error), /refused the request with invalid_grant/);
  });

  it('probe --json shows the login method and whether the token came from the cache', async () => {
    const secretFile = join(work.dir, 'probe-client-secret');
    writeFileSync(secretFile, `${OAUTH.app.clientSecret}\n`, { mode: 0o600 });
    const path = join(work.dir, 'probe.yaml');
    writeFileSync(
      path,
      JSON.stringify({
        mailboxes: [
          {
            name: 'app',
            host: DOVECOT.host,
            port: DOVECOT.tlsPort,
            tls: 'implicit',
            tls_ca_file: DOVECOT.caFile,
            tls_servername: 'localhost',
            username: OAUTH.users.app,
            oauth2: {
              provider: 'generic',
              token_url: OAUTH.tokenUrl,
              grant: 'client_credentials',
              client_id: OAUTH.app.clientId,
              client_secret_file: secretFile,
              client_auth: 'post',
              scope: OAUTH.scope,
            },
          },
        ],
      }),
    );
    const { code, stdout } = await runCli(['probe', '--config', path, '--json']);
    const [result] = JSON.parse(stdout) as Record<string, unknown>[];
    assert.equal(code, 0, stdout);
    assert.deepEqual(
      [result?.success, result?.auth_method, result?.oauth2],
      [true, 'oauthbearer', { grant: 'client_credentials', cached: false, retried: false }],
    );
    assert.equal(typeof (result?.phases as Record<string, unknown> | undefined)?.token, 'number');
  });
});
