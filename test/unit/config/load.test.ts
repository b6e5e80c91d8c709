// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config text uses ${VAR} on purpose
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  loadConfig,
  parseConfig,
  resolveConfigPath,
} from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { FIXTURE_ENV, FIXTURES_DIR } from '../../fixtures/config/env.js';

const EXAMPLE = fileURLToPath(new URL('../../../config/example.yaml', import.meta.url));

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

const ONE_MAILBOX = `mailboxes:
  - name: support
    host: pop.example.com
    username: support@example.com
    password: \${SUPPORT_PASSWORD}
`;

describe('resolveConfigPath', () => {
  it('prefers --config over POP3_MONITOR_CONFIG', () => {
    assert.equal(resolveConfigPath('a.yaml', { POP3_MONITOR_CONFIG: 'b.yaml' }), 'a.yaml');
  });
  it('falls back to POP3_MONITOR_CONFIG', () => {
    assert.equal(resolveConfigPath(undefined, { POP3_MONITOR_CONFIG: 'b.yaml' }), 'b.yaml');
  });
  it('returns null when neither is set (empty counts as unset)', () => {
    assert.equal(resolveConfigPath(undefined, {}), null);
    assert.equal(resolveConfigPath('', { POP3_MONITOR_CONFIG: '' }), null);
  });
});

describe('loadConfig', () => {
  it('names the file when it cannot be read', () => {
    const error = errorOf(() => loadConfig('/nonexistent/pop3.yaml', { env: {} }));
    assert.equal(
      error.message,
      'cannot read config file /nonexistent/pop3.yaml: no such file (ENOENT)',
    );
    assert.deepEqual(error.issues, [
      {
        path: '',
        message: 'cannot read config file /nonexistent/pop3.yaml: no such file (ENOENT)',
      },
    ]);
    assert.equal(error.source, '/nonexistent/pop3.yaml');
  });

  it('resolves relative *_file paths against the config file folder, trimming the newline', () => {
    const path = join(FIXTURES_DIR, 'valid', 'password-file.yaml');
    const config = loadConfig(path, { env: {} });
    const mailbox = config.mailboxes[0]!;
    assert.equal(mailbox.password?.reveal(), 'fixture-file-password');
    assert.equal(mailbox.password_file, join(FIXTURES_DIR, 'secrets', 'support-password'));
  });

  it('trims a CRLF line ending from a secret file too', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'full.yaml'), { env: FIXTURE_ENV });
    assert.equal(config.alerting.smtp?.password?.reveal(), 'fixture-smtp-password');
  });

  it('reads tls_ca_file into PEM text', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'tls-ca.yaml'), { env: FIXTURE_ENV });
    const pem = readFileSync(join(FIXTURES_DIR, 'secrets', 'ca.pem'), 'utf8');
    assert.equal(config.mailboxes[0]!.tls_ca, pem);
    assert.equal(config.mailboxes[0]!.tls_ca_file, join(FIXTURES_DIR, 'secrets', 'ca.pem'));
  });

  it('loads config/example.yaml with its variables set', () => {
    const config = loadConfig(EXAMPLE, {
      env: { SUPPORT_PASSWORD: 's1', LEGACY_PASSWORD: 'l1', SMTP_PASSWORD: 'm1' },
    });
    assert.deepEqual(
      config.mailboxes.map((m) => [m.name, m.port, m.tls, m.password?.reveal()]),
      [
        ['support', 995, 'implicit', 's1'],
        ['legacy', 110, 'starttls', 'l1'],
      ],
    );
    assert.equal(config.alerting.smtp?.password?.reveal(), 'm1');
    assert.deepEqual(
      config.alerting.rules.map((r) => r.name),
      ['backlog', 'stale_mail', 'cert_expiring'],
    );
    assert.equal(config.source, EXAMPLE);
  });

  it('refuses config/example.yaml without its variables, naming each', () => {
    const error = errorOf(() => loadConfig(EXAMPLE, { env: {} }));
    assert.equal(
      error.message,
      [
        'mailboxes[0].password: environment variable SUPPORT_PASSWORD is not set',
        'mailboxes[1].password: environment variable LEGACY_PASSWORD is not set',
        'alerting.smtp.password: environment variable SMTP_PASSWORD is not set',
      ].join('\n'),
    );
  });
});

describe('parseConfig: the resolved Config', () => {
  it('fills every default for a minimal config', () => {
    const config = parseConfig(ONE_MAILBOX, { env: { SUPPORT_PASSWORD: 'pw' }, source: 'x.yaml' });
    const { password, ...mailbox } = config.mailboxes[0]!;
    assert.equal(password?.reveal(), 'pw');
    assert.deepEqual(mailbox, {
      name: 'support',
      host: 'pop.example.com',
      port: 995,
      username: 'support@example.com',
      password_file: undefined,
      schedule: '*/60 * * * * *',
      timeout: 10_000,
      tls: 'implicit',
      tls_ca: undefined,
      tls_ca_file: undefined,
      tls_insecure: false,
      tls_servername: undefined,
      auth: 'auto',
      top_lines: 0,
      pipelining: true,
      auth_failure_backoff: 900_000,
      labels: {},
      oauth2: undefined,
      max_new_messages: 20,
      expect: [],
    });
    const { mailboxes: _, ...rest } = config;
    assert.deepEqual(rest, {
      server: {
        listen: '0.0.0.0:9469',
        basic_auth: undefined,
        bearer_token: undefined,
        bearer_token_file: undefined,
        web_config_file: undefined,
      },
      state_dir: './data',
      scheduler: { max_concurrent_probes: 64, max_concurrent_per_host: 4 },
      shard: undefined,
      loops: [],
      alerting: {
        smtp: undefined,
        to: [],
        repeat_interval: 14_400_000,
        group_wait: 10_000,
        send_resolved: true,
        external_url: undefined,
        builtin_rules: {
          login_failed: true,
          unreachable: true,
          delivery_lost: true,
          expect_overdue: true,
        },
        rules: [],
        alertmanager: undefined,
      },
      metrics: { mailbox_phases: false },
      source: 'x.yaml',
    } satisfies Omit<Config, 'mailboxes'>);
  });

  it('uses port 995 for tls: implicit and 110 for starttls and none, unless set', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'default-ports.yaml'), { env: {} });
    assert.deepEqual(
      config.mailboxes.map((m) => [m.name, m.tls, m.port]),
      [
        ['a', 'implicit', 995],
        ['b', 'starttls', 110],
        ['c', 'none', 110],
        ['d', 'starttls', 1110],
      ],
    );
  });

  it('merges defaults under each mailbox: mailbox keys win, labels merge', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'defaults-merge.yaml'), {
      env: FIXTURE_ENV,
    });
    const [support, sales] = config.mailboxes;
    assert.deepEqual(
      [support!.host, support!.tls, support!.auth, support!.timeout, support!.labels],
      ['pop.example.com', 'starttls', 'user', 5000, { env: 'prod', team: 'support' }],
    );
    assert.deepEqual(
      [sales!.host, sales!.tls, sales!.auth, sales!.timeout, sales!.labels],
      ['pop2.example.com', 'implicit', 'user', 20_000, { env: 'prod', team: 'ops' }],
    );
  });

  it('lets a mailbox password replace a default password_file (one setting)', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'defaults-merge.yaml'), {
      env: FIXTURE_ENV,
    });
    const [support, sales] = config.mailboxes;
    assert.equal(support!.password?.reveal(), 'fixture-file-password');
    assert.equal(sales!.password?.reveal(), 'canary-env-0451');
    assert.equal(sales!.password_file, undefined);
  });

  it('resolves the full fixture: server secrets, shard, smtp, alertmanager, rules, metrics', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'full.yaml'), { env: FIXTURE_ENV });
    assert.deepEqual(config.metrics, { mailbox_phases: true });
    assert.equal(config.server.basic_auth?.username, 'prometheus');
    assert.equal(config.server.basic_auth?.password.reveal(), 'fixture-file-password');
    assert.equal(config.server.bearer_token?.reveal(), 'fixture-bearer-token');
    assert.deepEqual(config.shard, { index: 1, count: 3 });
    assert.equal(config.state_dir, '/var/lib/pop3-monitor');
    assert.deepEqual(config.scheduler, { max_concurrent_probes: 8, max_concurrent_per_host: 2 });
    const oauth = config.mailboxes[1]!;
    assert.deepEqual(
      [oauth.auth, oauth.password?.reveal(), oauth.schedule, oauth.pipelining, oauth.top_lines],
      ['xoauth2', 'fixture-bearer-token', '*/30 * * * * *', false, 2],
    );
    assert.equal(oauth.auth_failure_backoff, 3_600_000);
    assert.deepEqual(config.mailboxes[0]!.labels, { env: 'prod', team: 'support' });
    assert.equal(config.mailboxes[0]!.pipelining, 'full', 'a mailbox overrides the default');
    assert.equal(config.mailboxes[0]!.tls_servername, 'mail.example.com');
    const smtp = config.alerting.smtp!;
    assert.deepEqual(
      [smtp.host, smtp.port, smtp.secure, smtp.require_tls, smtp.username, smtp.timeout],
      ['smtp.example.com', 465, true, true, 'monitor@example.com', 20_000],
    );
    assert.ok(smtp.tls_ca?.startsWith('-----BEGIN CERTIFICATE-----'));
    assert.deepEqual(config.alerting.alertmanager, {
      urls: ['http://127.0.0.1:9093'],
      timeout: 5000,
    });
    assert.deepEqual(config.alerting.rules, [
      {
        name: 'backlog',
        metric: 'messages',
        op: '>',
        value: 100,
        for: 300_000,
        severity: 'warning',
        mailboxes: ['support'],
        description: 'Support backlog',
      },
    ]);
    assert.deepEqual(
      [config.alerting.repeat_interval, config.alerting.group_wait, config.alerting.send_resolved],
      [7_200_000, 30_000, false],
    );
    assert.deepEqual(config.alerting.builtin_rules, {
      login_failed: true,
      unreachable: false,
      delivery_lost: true,
      expect_overdue: true,
    });
    assert.equal(config.alerting.external_url, 'https://grafana.example.com/d/pop3');
  });

  it('reads *_file through the injected readFile, resolved against baseDir', () => {
    const reads: string[] = [];
    const config = parseConfig(
      'mailboxes:\n  - { name: a, host: h, username: u, password_file: secrets/a }\n',
      {
        env: {},
        baseDir: '/etc/pop3',
        readFile: (path) => {
          reads.push(path);
          return 'from-file\n\n';
        },
      },
    );
    assert.deepEqual(reads, ['/etc/pop3/secrets/a']);
    assert.equal(config.mailboxes[0]!.password?.reveal(), 'from-file');
  });

  it('reads no file while other fields are invalid', () => {
    const reads: string[] = [];
    const error = errorOf(() =>
      parseConfig(
        'mailboxes:\n  - { name: a, host: h, username: u, password_file: s, port: 0 }\n',
        {
          env: {},
          readFile: (path) => {
            reads.push(path);
            return 'x';
          },
        },
      ),
    );
    assert.equal(error.message, 'mailboxes[0].port: expected 1-65535');
    assert.deepEqual(reads, []);
  });

  it('keeps trailing spaces of a secret file (only line breaks are trimmed)', () => {
    const config = parseConfig(
      'mailboxes:\n  - { name: a, host: h, username: u, password_file: p }\n',
      {
        env: {},
        readFile: () => ' pass word \r\n',
      },
    );
    assert.equal(config.mailboxes[0]!.password?.reveal(), ' pass word ');
  });
});

describe('parseConfig: errors', () => {
  it('is a ConfigError with code "config", the issues and one line per issue', () => {
    const error = errorOf(() =>
      parseConfig(
        'mailboxes:\n  - { name: a, host: h, username: u, password: p, port: 0, tls: x }\n',
        {
          env: {},
          source: 'cfg.yaml',
        },
      ),
    );
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.code, 'config');
    assert.equal(error.source, 'cfg.yaml');
    assert.deepEqual(error.issues, [
      { path: 'mailboxes[0].port', message: 'expected 1-65535' },
      { path: 'mailboxes[0].tls', message: 'expected one of: implicit, starttls, none' },
    ]);
    assert.equal(
      error.message,
      'mailboxes[0].port: expected 1-65535\nmailboxes[0].tls: expected one of: implicit, starttls, none',
    );
  });

  it('reports a YAML error with line and column and no stack or excerpt', () => {
    const error = errorOf(() => parseConfig('mailboxes:\n  - name: "a\\qb"\n', { env: {} }));
    // Column 13 is the backslash; the message is yaml's first line only, no excerpt.
    assert.equal(
      error.message,
      'YAML syntax error at line 2, column 13: Invalid escape sequence \\q',
    );
  });

  it('treats a whitespace-only file as empty', () => {
    const error = errorOf(() => parseConfig('  \n\n', { env: {} }));
    assert.equal(error.message, 'the config file is empty; it needs at least a mailboxes: list');
  });

  it('refuses a scalar root', () => {
    const error = errorOf(() => parseConfig('hello', { env: {} }));
    assert.equal(
      error.message,
      'expected a mapping at the top level (server:, defaults:, mailboxes:, alerting:), got a string',
    );
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const error = errorOf(() => parseConfig(`${lines.join('\n')}\n`, { env: {} }));
    assert.match(error.message, /^YAML error: Excessive alias count/);
  });

  it('does not repeat an issue of a failed ${VAR} as a type error of the same field', () => {
    const error = errorOf(() =>
      parseConfig(
        'mailboxes:\n  - { name: a, host: h, username: u, password: p, port: "${PORT}" }\n',
        {
          env: {},
        },
      ),
    );
    assert.equal(error.message, 'mailboxes[0].port: environment variable PORT is not set');
  });

  it('reads numbers and booleans from the environment, since variables are always text', () => {
    const config = parseConfig(
      'mailboxes:\n  - { name: a, host: h, username: u, password: p, port: "${PORT}", tls_insecure: "${INSECURE}" }\n',
      { env: { PORT: '995', INSECURE: 'true' } },
    );
    assert.equal(config.mailboxes[0]?.port, 995);
    assert.equal(config.mailboxes[0]?.tls_insecure, true);
  });

  it('still refuses text that is not a number where a number belongs', () => {
    const error = errorOf(() =>
      parseConfig(
        'mailboxes:\n  - { name: a, host: h, username: u, password: p, port: "${PORT}" }\n',
        {
          env: { PORT: '99x' },
        },
      ),
    );
    assert.equal(error.message, 'mailboxes[0].port: expected a number, got a string');
  });

  it('names an unknown field with a path that quotes odd keys', () => {
    const error = errorOf(() =>
      parseConfig(
        'mailboxes:\n  - { name: a, host: h, username: u, password: p, "odd key": 1 }\n',
        {
          env: {},
        },
      ),
    );
    assert.equal(error.message, 'mailboxes[0]["odd key"]: unknown field');
  });

  it('rejects a __proto__ key as an unknown field rather than changing a prototype', () => {
    const error = errorOf(() =>
      parseConfig(
        '__proto__: { polluted: true }\nmailboxes:\n  - { name: a, host: h, username: u, password: p }\n',
        {
          env: {},
        },
      ),
    );
    assert.equal(error.message, '__proto__: unknown field');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('reports a missing default only once, at defaults.x', () => {
    const error = errorOf(() =>
      parseConfig(
        'defaults:\n  username: ""\nmailboxes:\n  - { name: a, host: h, password: p }\n  - { name: b, host: h, password: p }\n',
        { env: {} },
      ),
    );
    assert.equal(error.message, 'defaults.username: must not be empty');
  });

  it('allows host in defaults', () => {
    const config = parseConfig(
      'defaults: { host: pop.example.com }\nmailboxes:\n  - { name: a, username: u, password: p }\n',
      {
        env: {},
      },
    );
    assert.equal(config.mailboxes[0]!.host, 'pop.example.com');
  });

  it('treats a built-in rule that is turned off as free to take', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'builtin-rule-name-reuse.yaml'), {
      env: FIXTURE_ENV,
    });
    assert.deepEqual(config.alerting.builtin_rules, {
      login_failed: true,
      unreachable: false,
      delivery_lost: true,
      expect_overdue: true,
    });
    assert.equal(config.alerting.rules[0]!.name, 'unreachable');
  });
});
