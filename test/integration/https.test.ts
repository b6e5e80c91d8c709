/**
 * HTTPS for the HTTP endpoints with the Prometheus exporters' web configuration file, with
 * real parts: certificates made by openssl, bcrypt hashes made by htpasswd, the daemon as a
 * child process, a real Prometheus scraping it with its own tls_config and basic_auth, curl
 * and openssl s_client as a user would run them.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { poll } from '../fixtures/poll.js';
import { DOVECOT, USERS } from '../servers/env.js';
import { Daemon, runCli, stopAllDaemons, tempDir } from './daemon-support.js';
import {
  basicAuth,
  fileSerial,
  htpasswdHash,
  httpsRequest,
  makePki,
  type Pki,
  replaceFile,
  servedSerial,
} from './https-support.js';
import { type Child, requireBinary, run, startPrometheus } from './shipping-support.js';

const PASSWORD = 'scrape-password-7301';

function mailbox(name: string) {
  return {
    name,
    host: DOVECOT.host,
    port: DOVECOT.tlsPort,
    tls: 'implicit',
    tls_ca_file: DOVECOT.caFile,
    username: USERS.alice.user,
    password: USERS.alice.password,
    schedule: '*/5 * * * * *',
  };
}

function curl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const bin = requireBinary('curl', '/usr/bin/curl', 'curl');
  return run(bin, ['--silent', '--show-error', '--max-time', '5', ...args]);
}

after(() => stopAllDaemons());

describe('HTTPS with RequireAndVerifyClientCert and bcrypt users', () => {
  const temp = tempDir('pop3-https-');
  let pki: Pki;
  let daemon: Daemon;
  let web: string;
  let prometheus: { url: string; child: Child } | undefined;
  let origin: string;
  const cert = () => join(pki.dir, 'tls.crt');
  const key = () => join(pki.dir, 'tls.key');

  before(async () => {
    pki = makePki(temp.dir);
    copyFileSync(pki.serverCert, cert());
    copyFileSync(pki.serverKey, key());
    web = join(pki.dir, 'web.yml');
    writeFileSync(
      web,
      [
        'tls_server_config:',
        '  cert_file: tls.crt',
        '  key_file: tls.key',
        '  client_auth_type: RequireAndVerifyClientCert',
        '  client_ca_file: ca.pem',
        'basic_auth_users:',
        // A hash made by Apache's htpasswd -B: $2y$.
        `  prometheus: ${htpasswdHash(PASSWORD)}`,
        '',
      ].join('\n'),
    );
    daemon = await Daemon.start({
      config: { mailboxes: [mailbox('support')] },
      args: ['--web.config.file', web],
    });
    await daemon.waitForLog('the start', (l) => l.event === 'started', 20_000);
    origin = `https://localhost:${daemon.port}`;

    const target = [`127.0.0.1:${daemon.port}`];
    const tls = (client?: { cert: string; key: string }) => ({
      ca_file: pki.ca,
      server_name: 'localhost',
      ...(client ? { cert_file: client.cert, key_file: client.key } : {}),
    });
    const job = (
      name: string,
      client: { cert: string; key: string } | undefined,
      password: string,
    ) => ({
      job_name: name,
      scheme: 'https',
      static_configs: [{ targets: target }],
      tls_config: tls(client),
      basic_auth: { username: 'prometheus', password },
    });
    const good = { cert: pki.clientCert, key: pki.clientKey };
    const stranger = { cert: pki.strangerCert, key: pki.strangerKey };
    prometheus = await startPrometheus(
      join(temp.dir, 'prometheus'),
      [],
      [],
      [
        job('mtls', good, PASSWORD),
        job('wrong-password', good, 'not-the-password'),
        job('wrong-certificate', stranger, PASSWORD),
        job('no-certificate', undefined, PASSWORD),
      ],
    );
  });

  after(async () => {
    await prometheus?.child.stop('SIGTERM', 10_000);
    await daemon?.stop();
    temp.remove();
  });

  async function query(
    expr: string,
  ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const url = `${prometheus?.url}/api/v1/query?query=${encodeURIComponent(expr)}`;
    const body = (await (await fetch(url)).json()) as {
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    return body.data.result;
  }

  it('a real Prometheus scrapes over HTTPS with its client certificate and password: up 1; a wrong password, a stranger certificate or none: up 0', async (t) => {
    const ups = await poll(
      'every job scraped at least twice',
      async () => {
        const counts = await query('count_over_time(up[5m]) >= 2');
        if (counts.length < 4) return undefined;
        const now = await query('up');
        return Object.fromEntries(now.map((r) => [r.metric.job, Number(r.value[1])]));
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(ups, {
      mtls: 1,
      'wrong-password': 0,
      'wrong-certificate': 0,
      'no-certificate': 0,
    });
    const targets = (await (await fetch(`${prometheus?.url}/api/v1/targets`)).json()) as {
      data: {
        activeTargets: Array<{
          scrapePool: string;
          scrapeUrl: string;
          health: string;
          lastError: string;
        }>;
      };
    };
    const rows = targets.data.activeTargets
      .map(
        (x) =>
          `${x.scrapePool} ${x.scrapeUrl} health=${x.health} lastError=${JSON.stringify(x.lastError)}`,
      )
      .sort();
    t.diagnostic(`Prometheus /api/v1/targets:\n${rows.join('\n')}`);
    const health = Object.fromEntries(
      targets.data.activeTargets.map((x) => [x.scrapePool, x.health]),
    );
    assert.deepEqual(health, {
      mtls: 'up',
      'wrong-password': 'down',
      'wrong-certificate': 'down',
      'no-certificate': 'down',
    });
    const byJob = Object.fromEntries(
      targets.data.activeTargets.map((x) => [x.scrapePool, x.lastError]),
    );
    assert.match(byJob['wrong-password'] ?? '', /401/);
    // The mailbox itself is up: the scrape carried the daemon's real metrics.
    const up = await poll('pop3_up in Prometheus', async () => {
      const r = await query('pop3_up{job="mtls",mailbox="support"}');
      return r.length === 1 ? Number(r[0]?.value[1]) : undefined;
    });
    assert.equal(up, 1);
  });

  it('curl: plain HTTP is refused, no client certificate fails the handshake, 401 without the password, 200 with it, /healthz without it', () => {
    const withCert = ['--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey];
    const plain = curl([`http://127.0.0.1:${daemon.port}/metrics`]);
    assert.equal(plain.status, 52, plain.stderr); // curl: empty reply from server
    const noCert = curl(['--cacert', pki.ca, `${origin}/healthz`]);
    assert.notEqual(noCert.status, 0);
    assert.match(noCert.stderr, /alert certificate required/);
    const anonymous = curl([
      ...withCert,
      '--write-out',
      '%{http_code}',
      '--output',
      '/dev/null',
      `${origin}/metrics`,
    ]);
    assert.equal(anonymous.stdout, '401');
    const wrong = curl([
      ...withCert,
      '--user',
      'prometheus:nope',
      '--write-out',
      '%{http_code}',
      '--output',
      '/dev/null',
      `${origin}/metrics`,
    ]);
    assert.equal(wrong.stdout, '401');
    const ok = curl([...withCert, '--user', `prometheus:${PASSWORD}`, `${origin}/metrics`]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^pop3_monitor_build_info\{version="/m);
    const health = curl([...withCert, '--write-out', ' %{http_code}', `${origin}/healthz`]);
    assert.equal(health.stdout, 'ok\n 200');
    const stranger = curl([
      '--cacert',
      pki.ca,
      '--cert',
      pki.strangerCert,
      '--key',
      pki.strangerKey,
      `${origin}/healthz`,
    ]);
    assert.notEqual(stranger.status, 0);
  });

  it('the container HEALTHCHECK (pop3-monitor healthcheck) finds the HTTPS port; under RequireAndVerifyClientCert it needs a client certificate', async () => {
    // --listen alone: whether the port speaks TLS is not known; HTTP fails, HTTPS is tried.
    const without = await runCli(['healthcheck', '--listen', `127.0.0.1:${daemon.port}`]);
    assert.equal(without.code, 1, without.stdout);
    assert.match(
      without.stdout,
      new RegExp(
        `^https://127\\.0\\.0\\.1:${daemon.port}/healthz: .*the server asks for a client certificate`,
      ),
    );
    // The daemon's config and web config: HTTPS on server.listen at once.
    const withCert = await runCli(
      ['healthcheck', '--config', daemon.configPath, '--web.config.file', web],
      {
        env: {
          POP3_MONITOR_HEALTHCHECK_CERT: pki.clientCert,
          POP3_MONITOR_HEALTHCHECK_KEY: pki.clientKey,
        },
      },
    );
    assert.equal(withCert.code, 0, withCert.stdout + withCert.stderr);
    assert.equal(withCert.stdout, `https://127.0.0.1:${daemon.port}/healthz: 200 ok\n`);
  });

  it('neither the password, its hash nor the private key reaches the log or an answer', async () => {
    const hash = /prometheus: (\S+)/.exec(readFileSync(web, 'utf8'))?.[1] ?? '';
    const keyText = readFileSync(key(), 'utf8').split('\n')[1] ?? '';
    assert.ok(hash.startsWith('$2y$') && keyText.length > 20);
    const answers = await Promise.all(
      ['/', '/metrics', '/readyz', '/nope'].map((path) =>
        httpsRequest(`${origin}${path}`, {
          ca: readFileSync(pki.ca, 'utf8'),
          cert: readFileSync(pki.clientCert, 'utf8'),
          key: readFileSync(pki.clientKey, 'utf8'),
          headers: basicAuth('prometheus', PASSWORD),
        }),
      ),
    );
    const seen = `${daemon.output()}${answers.map((a) => JSON.stringify(a)).join('\n')}`;
    for (const secret of [PASSWORD, hash, keyText]) assert.ok(!seen.includes(secret), secret);
  });

  it('a cross-site POST to /-/reload is refused with 403 even with credentials; curl-style POST reloads', async () => {
    const options = {
      ca: readFileSync(pki.ca, 'utf8'),
      cert: readFileSync(pki.clientCert, 'utf8'),
      key: readFileSync(pki.clientKey, 'utf8'),
      method: 'POST',
    };
    const crossSite = await httpsRequest(`${origin}/-/reload`, {
      ...options,
      headers: { ...basicAuth('prometheus', PASSWORD), 'Sec-Fetch-Site': 'cross-site' },
    });
    assert.equal(crossSite.status, 403);
    const foreign = await httpsRequest(`${origin}/-/reload`, {
      ...options,
      headers: { ...basicAuth('prometheus', PASSWORD), Origin: 'https://evil.example' },
    });
    assert.equal(foreign.status, 403);
    const plain = await httpsRequest(`${origin}/-/reload`, {
      ...options,
      headers: basicAuth('prometheus', PASSWORD),
    });
    assert.equal(plain.status, 200, plain.body);
  });

  it('rotation: renewed certificate files are served to new connections with no restart and no failed scrape; a renewal whose key does not match keeps the old pair', async (t) => {
    const client = { cert: pki.clientCert, key: pki.clientKey };
    const first = servedSerial(daemon.port, pki, client);
    assert.equal(first.serial, fileSerial(pki.serverCert), first.output);
    const renewed = fileSerial(pki.server2Cert);
    const pid = daemon.child.pid;
    const rotatedAt = Date.now();
    // A renewal tool: the certificate, then the key, each written aside and renamed.
    replaceFile(cert(), readFileSync(pki.server2Cert));
    replaceFile(key(), readFileSync(pki.server2Key));
    const after = await poll('a new connection to be served the renewed certificate', () => {
      const seen = servedSerial(daemon.port, pki, client);
      return seen.serial === renewed ? seen : undefined;
    });
    t.diagnostic(
      `openssl s_client serial before: ${first.serial}; after renewal: ${after.serial} (renewed file: ${renewed}); daemon pid ${pid} before and ${daemon.child.pid} after`,
    );
    assert.equal(daemon.child.pid, pid);
    assert.equal(daemon.exitStatus, null);
    const reloaded = await daemon.waitForLog(
      'the reload log',
      (l) => l.event === 'web_config_reloaded',
    );
    assert.equal(reloaded.certificate_serial, renewed);

    // Prometheus kept scraping through it: scrapes after the rotation, none failed.
    await poll('a scrape after the rotation', async () => {
      const r = await query('timestamp(up{job="mtls"})');
      return Number(r[0]?.value[1]) * 1000 > rotatedAt + 2_000 ? true : undefined;
    });
    const worst = await query('min_over_time(up{job="mtls"}[10m])');
    assert.equal(worst[0]?.value[1], '1');

    // A renewal that went wrong: the new certificate with the old key. The renewed pair stays.
    const failuresBefore = daemon.events('web_config_reload_failed').length;
    replaceFile(cert(), readFileSync(pki.serverCert));
    const failed = await daemon.waitForLog(
      'the rejected change',
      (l) => l.event === 'web_config_reload_failed',
      10_000,
    );
    assert.equal(daemon.events('web_config_reload_failed').length, failuresBefore + 1);
    assert.equal(
      (failed.err as Record<string, unknown> | undefined)?.message,
      'tls_server_config.key_file: does not match the certificate in cert_file',
    );
    assert.equal(servedSerial(daemon.port, pki, client).serial, renewed);
    const metrics = await httpsRequest(`${origin}/metrics`, {
      ca: readFileSync(pki.ca, 'utf8'),
      cert: readFileSync(pki.clientCert, 'utf8'),
      key: readFileSync(pki.clientKey, 'utf8'),
      headers: basicAuth('prometheus', PASSWORD),
    });
    assert.match(metrics.body, /^pop3_monitor_web_config_reloads_total\{result="failure"\} 1$/m);
    assert.match(metrics.body, /^pop3_monitor_web_config_last_reload_successful 0$/m);
    // Put right: the pair that belongs together is read.
    replaceFile(key(), readFileSync(pki.serverKey));
    await poll('the first certificate served again', () =>
      servedSerial(daemon.port, pki, client).serial === first.serial ? true : undefined,
    );
  });
});

describe('VerifyClientCertIfGiven with basic auth: what a kubelet sees', () => {
  const temp = tempDir('pop3-https-kube-');
  let pki: Pki;
  let daemon: Daemon;
  let ca: string;

  before(async () => {
    pki = makePki(temp.dir);
    ca = readFileSync(pki.ca, 'utf8');
    const web = join(pki.dir, 'web.yml');
    writeFileSync(
      web,
      `tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\nbasic_auth_users:\n  prometheus: ${htpasswdHash(PASSWORD)}\n`,
    );
    daemon = await Daemon.start({
      config: { mailboxes: [mailbox('support')] },
      args: ['--web.config.file', web],
    });
    await daemon.waitForLog('the start', (l) => l.event === 'started', 20_000);
  });

  after(async () => {
    await daemon?.stop();
    temp.remove();
  });

  it('/healthz and /readyz answer without certificate or password; the rest asks for the password; a stranger certificate is refused', async () => {
    const url = (path: string) => `https://localhost:${daemon.port}${path}`;
    assert.equal((await httpsRequest(url('/healthz'), { ca })).status, 200);
    const ready = await poll('/readyz 200', async () => {
      const answer = await httpsRequest(url('/readyz'), { ca });
      return answer.status === 200 ? answer : undefined;
    });
    assert.equal(ready.body, 'ready\n');
    const anonymous = await httpsRequest(url('/metrics'), { ca });
    assert.equal(anonymous.status, 401);
    assert.equal(
      anonymous.headers['www-authenticate'],
      'Basic realm="pop3-monitor", charset="UTF-8"',
    );
    const scrape = await httpsRequest(url('/metrics'), {
      ca,
      headers: basicAuth('prometheus', PASSWORD),
    });
    assert.equal(scrape.status, 200);
    await assert.rejects(
      httpsRequest(url('/healthz'), {
        ca,
        cert: readFileSync(pki.strangerCert, 'utf8'),
        key: readFileSync(pki.strangerKey, 'utf8'),
      }),
    );
  });
});

describe('an invalid web config file: exit 2 at start, naming the field', () => {
  const temp = tempDir('pop3-https-bad-');
  let pki: Pki;
  let config: string;

  before(() => {
    pki = makePki(temp.dir);
    config = join(temp.dir, 'config.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        server: { listen: '127.0.0.1:0' },
        state_dir: join(temp.dir, 'state'),
        mailboxes: [mailbox('support')],
      }),
    );
  });
  after(() => temp.remove());

  const SERVER = 'tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n';
  const cases: Array<[string, string, RegExp]> = [
    [
      'a bad bcrypt hash',
      'basic_auth_users:\n  prometheus: plain-text-password\n',
      /^basic_auth_users\.prometheus: expected a bcrypt hash/m,
    ],
    [
      'a missing key file',
      'tls_server_config:\n  cert_file: server.pem\n  key_file: gone.key\n',
      /^tls_server_config\.key_file: cannot read gone\.key: no such file \(ENOENT\)$/m,
    ],
    [
      'an unknown key',
      `${SERVER}  client_ca_files: ca.pem\n`,
      /^tls_server_config\.client_ca_files: unknown field$/m,
    ],
    [
      'a cipher suite Node cannot use',
      `${SERVER}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n`,
      /^tls_server_config\.cipher_suites\[0\]: unknown cipher suite "TLS_RSA_WITH_RC4_128_SHA"/m,
    ],
  ];
  for (const [what, text, field] of cases) {
    it(`${what}: run exits 2, check-config exits 2`, async () => {
      const web = join(pki.dir, `web-${what.replace(/\W+/g, '-')}.yml`);
      writeFileSync(web, text);
      const started = await runCli(['run', '--config', config, '--web.config.file', web], {
        timeoutMs: 20_000,
      });
      assert.equal(started.code, 2, started.stderr);
      assert.ok(started.stderr.startsWith(`invalid web config ${web}:\n`), started.stderr);
      assert.match(started.stderr, field);
      assert.doesNotMatch(started.stderr, /plain-text-password/);
      const checked = await runCli(['check-config', '--config', config, '--web.config.file', web]);
      assert.equal(checked.code, 2);
      assert.match(checked.stderr, field);
    });
  }

  it('check-config validates a good file and its certificates, and shows no hash', async () => {
    const hash = htpasswdHash(PASSWORD);
    const web = join(pki.dir, 'web-good.yml');
    writeFileSync(web, `${SERVER}basic_auth_users:\n  prometheus: ${hash}\n`);
    const checked = await runCli(['check-config', '--config', config, '--web.config.file', web]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(
      checked.stderr,
      /^web config OK: HTTPS \(client certificates: NoClientCert\), 1 basic auth user\(s\)$/m,
    );
    const shown = JSON.parse(checked.stdout) as {
      web_config: { served_certificate: { serial: string } };
    };
    assert.equal(shown.web_config.served_certificate.serial, fileSerial(pki.serverCert));
    assert.ok(!checked.stdout.includes(hash));
  });
});
