import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, configWarnings, loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { FIXTURE_ENV, FIXTURE_SECRETS, FIXTURES_DIR } from '../../fixtures/config/env.js';

/** NAME.yaml, or NAME.yaml.txt for text that is not YAML at all (Biome lints .yaml files). */
function yamlFiles(folder: string): string[] {
  return readdirSync(join(FIXTURES_DIR, folder))
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yaml.txt'))
    .sort();
}

describe('config fixtures: every file in invalid/ fails with its .expected text', () => {
  const files = yamlFiles('invalid');

  it('has a fixture for each rule, and an .expected file only beside a fixture', () => {
    assert.ok(files.length >= 60, `only ${files.length} invalid fixtures`);
    const expected = readdirSync(join(FIXTURES_DIR, 'invalid')).filter((n) =>
      n.endsWith('.expected'),
    );
    assert.deepEqual(
      expected.map((n) => n.replace(/\.expected$/, '')).sort(),
      files.map((n) => n.replace(/\.yaml(\.txt)?$/, '')).sort(),
    );
  });

  for (const name of files) {
    it(name, () => {
      const path = join(FIXTURES_DIR, 'invalid', name);
      const expected = readFileSync(path.replace(/\.yaml(\.txt)?$/, '.expected'), 'utf8').replace(
        /\n$/,
        '',
      );
      let caught: unknown;
      try {
        loadConfig(path, { env: FIXTURE_ENV });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
      assert.equal(caught.message, expected);
      assert.equal(caught.code, 'config');
      assert.equal(caught.source, path);
      assert.equal(caught.issues.length, expected.split('\n').length);
      for (const secret of FIXTURE_SECRETS) assert.ok(!caught.message.includes(secret), secret);
    });
  }
});

const MINUTE = 60_000;

/** What each valid fixture proves (its first comment line), checked on the loaded config. */
const VALID: Record<string, (config: Config) => void> = {
  'builtin-rule-name-reuse.yaml': (c) => {
    assert.deepEqual(c.alerting.builtin_rules, {
      login_failed: true,
      unreachable: false,
      delivery_lost: true,
      expect_overdue: true,
    });
    assert.deepEqual(
      c.alerting.rules.map((r) => [r.name, r.metric, r.op, r.value, r.severity]),
      [['unreachable', 'consecutive_failures', '>=', 10, 'critical']],
    );
  },
  'default-ports.yaml': (c) => {
    assert.deepEqual(
      c.mailboxes.map((m) => [m.name, m.tls, m.port]),
      [
        ['a', 'implicit', 995],
        ['b', 'starttls', 110],
        ['c', 'none', 110],
        ['d', 'starttls', 1110],
      ],
    );
  },
  'defaults-merge.yaml': (c) => {
    const [support, sales] = c.mailboxes;
    assert.deepEqual(
      [support?.host, support?.tls, support?.auth, support?.timeout, support?.labels],
      ['pop.example.com', 'starttls', 'user', 5_000, { env: 'prod', team: 'support' }],
    );
    assert.equal(support?.password?.reveal(), 'fixture-file-password');
    assert.deepEqual(
      [sales?.host, sales?.tls, sales?.auth, sales?.timeout, sales?.labels],
      ['pop2.example.com', 'implicit', 'user', 20_000, { env: 'prod', team: 'ops' }],
    );
    assert.equal(sales?.password?.reveal(), 'canary-env-0451');
  },
  'empty-sections.yaml': (c) => {
    assert.equal(c.server.listen, '0.0.0.0:9469');
    assert.deepEqual([c.alerting.smtp, c.alerting.to, c.alerting.rules], [undefined, [], []]);
    assert.equal(c.mailboxes[0]?.timeout, 10_000);
  },
  'env-default-and-escape.yaml': (c) => {
    const m = c.mailboxes[0];
    assert.deepEqual([m?.host, m?.username], ['pop.example.com', 'support']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: $${ gives this literal text.
    assert.equal(m?.password?.reveal(), '${SUPPORT_PASSWORD}');
  },
  'full.yaml': (c) => {
    assert.equal(c.server.listen, '127.0.0.1:9469');
    assert.equal(c.server.basic_auth?.password.reveal(), 'fixture-file-password');
    assert.equal(c.server.bearer_token?.reveal(), 'fixture-bearer-token');
    assert.deepEqual(
      [c.state_dir, c.scheduler, c.shard],
      [
        '/var/lib/pop3-monitor',
        { max_concurrent_probes: 8, max_concurrent_per_host: 2 },
        { index: 1, count: 3 },
      ],
    );
    const [support, oauth] = c.mailboxes;
    assert.deepEqual(
      [support?.schedule, support?.timeout, support?.top_lines, support?.pipelining],
      ['*/30 * * * * *', 15_000, 2, 'full'],
    );
    assert.equal(oauth?.pipelining, false, 'from defaults');
    assert.deepEqual(
      [support?.auth_failure_backoff, support?.tls_servername],
      [60 * MINUTE, 'mail.example.com'],
    );
    assert.deepEqual(support?.labels, { env: 'prod', team: 'support' });
    assert.ok(support?.tls_ca?.startsWith('-----BEGIN CERTIFICATE-----'));
    assert.deepEqual([oauth?.auth, oauth?.password?.reveal()], ['xoauth2', 'fixture-bearer-token']);
    const smtp = c.alerting.smtp;
    assert.deepEqual(
      [smtp?.port, smtp?.secure, smtp?.require_tls, smtp?.timeout, smtp?.password?.reveal()],
      [465, true, true, 20_000, 'fixture-smtp-password'],
    );
    assert.deepEqual(
      [c.alerting.repeat_interval, c.alerting.group_wait, c.alerting.send_resolved],
      [2 * 60 * MINUTE, 30_000, false],
    );
    assert.deepEqual(c.alerting.rules[0]?.mailboxes, ['support']);
    assert.deepEqual(
      [c.alerting.rules[0]?.for, c.alerting.rules[0]?.description],
      [5 * MINUTE, 'Support backlog'],
    );
    assert.deepEqual(c.alerting.alertmanager, { urls: ['http://127.0.0.1:9093'], timeout: 5_000 });
  },
  'loops.yaml': (c) => {
    const m = c.mailboxes[0];
    assert.equal(m?.max_new_messages, 50);
    assert.deepEqual(m?.expect, [
      {
        name: 'nightly-backup',
        from: 'backup@example\\.com',
        subject: '^Backup (OK|réussi)',
        within: 26 * 60 * MINUTE,
      },
    ]);
    const l = c.loops[0];
    assert.deepEqual(
      [l?.name, l?.schedule, l?.from, l?.to, l?.mailbox, l?.deadline, l?.cleanup],
      [
        'support-loop',
        '0 */5 * * * *',
        'monitor@example.com',
        'support@example.com',
        'support',
        10 * MINUTE,
        true,
      ],
    );
    assert.deepEqual(
      [l?.smtp.host, l?.smtp.port, l?.smtp.username, l?.smtp.password?.reveal()],
      ['smtp.example.com', 587, 'monitor@example.com', 'canary-smtp-0451'],
    );
    assert.equal(l?.hmac_key.reveal(), 'fixture-loop-hmac-key-0451-abcdef');
    assert.ok(l?.hmac_key_file.endsWith('/secrets/loop-key'), l?.hmac_key_file);
  },
  'minimal.yaml': (c) => {
    const m = c.mailboxes[0];
    assert.deepEqual(
      [m?.port, m?.tls, m?.auth, m?.schedule, m?.timeout, m?.top_lines, m?.pipelining],
      [995, 'implicit', 'auto', '*/60 * * * * *', 10_000, 0, true],
    );
    assert.deepEqual(
      [m?.auth_failure_backoff, m?.tls_insecure, m?.labels],
      [15 * MINUTE, false, {}],
    );
    assert.deepEqual(c.scheduler, { max_concurrent_probes: 64, max_concurrent_per_host: 4 });
    assert.deepEqual(c.alerting.builtin_rules, {
      login_failed: true,
      unreachable: true,
      delivery_lost: true,
      expect_overdue: true,
    });
    assert.deepEqual([m?.max_new_messages, m?.expect, c.loops], [20, [], []]);
    assert.equal(c.alerting.repeat_interval, 4 * 60 * MINUTE);
  },
  'no-rules-no-recipients.yaml': (c) => {
    assert.deepEqual([c.alerting.smtp?.host, c.alerting.to], ['smtp.example.com', []]);
    // The mail-flow built-ins stay on: they apply only to loops and watches, and there are none.
    assert.deepEqual(c.alerting.builtin_rules, {
      login_failed: false,
      unreachable: false,
      delivery_lost: true,
      expect_overdue: true,
    });
  },
  'oauth2-generic-loopback-http.yaml': (c) => {
    const o = c.mailboxes[0]?.oauth2;
    assert.deepEqual(
      [o?.provider, o?.grant, o?.token_url, o?.issuer, o?.client_auth, o?.scope, o?.timeout],
      [
        'generic',
        'client_credentials',
        'http://127.0.0.1:8080/token',
        'http://127.0.0.1:8080',
        'basic',
        'mail',
        3_000,
      ],
    );
    assert.equal(o?.client_secret?.reveal(), 'fixture-client-secret');
    assert.equal(c.mailboxes[0]?.auth, 'oauthbearer');
  },
  'oauth2-google.yaml': (c) => {
    const o = c.mailboxes[0]?.oauth2;
    assert.deepEqual(
      [o?.provider, o?.grant, o?.token_url, o?.client_auth],
      ['google', 'refresh_token', 'https://oauth2.googleapis.com/token', 'post'],
    );
    assert.deepEqual(
      [o?.client_secret?.reveal(), o?.refresh_token?.reveal()],
      ['fixture-client-secret', 'fixture-refresh-token'],
    );
  },
  'oauth2-microsoft365.yaml': (c) => {
    const o = c.mailboxes[0]?.oauth2;
    assert.deepEqual(
      [o?.provider, o?.grant, o?.token_url, o?.scope],
      [
        'microsoft365',
        'client_credentials',
        'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
        'https://outlook.office365.com/.default',
      ],
    );
  },
  'password-file.yaml': (c) => {
    assert.equal(c.mailboxes[0]?.password?.reveal(), 'fixture-file-password');
  },
  'tls-ca.yaml': (c) => {
    const pem = c.mailboxes[0]?.tls_ca ?? '';
    assert.match(pem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n?$/);
  },
  'tls-none-loopback.yaml': (c) => {
    assert.deepEqual(
      c.mailboxes.map((m) => [m.tls, m.auth, m.port]),
      [['none', 'user', 1110]],
    );
    assert.deepEqual(configWarnings(c), [], 'cleartext to loopback draws no warning');
  },
};

describe('config fixtures: every file in valid/ loads as its first comment says', () => {
  const files = yamlFiles('valid');

  it('has a check for every valid fixture, and a fixture for every check', () => {
    assert.deepEqual(files, Object.keys(VALID).sort());
  });

  for (const name of files) {
    it(name, () => {
      const path = join(FIXTURES_DIR, 'valid', name);
      const config = loadConfig(path, { env: FIXTURE_ENV });
      assert.equal(config.source, path);
      VALID[name]?.(config);
    });
  }
});
