import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configWarnings, parseConfig } from '../../../src/config/load.js';
import { isLoopback, shortestGapSeconds } from '../../../src/config/warnings.js';
import { DEMO_CONFIG } from '../../../src/demo/demo.js';

function warningsFor(yaml: string): string[] {
  return configWarnings(parseConfig(yaml, { env: {} }));
}

const mailbox = (extra: string) =>
  `mailboxes:\n  - { name: a, host: pop.example.com, username: u, password: p${extra} }\n`;

describe('configWarnings', () => {
  it('has nothing to say about a sane config', () => {
    assert.deepEqual(warningsFor(mailbox('')), []);
  });

  it('warns about a cleartext password to a host that is not loopback', () => {
    assert.deepEqual(warningsFor(mailbox(', tls: none, auth: user')), [
      'mailboxes[0].tls: none sends the password in cleartext to pop.example.com; use implicit or starttls',
    ]);
  });

  it('allows tls: none on loopback (tests) and with APOP (no cleartext secret)', () => {
    const loopback =
      'mailboxes:\n  - { name: a, host: 127.0.0.1, port: 1110, username: u, password: p, tls: none, auth: plain }\n';
    assert.deepEqual(warningsFor(loopback), []);
    assert.deepEqual(warningsFor(mailbox(', tls: none, auth: apop')), []);
  });

  it('warns about tls_insecure', () => {
    assert.deepEqual(warningsFor(mailbox(', tls_insecure: true')), [
      'mailboxes[0].tls_insecure: certificate verification is off, so anyone on the path can read the password',
    ]);
  });

  it('warns about a schedule faster than every 10s', () => {
    assert.deepEqual(warningsFor(mailbox(', schedule: "*/5 * * * * *"')), [
      'mailboxes[0].schedule: runs as often as every 5s; below 10s servers may refuse logins (LOGIN-DELAY, rate limits)',
    ]);
    assert.deepEqual(warningsFor(mailbox(', schedule: "*/10 * * * * *"')), []);
  });

  it('one schedule warning for every mailbox sharing the schedule; none for loopback servers', () => {
    const yaml = [
      'defaults: { schedule: "*/5 * * * * *", username: u, password: p }',
      'mailboxes:',
      '  - { name: a, host: 127.0.0.1, port: 1110, tls: none }',
      '  - { name: b, host: pop.example.com }',
      '  - { name: c, host: pop.example.com }',
      '  - { name: d, host: imap.example.com }',
      '  - { name: e, host: localhost, port: 1110, tls: none }',
      '  - { name: f, host: pop.example.com, schedule: "*/2 * * * * *" }',
      '',
    ].join('\n');
    assert.deepEqual(warningsFor(yaml), [
      'mailboxes[1].schedule: runs as often as every 5s (and 2 more mailboxes); below 10s servers may refuse logins (LOGIN-DELAY, rate limits)',
      'mailboxes[5].schedule: runs as often as every 2s; below 10s servers may refuse logins (LOGIN-DELAY, rate limits)',
    ]);
  });

  it('the demo config has nothing to warn about', () => {
    const demo = readFileSync(DEMO_CONFIG, 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'pop3-monitor-demo-warnings-'));
    try {
      const key = join(dir, 'loop-key');
      writeFileSync(key, 'a demo loop key of enough length\n');
      const env = {
        DEMO_POP3_PORT: '1110',
        DEMO_SMTP_PORT: '1025',
        DEMO_STATE_DIR: dir,
        DEMO_LOOP_KEY_FILE: key,
      };
      assert.deepEqual(configWarnings(parseConfig(demo, { env })), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns about alert settings that send nothing', () => {
    const yaml = `${mailbox('')}alerting:\n  to: [ops@example.com]\n  rules:\n    - { name: r, metric: messages, op: ">", value: 1 }\n`;
    assert.deepEqual(warningsFor(yaml), [
      'alerting.to: recipients are set but alerting.smtp is not, so no mail is sent',
      'alerting.rules: no alerting.smtp or alerting.alertmanager, so alerts show only in pop3_alerts_firing',
    ]);
  });

  it('warns about tls_insecure for SMTP', () => {
    const yaml = `${mailbox('')}alerting:\n  to: [ops@example.com]\n  smtp: { host: smtp, from: a@b.c, tls_insecure: true }\n`;
    assert.deepEqual(warningsFor(yaml), [
      'alerting.smtp.tls_insecure: certificate verification is off for alert mail',
    ]);
  });
});

describe('isLoopback', () => {
  const cases: [string, boolean][] = [
    ['localhost', true],
    ['LOCALHOST', true],
    ['pop.localhost', true],
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['::2', false],
    ['localhost.example.com', false],
    ['127.0.0.1.example.com', false],
  ];
  for (const [host, loopback] of cases) {
    it(`${host} is ${loopback ? '' : 'not '}loopback`, () =>
      assert.equal(isLoopback(host), loopback));
  }
});

describe('shortestGapSeconds', () => {
  const cases: [string, number | null][] = [
    ['*/60 * * * * *', null],
    ['* * * * *', null],
    ['*/5 * * * * *', 5],
    ['*/15 * * * * *', 15],
    ['0,30 * * * * *', 30],
    // 55 then 0 of the next minute: 5 s apart when minutes follow each other.
    ['0,55 * * * * *', 5],
    ['0,55 0 * * * *', 55],
    ['not cron', null],
  ];
  for (const [schedule, gap] of cases) {
    it(`${schedule} → ${gap}`, () => assert.equal(shortestGapSeconds(schedule), gap));
  }
});
