/// <reference lib="dom" />
/**
 * The status page over HTTPS in a real browser (Debian's chromium through playwright-core),
 * served by the built daemon with a web config: TLS with a certificate of a test CA (the
 * browser trusts that one key and nothing else), bcrypt users, a client certificate
 * verified when given, configured headers and a rate limit. The page loads with its
 * Content-Security-Policy and the configured headers and no CSP violation; the CSP is
 * enforced (an injected inline script does not run); a form on another site that POSTs to
 * /-/reload is refused with 403 while the page's own POST goes through; a client
 * certificate of the CA is let in and one of another CA is not; /probe asks for a user
 * and stops at the rate limit.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConsoleMessage, Page } from 'playwright-core';
import { type Browser, openBrowser } from '../fixtures/browser.js';
import { poll } from '../fixtures/poll.js';
import { DOVECOT, USERS } from '../servers/env.js';
import { Daemon, stopAllDaemons, tempDir } from './daemon-support.js';
import {
  basicAuth,
  htpasswdHash,
  httpsRequest,
  makePki,
  type Pki,
  spkiHash,
} from './https-support.js';

const USER = 'operator';
const PASSWORD = 'page-password-5521';
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** Enough for the page tests; the last test spends the rest. */
const BURST = 40;

const temp = tempDir('pop3-page-https-');
let pki: Pki;
let daemon: Daemon;
let origin: string;
let attacker: Server;
let attackerOrigin: string;

function get(path: string, headers: Record<string, string> = basicAuth(USER, PASSWORD)) {
  return httpsRequest(`${origin}${path}`, { ca: readFileSync(pki.ca, 'utf8'), headers });
}

/** One sample of a counter from /metrics (0 when absent). */
async function sample(series: string): Promise<number> {
  const { body } = await get('/metrics');
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

before(async () => {
  pki = makePki(temp.dir);
  const web = join(temp.dir, 'web.yml');
  writeFileSync(
    web,
    [
      'tls_server_config:',
      '  cert_file: server.pem',
      '  key_file: server.key',
      '  client_auth_type: VerifyClientCertIfGiven',
      '  client_ca_file: ca.pem',
      'basic_auth_users:',
      `  ${USER}: ${htpasswdHash(PASSWORD)}`,
      'http_server_config:',
      '  headers:',
      '    Strict-Transport-Security: max-age=300',
      '    X-Frame-Options: deny',
      'rate_limit:',
      '  interval: 1m',
      `  burst: ${BURST}`,
      '',
    ].join('\n'),
  );
  daemon = await Daemon.start({
    config: {
      mailboxes: [
        {
          name: 'support',
          host: DOVECOT.host,
          port: DOVECOT.plainPort,
          tls: 'starttls',
          tls_ca_file: DOVECOT.caFile,
          username: USERS.alice.user,
          password: USERS.alice.password,
          schedule: '*/30 * * * * *',
        },
      ],
    },
    args: ['--web.config.file', web],
  });
  await daemon.waitForLog('the start', (l) => l.event === 'started', 20_000);
  origin = `https://localhost:${daemon.port}`;
  // Readiness without credentials: /readyz is open.
  await poll('/readyz 200', async () =>
    (await get('/readyz', {})).status === 200 ? true : undefined,
  );
  // Another site: a page whose form POSTs to the monitor's /-/reload as soon as it loads.
  attacker = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(
      `<!DOCTYPE html><title>another site</title><form method="post" action="${origin}/-/reload"><input type="hidden" name="x" value="1"></form><script>document.forms[0].submit()</script>`,
    );
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
  await stopAllDaemons();
  temp.remove();
});

describe('the status page over HTTPS with basic auth, in chromium', () => {
  let browser: Browser;
  let page: Page;
  const cspConsole: string[] = [];

  before(async () => {
    browser = await openBrowser({
      httpCredentials: { username: USER, password: PASSWORD },
      trustedSpki: [spkiHash(pki.serverCert)],
    });
    page = await browser.context.newPage();
    page.on('console', (message: ConsoleMessage) => {
      if (/Content[- ]Security[- ]Policy/i.test(message.text())) cspConsole.push(message.text());
    });
    // Every CSP violation of the page, as the page itself sees them.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { violations: string[] }).violations = seen;
      document.addEventListener('securitypolicyviolation', (e) =>
        seen.push(`${e.effectiveDirective} ${e.blockedURI}`),
      );
    });
  });
  after(() => browser?.close());

  it('loads with its Content-Security-Policy and the configured headers; its own script runs; no CSP violation', async () => {
    const response = await page.goto(`${origin}/`);
    assert.ok(response);
    assert.equal(response.status(), 200);
    assert.equal(new URL(response.url()).protocol, 'https:');
    const headers = await response.headersArray();
    const all = (name: string) =>
      headers.filter((h) => h.name.toLowerCase() === name).map((h) => h.value);
    assert.deepEqual(all('content-security-policy'), [PAGE_CSP]);
    assert.deepEqual(all('x-content-type-options'), ['nosniff']);
    assert.deepEqual(all('referrer-policy'), ['no-referrer']);
    // From http_server_config.headers.
    assert.deepEqual(all('strict-transport-security'), ['max-age=300']);
    assert.deepEqual(all('x-frame-options'), ['deny']);
    assert.ok(await page.locator('tr[data-mailbox="support"]').isVisible());
    // status.js (a file of the server, allowed by script-src 'self') shows the refresh box.
    await page.locator('#autorefresh').waitFor({ state: 'visible', timeout: 5_000 });
    const styled = await page.evaluate(() => document.styleSheets.length);
    assert.ok(styled >= 1, 'status.css applied');
    assert.deepEqual(
      await page.evaluate(() => (window as unknown as { violations: string[] }).violations),
      [],
    );
    assert.deepEqual(cspConsole, []);
  });

  it('the policy is enforced: an inline script put into the page does not run and is reported', async () => {
    const ran = await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.inlineRan = true';
      document.body.append(script);
      return (window as unknown as { inlineRan?: boolean }).inlineRan === true;
    });
    assert.equal(ran, false);
    const violations = await poll('the violation event', async () => {
      const v = await page.evaluate(
        () => (window as unknown as { violations: string[] }).violations,
      );
      return v.length > 0 ? v : undefined;
    });
    assert.deepEqual(violations, ['script-src-elem inline']);
  });

  it("a form on another site that POSTs to /-/reload is refused (403); the page's own POST reloads", async () => {
    const reloadsBefore = await sample('pop3_monitor_config_reloads_total{result="success"}');
    const refusedBefore = await sample(
      'pop3_monitor_http_requests_refused_total{reason="cross_site"}',
    );
    const other = await browser.context.newPage();
    try {
      const [response] = await Promise.all([
        other.waitForResponse((r) => r.url() === `${origin}/-/reload`),
        other.goto(attackerOrigin),
      ]);
      const sent = await response.request().allHeaders();
      assert.equal(sent['sec-fetch-site'], 'cross-site');
      assert.equal(sent.origin, attackerOrigin);
      assert.equal(response.status(), 403);
      assert.equal(await response.text(), 'cross-site request refused\n');
    } finally {
      await other.close();
    }
    assert.equal(
      await sample('pop3_monitor_http_requests_refused_total{reason="cross_site"}'),
      refusedBefore + 1,
    );
    assert.equal(
      await sample('pop3_monitor_config_reloads_total{result="success"}'),
      reloadsBefore,
      'no reload from another site',
    );
    // The control: the same POST from the monitor's own page (same origin) goes through.
    const own = await page.evaluate(async () => {
      const r = await fetch('/-/reload', { method: 'POST' });
      return `${r.status} ${await r.text()}`;
    });
    assert.equal(own, '200 reloaded\n');
    assert.equal(
      await sample('pop3_monitor_config_reloads_total{result="success"}'),
      reloadsBefore + 1,
    );
  });
});

describe('the status page with a client certificate, in chromium', () => {
  it('a certificate of the client CA is let in; one of another CA is cut off before any page', async () => {
    const open = (cert: string, key: string) =>
      openBrowser({
        httpCredentials: { username: USER, password: PASSWORD },
        // playwright-core presents the certificate from its own TLS proxy, which knows no
        // test CA: the server's certificate is checked in the tests above, not here.
        ignoreHTTPSErrors: true,
        clientCertificates: [{ origin, certPath: cert, keyPath: key }],
      });
    const good = await open(pki.clientCert, pki.clientKey);
    try {
      const page = await good.context.newPage();
      const response = await page.goto(`${origin}/`);
      assert.equal(response?.status(), 200);
      assert.ok(await page.locator('tr[data-mailbox="support"]').isVisible());
    } finally {
      await good.close();
    }
    const tlsRefusedBefore = await sample('pop3_monitor_http_tls_refused_total');
    const stranger = await open(pki.strangerCert, pki.strangerKey);
    try {
      const page = await stranger.context.newPage();
      const outcome = await page.goto(`${origin}/`).then(
        (r) => `answered ${r?.status()}`,
        (error: Error) => `failed: ${error.message.split('\n', 1)[0]}`,
      );
      // No answer at all (chromium shows its own error page instead).
      assert.match(outcome, /^failed: .*net::ERR_/);
    } finally {
      await stranger.close();
    }
    assert.ok((await sample('pop3_monitor_http_tls_refused_total')) > tlsRefusedBefore);
  });
});

describe('/probe over HTTPS', () => {
  it('asks for a user, and beyond the rate limit is refused (429), credentials or not', async () => {
    assert.equal((await get('/probe?mailbox=support', {})).status, 401);
    const answer = await get('/probe?mailbox=support');
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /^pop3_up\{mailbox="support"\} 1$/m);
    // Spend the bucket without credentials (a refused request takes a token too).
    let status = 0;
    for (let i = 0; i <= BURST && status !== 429; i++)
      status = (await get('/probe?mailbox=support', {})).status;
    assert.equal(status, 429);
    const limited = await get('/probe?mailbox=support');
    assert.equal(limited.status, 429);
    assert.match(String(limited.headers['retry-after']), /^\d+$/);
    // What a kubelet asks is never limited.
    assert.equal((await get('/healthz', {})).status, 200);
    assert.equal((await get('/readyz', {})).status, 200);
  });
});
