import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProbeResult } from '../../../src/probe/result.js';
import type { ProbeAnswer } from '../../../src/web/routes.js';
import { type HttpServer, startHttpServer } from '../../../src/web/server.js';
import { failed, ok } from '../../fixtures/probe-results.js';
import { call, serverOptions } from '../../fixtures/web-backend.js';
import { NOW, view } from './views.js';

const RESULT: ProbeResult = ok('support', {
  messages: 3,
  size_bytes: 1208,
  phases: { connect: 0.001, auth: 0.01, total: 0.05 },
  transcript: {
    lines: [
      { at_ms: 0.5, dir: 'C', text: 'PASS ***' },
      { at_ms: 9.5, dir: 'S', text: '+OK Logged in.' },
    ],
    omitted: 0,
  },
});

describe('routes: pages, /probe, /healthz', () => {
  let server: HttpServer;
  let healthy: string | null = null;
  let answer: ProbeAnswer | undefined;
  const asked: string[] = [];

  before(async () => {
    server = await startHttpServer(
      serverOptions({
        health: () => healthy,
        mailboxDetail: (name) =>
          name === 'a/b <c>'
            ? { now: NOW, version: 'v', mailbox: view(name, RESULT), recent: [RESULT] }
            : undefined,
        probeNow: async (name) => {
          asked.push(name);
          return name === 'support' ? answer : undefined;
        },
      }),
    );
  });
  after(() => server.close());

  it('/healthz: 200 while the scheduler progresses, 503 with the reason when not', async () => {
    assert.deepEqual(
      [
        (await call(server, 'GET', '/healthz')).status,
        (await call(server, 'GET', '/healthz')).body,
      ],
      [200, 'ok\n'],
    );
    healthy = 'no probe started or finished for 400s';
    const sick = await call(server, 'GET', '/healthz');
    healthy = null;
    assert.deepEqual(
      [sick.status, sick.body],
      [503, 'unhealthy: no probe started or finished for 400s\n'],
    );
  });

  it('the status page: HTML with a Content-Security-Policy and no framing', async () => {
    const reply = await call(server, 'GET', '/?sort=name');
    assert.equal(reply.status, 200);
    assert.match(
      String(reply.headers['content-security-policy']),
      /script-src 'self'.*frame-ancestors 'none'/,
    );
    assert.equal(reply.headers['x-content-type-options'], 'nosniff');
    assert.match(reply.body, /<h1>Mailboxes<\/h1>/);
  });

  it('/mailboxes/NAME decodes the name; an unknown one is 404, a bad encoding 400', async () => {
    const page = await call(server, 'GET', `/mailboxes/${encodeURIComponent('a/b <c>')}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<span class="mailbox-name">a\/b &lt;c&gt;<\/span>/);
    assert.match(page.body, /<code>PASS \*\*\*<\/code>/);
    const unknown = await call(server, 'GET', '/mailboxes/nobody');
    assert.deepEqual(
      [unknown.status, unknown.body],
      [404, 'unknown mailbox "nobody": the config has no mailbox of that name\n'],
    );
    assert.equal((await call(server, 'GET', '/mailboxes/%E0%A4%A')).status, 400);
  });

  it('/probe answers the probe as Prometheus text', async () => {
    answer = { result: RESULT, labels: { team: 'ops' }, held: null };
    const reply = await call(server, 'GET', '/probe?mailbox=support');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(reply.body, /^pop3_up\{mailbox="support",team="ops"\} 1$/m);
    assert.match(reply.body, /^pop3_messages\{mailbox="support",team="ops"\} 3$/m);
    assert.equal(asked.at(-1), 'support');
  });

  it('/probe?debug=true answers the transcript as text; a held probe says so', async () => {
    answer = { result: RESULT, labels: {}, held: 'backing off after a refused login for 60s more' };
    const reply = await call(server, 'GET', '/probe?mailbox=support&debug=true');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(reply.body, /^mailbox: support\n/);
    assert.match(
      reply.body,
      /^note: no new probe: backing off after a refused login for 60s more; this is the last result$/m,
    );
    assert.match(reply.body, /^ {5}0\.5 ms {2}C: PASS \*\*\*$/m);
  });

  it('/probe: no mailbox is 400, an unknown one 404 with a clear message, HEAD 405', async () => {
    const missing = await call(server, 'GET', '/probe');
    assert.deepEqual(
      [missing.status, missing.body],
      [400, 'the mailbox parameter is missing: /probe?mailbox=NAME\n'],
    );
    const unknown = await call(server, 'GET', '/probe?mailbox=%3Cscript%3E');
    assert.deepEqual(
      [unknown.status, unknown.body],
      [404, 'unknown mailbox "<script>": the config has no mailbox of that name\n'],
    );
    assert.equal(unknown.headers['content-type'], 'text/plain; charset=utf-8');
    const head = await call(server, 'HEAD', '/probe?mailbox=support');
    assert.deepEqual([head.status, head.headers.allow], [405, 'GET']);
  });

  it('a failed probe: pop3_up 0 and why', async () => {
    answer = {
      result: failed('support', 'auth', 'auth', { phases: { auth: 2, total: 2.1 } }),
      labels: {},
      held: null,
    };
    const reply = await call(server, 'GET', '/probe?mailbox=support');
    assert.match(reply.body, /^pop3_up\{mailbox="support"\} 0$/m);
    assert.match(
      reply.body,
      /^pop3_probe_last_failure_info\{mailbox="support",reason="auth",phase="auth"\} 1$/m,
    );
    assert.doesNotMatch(reply.body, /pop3_messages/);
  });

  it("the pages' script and style", async () => {
    const js = await call(server, 'GET', '/assets/status.js');
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(js.body, /setInterval\(refresh/);
    const css = await call(server, 'GET', '/assets/status.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  });
});
