import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { Secret } from '../../../src/secret.js';
import { type RefusalReason, RequestGuard } from '../../../src/web/access.js';
import { parseWebConfig } from '../../../src/web/web-config-load.js';

// htpasswd -nbBC 4 bob fixture-bob-password
const BOB = '$2y$04$7wD8pc1Dd3c0w7Ptyq5IEe0UKiS47N6Eh0NwlWK.65dPcNZqghpcK';

function web(yaml: string) {
  return parseWebConfig(yaml, { source: '/nonexistent/web.yml' });
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function guard(options: ConstructorParameters<typeof RequestGuard>[0] = {}) {
  const refused: RefusalReason[] = [];
  let now = 0;
  const g = new RequestGuard({
    now: () => now,
    onRefused: (reason) => refused.push(reason),
    ...options,
  });
  const ask = async (path: string, headers: IncomingHttpHeaders = {}, method = 'GET') => {
    const decision = await g.decide({ method, path, headers });
    return decision.allowed ? 200 : decision.status;
  };
  return { g, ask, refused, advance: (ms: number) => (now += ms) };
}

describe('RequestGuard', () => {
  it('without any credentials configured, everything is answered', async () => {
    const { ask } = guard();
    assert.equal(await ask('/metrics'), 200);
    assert.equal(await ask('/-/reload', {}, 'POST'), 200);
  });

  it('web config users: 401 with a Basic challenge, 200 with the bcrypt password; /healthz and /readyz open', async () => {
    const { g, ask, refused } = guard({ web: web(`basic_auth_users:\n  bob: ${BOB}\n`) });
    assert.equal(await ask('/metrics'), 401);
    assert.equal(await ask('/metrics', { authorization: basic('bob', 'nope') }), 401);
    assert.equal(
      await ask('/metrics', { authorization: basic('bob', 'fixture-bob-password') }),
      200,
    );
    assert.equal(await ask('/healthz'), 200);
    assert.equal(await ask('/readyz'), 200);
    assert.deepEqual(refused, ['unauthorized', 'unauthorized']);
    const decision = await g.decide({ method: 'GET', path: '/', headers: {} });
    assert.deepEqual(decision.allowed ? null : decision.headers, {
      'WWW-Authenticate': ['Basic realm="pop3-monitor", charset="UTF-8"'],
    });
  });

  it('the config basic_auth and bearer token keep working beside the web config users', async () => {
    const { ask } = guard({
      web: web(`basic_auth_users:\n  bob: ${BOB}\n`),
      auth: {
        basic: { username: 'ops', password: new Secret('config-password') },
        bearer: new Secret('config-token'),
      },
    });
    assert.equal(await ask('/metrics', { authorization: basic('ops', 'config-password') }), 200);
    assert.equal(
      await ask('/metrics', { authorization: basic('bob', 'fixture-bob-password') }),
      200,
    );
    assert.equal(
      await ask('/metrics', { authorization: basic('ops', 'fixture-bob-password') }),
      401,
    );
    assert.equal(await ask('/metrics', { authorization: 'Bearer config-token' }), 200);
    assert.equal(await ask('/metrics', { authorization: 'bearer config-token ' }), 200);
    assert.equal(await ask('/metrics', { authorization: 'Bearer config-tokeN' }), 401);
    assert.equal(await ask('/metrics', { authorization: 'Digest x' }), 401);
  });

  it('rate_limit: a token bucket in front of every protected path, before the password (429)', async () => {
    const { g, ask, refused, advance } = guard({
      web: web(`rate_limit:\n  interval: 1s\n  burst: 2\nbasic_auth_users:\n  bob: ${BOB}\n`),
    });
    assert.equal(
      await ask('/metrics', { authorization: basic('bob', 'fixture-bob-password') }),
      200,
    );
    assert.equal(await ask('/metrics'), 401);
    const decision = await g.decide({ method: 'GET', path: '/metrics', headers: {} });
    assert.deepEqual(decision.allowed ? null : [decision.status, decision.headers], [
      429,
      { 'Retry-After': '1' },
    ]);
    assert.equal(await ask('/healthz'), 200);
    advance(1_000);
    assert.equal(
      await ask('/metrics', { authorization: basic('bob', 'fixture-bob-password') }),
      200,
    );
    assert.deepEqual(refused, ['unauthorized', 'rate_limited']);
  });

  it('a cross-site POST to /-/reload is refused (403) even with credentials; curl-style is not', async () => {
    const { ask, refused } = guard({ auth: { bearer: new Secret('config-token') } });
    const authorization = 'Bearer config-token';
    assert.equal(
      await ask('/-/reload', { authorization, 'sec-fetch-site': 'cross-site' }, 'POST'),
      403,
    );
    assert.equal(
      await ask('/-/reload', { authorization, host: 'm:1', origin: 'http://evil.example' }, 'POST'),
      403,
    );
    assert.equal(await ask('/-/reload', { authorization }, 'POST'), 200);
    assert.deepEqual(refused, ['cross_site', 'cross_site']);
  });

  it('update(): new users replace the old ones at once', async () => {
    const { g, ask } = guard({ web: web(`basic_auth_users:\n  bob: ${BOB}\n`) });
    const bob = { authorization: basic('bob', 'fixture-bob-password') };
    assert.equal(await ask('/metrics', bob), 200);
    g.update(web(`basic_auth_users:\n  alice: ${BOB}\n`));
    assert.equal(await ask('/metrics', bob), 401);
    assert.equal(
      await ask('/metrics', { authorization: basic('alice', 'fixture-bob-password') }),
      200,
    );
    g.update(web(''));
    assert.equal(await ask('/metrics'), 200);
  });
});
