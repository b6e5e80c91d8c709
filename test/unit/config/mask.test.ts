// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config text uses ${VAR} on purpose
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { maskedConfig, maskUrl } from '../../../src/config/mask.js';
import { FIXTURE_ENV, FIXTURES_DIR } from '../../fixtures/config/env.js';

const CANARY_LITERAL = 'canary-literal-7c1f';
const CANARY_FILE = 'canary-file-7c1f';
const CANARY_ENV = 'canary-env-7c1f';
const CANARY_SMTP = 'canary-smtp-7c1f';
const CANARY_BASIC = 'canary-basic-7c1f';
const CANARY_TOKEN = 'canary-token-7c1f';
const CANARY_URL = 'canary-url-7c1f';

const FILES: Record<string, string> = {
  '/secrets/support': `${CANARY_FILE}\n`,
  '/secrets/token': `${CANARY_TOKEN}\n`,
};

function canaryConfig() {
  return parseConfig(
    `server:
  basic_auth: { username: prom, password: ${CANARY_BASIC} }
  bearer_token_file: /secrets/token
mailboxes:
  - { name: literal, host: h, username: u, password: ${CANARY_LITERAL} }
  - { name: file, host: h, username: u, password_file: /secrets/support }
  - { name: env, host: h, username: u, password: "\${SUPPORT_PASSWORD}" }
alerting:
  to: [ops@example.com]
  external_url: "https://viewer:${CANARY_URL}@grafana.example.com/d/x"
  smtp: { host: smtp, from: a@b.c, username: m, password: "\${SMTP_PASSWORD}" }
  alertmanager: { urls: ["http://am:${CANARY_URL}@127.0.0.1:9093"] }
`,
    {
      env: { SUPPORT_PASSWORD: CANARY_ENV, SMTP_PASSWORD: CANARY_SMTP },
      readFile: (path) => {
        const text = FILES[path];
        if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        return text;
      },
    },
  );
}

describe('maskedConfig', () => {
  it('shows no secret however it was given (password, password_file, ${VAR}, URL)', () => {
    const config = canaryConfig();
    // The secrets are really there, so the test would see them if the mask failed.
    assert.deepEqual(
      config.mailboxes.map((m) => m.password?.reveal()),
      [CANARY_LITERAL, CANARY_FILE, CANARY_ENV],
    );
    const json = JSON.stringify(maskedConfig(config));
    for (const canary of [
      CANARY_LITERAL,
      CANARY_FILE,
      CANARY_ENV,
      CANARY_SMTP,
      CANARY_BASIC,
      CANARY_TOKEN,
      CANARY_URL,
    ]) {
      assert.ok(!json.includes(canary), `${canary} leaked into ${json}`);
    }
    assert.ok(!inspect(config, { depth: 10 }).includes(CANARY_LITERAL));
  });

  it('shows secrets as *** and keeps the file paths', () => {
    const masked = maskedConfig(canaryConfig()) as {
      server: unknown;
      mailboxes: { password: string; password_file: string | null }[];
      alerting: {
        smtp: { password: string };
        external_url: string;
        alertmanager: { urls: string[] };
      };
    };
    assert.deepEqual(masked.server, {
      listen: '0.0.0.0:9469',
      basic_auth: { username: 'prom', password: '***', password_file: null },
      bearer_token: '***',
      bearer_token_file: '/secrets/token',
      web_config_file: null,
    });
    assert.deepEqual(
      masked.mailboxes.map((m) => [m.password, m.password_file]),
      [
        ['***', null],
        ['***', '/secrets/support'],
        ['***', null],
      ],
    );
    assert.equal(masked.alerting.smtp.password, '***');
    assert.equal(masked.alerting.external_url, 'https://viewer:***@grafana.example.com/d/x');
    assert.deepEqual(masked.alerting.alertmanager.urls, ['http://am:***@127.0.0.1:9093']);
  });

  it('renders the full fixture: durations as text, defaults resolved, null for unset', () => {
    const config = loadConfig(join(FIXTURES_DIR, 'valid', 'full.yaml'), { env: FIXTURE_ENV });
    const secrets = (name: string) => join(FIXTURES_DIR, 'secrets', name);
    assert.deepEqual(maskedConfig(config), {
      source: join(FIXTURES_DIR, 'valid', 'full.yaml'),
      server: {
        listen: '127.0.0.1:9469',
        basic_auth: {
          username: 'prometheus',
          password: '***',
          password_file: secrets('support-password'),
        },
        bearer_token: '***',
        bearer_token_file: secrets('bearer-token'),
        web_config_file: join(FIXTURES_DIR, 'valid', 'web.yml'),
      },
      state_dir: '/var/lib/pop3-monitor',
      scheduler: { max_concurrent_probes: 8, max_concurrent_per_host: 2 },
      shard: '1/3',
      mailboxes: [
        {
          name: 'support',
          host: 'pop.example.com',
          port: 995,
          username: 'support@example.com',
          password: '***',
          password_file: null,
          schedule: '*/30 * * * * *',
          timeout: '15s',
          tls: 'implicit',
          tls_ca_file: secrets('ca.pem'),
          tls_insecure: false,
          tls_servername: 'mail.example.com',
          auth: 'auto',
          top_lines: 2,
          pipelining: 'full',
          auth_failure_backoff: '1h',
          labels: { env: 'prod', team: 'support' },
          oauth2: null,
          max_new_messages: 20,
          expect: [],
        },
        {
          name: 'oauth',
          host: 'outlook.office365.com',
          port: 995,
          username: 'oauth@example.com',
          password: '***',
          password_file: secrets('bearer-token'),
          schedule: '*/30 * * * * *',
          timeout: '15s',
          tls: 'implicit',
          tls_ca_file: null,
          tls_insecure: false,
          tls_servername: null,
          auth: 'xoauth2',
          top_lines: 2,
          pipelining: false,
          auth_failure_backoff: '1h',
          labels: { env: 'prod' },
          oauth2: null,
          max_new_messages: 20,
          expect: [],
        },
      ],
      loops: [],
      alerting: {
        smtp: {
          host: 'smtp.example.com',
          port: 465,
          secure: true,
          require_tls: true,
          username: 'monitor@example.com',
          password: '***',
          password_file: secrets('smtp-password'),
          from: 'pop3-monitor <monitor@example.com>',
          tls_ca_file: secrets('ca.pem'),
          tls_insecure: false,
          timeout: '20s',
        },
        to: ['ops@example.com', 'oncall@example.com'],
        repeat_interval: '2h',
        group_wait: '30s',
        send_resolved: false,
        external_url: 'https://grafana.example.com/d/pop3',
        builtin_rules: {
          login_failed: true,
          unreachable: false,
          delivery_lost: true,
          expect_overdue: true,
        },
        rules: [
          {
            name: 'backlog',
            metric: 'messages',
            op: '>',
            value: 100,
            for: '5m',
            severity: 'warning',
            mailboxes: ['support'],
            description: 'Support backlog',
          },
        ],
        alertmanager: { urls: ['http://127.0.0.1:9093'], timeout: '5s' },
      },
      metrics: { mailbox_phases: true },
    });
  });

  it('is plain JSON: a round trip changes nothing', () => {
    const masked = maskedConfig(canaryConfig());
    assert.deepEqual(JSON.parse(JSON.stringify(masked)), masked);
  });
});

describe('maskUrl', () => {
  const cases: [string, string][] = [
    ['http://127.0.0.1:9093', 'http://127.0.0.1:9093'],
    ['http://user@am:9093/x', 'http://user@am:9093/x'],
    ['http://user:pw@am:9093/x', 'http://user:***@am:9093/x'],
    ['https://u:p@ss@am/', 'https://u:***@am/'],
    ['http://am:9093/path@x:y', 'http://am:9093/path@x:y'],
    ['not a url', 'not a url'],
  ];
  for (const [input, output] of cases) {
    it(`masks ${input} as ${output}`, () => assert.equal(maskUrl(input), output));
  }
});
