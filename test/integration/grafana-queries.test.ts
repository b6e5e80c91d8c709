/**
 * The Grafana dashboard (config/grafana/pop3-monitor.json) and its provisioning copy: the
 * JSON is importable and consistent, and every query of every panel, run by a real
 * Prometheus that scrapes a real pop3-monitor daemon polling the test Dovecot, succeeds
 * with a non-empty result. Needs /usr/bin/prometheus, the test servers
 * (test/servers/start.sh) and dist/ (built when missing; $POP3_MONITOR_CLI overrides it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { DOVECOT, SMTP, USERS } from '../servers/env.js';
import {
  type Child,
  cliCommand,
  ensureBuilt,
  freePort,
  httpGet,
  REPO_ROOT,
  requireBinary,
  startChild,
  startPrometheus,
  waitFor,
} from './shipping-support.js';

const GRAFANA_DIR = join(REPO_ROOT, 'config', 'grafana');
const IMPORTABLE = join(GRAFANA_DIR, 'pop3-monitor.json');
const PROVISIONED = join(GRAFANA_DIR, 'provisioning', 'dashboards', 'pop3-monitor.json');
const DATASOURCES = join(GRAFANA_DIR, 'provisioning', 'datasources', 'prometheus.yml');
const RULES = join(REPO_ROOT, 'config', 'prometheus', 'pop3-monitor.rules.yml');

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
  format?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  definition: string;
  datasource: { type: string; uid: string };
}
interface Dashboard {
  __inputs?: { name: string; type: string; pluginId: string }[];
  __requires?: unknown[];
  __elements?: unknown;
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

function load(path: string): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

function panelTargets(d: Dashboard): { panel: Panel; target: Target }[] {
  return d.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));
}

/** Grafana's $var, ${var} and [[var]] (with an optional ${var:format}) replaced by values. */
function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a, b, c) => {
    const name = (a ?? b ?? c) as string;
    const value = vars[name];
    if (value === undefined) throw new Error(`unknown dashboard variable ${whole} in ${expr}`);
    return value;
  });
}

/** Grafana's placeholder for the DS_PROMETHEUS input, written apart so it reads as no template. */
const DS_INPUT = '$' + '{DS_PROMETHEUS}';
const DS = { type: 'prometheus', uid: DS_INPUT };

describe('dashboard JSON', () => {
  const dashboard = load(IMPORTABLE);

  test('is importable: schemaVersion 39 and a DS_PROMETHEUS data source input', () => {
    assert.equal(dashboard.schemaVersion, 39);
    assert.equal(dashboard.uid, 'pop3-monitor');
    assert.deepEqual(
      dashboard.__inputs?.map((i) => [i.name, i.type, i.pluginId]),
      [['DS_PROMETHEUS', 'datasource', 'prometheus']],
    );
  });

  test('every panel, target and variable uses the DS_PROMETHEUS input', () => {
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      assert.deepEqual(panel.datasource, DS, `panel ${panel.title}`);
      assert.ok((panel.targets ?? []).length > 0, `panel ${panel.title} has no query`);
      for (const t of panel.targets ?? [])
        assert.deepEqual(t.datasource, DS, `${panel.title} ${t.refId}`);
    }
    for (const v of dashboard.templating.list)
      assert.deepEqual(v.datasource, DS, `variable ${v.name}`);
  });

  test('has the job, instance, mailbox and server variables, each from label_values', () => {
    assert.deepEqual(
      dashboard.templating.list.map((v) => [v.name, v.type, v.definition]),
      [
        ['job', 'query', 'label_values(pop3_up, job)'],
        ['instance', 'query', 'label_values(pop3_up{job=~"$job"}, instance)'],
        ['mailbox', 'query', 'label_values(pop3_up{job=~"$job",instance=~"$instance"}, mailbox)'],
        [
          'server',
          'query',
          'label_values(pop3_phase_duration_seconds_count{job=~"$job",instance=~"$instance"}, server)',
        ],
      ],
    );
  });

  test('panel ids are unique and no two panels overlap on the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `${p.title}: x ${x} w ${w}`);
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          const other = cells.get(`${row},${col}`);
          assert.equal(other, undefined, `${p.title} overlaps ${other}`);
          cells.set(`${row},${col}`, p.title);
        }
      }
    }
  });

  test('shows each thing the issue asks for', () => {
    const exprs = panelTargets(dashboard).map(({ target }) => target.expr);
    const uses = (s: string) => exprs.some((e) => e.includes(s));
    for (const needle of [
      'pop3_up',
      'pop3_messages',
      'pop3_size_bytes',
      'time() - pop3_oldest_message_timestamp_seconds',
      'histogram_quantile(0.5, sum by (mailbox, le) (rate(pop3_probe_duration_seconds_bucket',
      'histogram_quantile(0.95, sum by (mailbox, le) (rate(pop3_probe_duration_seconds_bucket',
      'histogram_quantile(0.5, sum by (phase, le) (rate(pop3_phase_duration_seconds_bucket',
      'histogram_quantile(0.95, sum by (phase, le) (rate(pop3_phase_duration_seconds_bucket',
      'pop3_mailbox_phase_duration_seconds_bucket',
      'rate(pop3_probe_failures_total',
      'pop3_login_failures_total',
      '(pop3_tls_cert_expiry_timestamp_seconds',
      'pop3_alerts_firing',
      'pop3_alert_outbox_pending',
      'pop3_probe_skipped_total',
      'time() - pop3_last_success_timestamp_seconds',
      'histogram_quantile(0.95, sum by (loop, le) (rate(pop3_delivery_duration_seconds_bucket',
      'time() - pop3_delivery_last_success_timestamp_seconds',
      'increase(pop3_delivery_lost_total',
      'pop3_delivery_send_failures_total',
      'time() - pop3_expect_last_seen_timestamp_seconds',
    ]) {
      assert.ok(uses(needle), `no panel query uses ${needle}`);
    }
    const heatmap = dashboard.panels.find((p) => p.type === 'heatmap');
    assert.equal(heatmap?.targets?.[0]?.format, 'heatmap');
    assert.match(heatmap?.targets?.[0]?.expr ?? '', /pop3_probe_duration_seconds_bucket/);
  });

  test('no query asks for a phase label on a per-mailbox series or for phase="total"', () => {
    for (const { panel, target } of panelTargets(dashboard)) {
      assert.doesNotMatch(target.expr, /phase\s*[!=]~?\s*"total"/, panel.title);
      if (target.expr.includes('pop3_probe_duration_seconds'))
        assert.doesNotMatch(target.expr, /phase/, panel.title);
    }
  });

  test('the provisioning copy is the same dashboard bound to the data source uid "prometheus"', () => {
    const { __inputs, __requires, __elements, ...rest } = dashboard;
    const expected = JSON.parse(JSON.stringify(rest).replaceAll(DS_INPUT, 'prometheus'));
    assert.deepEqual(
      load(PROVISIONED),
      expected,
      'regenerate provisioning/dashboards/pop3-monitor.json from pop3-monitor.json: drop ' +
        `__inputs, __requires and __elements and replace ${DS_INPUT} with prometheus`,
    );
    const datasources = parse(readFileSync(DATASOURCES, 'utf8')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    assert.deepEqual(
      datasources.datasources.map((d) => [d.uid, d.type, d.url]),
      [['prometheus', 'prometheus', 'http://prometheus:9090']],
    );
  });
});

describe('dashboard queries against Prometheus scraping the daemon', () => {
  let dir = '';
  let daemon: Child | undefined;
  let prometheus: Child | undefined;
  let promUrl = '';
  let instance = '';
  const MAILBOXES = ['alice', 'alice-tls', 'backing-off', 'empty', 'loop', 'wrong-password'];

  async function query(
    promql: string,
  ): Promise<{ status: string; result: unknown[]; error?: string }> {
    const url = `${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`;
    const { body } = await httpGet(url);
    const json = JSON.parse(body) as {
      status: string;
      data?: { result: unknown[] };
      error?: string;
    };
    return { status: json.status, result: json.data?.result ?? [], error: json.error };
  }

  before(async () => {
    requireBinary('prometheus', '/usr/bin/prometheus', 'prometheus');
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'pop3-grafana-'));
    const monitorPort = await freePort();
    instance = `127.0.0.1:${monitorPort}`;
    const mailbox = (
      name: string,
      user: 'alice' | 'empty' | 'loop',
      tls: 'implicit' | 'starttls',
      password?: string,
    ) => ({
      name,
      port: tls === 'implicit' ? DOVECOT.tlsPort : DOVECOT.plainPort,
      tls,
      username: USERS[user].user,
      password: password ?? USERS[user].password,
    });
    const flowLoop = (name: string, passwordFile: string) => ({
      name,
      schedule: '* * * * * *',
      smtp: {
        host: SMTP.host,
        port: SMTP.submissionPort,
        username: SMTP.user,
        password_file: join(dir, passwordFile),
        tls_ca_file: DOVECOT.caFile,
        timeout: '5s',
      },
      from: `monitor@${SMTP.domain}`,
      to: `${USERS.loop.user}@${SMTP.domain}`,
      mailbox: 'loop',
      deadline: '1m',
      cleanup: true,
      hmac_key_file: join(dir, 'loop-key'),
    });
    const config = {
      server: { listen: instance },
      state_dir: join(dir, 'state'),
      defaults: {
        host: DOVECOT.host,
        // Every second, so a few scrapes see several probes; it draws a warning only.
        schedule: '* * * * * *',
        timeout: '5s',
        tls_ca_file: DOVECOT.caFile,
      },
      mailboxes: [
        mailbox('alice', 'alice', 'starttls'),
        mailbox('alice-tls', 'alice', 'implicit'),
        mailbox('empty', 'empty', 'starttls'),
        // No backoff: it keeps failing, so failure rates are above 0 at any moment.
        {
          ...mailbox('wrong-password', 'empty', 'starttls', 'not-the-password'),
          auth_failure_backoff: '0s',
        },
        // Backs off after its refused login: auth_backoff skips every second.
        {
          ...mailbox('backing-off', 'empty', 'implicit', 'not-the-password'),
          auth_failure_backoff: '1h',
        },
        {
          ...mailbox('loop', 'loop', 'starttls'),
          expect: [{ name: 'probes', subject: '^pop3-monitor delivery probe', within: '1h' }],
        },
      ],
      // Mail flow: a loop through the test Postfix into the loop mailbox, one whose SMTP
      // password is wrong (send failures), and a watch its probe messages match.
      loops: [
        flowLoop('grafana-loop', 'smtp-password'),
        flowLoop('grafana-badauth', 'wrong-password'),
      ],
      // The opt-in per-mailbox phase panel needs its series too.
      metrics: { mailbox_phases: true },
    };
    writeFileSync(join(dir, 'smtp-password'), SMTP.password);
    writeFileSync(join(dir, 'wrong-password'), 'not-the-smtp-password');
    writeFileSync(join(dir, 'loop-key'), 'grafana-test-loop-key-0123456789');
    writeFileSync(join(dir, 'config.yaml'), JSON.stringify(config, null, 2));
    const cli = cliCommand();
    daemon = startChild(
      process.execPath,
      [...cli.args, 'run', '--config', join(dir, 'config.yaml')],
      {
        env: { ...process.env, POP3_MONITOR_LOG_LEVEL: 'warn' },
      },
    );
    await waitFor(
      'the daemon to answer /healthz',
      async () => {
        const r = await httpGet(`http://${instance}/healthz`);
        return r.status === 200 ? true : undefined;
      },
      { timeoutMs: 20_000, child: daemon },
    );

    const started = await startPrometheus(dir, [instance], [RULES]);
    promUrl = started.url;
    prometheus = started.child;
    await waitFor(
      '5 successful scrapes of the daemon',
      async () => {
        const r = await query('sum_over_time(up{job="pop3-monitor"}[5m])');
        const value = Number((r.result[0] as { value?: [number, string] } | undefined)?.value?.[1]);
        return value >= 5 ? value : undefined;
      },
      { timeoutMs: 30_000, child: prometheus },
    );
  });

  after(async () => {
    const stopped = await Promise.all([
      prometheus?.stop('SIGTERM', 10_000),
      daemon?.stop('SIGTERM', 10_000),
    ]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    // A daemon that does not shut down cleanly is a finding, not noise.
    assert.equal(
      stopped[1]?.withinGrace ?? true,
      true,
      'the daemon did not stop within 10 s of SIGTERM',
    );
  });

  test('every panel query succeeds with a non-empty result', async (t) => {
    const vars = {
      job: 'pop3-monitor',
      instance,
      mailbox: '.*',
      server: '.*',
      __rate_interval: '10s',
      __interval: '5s',
      __range: '5m',
    };
    const failures: string[] = [];
    for (const { panel, target } of panelTargets(load(IMPORTABLE))) {
      const promql = substitute(target.expr, vars);
      let last: Awaited<ReturnType<typeof query>> = { status: 'none', result: [] };
      try {
        // A result that depends on a failure in the last 10s may need a probe or two more.
        await waitFor(
          `${panel.title}/${target.refId}`,
          async () => {
            last = await query(promql);
            return last.status === 'success' && last.result.length > 0 ? true : undefined;
          },
          { timeoutMs: 8_000, intervalMs: 500 },
        );
      } catch {
        failures.push(
          `${panel.title} [${target.refId}] ${last.status} ${last.error ?? ''} ${promql}`,
        );
      }
      t.diagnostic(
        `${String(last.result.length).padStart(3)} series  ${panel.title} [${target.refId}]: ${promql}`,
      );
    }
    assert.deepEqual(failures, [], 'queries that failed or returned nothing');
  });

  test('the variable queries list the job, the instance and every mailbox', async () => {
    const labelValues = async (label: string, match: string) => {
      const url = `${promUrl}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`;
      return (JSON.parse((await httpGet(url)).body) as { data: string[] }).data;
    };
    // label_values(metric, label) is Grafana's form of this API call.
    for (const v of load(IMPORTABLE).templating.list) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(v.definition);
      assert.ok(m, `${v.name}: ${v.definition}`);
    }
    assert.deepEqual(await labelValues('job', 'pop3_up'), ['pop3-monitor']);
    assert.deepEqual(await labelValues('instance', 'pop3_up{job=~"pop3-monitor"}'), [instance]);
    assert.deepEqual(
      await labelValues('mailbox', `pop3_up{job=~"pop3-monitor",instance=~"${instance}"}`),
      MAILBOXES,
    );
    assert.deepEqual(
      await labelValues(
        'server',
        `pop3_phase_duration_seconds_count{job=~"pop3-monitor",instance=~"${instance}"}`,
      ),
      [`${DOVECOT.host}:${DOVECOT.plainPort}`, `${DOVECOT.host}:${DOVECOT.tlsPort}`].sort(),
    );
  });

  test('the daemon reports the wrong passwords as login failures and the rest as up', async () => {
    const up = await query('pop3_up{job="pop3-monitor"}');
    const byMailbox = Object.fromEntries(
      (up.result as { metric: { mailbox: string }; value: [number, string] }[]).map((s) => [
        s.metric.mailbox,
        s.value[1],
      ]),
    );
    assert.deepEqual(byMailbox, {
      alice: '1',
      'alice-tls': '1',
      'backing-off': '0',
      empty: '1',
      loop: '1',
      'wrong-password': '0',
    });
    const firing = await waitFor(
      'Pop3LoginFailing to fire in Prometheus',
      async () => {
        const r = await query('ALERTS{alertname="Pop3LoginFailing",alertstate="firing"}');
        return r.result.length > 1 ? r.result : undefined;
      },
      { timeoutMs: 10_000 },
    );
    // The one backing off fires on its auth_backoff skips (its failure counter stands still).
    assert.deepEqual(
      (firing as { metric: { mailbox: string } }[]).map((s) => s.metric.mailbox).sort(),
      ['backing-off', 'wrong-password'],
    );
  });
});
