/**
 * Secrets canary (issue "Hardening"): unique canary strings are configured as every kind
 * of secret the monitor holds (a mailbox password as a literal, from password_file and
 * from ${VAR}; an XOAUTH2 token; the SMTP password; server.basic_auth's password and
 * bearer_token_file), and are really sent: to the real Dovecot with wrong passwords, to a
 * hostile fake POP3 server that echoes every line it receives in its -ERR replies, to
 * Postfix's submission port (which refuses them) and to a fake SMTP server that echoes
 * AUTH back in its 535. The built daemon runs at trace, debug and debug-pretty log levels,
 * probes a few rounds, is reloaded (good and bad configs, POST and SIGHUP) and sends a
 * real alert email through Postfix. Daemon D has OAuth2 mailboxes whose client secrets,
 * refresh tokens and every access token the test authorization server issues them are
 * canaries too: logins at Dovecot, an echo of the XOAUTH2 blob, a refused client secret and
 * a rotated refresh token. Then no trace of any canary, as text or base64 at any
 * alignment, may be found in any log line, HTTP response, CLI output, ConfigError
 * message, file of the state directory or the alert email as delivered.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { format, inspect } from 'node:util';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { Secret } from '../../src/secret.js';
import type { FakePop3Server } from '../fixtures/fake-pop3-server.js';
import { DOVECOT, maildirPath, OAUTH, SMTP, USERS } from '../servers/env.js';
import { mintRefreshToken } from './oauth-support.js';
import {
  b64,
  type EchoSmtp,
  fetchText,
  filesUnder,
  findLeaks,
  killChildren,
  leaksIn,
  mailText,
  runCli,
  startDaemon,
  startEchoPop3,
  startEchoSmtp,
  until,
} from './secrets-support.js';
import { ensureBuilt, freePort } from './shipping-support.js';

// Each secret has its own canary, so a leak's context shows which one it was. None of
// these strings, nor "CANARY" (MARK in secrets-support.ts) itself, may appear in anything
// the monitor outputs.
const CANARY = {
  literal: 'CANARY-pw-literal-7f3a9c',
  file: 'CANARY-pw-file-b41c2e',
  env: 'CANARY-pw-env-c93d07',
  smtp: 'CANARY-smtp-5e8f1a',
  basic: 'CANARY-basic-2a6b4d',
  bearer: 'CANARY-bearer-9d17e3',
  /** Sent as a wrong credential to the HTTP port; a refused secret must not leak either. */
  wrong: 'CANARY-wrong-4c0f8b',
  /** OAuth2 client secrets (the server's canary clients) and a wrong one it refuses. */
  oauthApp: OAUTH.canaryApp.clientSecret,
  oauthUser: OAUTH.canaryUser.clientSecret,
  oauthWrong: 'CANARY-oauth-wrong-6d1e',
} as const;
const ENV_VAR = 'SECRETS_TEST_PASSWORD';

const work = mkdtempSync(join(tmpdir(), 'secrets-test-'));
/** Servers of this file, closed after the tests however the run went. */
const servers: { close(): Promise<void> }[] = [];
after(async () => {
  killChildren();
  await Promise.all(servers.map((s) => s.close()));
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// The configs.

const yaml = (value: unknown): string => JSON.stringify(value);
const files = {
  password: join(work, 'mailbox-password'),
  smtpPassword: join(work, 'smtp-password'),
  bearer: join(work, 'bearer-token'),
  oauthApp: join(work, 'oauth-app-secret'),
  oauthUser: join(work, 'oauth-user-secret'),
  oauthWrong: join(work, 'oauth-wrong-secret'),
  refreshToken: join(work, 'oauth-refresh-token'),
};
writeFileSync(files.password, `${CANARY.file}\n`);
writeFileSync(files.smtpPassword, `${CANARY.smtp}\n`);
writeFileSync(files.bearer, `${CANARY.bearer}\n`);
writeFileSync(files.oauthApp, `${CANARY.oauthApp}\n`);
writeFileSync(files.oauthUser, `${CANARY.oauthUser}\n`);
writeFileSync(files.oauthWrong, `${CANARY.oauthWrong}\n`);

const FROM_ADDRESS = `secrets-${randomUUID()}@${SMTP.domain}`;
const BASIC_USER = 'scraper';

/** Mailboxes of daemon A: every secret source, against Dovecot and the echo server. */
function mailboxesOf(echoPort: number): string[] {
  const dovecot = { host: DOVECOT.host, username: USERS.alice.user };
  const echo = { host: '127.0.0.1', port: echoPort, tls: 'none', username: 'alice' };
  const rows: Record<string, unknown>[] = [
    {
      name: 'dovecot-literal',
      ...dovecot,
      port: DOVECOT.plainPort,
      tls: 'starttls',
      tls_ca_file: DOVECOT.caFile,
      auth: 'plain',
      password: CANARY.literal,
    },
    {
      name: 'dovecot-file',
      ...dovecot,
      port: DOVECOT.tlsPort,
      tls: 'implicit',
      tls_ca_file: DOVECOT.caFile,
      auth: 'login',
      password_file: files.password,
    },
    {
      name: 'dovecot-env',
      ...dovecot,
      port: DOVECOT.plainPort,
      tls: 'starttls',
      tls_ca_file: DOVECOT.caFile,
      auth: 'user',
      password: `\${${ENV_VAR}}`,
    },
    {
      name: 'dovecot-insecure',
      ...dovecot,
      port: DOVECOT.tlsPort,
      tls: 'implicit',
      tls_insecure: true,
      password: CANARY.literal,
    },
    { name: 'echo-user', ...echo, auth: 'user', password: `\${${ENV_VAR}}` },
    { name: 'echo-plain', ...echo, auth: 'plain', password: CANARY.literal },
    { name: 'echo-login', ...echo, auth: 'login', password_file: files.password },
    { name: 'echo-xoauth2', ...echo, auth: 'xoauth2', password: CANARY.literal },
  ];
  return rows.map((row) => `  - ${yaml(row)}`);
}

function configA(listenPort: number, echoPort: number, stateDir: string): string {
  return [
    'server:',
    `  listen: "127.0.0.1:${listenPort}"`,
    `  basic_auth: { username: ${BASIC_USER}, password: ${CANARY.basic} }`,
    `  bearer_token_file: ${yaml(files.bearer)}`,
    `state_dir: ${yaml(stateDir)}`,
    'defaults: { schedule: "*/2 * * * * *", timeout: 5s, auth_failure_backoff: 0s }',
    'mailboxes:',
    ...mailboxesOf(echoPort),
    'alerting:',
    `  smtp: { host: ${SMTP.host}, port: ${SMTP.port}, from: "pop3-monitor secrets <${FROM_ADDRESS}>" }`,
    `  to: [${USERS.alerts.user}@${SMTP.domain}]`,
    '  group_wait: 1s',
    '',
  ].join('\n');
}

/** The same config made invalid, with canaries in fields that are not secrets. */
function invalidConfigA(valid: string): string {
  return valid
    .replace('"name":"dovecot-literal"', `"name":"dovecot-literal","timeout":"${CANARY.literal}"`)
    .replace(
      '"name":"echo-plain"',
      `"name":"echo-plain","top_lines":"${CANARY.env}","pipelining":"${CANARY.literal}"`,
    )
    .replace('group_wait: 1s', `group_wait: 1s\n  external_url: "ftp://x:${CANARY.smtp}@host"`);
}

/** Daemons B and C: one refused mailbox (login_failed fires) and an SMTP that refuses AUTH. */
function configSmtp(
  listenPort: number,
  echoPort: number,
  stateDir: string,
  smtp: Record<string, unknown>,
): string {
  return [
    `server: { listen: "127.0.0.1:${listenPort}" }`,
    `state_dir: ${yaml(stateDir)}`,
    'mailboxes:',
    `  - ${yaml({ name: 'refused', host: '127.0.0.1', port: echoPort, tls: 'none', auth: 'user', username: 'bob', password: CANARY.literal, schedule: '*/2 * * * * *', auth_failure_backoff: '0s' })}`,
    'alerting:',
    `  smtp: ${yaml({ from: 'pop3-monitor <monitor@test.local>', username: SMTP.user, password_file: files.smtpPassword, timeout: '5s', ...smtp })}`,
    `  to: [${USERS.alerts.user}@${SMTP.domain}]`,
    '  group_wait: 0s',
    '',
  ].join('\n');
}

/**
 * Daemon D: OAuth2 mailboxes. The app and the user log in at Dovecot with canary tokens;
 * echo-oauth sends a canary token to the echo server, which quotes the XOAUTH2 blob back;
 * oauth-wrong-secret is refused by the token endpoint (invalid_client, login_failed).
 */
function configOAuth(listenPort: number, echoPort: number, stateDir: string): string {
  const app = (secretFile: string) => ({
    provider: 'generic',
    token_url: OAUTH.tokenUrl,
    grant: 'client_credentials',
    client_id: OAUTH.canaryApp.clientId,
    client_secret_file: secretFile,
    client_auth: 'post',
    scope: OAUTH.scope,
  });
  const dovecot = {
    host: DOVECOT.host,
    port: DOVECOT.plainPort,
    tls: 'starttls',
    tls_ca_file: DOVECOT.caFile,
    tls_servername: 'localhost',
  };
  const rows: Record<string, unknown>[] = [
    { name: 'oauth-app', ...dovecot, username: OAUTH.users.app, oauth2: app(files.oauthApp) },
    {
      name: 'oauth-user',
      ...dovecot,
      username: OAUTH.users.user,
      auth: 'oauthbearer',
      oauth2: {
        provider: 'generic',
        token_url: OAUTH.tokenUrl,
        grant: 'refresh_token',
        client_id: OAUTH.canaryUser.clientId,
        client_secret_file: files.oauthUser,
        refresh_token_file: files.refreshToken,
      },
    },
    {
      name: 'echo-oauth',
      host: '127.0.0.1',
      port: echoPort,
      tls: 'none',
      username: 'alice',
      auth: 'xoauth2',
      oauth2: app(files.oauthApp),
    },
    {
      name: 'oauth-wrong-secret',
      ...dovecot,
      username: OAUTH.users.app,
      oauth2: app(files.oauthWrong),
    },
  ];
  return [
    `server: { listen: "127.0.0.1:${listenPort}" }`,
    `state_dir: ${yaml(stateDir)}`,
    'defaults: { schedule: "*/2 * * * * *", timeout: 5s, auth_failure_backoff: 0s }',
    'mailboxes:',
    ...rows.map((row) => `  - ${yaml(row)}`),
    'alerting:',
    `  smtp: { host: ${SMTP.host}, port: ${SMTP.port}, from: "pop3-monitor secrets <${FROM_ADDRESS}>" }`,
    `  to: [${USERS.alerts.user}@${SMTP.domain}]`,
    '  group_wait: 1s',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// One run of everything; the tests below judge what it produced.

interface Run {
  echo: FakePop3Server;
  echoSmtp: EchoSmtp;
  daemons: Record<'a' | 'b' | 'c' | 'd', { stdout: string; stderr: string; exit: number | null }>;
  /** Daemon D's /metrics once its mailboxes were probed. */
  metricsOAuth: string;
  http: Record<string, string>;
  reload: { ok: { status: number; body: string }; bad: { status: number; body: string } };
  metricsAfter: string;
  cli: Record<string, { status: number | null; stdout: string; stderr: string }>;
  configErrors: Record<string, string>;
  stateFiles: Record<string, string>;
  emails: string[];
}

let run: Run;

/** The delivered alert mails signed with our From address (read from the Maildir itself). */
function deliveredMails(): { path: string; text: string }[] {
  const root = maildirPath(USERS.alerts.user);
  const mails: { path: string; text: string }[] = [];
  for (const sub of ['new', 'cur']) {
    for (const name of readdirSync(join(root, sub))) {
      const path = join(root, sub, name);
      const text = readFileSync(path, 'latin1');
      if (text.includes(FROM_ADDRESS)) mails.push({ path, text });
    }
  }
  return mails;
}

before(async () => {
  ensureBuilt();
  const echo = await startEchoPop3();
  const echoSmtp = await startEchoSmtp();
  servers.push(echo, echoSmtp);
  const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()];
  const portD = await freePort();
  await mintRefreshToken(files.refreshToken, 'leak-test', 'canary');
  const paths = {
    a: join(work, 'a.yaml'),
    b: join(work, 'b.yaml'),
    c: join(work, 'c.yaml'),
    invalid: join(work, 'invalid.yaml'),
    d: join(work, 'd.yaml'),
  };
  const state = {
    a: join(work, 'state-a'),
    b: join(work, 'state-b'),
    c: join(work, 'state-c'),
    d: join(work, 'state-d'),
  };
  writeFileSync(paths.d, configOAuth(portD, echo.port, state.d));
  const validA = configA(portA, echo.port, state.a);
  writeFileSync(paths.a, validA);
  writeFileSync(paths.invalid, invalidConfigA(validA));
  writeFileSync(
    paths.b,
    configSmtp(portB, echo.port, state.b, {
      host: SMTP.host,
      port: SMTP.submissionPort,
      require_tls: true,
      tls_ca_file: DOVECOT.caFile,
    }),
  );
  writeFileSync(
    paths.c,
    configSmtp(portC, echo.port, state.c, { host: '127.0.0.1', port: echoSmtp.port }),
  );
  const env = { [ENV_VAR]: CANARY.env };
  const a = startDaemon('a', paths.a, { ...env, POP3_MONITOR_LOG_LEVEL: 'trace' });
  const b = startDaemon('b', paths.b, { ...env, POP3_MONITOR_LOG_LEVEL: 'debug' });
  const c = startDaemon('c', paths.c, { ...env, POP3_MONITOR_LOG_LEVEL: 'debug' }, [
    '--log-format',
    'pretty',
  ]);
  const d = startDaemon('d', paths.d, { POP3_MONITOR_LOG_LEVEL: 'trace' });

  const base = `http://127.0.0.1:${portA}`;
  const basic = { Authorization: `Basic ${b64(`${BASIC_USER}:${CANARY.basic}`)}` };
  const bearer = { Authorization: `Bearer ${CANARY.bearer}` };
  const probesOf = (metrics: string, mailbox: string): number =>
    Number(
      new RegExp(`^pop3_probes_total\\{mailbox="${mailbox}"[^}]*\\} (\\d+)`, 'm').exec(
        metrics,
      )?.[1] ?? 0,
    );
  // A few rounds of every mailbox (every 2 s; Dovecot refuses a wrong password in ~0.5 s).
  await until('three probes and a refused login of every mailbox of daemon A', async () => {
    const { body } = await fetchText(`${base}/metrics`, { headers: basic });
    const names = [...body.matchAll(/^pop3_mailbox_info\{[^}]*mailbox="([^"]+)"/gm)].map(
      (m) => m[1] as string,
    );
    const refused = (n: string) =>
      new RegExp(`^pop3_login_failures_total\\{mailbox="${n}",reason="auth"\\} [1-9]`, 'm').test(
        body,
      );
    return names.length === 8 && names.every((n) => probesOf(body, n) >= 3 && refused(n))
      ? true
      : undefined;
  });
  // The first email may group only the mailboxes that failed first: wait for the echo.
  await until(
    'an alert email quoting the echo server in the alerts Maildir',
    () =>
      deliveredMails().some((m) => mailText(m.text).includes('ECHO you sent')) ? true : undefined,
    30_000,
  );
  const metricsOAuth = await until(
    'daemon D: the OAuth2 mailboxes logged in, echoed and refused, login_failed firing',
    async () => {
      const { body } = await fetchText(`http://127.0.0.1:${portD}/metrics`);
      const up = (n: string) => new RegExp(`^pop3_up\\{mailbox="${n}"\\} 1$`, 'm').test(body);
      const firing = (n: string) =>
        new RegExp(`^pop3_alerts_firing\\{mailbox="${n}",rule="login_failed"[^}]*\\} 1$`, 'm').test(
          body,
        );
      const names = ['oauth-app', 'oauth-user', 'echo-oauth', 'oauth-wrong-secret'];
      return names.every((n) => probesOf(body, n) >= 3) &&
        up('oauth-app') &&
        up('oauth-user') &&
        firing('echo-oauth') &&
        firing('oauth-wrong-secret')
        ? body
        : undefined;
    },
  );
  await until(
    'an alert email of daemon D naming the refused OAuth2 client',
    () =>
      deliveredMails().some((m) => mailText(m.text).includes('invalid_client')) ? true : undefined,
    30_000,
  );
  await until('a refused SMTP AUTH in the logs of daemons B and C', () =>
    b.stdout().includes('alert_notification_failed') &&
    c.stdout().includes('alert_notification_failed')
      ? true
      : undefined,
  );

  const http: Record<string, string> = {};
  for (const path of ['/metrics', '/healthz', '/readyz', '/', '/nothing-here']) {
    for (const [how, headers] of [
      ['basic', basic],
      ['bearer', bearer],
      ['none', {}],
      ['wrong', { Authorization: `Bearer ${CANARY.wrong}` }],
    ] as const) {
      const r = await fetchText(`${base}${path}`, { headers });
      http[`GET ${path} (${how}) ${r.status}`] = `${r.headers}\n${r.body}`;
    }
  }
  // The pages that show what the servers said: each mailbox's transcripts, and /probe
  // (its metrics, and its transcript with debug=true).
  const mailboxNames = mailboxesOf(echo.port).map((row) => /"name":"([^"]+)"/.exec(row)?.[1]);
  for (const name of mailboxNames) {
    for (const path of [
      `/mailboxes/${name}`,
      `/probe?mailbox=${name}&debug=true`,
      `/probe?mailbox=${name}`,
    ]) {
      const r = await fetchText(`${base}${path}`, { headers: basic });
      http[`GET ${path} (basic) ${r.status}`] = `${r.headers}\n${r.body}`;
    }
  }
  const okReload = await fetchText(`${base}/-/reload`, { method: 'POST', headers: basic });
  writeFileSync(paths.a, invalidConfigA(validA));
  const badReload = await fetchText(`${base}/-/reload`, { method: 'POST', headers: bearer });
  http[`POST /-/reload (good) ${okReload.status}`] = `${okReload.headers}\n${okReload.body}`;
  http[`POST /-/reload (bad) ${badReload.status}`] = `${badReload.headers}\n${badReload.body}`;
  a.child.kill('SIGHUP');
  await until('the SIGHUP reload to be rejected', () =>
    (a.stdout().match(/"reload_failed"/g) ?? []).length >= 2 ? true : undefined,
  );
  const metricsAfter = (await fetchText(`${base}/metrics`, { headers: basic })).body;
  writeFileSync(paths.a, validA);

  const cli = {
    'probe --json': await runCli(['probe', '--config', paths.a, '--json'], env),
    probe: await runCli(['probe', '--config', paths.a], env),
    'check-config': await runCli(['check-config', '--config', paths.a], env),
    'check-config (invalid)': await runCli(['check-config', '--config', paths.invalid], env),
    'probe --json (oauth2)': await runCli(['probe', '--config', paths.d, '--json']),
    'check-config (oauth2)': await runCli(['check-config', '--config', paths.d]),
  };

  const exits = await Promise.all([a.stop(), b.stop(), c.stop(), d.stop()]);
  const mails = deliveredMails();
  // The alerts maildrop is shared: take away what this test put there.
  for (const mail of mails) rmSync(mail.path, { force: true });
  run = {
    echo,
    echoSmtp,
    daemons: {
      a: { stdout: a.stdout(), stderr: a.stderr(), exit: exits[0] },
      b: { stdout: b.stdout(), stderr: b.stderr(), exit: exits[1] },
      c: { stdout: c.stdout(), stderr: c.stderr(), exit: exits[2] },
      d: { stdout: d.stdout(), stderr: d.stderr(), exit: exits[3] },
    },
    http,
    reload: { ok: okReload, bad: badReload },
    metricsAfter,
    metricsOAuth,
    cli,
    configErrors: configErrorMessages(validA),
    stateFiles: Object.fromEntries(
      (['a', 'b', 'c', 'd'] as const).flatMap((d) =>
        Object.entries(filesUnder(state[d])).map(([p, text]) => [`state-${d}/${p}`, text]),
      ),
    ),
    emails: mails.map((m) => m.text),
  };
});

/**
 * ConfigErrors of invalid configs that hold canaries in secret fields and in others; the
 * message, the issues and util.inspect of the error (what a logger or console would show).
 */
function configErrorMessages(validA: string): Record<string, string> {
  const variants: Record<string, string> = {
    'canaries in non-secret fields': invalidConfigA(validA),
    'YAML syntax error after a password': `mailboxes:\n  - name: a\n    password: "${CANARY.literal}\n    host: [\n`,
    'duplicate password key': `mailboxes:\n  - name: a\n    password: ${CANARY.literal}\n    password: ${CANARY.file}\n`,
    'unset variable next to a password': `mailboxes:\n  - { name: a, host: h, username: u, password: "${CANARY.literal}\${NOT_SET_ANYWHERE}" }\n`,
    'a number field from a variable holding a secret': `mailboxes:\n  - { name: a, host: h, username: u, password: p1234, port: "\${${ENV_VAR}}" }\n`,
    'password and password_file both': `server: { basic_auth: { username: u, password: ${CANARY.basic}, password_file: f } }\nmailboxes:\n  - { name: a, host: "${CANARY.literal} x", username: u, password: ${CANARY.literal}, schedule: "${CANARY.literal}" }\n`,
  };
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(variants)) {
    try {
      parseConfig(text, { env: { [ENV_VAR]: CANARY.env }, baseDir: work });
      out[name] = 'VALID (expected a ConfigError)';
    } catch (error) {
      assert.ok(error instanceof ConfigError, `${name}: ${String(error)}`);
      out[name] = `${error.message}\n${JSON.stringify(error.issues)}\n${inspect(error)}`;
    }
  }
  return out;
}

describe('secrets canary: the leak detector', () => {
  test('finds a canary as text, in base64 at every alignment, wrapped, and split by QP', () => {
    const c = CANARY.literal;
    const wrapped = b64(`Subject: x\r\n\r\n${c} in a body long enough to wrap`).replace(
      /(.{20})/g,
      '$1\r\n',
    );
    const cases = {
      text: `error: ${c.toLowerCase()}`,
      'SASL PLAIN': `AUTH PLAIN ${b64(`\u0000alice\u0000${c}`)}`,
      'SASL PLAIN, other alignment': b64(`\u0000al\u0000${c}`),
      XOAUTH2: b64(`user=alice\u0001auth=Bearer ${c}\u0001\u0001`),
      'wrapped base64 body': wrapped,
      'QP soft break': `${c.slice(0, 9)}=\r\n${c.slice(9)}`,
      'a truncated canary': c.slice(0, 8),
    };
    const missed = Object.entries(cases).filter(([, text]) => findLeaks(text).length === 0);
    assert.deepEqual(missed, []);
    assert.deepEqual(findLeaks(`*** ${b64('***')} ECHO you sent "PASS ***"`), []);
  });
});

describe('secrets canary: no configured secret shows anywhere', { timeout: 120_000 }, () => {
  test('the canaries were really sent: the echo servers received them (and echoed them)', () => {
    const lines = run.echo.allCommands;
    assert.ok(
      lines.includes(`PASS ${CANARY.env}`),
      'USER/PASS with the password from the environment',
    );
    assert.ok(lines.includes(b64(CANARY.file)), 'AUTH LOGIN with the password_file password');
    assert.ok(lines.includes(`AUTH PLAIN ${b64(`\u0000alice\u0000${CANARY.literal}`)}`));
    assert.ok(lines.some((l) => l.startsWith('AUTH XOAUTH2 ') && findLeaks(l).length > 0));
    const smtpAuth = run.echoSmtp.received.filter((l) => findLeaks(l).length > 0);
    assert.ok(
      smtpAuth.length >= 1,
      `the SMTP password reached the echo SMTP server: ${run.echoSmtp.received.join(' | ')}`,
    );
    // And so the checks below can fail: the echo is in the logs, with the secret masked.
    const down = run.daemons.a.stdout
      .split('\n')
      .find((l) => l.includes('"mailbox_down"') && l.includes('"echo-user"'));
    assert.match(down ?? '', /ECHO you sent \\"PASS \*\*\*\\"/);
  });

  test('the OAuth2 canaries were really used: tokens at Dovecot and the echo server', () => {
    // Every token the server issues these clients starts with CANARY: the echo got one.
    assert.ok(
      run.echo.allCommands.some(
        (l) =>
          l.startsWith('AUTH XOAUTH2 ') && findLeaks(l).length > 0 && !l.includes(CANARY.literal),
      ),
    );
    assert.match(run.metricsOAuth, /^pop3_up\{mailbox="oauth-app"\} 1$/m);
    assert.match(run.metricsOAuth, /^pop3_up\{mailbox="oauth-user"\} 1$/m);
    assert.match(
      run.metricsOAuth,
      /^pop3_login_failures_total\{mailbox="oauth-wrong-secret",reason="token"\} [1-9]/m,
    );
    // The rotated refresh token was written back: a canary, outside the state directory.
    assert.ok(findLeaks(readFileSync(files.refreshToken, 'utf8')).length > 0);
    const results = JSON.parse(run.cli['probe --json (oauth2)']?.stdout ?? '[]') as {
      mailbox: string;
      error: { code: string; message: string } | null;
    }[];
    const byName = Object.fromEntries(results.map((r) => [r.mailbox, r.error]));
    assert.equal(byName['oauth-app'], null);
    assert.equal(byName['echo-oauth']?.code, 'auth');
    assert.match(byName['echo-oauth']?.message ?? '', /ECHO you sent "AUTH XOAUTH2 \*\*\*"/);
    assert.equal(byName['oauth-wrong-secret']?.code, 'token');
  });

  test('Dovecot refused the wrong passwords and Postfix refused the SMTP one', () => {
    for (const mailbox of ['dovecot-literal', 'dovecot-file', 'dovecot-env', 'dovecot-insecure']) {
      assert.match(
        run.metricsAfter,
        new RegExp(`^pop3_login_failures_total\\{mailbox="${mailbox}",reason="auth"\\} [1-9]`, 'm'),
      );
    }
    const failed = run.daemons.b.stdout
      .split('\n')
      .find((l) => l.includes('alert_notification_failed'));
    assert.match(failed ?? '', /535/);
  });

  test('no canary in any log line of the daemons (trace, debug, debug pretty)', () => {
    const sources: Record<string, string> = {};
    for (const [name, d] of Object.entries(run.daemons)) {
      sources[`daemon ${name} stdout`] = d.stdout;
      sources[`daemon ${name} stderr`] = d.stderr;
      assert.equal(d.exit, 0, `daemon ${name} exit`);
    }
    // Enough was logged for this to mean something: the trace daemon logged every result.
    assert.ok((run.daemons.a.stdout.match(/"probe_result"/g) ?? []).length >= 24);
    assert.deepEqual(leaksIn(sources), []);
  });

  test('no canary in the transcripts of the mailbox pages and of /probe', () => {
    const page = (key: string) =>
      Object.entries(run.http).find(([k]) => k.startsWith(key))?.[1] ?? '';
    // They show the exchanges: the masked login, and the echo with its secret masked.
    assert.match(page('GET /mailboxes/echo-user (basic) 200'), /<code>PASS \*\*\*<\/code>/);
    assert.match(page('GET /mailboxes/echo-plain (basic) 200'), /<code>AUTH PLAIN \*\*\*<\/code>/);
    assert.match(page('GET /mailboxes/echo-login (basic) 200'), /<code>AUTH LOGIN<\/code>/);
    assert.match(page('GET /mailboxes/dovecot-literal (basic) 200'), /<code>STLS<\/code>/);
    assert.match(
      page('GET /probe?mailbox=echo-xoauth2&debug=true (basic) 200'),
      /C: AUTH XOAUTH2 \*\*\*\n/,
    );
    assert.match(
      page('GET /probe?mailbox=echo-user (basic) 200'),
      /^pop3_up\{mailbox="echo-user"/m,
    );
    const pages = Object.fromEntries(
      Object.entries(run.http).filter(([k]) => k.includes('/mailboxes/') || k.includes('/probe')),
    );
    assert.equal(Object.keys(pages).length, 24);
    assert.deepEqual(leaksIn(pages), []);
  });

  test('no canary in /metrics, /healthz, /readyz, /, a 404, the 401s or the reload answers', () => {
    assert.equal(run.reload.ok.status, 200);
    assert.equal(run.reload.bad.status, 500);
    assert.match(run.reload.bad.body, /^reload failed: mailboxes\[0\]\.timeout: /);
    assert.match(run.metricsAfter, /^pop3_monitor_config_last_reload_successful 0$/m);
    assert.ok(Object.keys(run.http).some((k) => k.startsWith('GET /metrics (basic) 200')));
    assert.ok(Object.keys(run.http).some((k) => k.startsWith('GET /metrics (bearer) 200')));
    assert.ok(Object.keys(run.http).some((k) => k.startsWith('GET /metrics (wrong) 401')));
    assert.deepEqual(
      leaksIn({ ...run.http, 'metrics after the bad reloads': run.metricsAfter }),
      [],
    );
  });

  test('no canary in probe (--json and text) or check-config output, valid or not', () => {
    assert.equal(run.cli['probe --json']?.status, 1);
    const results = JSON.parse(run.cli['probe --json']?.stdout ?? '[]') as {
      mailbox: string;
      error: { code: string; response: string | null } | null;
    }[];
    assert.equal(results.length, 8);
    for (const r of results) assert.equal(r.error?.code, 'auth', r.mailbox);
    const echoUser = results.find((r) => r.mailbox === 'echo-user');
    assert.match(echoUser?.error?.response ?? '', /^-ERR \[AUTH\] ECHO you sent "PASS \*\*\*"/);
    assert.equal(run.cli['check-config']?.status, 0);
    assert.equal(run.cli['check-config (invalid)']?.status, 2);
    assert.match(run.cli['check-config (invalid)']?.stderr ?? '', /^invalid config:\n/);
    const sources: Record<string, string> = {};
    for (const [name, r] of Object.entries(run.cli)) {
      sources[`${name} stdout`] = r.stdout;
      sources[`${name} stderr`] = r.stderr;
    }
    assert.deepEqual(leaksIn(sources), []);
  });

  test('no canary in ConfigError messages, also when a canary sits in a non-secret field', () => {
    for (const [name, text] of Object.entries(run.configErrors))
      assert.doesNotMatch(text, /^VALID/, name);
    assert.deepEqual(leaksIn(run.configErrors), []);
  });

  test('no canary in the state directories (outbox items, alert state, capability cache)', () => {
    assert.ok(
      Object.keys(run.stateFiles).some((p) => p.startsWith('state-b/outbox/')),
      `the refused notification of daemon B waits in its outbox: ${Object.keys(run.stateFiles).join(', ')}`,
    );
    assert.deepEqual(leaksIn(run.stateFiles), []);
  });

  test('no canary in the alert emails as delivered to the alerts Maildir', () => {
    assert.ok(run.emails.length >= 1);
    const subjects = run.emails.map((m) => /^Subject: (.*)$/m.exec(m)?.[1] ?? '');
    for (const subject of subjects) assert.match(subject, /^\[FIRING:\d+\] pop3-monitor: /);
    assert.ok(
      subjects.some((s) => s.includes('login_failed')),
      subjects.join(' | '),
    );
    // The echoed error is in a mail (masked), so a leak would show here.
    assert.ok(run.emails.some((m) => mailText(m).includes('ECHO you sent "PASS ***"')));
    assert.deepEqual(
      leaksIn(Object.fromEntries(run.emails.map((m, i) => [`alert email ${i + 1}`, mailText(m)]))),
      [],
    );
  });

  test('tls_insecure: true is warned about at start-up and exported as pop3_tls_insecure 1', () => {
    const warning = run.daemons.a.stdout
      .split('\n')
      .filter((l) => l.includes('"config_warning"') && l.includes('tls_insecure'))
      .map((l) => JSON.parse(l) as { level: string; warning: string });
    assert.deepEqual(
      warning.map((w) => [w.level, w.warning]),
      [
        [
          'warn',
          'mailboxes[3].tls_insecure: certificate verification is off, so anyone on the path can read the password',
        ],
      ],
    );
    assert.match(run.metricsAfter, /^pop3_tls_insecure\{mailbox="dovecot-insecure"\} 1$/m);
    // A mailbox that verifies has no such series at all.
    assert.doesNotMatch(run.metricsAfter, /^pop3_tls_insecure\{mailbox="dovecot-literal"\}/m);
  });
});

describe('secrets canary: the two in-process lines of defence', () => {
  test('a Secret shows as *** through JSON, String, template literals, inspect and format', () => {
    const secret = new Secret(CANARY.literal);
    const shown = {
      json: JSON.stringify({ password: secret, list: [secret] }),
      string: String(secret),
      template: `${secret}`,
      inspect: inspect({ deep: { deeper: { password: secret } } }, { depth: 10 }),
      format: format('%s %o %O %j', secret, secret, { secret }, { secret }),
    };
    assert.deepEqual(shown, {
      json: '{"password":"***","list":["***"]}',
      string: '***',
      template: '***',
      inspect: '{ deep: { deeper: { password: *** } } }',
      format: '*** *** { secret: *** } {"secret":"***"}',
    });
    assert.equal(secret.reveal(), CANARY.literal);
  });

  test('the logger masks secrets by field path, and Secrets anywhere, at trace level', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'trace',
      destination: { write: (l: string) => lines.push(l) },
    });
    const basic = `Basic ${b64(`${BASIC_USER}:${CANARY.basic}`)}`;
    log.trace({ event: 'a', password: CANARY.literal, token: CANARY.bearer, secret: CANARY.smtp });
    log.debug({ event: 'b', mailbox: { password: CANARY.file }, authorization: basic });
    log.info({ event: 'c', config: { mailboxes: [{ password: CANARY.env }] } });
    log.warn({ event: 'd', smtp: { auth: { password: CANARY.smtp } } });
    log.error({ event: 'e', req: { headers: { authorization: `Bearer ${CANARY.bearer}` } } });
    log.info({ event: 'f', config: { alerting: { smtp: { password: CANARY.smtp } } } });
    log.info({ event: 'g', anywhere: { at: { all: { depth: new Secret(CANARY.literal) } } } });
    log.child({ component: 'x', password: CANARY.file }).info({ event: 'h' }, 'child');
    const events = lines.map((l) => (JSON.parse(l) as { event: string }).event);
    assert.deepEqual(events, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    assert.ok(
      lines.every((l) => l.includes('"***"')),
      lines.join(''),
    );
    assert.deepEqual(leaksIn({ 'log lines': lines.join('') }), []);
  });
});
