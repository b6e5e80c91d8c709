/**
 * The token source's cache logic on a fake clock with an injected token request: when a
 * token is reused and when it is replaced, one request per key however many ask at once,
 * which mailboxes share a key, failures held briefly, rotated refresh tokens written
 * before use.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OAuth2Config } from '../../../src/config/oauth2.js';
import { cacheEntry, isFresh, tokenKey } from '../../../src/oauth/token-cache.js';
import type { TokenResponse } from '../../../src/oauth/token-endpoint.js';
import { TokenError } from '../../../src/oauth/token-error.js';
import { FAILURE_HOLD_MS, TokenSource } from '../../../src/oauth/token-source.js';
import { Secret } from '../../../src/secret.js';
import { FakeClock } from '../../fixtures/fake-clock.js';

function config(overrides: Partial<OAuth2Config> = {}): OAuth2Config {
  return {
    provider: 'generic',
    grant: 'client_credentials',
    token_url: 'https://idp.example/token',
    issuer: 'https://idp.example',
    client_id: 'app',
    client_secret: new Secret('client-secret'),
    client_secret_file: undefined,
    client_auth: 'basic',
    refresh_token: undefined,
    refresh_token_file: undefined,
    scope: 'mail',
    timeout: undefined,
    ...overrides,
  };
}

const rt = (file: string, token: string) =>
  config({
    grant: 'refresh_token',
    refresh_token: new Secret(token),
    refresh_token_file: file,
    scope: undefined,
  });

/** A token endpoint in memory: numbered tokens, an optional gate to hold answers back. */
function endpoint(expiresIn: number | undefined = 3600) {
  const calls: { refreshToken: string | undefined; timeoutMs: number }[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  let failWith: Error | null = null;
  let rotate = false;
  return {
    calls,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release: () => open(),
    fail(error: Error | null) {
      failWith = error;
    },
    rotating(on: boolean) {
      rotate = on;
    },
    request: async (
      _c: OAuth2Config,
      refreshToken: Secret | undefined,
      timeoutMs: number,
    ): Promise<TokenResponse> => {
      calls.push({ refreshToken: refreshToken?.reveal(), timeoutMs });
      const n = calls.length;
      await gate;
      if (failWith) throw failWith;
      return {
        accessToken: new Secret(`access-${n}`),
        expiresIn,
        refreshToken: rotate ? new Secret(`refresh-${n}`) : undefined,
      };
    },
  };
}

function setup(expiresIn?: number) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const server = endpoint(expiresIn);
  const written: [string, string][] = [];
  let writeError: Error | null = null;
  const tokens = new TokenSource({
    clock,
    request: server.request,
    writeRefreshToken: async (file, token) => {
      if (writeError) throw writeError;
      written.push([file, token.reveal()]);
    },
  });
  return {
    clock,
    server,
    tokens,
    written,
    failWrites: (e: Error | null) => {
      writeError = e;
    },
  };
}

describe('token cache: freshness and keys', () => {
  it('replaces a token with a fifth of its lifetime left, at most 5 minutes ahead', () => {
    const t0 = 1_000_000;
    const hour = cacheEntry(new Secret('a'), t0, 3600);
    assert.deepEqual([hour.expiresAt - t0, hour.refreshAt - t0], [3_600_000, 3_300_000]);
    const short = cacheEntry(new Secret('a'), t0, 10);
    assert.deepEqual([short.expiresAt - t0, short.refreshAt - t0], [10_000, 8_000]);
    assert.equal(isFresh(short, t0 + 7_999), true);
    assert.equal(isFresh(short, t0 + 8_000), false);
  });

  it('without expires_in (or a nonsense one) assumes 5 minutes', () => {
    for (const expiresIn of [undefined, 0, -5, Number.NaN]) {
      const entry = cacheEntry(new Secret('a'), 0, expiresIn);
      assert.deepEqual([entry.expiresAt, entry.refreshAt], [300_000, 240_000]);
    }
  });

  it('an app token is shared by all of a client (same secret); a refresh token by its file', () => {
    assert.equal(tokenKey(config()), tokenKey(config({ client_secret_file: '/elsewhere' })));
    assert.notEqual(tokenKey(config()), tokenKey(config({ client_secret: new Secret('other') })));
    assert.ok(!tokenKey(config()).includes('client-secret'));
    assert.notEqual(tokenKey(config()), tokenKey(config({ scope: 'other' })));
    assert.notEqual(tokenKey(config()), tokenKey(config({ client_id: 'other' })));
    assert.notEqual(tokenKey(config()), tokenKey(config({ token_url: 'https://b/token' })));
    assert.equal(tokenKey(rt('/a', 'x')), tokenKey(rt('/a', 'y')));
    assert.notEqual(tokenKey(rt('/a', 'x')), tokenKey(rt('/b', 'x')));
  });
});

describe('TokenSource', () => {
  it('reuses a token until its refresh point, then asks again', async () => {
    const { clock, server, tokens } = setup(10);
    const seen: [string, boolean][] = [];
    for (const step of [0, 7_999, 1, 7_999, 1]) {
      await clock.advance(step);
      const lease = await tokens.getToken(config(), 5_000);
      seen.push([lease.token.reveal(), lease.cached]);
    }
    assert.deepEqual(seen, [
      ['access-1', false],
      ['access-1', true],
      ['access-2', false],
      ['access-2', true],
      ['access-3', false],
    ]);
    assert.equal(server.calls.length, 3);
  });

  it('makes one request when many ask at once, and hands every one the same token', async () => {
    const { server, tokens } = setup();
    server.hold();
    const leases = Array.from({ length: 100 }, () => tokens.getToken(config(), 5_000));
    server.release();
    const got = await Promise.all(leases);
    assert.equal(server.calls.length, 1);
    assert.deepEqual(new Set(got.map((l) => l.token.reveal())), new Set(['access-1']));
  });

  it('a caller that joins a slow request gives up at its own timeout', async () => {
    const { clock, server, tokens } = setup();
    server.hold();
    const first = tokens.getToken(config(), 10_000);
    const joiner = tokens.getToken(config(), 2_000);
    const gaveUp = assert.rejects(
      joiner,
      (e: unknown) => e instanceof TokenError && e.code === 'timeout',
    );
    await clock.advance(2_000);
    await gaveUp;
    server.release();
    assert.equal((await first).token.reveal(), 'access-1');
    assert.deepEqual(
      server.calls.map((c) => c.timeoutMs),
      [10_000],
    );
  });

  it('invalidate drops the refused token only if it is still the cached one', async () => {
    const { server, tokens } = setup();
    const a = await tokens.getToken(config(), 5_000);
    tokens.invalidate(config(), new Secret('some-older-token'));
    assert.equal((await tokens.getToken(config(), 5_000)).cached, true);
    tokens.invalidate(config(), a.token);
    const b = await tokens.getToken(config(), 5_000);
    assert.deepEqual([b.token.reveal(), b.cached, server.calls.length], ['access-2', false, 2]);
  });

  it('holds a failure for a while instead of asking again for every mailbox', async () => {
    const { clock, server, tokens } = setup();
    const refused = new TokenError('oauth', 'https://idp.example/token', 'refused', {
      oauthError: 'invalid_client',
    });
    server.fail(refused);
    await assert.rejects(tokens.getToken(config(), 5_000), refused);
    await clock.advance(FAILURE_HOLD_MS - 1);
    await assert.rejects(tokens.getToken(config(), 5_000), refused);
    assert.equal(server.calls.length, 1);
    server.fail(null);
    await clock.advance(1);
    assert.equal((await tokens.getToken(config(), 5_000)).token.reveal(), 'access-2');
  });

  it('writes a rotated refresh token back before handing out the access token', async () => {
    const { clock, server, tokens, written } = setup(10);
    server.rotating(true);
    const cfg = rt('/tokens/user', 'refresh-0');
    await tokens.getToken(cfg, 5_000);
    assert.deepEqual(written, [['/tokens/user', 'refresh-1']]);
    await clock.advance(8_000);
    await tokens.getToken(cfg, 5_000);
    // The second refresh uses the rotated token, although the config still has the first.
    assert.deepEqual(
      server.calls.map((c) => c.refreshToken),
      ['refresh-0', 'refresh-1'],
    );
    assert.deepEqual(written.at(-1), ['/tokens/user', 'refresh-2']);
    // A reload that reads the rotated token back from the file changes nothing...
    await clock.advance(8_000);
    await tokens.getToken(rt('/tokens/user', 'refresh-2'), 5_000);
    // ...one with a new token the user put there is used from then on.
    await clock.advance(8_000);
    await tokens.getToken(rt('/tokens/user', 'fresh-consent'), 5_000);
    assert.deepEqual(
      server.calls.map((c) => c.refreshToken),
      ['refresh-0', 'refresh-1', 'refresh-2', 'fresh-consent'],
    );
  });

  it('a rotated token that cannot be written is a store failure, and is kept in memory', async () => {
    const { clock, server, tokens, failWrites } = setup(10);
    server.rotating(true);
    failWrites(Object.assign(new Error('EACCES: denied'), { code: 'EACCES' }));
    const cfg = rt('/tokens/user', 'refresh-0');
    await assert.rejects(
      tokens.getToken(cfg, 5_000),
      (e: unknown) =>
        e instanceof TokenError &&
        e.code === 'store' &&
        e.message ===
          'the rotated refresh token could not be written to /tokens/user: permission denied (EACCES)',
    );
    failWrites(null);
    await clock.advance(FAILURE_HOLD_MS);
    await tokens.getToken(cfg, 5_000);
    assert.deepEqual(
      server.calls.map((c) => c.refreshToken),
      ['refresh-0', 'refresh-1'],
    );
  });

  it('secrets() lists every access and refresh token it holds', async () => {
    const { server, tokens } = setup();
    server.rotating(true);
    await tokens.getToken(rt('/f', 'refresh-0'), 5_000);
    await tokens.getToken(config(), 5_000);
    assert.deepEqual(
      tokens
        .secrets()
        .map((s) => s.reveal())
        .sort(),
      ['access-1', 'access-2', 'refresh-1'],
    );
  });
});
