/**
 * OAuth2 end to end with real servers: tokens from the test authorization server
 * (oidc-provider), logins at the test Dovecot with SASL XOAUTH2 and OAUTHBEARER, which
 * checks every token by introspection (passdb oauth2). The token source runs on a fake
 * clock, so "later" is a clock step, not a wait; token lifetimes at the server are real.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cacheEntry } from '../../src/oauth/token-cache.js';
import { TokenSource } from '../../src/oauth/token-source.js';
import { probeMailbox } from '../../src/probe/probe.js';
import { Secret } from '../../src/secret.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { OAUTH } from '../servers/env.js';
import { freePort } from '../servers/tools.js';
import {
  appOAuth2,
  mintRefreshToken,
  oauthMailbox,
  revoke,
  tokenRequests,
  userOAuth2,
} from './oauth-support.js';

const work = mkdtempSync(join(tmpdir(), 'oauth-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A step past the point where a token of the server's lifetime is replaced. */
const PAST_REFRESH_MS = cacheEntry(new Secret('x'), 0, OAUTH.tokenTtlSeconds).refreshAt + 1;

function source(clock = new FakeClock(Date.now())): { clock: FakeClock; tokens: TokenSource } {
  return { clock, tokens: new TokenSource({ clock }) };
}

async function delta<T>(run: () => Promise<T>): Promise<{ value: T; cc: number; rt: number }> {
  const before = await tokenRequests();
  const value = await run();
  const now = await tokenRequests();
  return {
    value,
    cc: now.client_credentials - before.client_credentials,
    rt: now.refresh_token - before.refresh_token,
  };
}

describe('oauth2 client_credentials against Dovecot passdb oauth2', () => {
  it('logs in with XOAUTH2 and then with the cached token, one token request in all', async () => {
    const { tokens } = source();
    const mailbox = oauthMailbox(appOAuth2());
    const first = await delta(() => probeMailbox(mailbox, { tokens }));
    assert.equal(first.value.error, null);
    assert.equal(first.value.success, true);
    assert.equal(first.value.messages, 1);
    assert.equal(first.value.auth_method, 'xoauth2');
    assert.deepEqual(first.value.oauth2, {
      grant: 'client_credentials',
      cached: false,
      retried: false,
    });
    assert.ok((first.value.phases.token ?? 0) > 0);
    assert.equal(first.cc, 1);
    const second = await delta(() => probeMailbox(mailbox, { tokens }));
    assert.equal(second.value.success, true);
    assert.deepEqual(second.value.oauth2, {
      grant: 'client_credentials',
      cached: true,
      retried: false,
    });
    assert.equal(second.cc, 0);
  });

  it('logs in with OAUTHBEARER (RFC 7628), chosen by auth: auto from CAPA', async () => {
    const { tokens } = source();
    const result = await probeMailbox(oauthMailbox(appOAuth2(), { auth: 'auto' }), { tokens });
    assert.equal(result.error, null);
    assert.equal(result.auth_method, 'oauthbearer');
    assert.equal(result.messages, 1);
  });

  it('replaces a token near its expiry before the next probe', async () => {
    const { clock, tokens } = source();
    const mailbox = oauthMailbox(appOAuth2());
    const first = await delta(() => probeMailbox(mailbox, { tokens }));
    await clock.advance(PAST_REFRESH_MS - 2_000);
    const still = await delta(() => probeMailbox(mailbox, { tokens }));
    await clock.advance(2_000);
    const renewed = await delta(() => probeMailbox(mailbox, { tokens }));
    assert.deepEqual(
      [first, still, renewed].map((d) => [d.value.success, d.value.oauth2?.cached, d.cc]),
      [
        [true, false, 1],
        [true, true, 0],
        [true, false, 1],
      ],
    );
  });

  it('100 mailboxes of one client make one token request per token lifetime', async () => {
    const { clock, tokens } = source();
    const mailboxes = Array.from({ length: 100 }, (_, i) =>
      oauthMailbox(appOAuth2(), { name: `shared-${i}`, timeout: 20_000 }),
    );
    const rounds: { ok: number; cc: number }[] = [];
    for (let round = 0; round < 2; round++) {
      const { value, cc } = await delta(() =>
        Promise.all(mailboxes.map((m) => probeMailbox(m, { tokens }))),
      );
      const failed = value.filter((r) => !r.success).map((r) => r.error?.message);
      assert.deepEqual(failed, []);
      rounds.push({ ok: value.length, cc });
      await clock.advance(PAST_REFRESH_MS);
    }
    assert.deepEqual(rounds, [
      { ok: 100, cc: 1 },
      { ok: 100, cc: 1 },
    ]);
  });

  it('a token revoked at the server is replaced and the probe succeeds in the same run', async () => {
    const { tokens } = source();
    const mailbox = oauthMailbox(appOAuth2());
    assert.equal((await probeMailbox(mailbox, { tokens })).success, true);
    const [held] = tokens.secrets();
    assert.ok(held);
    await revoke(held.reveal(), OAUTH.app, 'post');
    const { value, cc } = await delta(() => probeMailbox(mailbox, { tokens }));
    assert.equal(value.error, null);
    assert.deepEqual(value.oauth2, { grant: 'client_credentials', cached: false, retried: true });
    assert.equal(cc, 1);
  });

  it('a token the server refuses on first use is reported with the server error JSON', async () => {
    // A fixed token (auth: xoauth2 with password), as before oauth2 existed: still works,
    // and a refused one shows Dovecot's RFC 7628 error, not the token.
    const bogus = 'not-a-token-4711';
    const mailbox = oauthMailbox(appOAuth2(), { oauth2: undefined, password: new Secret(bogus) });
    const result = await probeMailbox(mailbox);
    assert.equal(result.error?.code, 'auth');
    assert.match(
      result.error?.message ?? '',
      /^login refused at AUTH XOAUTH2: -ERR \[AUTH\] .* \(server said: status 401, schemes bearer, scope mail\)$/,
    );
    assert.doesNotMatch(JSON.stringify(result), /4711/);
    const oauthbearer = await probeMailbox({ ...mailbox, auth: 'oauthbearer' });
    assert.match(oauthbearer.error?.message ?? '', /\(server said: status invalid_token\)$/);
  });
});

describe('oauth2 refresh_token against Dovecot passdb oauth2', () => {
  it('refreshes, writes the rotated refresh token back (0600), and keeps working', async () => {
    const file = join(work, 'rotating-token');
    const original = await mintRefreshToken(file, 'rotating');
    const { clock, tokens } = source();
    const mailbox = oauthMailbox(userOAuth2(file, original), { username: OAUTH.users.user });
    const first = await delta(() => probeMailbox(mailbox, { tokens }));
    assert.equal(first.value.error, null);
    assert.equal(first.rt, 1);
    const rotated = readFileSync(file, 'utf8').trim();
    assert.notEqual(rotated, original);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await clock.advance(PAST_REFRESH_MS);
    const second = await delta(() => probeMailbox(mailbox, { tokens }));
    assert.equal(second.value.error, null);
    assert.equal(second.rt, 1);
    assert.notEqual(readFileSync(file, 'utf8').trim(), rotated);
  });

  it('a revoked refresh token is a token failure with invalid_grant, counted as a login failure', async () => {
    const file = join(work, 'revoked-token');
    const token = await mintRefreshToken(file, 'revoked');
    await revoke(token, OAUTH.user, 'basic');
    const { tokens } = source();
    const mailbox = oauthMailbox(userOAuth2(file, token), { username: OAUTH.users.user });
    const result = await probeMailbox(mailbox, { tokens });
    assert.deepEqual(
      { ...result.error, message: undefined },
      {
        code: 'token',
        message: undefined,
        response: null,
        command: null,
        phase: 'token',
        oauth_error: 'invalid_grant',
        credentials_refused: true,
      },
    );
    assert.equal(
      result.error?.message,
      `token endpoint ${OAUTH.tokenUrl} refused the request with invalid_grant: grant request is invalid (HTTP 400)`,
    );
    assert.equal(result.phases.dns, undefined, 'no connection is opened without a token');
  });
});

describe('oauth2 failures of the token endpoint', () => {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  after(() => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
  });

  async function listen(onConnection: (socket: Socket) => void): Promise<number> {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      onConnection(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async function failure(oauth2: ReturnType<typeof appOAuth2>, timeout = 4_000) {
    const started = performance.now();
    const result = await probeMailbox(oauthMailbox(oauth2, { timeout }), {
      tokens: source().tokens,
    });
    return { result, ms: performance.now() - started };
  }

  it('unreachable (nothing listens): token, naming the endpoint, at once', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/token`;
    const { result, ms } = await failure(appOAuth2({ token_url: url }));
    assert.equal(result.error?.code, 'token');
    assert.equal(result.error?.phase, 'token');
    assert.equal(result.error?.message, `token endpoint ${url} is unreachable: ECONNREFUSED`);
    assert.ok(ms < 4_000, `${ms} ms`);
  });

  it('slow (accepts and never answers): token within the deadline, after its own timeout', async () => {
    const port = await listen(() => undefined);
    const url = `http://127.0.0.1:${port}/token`;
    const { result, ms } = await failure(appOAuth2({ token_url: url }), 2_000);
    assert.equal(result.error?.message, `token endpoint ${url} did not answer within 1s`);
    assert.ok(ms >= 900 && ms < 2_000, `${ms} ms`);
  });

  it('answering HTML (a captive portal or a proxy error page): token', async () => {
    const port = await listen((socket) =>
      socket.end(
        'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 19\r\nConnection: close\r\n\r\n<h1>Bad Gateway</h1>',
      ),
    );
    const url = `http://127.0.0.1:${port}/token`;
    const { result } = await failure(appOAuth2({ token_url: url }));
    assert.equal(
      result.error?.message,
      `token endpoint ${url} answered HTTP 502 (text/html), not a token response`,
    );
  });

  it('invalid_client (a wrong client secret) at the real server: token, a login failure', async () => {
    const { result } = await failure(appOAuth2({ client_secret: new Secret('wrong-secret-1') }));
    assert.equal(result.error?.code, 'token');
    assert.equal(result.error?.oauth_error, 'invalid_client');
    assert.equal(result.error?.credentials_refused, true);
    assert.match(result.error?.message ?? '', /refused the request with invalid_client/);
    assert.doesNotMatch(JSON.stringify(result), /wrong-secret-1/);
  });

  it('invalid_scope at the real server: token, not a login failure', async () => {
    // The server ignores scopes it does not know; one it knows but the client may not have:
    const { result } = await failure(appOAuth2({ scope: 'offline_access' }));
    assert.equal(result.error?.code, 'token');
    assert.equal(result.error?.oauth_error, 'invalid_scope');
    assert.equal(result.error?.credentials_refused, undefined);
    assert.match(
      result.error?.message ?? '',
      new RegExp(`^token endpoint ${OAUTH.tokenUrl} refused the request with invalid_scope`),
    );
  });
});

before(async () => {
  // The authorization server must be the one start.sh started (a clear message otherwise).
  await tokenRequests();
});
