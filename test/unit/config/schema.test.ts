import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssue } from '../../../src/config/config-error.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { OWN_LABEL_NAMES } from '../../../src/metrics/label-names.js';

/*
 * The schema's rules one field at a time, on config text: the value a field takes from
 * text (numbers and booleans written as strings), its default, and the exact message a
 * bad value gets. The fixtures (fixtures.test.ts) prove one rule per file; these pin the
 * messages and defaults no fixture reaches.
 */

const MAILBOX = 'name: a, host: pop.example.com, username: u, password: p1';

/** A config with one mailbox (`mailbox` adds fields to it) and `rest` after it. */
function text(mailbox = '', rest = ''): string {
  return `mailboxes:\n  - { ${MAILBOX}${mailbox === '' ? '' : `, ${mailbox}`} }\n${rest}`;
}

/** The problems of a config; files it names read as `file` (32 characters by default). */
function problems(yaml: string, file = 'k'.repeat(32)): string[] {
  try {
    parseConfig(yaml, { env: {}, readFile: () => file });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map(formatIssue);
    throw error;
  }
  return [];
}

const load = (yaml: string) => parseConfig(yaml, { env: {} });
const mailboxOf = (fields: string) => load(text(fields)).mailboxes[0];

describe('schema: mailbox fields', () => {
  it('bounds the name and the host, and reads IPv6 hosts with or without brackets', () => {
    assert.deepEqual(problems(text().replace('name: a', `name: ${'n'.repeat(129)}`)), [
      'mailboxes[0].name: at most 128 characters',
    ]);
    assert.deepEqual(problems(text().replace('name: a', 'name: "a b"')), [
      'mailboxes[0].name: printable ASCII without spaces',
    ]);
    const host = (h: string) => problems(text().replace('host: pop.example.com', `host: "${h}"`));
    assert.deepEqual(host('h'.repeat(254)), ['mailboxes[0].host: at most 253 characters']);
    for (const ok of ['::1', '[::1]', 'fe80::1', '127.0.0.1', 'pop.example.com'])
      assert.deepEqual(host(ok), [], ok);
    for (const bad of ['a b', 'user@pop.example.com', 'http://pop.example.com', '[::1]:995'])
      assert.deepEqual(
        host(bad),
        ['mailboxes[0].host: expected a host name or IP address (the port goes in port:)'],
        bad,
      );
  });

  it('reads numbers and booleans written as text, and nothing else', () => {
    assert.equal(mailboxOf('port: " 995 "')?.port, 995);
    assert.equal(mailboxOf('tls_insecure: "true"')?.tls_insecure, true);
    assert.equal(mailboxOf('tls_insecure: "false"')?.tls_insecure, false);
    assert.equal(mailboxOf('pipelining: "false"')?.pipelining, false);
    for (const bad of ['"yes"', '"1"'])
      assert.deepEqual(
        problems(text(`tls_insecure: ${bad}`)),
        ['mailboxes[0].tls_insecure: expected true or false, got a string'],
        bad,
      );
    assert.deepEqual(problems(text('port: "true"')), [
      'mailboxes[0].port: expected a number, got a string',
    ]);
    assert.deepEqual(problems(text('port: "995x"')), [
      'mailboxes[0].port: expected a number, got a string',
    ]);
    assert.deepEqual(problems(text('port: "x995"')), [
      'mailboxes[0].port: expected a number, got a string',
    ]);
    assert.deepEqual(problems(text('port: "99.5"')), [
      'mailboxes[0].port: expected a whole number',
    ]);
  });

  it('says which range a number must be in', () => {
    assert.deepEqual(problems(text('port: 0')), ['mailboxes[0].port: expected 1-65535']);
    assert.deepEqual(problems(text('port: 65536')), ['mailboxes[0].port: expected 1-65535']);
    assert.deepEqual(problems(text('top_lines: 1001')), [
      'mailboxes[0].top_lines: expected at most 1000',
    ]);
  });

  it('checks label names and bounds label values', () => {
    assert.deepEqual(problems(text(`labels: { team: "${'v'.repeat(257)}" }`)), [
      'mailboxes[0].labels.team: label values are at most 256 characters',
    ]);
    assert.equal(mailboxOf('labels: { team__: x }')?.labels['team__'], 'x');
    assert.deepEqual(problems(text('labels: { __team: x }')), [
      'mailboxes[0].labels.__team: label names starting with __ are reserved',
    ]);
    for (const name of OWN_LABEL_NAMES)
      assert.deepEqual(
        problems(text(`labels: { ${name}: x }`)),
        [`mailboxes[0].labels.${name}: this label name is used by pop3-monitor itself`],
        name,
      );
  });

  it('reads durations with fractions, and bounds them', () => {
    assert.equal(mailboxOf('timeout: "1.25s"')?.timeout, 1250);
    assert.equal(mailboxOf('timeout: "1.25"')?.timeout, 1250);
    assert.deepEqual(problems(text('timeout: 0s')), [
      'mailboxes[0].timeout: expected a duration above 0',
    ]);
    assert.deepEqual(problems(text('timeout: 25d')), [
      'mailboxes[0].timeout: expected at most 24d',
    ]);
  });
});

describe('schema: rules, alerting and the monitor itself', () => {
  const rule = (fields: string) =>
    text(
      '',
      `alerting:\n  rules:\n    - { name: r, metric: messages, op: ">", value: 1${fields} }\n`,
    );

  it('reads a rule value written as text, defaults severity and for, and checks the name', () => {
    const [r] = load(rule('')).alerting.rules;
    assert.deepEqual([r?.value, r?.severity, r?.for], [1, 'warning', 0]);
    assert.equal(
      load(rule('').replace('value: 1', 'value: "-1.25"')).alerting.rules[0]?.value,
      -1.25,
    );
    assert.deepEqual(problems(rule('').replace('value: 1', 'value: "x1"')), [
      'alerting.rules[0].value: expected a number, got a string',
    ]);
    assert.deepEqual(problems(rule('').replace('name: r', 'name: 9r')), [
      'alerting.rules[0].name: expected letters, digits and _ (it is a label value and part of the subject)',
    ]);
    assert.deepEqual(problems(rule('').replace('name: r', 'name: r9_')), []);
    assert.deepEqual(problems(rule('').replace('name: r', 'name: r-x')), [
      'alerting.rules[0].name: expected letters, digits and _ (it is a label value and part of the subject)',
    ]);
  });

  it('gives smtp and alerting their defaults', () => {
    const alerting = load(
      text(
        '',
        'alerting:\n  smtp: { host: smtp.example.com, from: m@example.com }\n  to: [ops@example.com]\n  builtin_rules: { login_failed: false }\n  alertmanager: { urls: ["http://a:9093", "https://b:9093"] }\n',
      ),
    ).alerting;
    const smtp = alerting.smtp;
    assert.deepEqual(
      [smtp?.port, smtp?.secure, smtp?.require_tls, smtp?.tls_insecure, smtp?.timeout],
      [587, false, false, false, 30_000],
    );
    assert.deepEqual(
      [alerting.repeat_interval, alerting.group_wait, alerting.send_resolved],
      [4 * 3_600_000, 10_000, true],
    );
    assert.deepEqual(alerting.builtin_rules, {
      login_failed: false,
      unreachable: true,
      delivery_lost: true,
      expect_overdue: true,
    });
    assert.deepEqual(alerting.alertmanager, {
      urls: ['http://a:9093', 'https://b:9093'],
      timeout: 10_000,
    });
  });

  it('says what an SMTP port, sender, recipient and alertmanager list must be', () => {
    const alerting = (yaml: string) => problems(text('', `alerting:\n${yaml}\n`));
    for (const port of [0, 65536])
      assert.deepEqual(alerting(`  smtp: { host: s, from: m@x, port: ${port} }`), [
        'alerting.smtp.port: expected 1-65535',
      ]);
    assert.deepEqual(alerting('  smtp: { host: s, from: ab }'), [
      'alerting.smtp.from: expected an address such as "pop3-monitor <monitor@example.com>"',
    ]);
    assert.deepEqual(alerting('  to: [ab]'), ['alerting.to[0]: expected an email address']);
    assert.deepEqual(alerting('  alertmanager: { urls: [] }'), [
      'alerting.alertmanager.urls: expected at least one URL',
    ]);
  });

  it('takes only http and https URLs', () => {
    const url = (u: string) => problems(text('', `alerting:\n  external_url: "${u}"\n`));
    assert.deepEqual(url('https://grafana.example.com/d/x'), []);
    for (const bad of ['ftp://x.example', 'xhttp://x.example', 'httpx://x.example'])
      assert.deepEqual(
        url(bad),
        ['alerting.external_url: expected an http:// or https:// URL'],
        bad,
      );
  });

  it('checks server.listen and shard, and gives the monitor its defaults', () => {
    const listen = (l: string) => problems(text('', `server: { listen: "${l}" }\n`));
    for (const ok of ['[::1]:9469', '0.0.0.0:65535', ':9469']) assert.deepEqual(listen(ok), [], ok);
    for (const bad of ['0.0.0.0:65536', 'a b:9469', '127.0.0.1:9469x'])
      assert.deepEqual(
        listen(bad),
        ['server.listen: expected host:port, such as 0.0.0.0:9469 or 127.0.0.1:9469'],
        bad,
      );
    const shard = (s: string) => problems(text('', `shard: "${s}"\n`));
    assert.deepEqual(shard('12/30'), []);
    for (const bad of ['x1/3', '1/3x', '1-3'])
      assert.deepEqual(shard(bad), ['shard: expected INDEX/COUNT such as 0/3'], bad);
    const config = load(text());
    assert.deepEqual(
      [config.server.listen, config.state_dir, config.scheduler, config.alerting.to],
      ['0.0.0.0:9469', './data', { max_concurrent_probes: 64, max_concurrent_per_host: 4 }, []],
    );
  });
});

describe('schema: the oauth2 block', () => {
  it('takes a tenant of letters, digits, dots and dashes only', () => {
    const tenant = (t: string) =>
      problems(
        text(
          `auth: xoauth2, oauth2: { provider: microsoft365, tenant: "${t}", client_id: c, client_secret_file: /nonexistent }`,
        ),
      ).filter((p) => p.includes('tenant'));
    assert.deepEqual(tenant('contoso.onmicrosoft.com'), []);
    assert.deepEqual(tenant('ab/cd'), [
      'mailboxes[0].oauth2.tenant: expected a directory ID or domain such as contoso.onmicrosoft.com',
    ]);
  });
});

describe('schema: messages and defaults a mutation run found unpinned', () => {
  /** One loop on mailbox a (`fields` replace its own); its key file reads as 32 characters. */
  const withLoop = (fields: Record<string, string> = {}) => {
    const loop = {
      name: 'l',
      smtp: '{ host: smtp.example.com }',
      from: 'm@example.com',
      to: 'a@example.com',
      mailbox: 'a',
      hmac_key_file: 'k',
      ...fields,
    };
    const body = Object.entries(loop).map(([key, value]) => `${key}: ${value}`);
    return `${text()}loops:\n  - { ${body.join(', ')} }\n`;
  };
  const loadLoop = (fields: Record<string, string> = {}) =>
    parseConfig(withLoop(fields), { env: {}, readFile: () => 'k'.repeat(32) });
  const loopProblems = (fields: Record<string, string>) => problems(withLoop(fields));

  it('an empty text field must not be empty, wherever it is', () => {
    assert.deepEqual(problems(text('username: ""'.replace('username', 'tls_servername'))), [
      'mailboxes[0].tls_servername: must not be empty',
    ]);
    assert.deepEqual(problems(text('', 'state_dir: ""\n')), ['state_dir: must not be empty']);
    assert.deepEqual(loopProblems({ hmac_key_file: '""' }).slice(-1), [
      'loops[0].hmac_key_file: must not be empty',
    ]);
  });

  it('numbers: the lower and upper bound of each', () => {
    assert.deepEqual(problems(text('top_lines: -1')), [
      'mailboxes[0].top_lines: expected 0 or more',
    ]);
    assert.deepEqual(problems(text('max_new_messages: 0')), [
      'mailboxes[0].max_new_messages: expected 1 or more',
    ]);
    assert.deepEqual(problems(text('max_new_messages: 1001')), [
      'mailboxes[0].max_new_messages: expected at most 1000',
    ]);
    assert.deepEqual(problems(text('', 'scheduler: { max_concurrent_per_host: 0 }\n')), [
      'scheduler.max_concurrent_per_host: expected 1 or more',
    ]);
  });

  it('a loop: its defaults, its addresses, its name', () => {
    const loop = loadLoop().loops[0];
    assert.deepEqual(
      [loop?.schedule, loop?.deadline, loop?.cleanup],
      ['0 */5 * * * *', 10 * 60_000, false],
    );
    assert.deepEqual(loopProblems({ from: 'ab' }), [
      'loops[0].from: expected an address such as monitor@example.com',
    ]);
    assert.deepEqual(loopProblems({ to: 'ab' }), [
      'loops[0].to: expected an address such as support@example.com',
    ]);
    assert.deepEqual(loopProblems({ name: '"a;b"' }).slice(0, 1), [
      'loops[0].name: expected 1-64 letters, digits, _ . or -',
    ]);
  });

  it('an expect watch needs from, subject or both; either alone will do', () => {
    const watch = (fields: string) =>
      problems(text(`expect: [{ name: w, within: 1h, ${fields} }]`));
    assert.deepEqual(watch('subject: "^Invoice"'), []);
    assert.deepEqual(watch('from: "billing@"'), []);
    assert.deepEqual(watch('from: "", subject: s'), [
      'mailboxes[0].expect[0].from: must not be empty',
    ]);
    const [only] = mailboxOf('expect: [{ name: w, within: 1h, subject: s }]')?.expect ?? [];
    assert.deepEqual(
      [only?.name, only?.from, only?.subject, only?.within],
      ['w', undefined, 's', 3_600_000],
    );
  });

  it('metrics: per-mailbox phases are off unless asked for', () => {
    assert.equal(load(text()).metrics.mailbox_phases, false);
    assert.equal(load(text('', 'metrics: {}\n')).metrics.mailbox_phases, false);
    assert.equal(
      load(text('', 'metrics: { mailbox_phases: true }\n')).metrics.mailbox_phases,
      true,
    );
  });
});
