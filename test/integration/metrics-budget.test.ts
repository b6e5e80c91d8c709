/**
 * The series budget, as a user's Prometheus sees it: a real Prometheus scrapes a real
 * daemon watching one TLS mailbox on the test Dovecot, through a healthy spell and then a
 * bad one (the password changed under it: a refused login, the auth backoff's skips and
 * the built-in login_failed alert), and stores at most 24 series carrying its `mailbox`
 * label; the per-server phase series are counted apart. Needs /usr/bin/prometheus, the
 * test servers and dist/ (built when missing; $POP3_MONITOR_CLI overrides it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOVECOT, USERS } from '../servers/env.js';
import {
  type Child,
  cliCommand,
  ensureBuilt,
  freePort,
  httpGet,
  requireBinary,
  startChild,
  startPrometheus,
  waitFor,
} from './shipping-support.js';

/** The budget of the metric model: sample lines per mailbox, extra labels included. */
const BUDGET = 24;

interface Series {
  __name__: string;
  [label: string]: string;
}

describe('series per mailbox in a real Prometheus', () => {
  let dir = '';
  let daemon: Child | undefined;
  let prometheus: Child | undefined;
  let promUrl = '';
  let instance = '';
  const startedAt = Date.now() / 1000;

  async function query(promql: string): Promise<{ metric: Series; value: [number, string] }[]> {
    const { body } = await httpGet(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    return (JSON.parse(body) as { data: { result: { metric: Series; value: [number, string] }[] } })
      .data.result;
  }

  /** Every series Prometheus stored since the start that matches, gone ones included. */
  async function stored(match: string): Promise<Series[]> {
    const url =
      `${promUrl}/api/v1/series?match[]=${encodeURIComponent(match)}` +
      `&start=${startedAt - 60}&end=${Date.now() / 1000 + 60}`;
    return (JSON.parse((await httpGet(url)).body) as { data: Series[] }).data;
  }

  function writeConfig(password: string): void {
    const config = {
      server: { listen: instance },
      state_dir: join(dir, 'state'),
      mailboxes: [
        {
          name: 'budget',
          host: DOVECOT.host,
          port: DOVECOT.tlsPort,
          tls: 'implicit',
          tls_ca_file: DOVECOT.caFile,
          username: USERS.alice.user,
          password,
          // Every second, so a few scrapes see several probes; it draws a warning only.
          schedule: '* * * * * *',
          labels: { team: 'mail', site: 'lab' },
        },
      ],
    };
    writeFileSync(join(dir, 'config.yaml'), JSON.stringify(config, null, 2));
  }

  before(async () => {
    requireBinary('prometheus', '/usr/bin/prometheus', 'prometheus');
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'pop3-budget-'));
    instance = `127.0.0.1:${await freePort()}`;
    writeConfig(USERS.alice.password);
    const cli = cliCommand();
    daemon = startChild(
      process.execPath,
      [...cli.args, 'run', '--config', join(dir, 'config.yaml')],
      { env: { ...process.env, POP3_MONITOR_LOG_LEVEL: 'warn' } },
    );
    await waitFor(
      'the daemon to answer /readyz',
      async () => ((await httpGet(`http://${instance}/readyz`)).status === 200 ? true : undefined),
      { timeoutMs: 20_000, child: daemon },
    );
    const started = await startPrometheus(dir, [instance]);
    promUrl = started.url;
    prometheus = started.child;
  });

  after(async () => {
    await Promise.all([prometheus?.stop('SIGTERM', 10_000), daemon?.stop('SIGTERM', 10_000)]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`a healthy TLS mailbox, then a refused login with backoff and an alert: at most ${BUDGET} series`, async (t) => {
    await waitFor(
      '5 scrapes with the mailbox up',
      async () => {
        const r = await query('sum_over_time(pop3_up{mailbox="budget"}[5m])');
        return Number(r[0]?.value[1]) >= 5 ? true : undefined;
      },
      { timeoutMs: 30_000, child: prometheus },
    );
    const healthy = await stored('{mailbox="budget"}');

    // The password changes under the monitor: its next login is refused.
    writeConfig('not-the-password');
    const reload = await fetch(`http://${instance}/-/reload`, { method: 'POST' });
    assert.equal(reload.status, 200);
    await waitFor(
      'the refusal, the backoff skips and the alert in Prometheus',
      async () => {
        const [skips, alerts] = await Promise.all([
          query('pop3_probe_skipped_total{mailbox="budget",reason="auth_backoff"} >= 2'),
          query('pop3_alerts_firing{mailbox="budget",rule="login_failed"}'),
        ]);
        return skips.length === 1 && alerts.length === 1 ? true : undefined;
      },
      { timeoutMs: 30_000, child: daemon },
    );
    const all = await stored('{mailbox="budget"}');
    const perServer = await stored('{job="pop3-monitor",server!=""}');
    const names = (list: Series[]) =>
      list.map(
        (s) => `${s.__name__}${s.le ? `{le=${s.le}}` : ''}${s.reason ? `{${s.reason}}` : ''}`,
      );
    t.diagnostic(`healthy: ${healthy.length} series: ${names(healthy).join(' ')}`);
    t.diagnostic(`after the bad spell: ${all.length} series for the mailbox`);
    t.diagnostic(
      `per server: ${perServer.length} series (${new Set(perServer.map((s) => s.server)).size} server)`,
    );

    // Every series of the mailbox carries its extra labels; none carries a phase.
    for (const s of all) {
      assert.equal(s.team, 'mail', s.__name__);
      assert.equal(s.site, 'lab', s.__name__);
      assert.equal(s.phase, undefined, s.__name__);
    }
    // The bad spell added exactly what it should, at its first occurrence.
    const added = all.filter((s) => !healthy.some((h) => JSON.stringify(h) === JSON.stringify(s)));
    assert.deepEqual(names(added).sort(), [
      'pop3_alerts_firing',
      'pop3_login_failures_total{auth}',
      'pop3_probe_failures_total{auth}',
      'pop3_probe_skipped_total{auth_backoff}',
    ]);
    assert.ok(
      all.length <= BUDGET,
      `${all.length} series for one mailbox: ${names(all).join(' ')}`,
    );
    // The phases are per server: the one Dovecot port, no mailbox label, no "total".
    assert.ok(perServer.length > 0);
    for (const s of perServer) {
      assert.equal(s.server, `${DOVECOT.host}:${DOVECOT.tlsPort}`);
      assert.equal(s.mailbox, undefined);
      assert.notEqual(s.phase, 'total');
    }
  });
});
