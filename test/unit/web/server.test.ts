import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Secret } from '../../../src/secret.js';
import type { WebBackend } from '../../../src/web/routes.js';
import {
  type HttpServer,
  MAX_BODY_BYTES,
  parseListenAddress,
  startHttpServer,
} from '../../../src/web/server.js';
import { parseWebConfig } from '../../../src/web/web-config-load.js';
import {
  call,
  EXPOSITION,
  serverOptions as options,
  PROM_TYPE,
} from '../../fixtures/web-backend.js';

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

describe('parseListenAddress', () => {
  it('splits host:port, [v6]:port and :port', () => {
    assert.deepEqual(parseListenAddress('0.0.0.0:9469'), { host: '0.0.0.0', port: 9469 });
    assert.deepEqual(parseListenAddress('[::1]:9469'), { host: '::1', port: 9469 });
    assert.deepEqual(parseListenAddress(':9469'), { host: undefined, port: 9469 });
    assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
  });

  it('refuses addresses without a port or with a port above 65535', () => {
    assert.throws(() => parseListenAddress('9469'), /server\.listen: expected host:port/);
    assert.throws(() => parseListenAddress('host:65536'), /server\.listen/);
    assert.throws(() => parseListenAddress('::1:9469'), /server\.listen/);
  });
});

describe('startHttpServer', () => {
  let ready = false;
  let reloadOutcome: Awaited<ReturnType<WebBackend['reload']>> = { ok: true };
  let reloads = 0;
  let server: HttpServer;

  before(async () => {
    server = await startHttpServer(
      options({
        isReady: () => ready,
        reload: async () => {
          reloads += 1;
          return reloadOutcome;
        },
      }),
    );
  });
  after(() => server.close());

  it('binds the loopback address with a port of its own when given port 0', () => {
    assert.equal(server.address.host, '127.0.0.1');
    assert.ok(server.address.port > 0);
  });

  it('serves GET /metrics with the rendered body and its content type', async () => {
    const reply = await call(server, 'GET', '/metrics');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], PROM_TYPE);
    assert.equal(reply.body, EXPOSITION);
    assert.equal((await call(server, 'GET', '/metrics?name[]=pop3_up')).body, EXPOSITION);
  });

  it('answers HEAD /metrics with the headers of GET and no body', async () => {
    const reply = await call(server, 'HEAD', '/metrics');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], PROM_TYPE);
    assert.equal(reply.headers['content-encoding'], undefined);
    assert.equal(reply.body, '');
  });

  it('answers /healthz with 200 ok', async () => {
    const reply = await call(server, 'GET', '/healthz');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'ok\n');
  });

  it('answers /readyz with 503 until ready, then 200', async () => {
    ready = false;
    const before = await call(server, 'GET', '/readyz');
    assert.deepEqual([before.status, before.body], [503, 'not ready\n']);
    ready = true;
    const afterFlip = await call(server, 'GET', '/readyz');
    assert.deepEqual([afterFlip.status, afterFlip.body], [200, 'ready\n']);
  });

  it('reloads on POST /-/reload and reports success with 200', async () => {
    reloadOutcome = { ok: true };
    const count = reloads;
    const reply = await call(server, 'POST', '/-/reload');
    assert.deepEqual([reply.status, reply.body], [200, 'reloaded\n']);
    assert.equal(reloads, count + 1);
  });

  it('reports a refused reload with 500 and the error text', async () => {
    reloadOutcome = { ok: false, error: 'mailboxes[1].port: expected 1-65535' };
    const reply = await call(server, 'POST', '/-/reload');
    assert.equal(reply.status, 500);
    assert.equal(reply.body, 'reload failed: mailboxes[1].port: expected 1-65535\n');
  });

  it('refuses GET /-/reload with 405 and Allow: POST, without reloading', async () => {
    const count = reloads;
    const reply = await call(server, 'GET', '/-/reload');
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.allow, 'POST');
    assert.equal(reloads, count);
  });

  it('refuses POST /metrics with 405 and Allow: GET, HEAD', async () => {
    const reply = await call(server, 'POST', '/metrics');
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.allow, 'GET, HEAD');
  });

  it('serves the status page on / that links the metrics', async () => {
    const reply = await call(server, 'GET', '/');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(reply.body, /<a href="metrics">metrics<\/a>/);
  });

  it('answers 404 for any other path', async () => {
    for (const path of ['/nope', '/metrics/', '/-/reloaded', '//metrics']) {
      const reply = await call(server, 'GET', path);
      assert.deepEqual([path, reply.status, reply.body], [path, 404, 'not found\n']);
    }
  });

  it('refuses a body above 64 KiB with 413 and accepts a small one', async () => {
    const big = await call(server, 'POST', '/-/reload', { body: Buffer.alloc(MAX_BODY_BYTES + 1) });
    assert.equal(big.status, 413);
    assert.equal(big.headers.connection, 'close');
    // Without a Content-Length the count is kept while the body streams in.
    const streamed = await call(server, 'POST', '/-/reload', {
      headers: { 'Transfer-Encoding': 'chunked' },
      body: Buffer.alloc(MAX_BODY_BYTES + 1),
    });
    assert.equal(streamed.status, 413);
    reloadOutcome = { ok: true };
    const small = await call(server, 'POST', '/-/reload', { body: Buffer.from('{}') });
    assert.equal(small.status, 200);
  });
});

describe('startHttpServer failures', () => {
  it('answers 500 with a short text when rendering fails', async () => {
    const server = await startHttpServer(
      options({
        exposition: () => ({
          contentType: PROM_TYPE,
          chunks: (async function* () {
            yield* [];
            throw new Error('collector exploded with details');
          })(),
        }),
      }),
    );
    try {
      const reply = await call(server, 'GET', '/metrics');
      assert.deepEqual([reply.status, reply.body], [500, 'error rendering metrics\n']);
    } finally {
      await server.close();
    }
  });

  it('answers 500 without the thrown text when reload throws', async () => {
    const server = await startHttpServer(
      options({
        reload: async () => {
          throw new Error('password=hunter2');
        },
      }),
    );
    try {
      const reply = await call(server, 'POST', '/-/reload');
      assert.deepEqual([reply.status, reply.body], [500, 'reload failed\n']);
    } finally {
      await server.close();
    }
  });

  it('rejects when the port is taken', async () => {
    const first = await startHttpServer(options());
    try {
      await assert.rejects(
        startHttpServer(options({ listen: `127.0.0.1:${first.address.port}` })),
        { code: 'EADDRINUSE' },
      );
    } finally {
      await first.close();
    }
  });
});

describe('startHttpServer with auth', () => {
  let server: HttpServer;
  before(async () => {
    server = await startHttpServer(
      options({
        auth: {
          basic: { username: 'prom', password: new Secret('s3cret') },
          bearer: new Secret('token-123'),
        },
      }),
    );
  });
  after(() => server.close());

  it('answers 401 with both challenges when no credentials are given', async () => {
    const reply = await call(server, 'GET', '/metrics');
    assert.equal(reply.status, 401);
    assert.equal(
      reply.headers['www-authenticate'],
      'Basic realm="pop3-monitor", charset="UTF-8", Bearer realm="pop3-monitor"',
    );
    assert.ok(!reply.body.includes('pop3_up'));
  });

  it('accepts the right basic credentials and refuses wrong ones', async () => {
    assert.equal(
      (await call(server, 'GET', '/metrics', { headers: basic('prom', 's3cret') })).status,
      200,
    );
    assert.equal(
      (await call(server, 'GET', '/metrics', { headers: basic('prom', 's3cre') })).status,
      401,
    );
    assert.equal(
      (await call(server, 'GET', '/metrics', { headers: basic('pro', 's3cret') })).status,
      401,
    );
    const noColon = { Authorization: `Basic ${Buffer.from('prom').toString('base64')}` };
    assert.equal((await call(server, 'GET', '/metrics', { headers: noColon })).status, 401);
  });

  it('accepts the right bearer token and refuses a wrong one', async () => {
    const ok = await call(server, 'GET', '/metrics', {
      headers: { Authorization: 'Bearer token-123' },
    });
    assert.equal(ok.status, 200);
    const wrong = await call(server, 'GET', '/metrics', {
      headers: { Authorization: 'Bearer token-124' },
    });
    assert.equal(wrong.status, 401);
    // The password is not a bearer token.
    const mixed = await call(server, 'GET', '/metrics', {
      headers: { Authorization: 'Bearer s3cret' },
    });
    assert.equal(mixed.status, 401);
  });

  it('requires credentials on every endpoint but /healthz and /readyz (what a kubelet probes)', async () => {
    assert.equal((await call(server, 'GET', '/healthz')).status, 200);
    assert.equal((await call(server, 'GET', '/readyz')).status, 200);
    for (const [method, path] of [
      ['POST', '/-/reload'],
      ['GET', '/'],
      ['GET', '/metrics'],
      ['GET', '/mailboxes/a'],
      ['GET', '/probe?mailbox=a'],
      ['GET', '/assets/status.js'],
      ['GET', '/nope'],
    ] as const) {
      assert.equal((await call(server, method, path)).status, 401, `${method} ${path}`);
    }
    const authed = await call(server, 'POST', '/-/reload', { headers: basic('prom', 's3cret') });
    assert.equal(authed.status, 200);
  });
});

describe('startHttpServer close', () => {
  it('resolves quickly while a keep-alive client is connected', async () => {
    const server = await startHttpServer(options());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const reply = await call(server, 'GET', '/metrics', { agent });
      assert.equal(reply.status, 200);
      // The connection is kept open by the agent: close() must not wait for it to idle out.
      const start = performance.now();
      await server.close();
      assert.ok(performance.now() - start < 1000, 'close() waited for the keep-alive socket');
      await assert.rejects(call(server, 'GET', '/healthz'), { code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
    }
  });

  it('lets a request in progress finish, then closes its connection', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let rendering: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      rendering = resolve;
    });
    const server = await startHttpServer(
      options({
        exposition: () => ({
          contentType: PROM_TYPE,
          chunks: (async function* () {
            rendering();
            await gate;
            yield EXPOSITION;
          })(),
        }),
      }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const pending = call(server, 'GET', '/metrics', { agent });
      await started;
      const closed = server.close();
      release();
      const reply = await pending;
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.connection, 'close');
      const start = performance.now();
      await closed;
      assert.ok(performance.now() - start < 1000, 'close() waited for the grace period');
    } finally {
      agent.destroy();
    }
  });
});

describe('startHttpServer with a web config: bcrypt users, rate limit, headers', () => {
  // htpasswd -nbBC 4 bob fixture-bob-password
  const BOB = '$2y$04$7wD8pc1Dd3c0w7Ptyq5IEe0UKiS47N6Eh0NwlWK.65dPcNZqghpcK';
  const web = parseWebConfig(
    [
      'basic_auth_users:',
      `  bob: ${BOB}`,
      'rate_limit:',
      '  interval: 1m',
      '  burst: 3',
      'http_server_config:',
      '  headers:',
      `    Content-Security-Policy: "img-src 'none'"`,
      '    X-Frame-Options: deny',
      '',
    ].join('\n'),
    { source: '/nonexistent/web.yml' },
  );
  let server: HttpServer;
  const probed: string[] = [];
  const refused: string[] = [];

  before(async () => {
    server = await startHttpServer({
      ...options({
        probeNow: async (name) => {
          probed.push(name);
          return undefined;
        },
      }),
      web,
      onRefused: (reason) => refused.push(reason),
    });
  });
  after(() => server.close());

  it('/probe asks for a user, counts against the rate limit, and is refused beyond it before any probe', async () => {
    const bob = basic('bob', 'fixture-bob-password');
    const anonymous = await call(server, 'GET', '/probe?mailbox=a');
    assert.equal(anonymous.status, 401);
    assert.deepEqual(probed, []);
    // Through the guard: the backend is asked (and knows no such mailbox).
    assert.equal((await call(server, 'GET', '/probe?mailbox=a', { headers: bob })).status, 404);
    assert.deepEqual(probed, ['a']);
    const page = await call(server, 'GET', '/', { headers: bob });
    assert.equal(page.status, 200);
    // The page's own policy and the configured one, both sent (a browser enforces both).
    assert.deepEqual(page.headers['content-security-policy']?.toString().split(', '), [
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      "img-src 'none'",
    ]);
    assert.equal(page.headers['x-frame-options'], 'deny');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    const limited = await call(server, 'GET', '/probe?mailbox=a', { headers: bob });
    assert.equal(limited.status, 429);
    assert.match(String(limited.headers['retry-after']), /^\d+$/);
    assert.deepEqual(probed, ['a'], 'no probe beyond the limit');
    assert.deepEqual(refused, ['unauthorized', 'rate_limited']);
    // What a kubelet probes is never limited.
    assert.equal((await call(server, 'GET', '/healthz')).status, 200);
    assert.equal((await call(server, 'GET', '/readyz')).status, 200);
  });
});
