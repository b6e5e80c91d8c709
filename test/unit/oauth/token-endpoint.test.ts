/**
 * One token request through oauth4webapi against an in-process HTTP endpoint: what is
 * sent for each grant and client authentication, and how each kind of answer a real
 * server can give (and some only a broken proxy gives) is classified.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { OAuth2Config } from '../../../src/config/oauth2.js';
import { requestToken } from '../../../src/oauth/token-endpoint.js';
import { TokenError } from '../../../src/oauth/token-error.js';
import { Secret } from '../../../src/secret.js';

interface Seen {
  authorization: string | undefined;
  body: Record<string, string>;
}
let answer: (res: ServerResponse) => void = () => undefined;
const seen: Seen[] = [];
const server = createServer((req: IncomingMessage, res) => {
  let body = '';
  req.on('data', (c: Buffer) => {
    body += c.toString('utf8');
  });
  req.on('end', () => {
    seen.push({
      authorization: req.headers.authorization,
      body: Object.fromEntries(new URLSearchParams(body)),
    });
    answer(res);
  });
});
let url = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/token`;
});
after(() => server.close());

function config(overrides: Partial<OAuth2Config> = {}): OAuth2Config {
  return {
    provider: 'generic',
    grant: 'client_credentials',
    token_url: url,
    issuer: new URL(url).origin,
    client_id: 'app',
    client_secret: new Secret('s3cret'),
    client_secret_file: undefined,
    client_auth: 'post',
    refresh_token: undefined,
    refresh_token_file: undefined,
    scope: 'https://outlook.office365.com/.default',
    timeout: undefined,
    ...overrides,
  };
}

function reply(status: number, type: string, body: string, headers: Record<string, string> = {}) {
  answer = (res) => {
    res.writeHead(status, { 'content-type': type, ...headers });
    res.end(body);
  };
}

async function failure(cfg = config()): Promise<TokenError> {
  try {
    await requestToken(cfg, cfg.refresh_token, 2_000);
  } catch (error) {
    assert.ok(error instanceof TokenError, String(error));
    return error;
  }
  throw new Error('expected a TokenError');
}

describe('requestToken: what is sent', () => {
  it('client_credentials with client_secret_post: grant, scope, id and secret in the body', async () => {
    reply(
      200,
      'application/json',
      '{"access_token":"at-1","token_type":"Bearer","expires_in":3599}',
    );
    const got = await requestToken(config(), undefined, 2_000);
    assert.deepEqual(
      [got.accessToken.reveal(), got.expiresIn, got.refreshToken],
      ['at-1', 3599, undefined],
    );
    assert.deepEqual(seen.at(-1), {
      authorization: undefined,
      body: {
        grant_type: 'client_credentials',
        scope: 'https://outlook.office365.com/.default',
        client_id: 'app',
        client_secret: 's3cret',
      },
    });
  });

  it('refresh_token with client_secret_basic; no scope unless configured; a rotated token', async () => {
    reply(
      200,
      'application/json',
      '{"access_token":"at-2","token_type":"bearer","expires_in":"60","refresh_token":"rt-2"}',
    );
    const cfg = config({
      grant: 'refresh_token',
      client_auth: 'basic',
      scope: undefined,
      refresh_token: new Secret('rt-1'),
    });
    const got = await requestToken(cfg, cfg.refresh_token, 2_000);
    assert.deepEqual(
      [got.accessToken.reveal(), got.expiresIn, got.refreshToken?.reveal()],
      ['at-2', 60, 'rt-2'],
    );
    assert.deepEqual(seen.at(-1), {
      authorization: `Basic ${Buffer.from('app:s3cret').toString('base64')}`,
      body: { grant_type: 'refresh_token', refresh_token: 'rt-1' },
    });
  });

  it('a public client (no secret) sends only its client_id', async () => {
    reply(200, 'application/json', '{"access_token":"at-3","token_type":"Bearer"}');
    const cfg = config({
      grant: 'refresh_token',
      client_auth: 'none',
      client_secret: undefined,
      scope: undefined,
      refresh_token: new Secret('rt-1'),
    });
    const got = await requestToken(cfg, cfg.refresh_token, 2_000);
    assert.equal(got.expiresIn, undefined);
    assert.deepEqual(seen.at(-1)?.body, {
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
      client_id: 'app',
    });
  });
});

describe('requestToken: how failures are classified', () => {
  it('an OAuth2 error body (RFC 6749 §5.2): its code and description, HTTP status', async () => {
    reply(
      400,
      'application/json',
      '{"error":"invalid_grant","error_description":"Token has been expired or revoked."}',
    );
    const error = await failure();
    assert.deepEqual(
      [error.code, error.oauthError, error.credentialsRefused, error.message],
      [
        'oauth',
        'invalid_grant',
        true,
        `token endpoint ${url} refused the request with invalid_grant: Token has been expired or revoked. (HTTP 400)`,
      ],
    );
  });

  it('a 401 with a WWW-Authenticate challenge: invalid_client', async () => {
    reply(401, 'application/json', '{"error":"invalid_client"}', {
      'www-authenticate': 'Basic realm="idp", error="invalid_client"',
    });
    const error = await failure();
    assert.deepEqual(
      [error.oauthError, error.credentialsRefused, error.message],
      [
        'invalid_client',
        true,
        `token endpoint ${url} refused the request with invalid_client (HTTP 401)`,
      ],
    );
  });

  it('invalid_scope is not a credential refusal', async () => {
    reply(400, 'application/json', '{"error":"invalid_scope"}');
    const error = await failure();
    assert.deepEqual([error.oauthError, error.credentialsRefused], ['invalid_scope', false]);
  });

  it('a description with control characters or of great length is cleaned and cut', async () => {
    reply(
      400,
      'application/json',
      JSON.stringify({ error: 'invalid_request', error_description: `a\nb${'x'.repeat(300)}` }),
    );
    const error = await failure();
    assert.ok(error.message.includes(`a?b${'x'.repeat(197)}... (HTTP 400)`), error.message);
  });

  it('HTML with 200 (a captive portal): not OAuth2 JSON', async () => {
    reply(200, 'text/html; charset=utf-8', '<html>log in to the wifi</html>');
    const error = await failure();
    assert.deepEqual(
      [error.code, error.message],
      ['invalid_response', `token endpoint ${url} answered HTTP 200 (text/html), not OAuth2 JSON`],
    );
  });

  it('a 503 from a proxy: not a token response', async () => {
    reply(503, 'text/plain', 'upstream down');
    const error = await failure();
    assert.equal(
      error.message,
      `token endpoint ${url} answered HTTP 503 (text/plain), not a token response`,
    );
  });

  it('JSON without an access_token: an unusable token response', async () => {
    reply(200, 'application/json', '{"token_type":"Bearer"}');
    const error = await failure();
    assert.equal(error.code, 'invalid_response');
    assert.match(error.message, /answered with an unusable token response: .*access_token/);
  });

  it('a token type other than Bearer is refused', async () => {
    reply(200, 'application/json', '{"access_token":"x","token_type":"mac"}');
    const error = await failure();
    assert.equal(error.code, 'invalid_response');
  });

  it('no answer within the timeout: timeout, in seconds', async () => {
    answer = () => undefined;
    const started = performance.now();
    const error = await failure();
    assert.deepEqual(
      [error.code, error.message],
      ['timeout', `token endpoint ${url} did not answer within 2s`],
    );
    assert.ok(performance.now() - started < 3_000);
  });
});
