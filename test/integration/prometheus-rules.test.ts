/**
 * The Prometheus side of shipping: config/prometheus/pop3-monitor.rules.yml passes
 * `promtool check rules` and its unit tests (`promtool test rules`), every alert has a
 * firing and a not-firing unit test, the compose prometheus.yml loads its rule file, and
 * the compose Alertmanager config is valid. promtool (and amtool) are required: without
 * them these tests fail and say what to install.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT, requireBinary, run } from './shipping-support.js';

const PROM_DIR = join(REPO_ROOT, 'config', 'prometheus');
const RULES = join(PROM_DIR, 'pop3-monitor.rules.yml');
const RULE_TESTS = join(PROM_DIR, 'pop3-monitor.rules.test.yml');
const PROMETHEUS_YML = join(PROM_DIR, 'prometheus.yml');
const ALERTMANAGER_YML = join(REPO_ROOT, 'config', 'alertmanager', 'alertmanager.yml');

/** The alerts the issue asks for, plus Pop3ProbesOverlapping and, for mail flow, Pop3DeliveryLost. */
const EXPECTED_ALERTS = [
  'Pop3MailboxDown',
  'Pop3LoginFailing',
  'Pop3Backlog',
  'Pop3OldestMessageTooOld',
  'Pop3CertificateExpiring',
  'Pop3MonitorNotScraped',
  'Pop3AlertOutboxStuck',
  'Pop3ConfigReloadFailed',
  'Pop3ProbesOverlapping',
  'Pop3DeliveryLost',
];

const EXPECTED_RECORDS = [
  'pop3:probe_duration_seconds:p50',
  'pop3:probe_duration_seconds:p95',
  'pop3:phase_duration_seconds:p50',
  'pop3:phase_duration_seconds:p95',
  'pop3:oldest_message_age_seconds',
  'pop3:tls_cert_expiry_days',
  'pop3:last_success_age_seconds',
  'pop3:probe_failure_ratio:rate5m',
];

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface AlertRuleTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface RuleTestFile {
  rule_files: string[];
  tests: { alert_rule_test?: AlertRuleTest[]; promql_expr_test?: { expr: string }[] }[];
}

function promtool(): string {
  return requireBinary('promtool', '/usr/bin/promtool', 'prometheus');
}

function rules(): Rule[] {
  const file = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  return file.groups.flatMap((g) => g.rules);
}

describe('pop3-monitor.rules.yml', () => {
  test('promtool check rules accepts the file and counts every rule', () => {
    const result = run(promtool(), ['check', 'rules', RULES]);
    assert.equal(
      result.status,
      0,
      `promtool check rules failed:\n${result.stdout}${result.stderr}`,
    );
    const total = EXPECTED_ALERTS.length + EXPECTED_RECORDS.length;
    assert.match(result.stdout, new RegExp(`SUCCESS: ${total} rules found`));
  });

  test('defines exactly the expected alerts and recording rules', () => {
    const all = rules();
    assert.deepEqual(
      all.flatMap((r) => (r.alert === undefined ? [] : [r.alert])),
      EXPECTED_ALERTS,
    );
    assert.deepEqual(
      all.flatMap((r) => (r.record === undefined ? [] : [r.record])),
      EXPECTED_RECORDS,
    );
  });

  test('every alert has a severity of warning or critical and summary, description, runbook', () => {
    for (const rule of rules().filter((r) => r.alert !== undefined)) {
      assert.ok(
        ['warning', 'critical'].includes(rule.labels?.severity ?? ''),
        `${rule.alert}: severity ${rule.labels?.severity}`,
      );
      assert.deepEqual(
        Object.keys(rule.annotations ?? {}).sort(),
        ['description', 'runbook', 'summary'],
        `${rule.alert}: annotations`,
      );
    }
  });

  test('the alerts use the thresholds the issue names', () => {
    const byName = new Map(rules().map((r) => [r.alert ?? r.record, r]));
    const expr = (name: string) => byName.get(name)?.expr.replace(/\s+/g, ' ').trim();
    assert.equal(expr('Pop3MailboxDown'), 'pop3_up == 0');
    assert.equal(byName.get('Pop3MailboxDown')?.for, '5m');
    assert.match(
      expr('Pop3LoginFailing') ?? '',
      /increase\(pop3_login_failures_total\[10m\]\)\) > 0/,
    );
    assert.equal(expr('Pop3Backlog'), 'pop3_messages > 100');
    assert.equal(byName.get('Pop3Backlog')?.for, '15m');
    assert.equal(
      expr('Pop3OldestMessageTooOld'),
      'time() - pop3_oldest_message_timestamp_seconds > 7200',
    );
    assert.equal(
      expr('Pop3CertificateExpiring'),
      '(pop3_tls_cert_expiry_timestamp_seconds - time()) / 86400 < 14',
    );
    assert.equal(
      expr('Pop3MonitorNotScraped'),
      'absent(up{job="pop3-monitor"}) or up{job="pop3-monitor"} == 0',
    );
    assert.equal(expr('Pop3AlertOutboxStuck'), 'pop3_alert_outbox_pending > 0');
    assert.equal(byName.get('Pop3AlertOutboxStuck')?.for, '30m');
    assert.equal(expr('Pop3ConfigReloadFailed'), 'pop3_monitor_config_last_reload_successful == 0');
  });

  test('the unit tests give every alert a firing case and a not-firing case', () => {
    const file = parse(readFileSync(RULE_TESTS, 'utf8')) as RuleTestFile;
    assert.deepEqual(file.rule_files, ['pop3-monitor.rules.yml']);
    const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of EXPECTED_ALERTS) {
      const mine = cases.filter((c) => c.alertname === alert);
      const firing = mine.filter((c) => (c.exp_alerts ?? []).length > 0);
      assert.ok(firing.length > 0, `${alert}: no firing case`);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert}: no not-firing case`,
      );
      for (const c of firing) {
        for (const a of c.exp_alerts ?? []) {
          assert.deepEqual(
            Object.keys(a.exp_annotations ?? {}).sort(),
            ['description', 'runbook', 'summary'],
            `${alert} at ${c.eval_time}: every annotation is checked`,
          );
          assert.ok(a.exp_labels?.severity, `${alert} at ${c.eval_time}: severity checked`);
        }
      }
    }
    const recorded = new Set(
      file.tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr)),
    );
    for (const record of EXPECTED_RECORDS) assert.ok(recorded.has(record), `${record}: no test`);
  });

  test('promtool test rules passes the unit tests', () => {
    const result = run(promtool(), ['test', 'rules', RULE_TESTS], { cwd: PROM_DIR });
    assert.equal(result.status, 0, `promtool test rules failed:\n${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /SUCCESS/);
  });

  test('the unit tests catch a broken rule (Pop3MailboxDown on pop3_up == 1)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pop3-rules-'));
    try {
      const broken = readFileSync(RULES, 'utf8').replace(
        'expr: pop3_up == 0',
        'expr: pop3_up == 1',
      );
      assert.notEqual(broken, readFileSync(RULES, 'utf8'));
      writeFileSync(join(dir, 'pop3-monitor.rules.yml'), broken);
      copyFileSync(RULE_TESTS, join(dir, 'pop3-monitor.rules.test.yml'));
      const result = run(promtool(), ['test', 'rules', 'pop3-monitor.rules.test.yml'], {
        cwd: dir,
      });
      assert.equal(result.status, 1, `${result.stdout}${result.stderr}`);
      assert.match(result.stdout + result.stderr, /alertname: Pop3MailboxDown/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compose Prometheus and Alertmanager configs', () => {
  test('promtool check config accepts prometheus.yml and resolves its rule file', () => {
    const result = run(promtool(), ['check', 'config', PROMETHEUS_YML]);
    assert.equal(
      result.status,
      0,
      `promtool check config failed:\n${result.stdout}${result.stderr}`,
    );
    assert.match(result.stdout, /SUCCESS: 1 rule files found/);
    assert.match(result.stdout, /Checking .*pop3-monitor\.rules\.yml\s+SUCCESS/);
  });

  test('prometheus.yml scrapes pop3-monitor:9469 as job pop3-monitor and alerts to alertmanager:9093', () => {
    const config = parse(readFileSync(PROMETHEUS_YML, 'utf8')) as {
      rule_files: string[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    assert.deepEqual(config.rule_files, ['pop3-monitor.rules.yml']);
    const job = config.scrape_configs.find((s) => s.job_name === 'pop3-monitor');
    assert.deepEqual(job?.static_configs, [{ targets: ['pop3-monitor:9469'] }]);
    assert.deepEqual(config.alerting.alertmanagers[0]?.static_configs, [
      { targets: ['alertmanager:9093'] },
    ]);
  });

  test('amtool check-config accepts alertmanager.yml', () => {
    const amtool = requireBinary('amtool', '/usr/bin/amtool', 'prometheus-alertmanager');
    const result = run(amtool, ['check-config', ALERTMANAGER_YML]);
    assert.equal(result.status, 0, `amtool check-config failed:\n${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /SUCCESS/);
    assert.match(result.stdout, /3 inhibit rules/);
  });
});
