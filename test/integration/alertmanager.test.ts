/**
 * The daemon against a real Alertmanager 0.25 (no clustering, a null receiver): a refused
 * login on the real Dovecot shows up in Alertmanager's API v2 as login_failed with the
 * mailbox's labels and our annotations, and resolves when the password is fixed and the
 * config reloaded (SIGHUP); email and Alertmanager together both get the alert; with two
 * Alertmanager URLs one being down still delivers.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAlertmanagerSender } from '../../src/alerts/alertmanager.js';
import { notification, snapshot } from '../fixtures/sample-notifications.js';
import { DOVECOT, SMTP, USERS } from '../servers/env.js';
import { alertmanagerPath, freePort } from '../servers/tools.js';
import { waitForMail } from './alerting-support.js';
import { Daemon, type Scrape, stopAllDaemons } from './daemon-support.js';
import { type Child, httpGet, startChild, waitFor } from './shipping-support.js';

/** An alert as GET /api/v2/alerts returns it (gettableAlert). */
interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

const EXTERNAL_URL = 'https://monitor.example.test/pop3/';
const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'pop3-monitor-am-'));
let alertmanager: Child;
let amUrl = '';

before(async () => {
  const port = await freePort();
  const config = join(dir, 'alertmanager.yml');
  // Everything goes to a receiver that sends nothing: only the API's view is checked.
  writeFileSync(config, "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n");
  alertmanager = startChild(alertmanagerPath(), [
    `--config.file=${config}`,
    `--storage.path=${join(dir, 'am-data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // Empty: no gossip listener, so no cluster to settle before alerts are accepted.
    '--cluster.listen-address=',
  ]);
  amUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    'Alertmanager /-/ready',
    async () => ((await httpGet(`${amUrl}/-/ready`)).status === 200 ? true : undefined),
    { timeoutMs: 15_000, intervalMs: 100, child: alertmanager },
  );
});

after(async () => {
  await stopAllDaemons();
  await alertmanager?.stop('SIGTERM', 5_000);
  rmSync(dir, { recursive: true, force: true });
});

/** GET /api/v2/alerts with `filter` matchers (`mailbox="x"`) and other query parameters. */
async function amAlerts(filters: string[], query = ''): Promise<AmAlert[]> {
  const params = filters.map((f) => `filter=${encodeURIComponent(f)}`);
  if (query !== '') params.push(query);
  const { status, body } = await httpGet(`${amUrl}/api/v2/alerts?${params.join('&')}`);
  assert.equal(status, 200, body);
  return JSON.parse(body) as AmAlert[];
}

/** A mailbox on the real Dovecot (user `empty`), probed every second. */
function mailbox(name: string, password: string, labels: Record<string, string> = {}) {
  return {
    name,
    host: DOVECOT.host,
    port: DOVECOT.plainPort,
    tls: 'none',
    username: USERS.empty.user,
    password,
    schedule: '* * * * * *',
    timeout: '5s',
    labels,
  };
}

function alerting(extra: Record<string, unknown>) {
  return { group_wait: '1s', repeat_interval: '1h', external_url: EXTERNAL_URL, ...extra };
}

async function waitForAlert(name: string, rule = 'login_failed'): Promise<AmAlert> {
  return waitFor(
    `Alertmanager to show ${rule} for ${name}`,
    async () => (await amAlerts([`alertname="${rule}"`, `mailbox="${name}"`], 'active=true'))[0],
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}

const sent = (s: Scrape, result: 'sent' | 'failed') =>
  s.get('pop3_alert_notifications_total', { result }) ?? 0;

describe('alerts in a real Alertmanager', { concurrency: true }, () => {
  test('a refused login is login_failed in Alertmanager; a fixed password and SIGHUP resolve it', async () => {
    const id = randomUUID().slice(0, 8);
    const fixed = `am-fixed-${id}`;
    const still = `am-still-${id}`;
    const labels = { team: 'mail', site: 'lab' };
    const startedAt = Date.now();
    const config = (password: string) => ({
      mailboxes: [mailbox(fixed, password, labels), mailbox(still, 'wrong-password')],
      alerting: alerting({ alertmanager: { urls: [amUrl] } }),
    });
    const daemon = await Daemon.start({ config: config('wrong-password') });
    try {
      const alert = await waitForAlert(fixed);
      assert.deepEqual(alert.labels, {
        alertname: 'login_failed',
        mailbox: fixed,
        severity: 'critical',
        service: 'pop3-monitor',
        team: 'mail',
        site: 'lab',
      });
      assert.deepEqual(alert.annotations, {
        summary: `login_failed on ${fixed}: consecutive_login_failures >= 1`,
        description: 'The server refused the credentials (authentication failed).',
        value: '1',
        // The probe's error: code, then Dovecot's refusal of SASL PLAIN (RFC 5034).
        last_error: 'auth: login refused at AUTH PLAIN: -ERR [AUTH] Authentication failed.',
      });
      assert.equal(alert.generatorURL, EXTERNAL_URL);
      assert.deepEqual(alert.status, { state: 'active', silencedBy: [], inhibitedBy: [] });
      assert.deepEqual(alert.receivers, [{ name: 'null' }]);
      const startsAt = Date.parse(alert.startsAt);
      assert.ok(
        startsAt >= startedAt - 1_000 && startsAt <= Date.now(),
        `startsAt ${alert.startsAt} is the failed probe's time`,
      );
      // Valid for 4 × repeat_interval from the notification (made group_wait after firing).
      const validFor = Date.parse(alert.endsAt) - startsAt;
      assert.ok(validFor >= 4 * HOUR && validFor <= 4 * HOUR + 10_000, `endsAt ${alert.endsAt}`);
      await waitForAlert(still);
      // One or two firing notifications (the two logins may fail more than group_wait apart).
      const firingSent = sent(
        await daemon.waitForMetrics(
          'the firing notifications counted as sent',
          (s) => s.get('pop3_alert_outbox_pending') === 0 && sent(s, 'sent') >= 1,
        ),
        'sent',
      );

      const mark = daemon.logs().length;
      daemon.writeConfig(config(USERS.empty.password));
      daemon.signal('SIGHUP');
      await daemon.waitForLog('reloaded', (l) => l.event === 'reloaded', 5_000, mark);
      // Alertmanager 0.25 lists no alert whose endsAt has passed, whatever the filter.
      await waitFor(
        `${fixed} to leave Alertmanager's active alerts`,
        async () =>
          (await amAlerts([`mailbox="${fixed}"`], 'active=true')).length === 0 ? true : undefined,
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      assert.deepEqual(await amAlerts([`mailbox="${fixed}"`]), []);
      assert.deepEqual(
        await amAlerts(
          [`mailbox="${fixed}"`],
          'active=false&silenced=true&inhibited=true&unprocessed=true',
        ),
        [],
      );
      // The other mailbox still fails: its alert stays, unchanged.
      const other = await amAlerts([`mailbox="${still}"`], 'active=true');
      assert.deepEqual(
        other.map((a) => [a.labels.alertname, a.status.state]),
        [['login_failed', 'active']],
      );
      // Alertmanager counted the resolved alert as such: its endsAt was in the past.
      const amMetrics = (await httpGet(`${amUrl}/metrics`)).body;
      assert.match(
        amMetrics,
        /^alertmanager_alerts_received_total\{status="resolved",version="v2"\} 1$/m,
      );
      const scrape = await daemon.waitForMetrics(
        'the resolved notification counted as sent',
        (s) => sent(s, 'sent') === firingSent + 1,
      );
      assert.equal(sent(scrape, 'failed'), 0);
      assert.equal(scrape.get('pop3_up', { mailbox: fixed }), 1);
      assert.equal(
        scrape.get('pop3_alerts_firing', { rule: 'login_failed', mailbox: fixed }) ?? 0,
        0,
      );
      assert.equal(scrape.get('pop3_alerts_firing', { rule: 'login_failed', mailbox: still }), 1);
    } finally {
      const exit = await daemon.stop();
      assert.deepEqual(exit, { code: 0, signal: null });
    }
  });

  test('email and Alertmanager in one config both receive the alert', async () => {
    const name = `am-mail-${randomUUID().slice(0, 8)}`;
    const daemon = await Daemon.start({
      config: {
        mailboxes: [mailbox(name, 'wrong-password')],
        alerting: alerting({
          smtp: {
            host: SMTP.host,
            port: SMTP.port,
            from: 'pop3-monitor <monitor@test.local>',
          },
          to: [`${USERS.alerts.user}@${SMTP.domain}`],
          alertmanager: { urls: [amUrl] },
        }),
      },
    });
    try {
      const alert = await waitForAlert(name);
      assert.equal(alert.labels.severity, 'critical');
      const mails = await waitForMail(
        'alerts',
        (m) => m.headers.get('subject')?.includes(name) ?? false,
        (found) => found.length >= 1,
      );
      assert.deepEqual(
        mails.map((m) => m.headers.get('subject')),
        [`[FIRING:1] pop3-monitor: login_failed on ${name} (critical)`],
      );
      // One notification, delivered once per channel.
      const scrape = await daemon.waitForMetrics(
        'one notification sent on each of the two channels',
        (s) => sent(s, 'sent') === 2,
      );
      // (No check of result="failed": an SMTP hiccup is retried, and delivery is what counts.)
      assert.equal(scrape.get('pop3_alert_outbox_pending'), 0);
    } finally {
      await daemon.stop();
    }
  });

  test('two Alertmanager URLs, the first one down: the alert is still delivered and counted sent', async () => {
    const name = `am-half-${randomUUID().slice(0, 8)}`;
    // Nothing listens there: the kernel picked it a moment ago and it was released.
    const down = `http://127.0.0.1:${await freePort()}`;
    const daemon = await Daemon.start({
      config: {
        mailboxes: [mailbox(name, 'wrong-password')],
        alerting: alerting({ alertmanager: { urls: [down, amUrl] } }),
      },
    });
    try {
      await waitForAlert(name);
      const scrape = await daemon.waitForMetrics(
        'the notification counted as sent',
        (s) => sent(s, 'sent') === 1,
      );
      assert.equal(sent(scrape, 'failed'), 0);
      assert.equal(scrape.get('pop3_alert_outbox_pending'), 0);
      const warning = await daemon.waitForLog(
        'the warning about the URL that is down',
        (l) => l.event === 'alertmanager_post_failed',
      );
      assert.equal(warning.err, `${down}/api/v2/alerts: fetch failed (ECONNREFUSED)`);
    } finally {
      await daemon.stop();
    }
  });
});

describe('the Alertmanager sender against the real API', () => {
  test('a resolve whose resolved_at is before fired_at (the clock stepped back) is accepted and resolves', async () => {
    const name = `am-clock-${randomUUID().slice(0, 8)}`;
    const sender = createAlertmanagerSender({ urls: [amUrl], timeout: 5_000 });
    const now = Date.now();
    const firing = snapshot({ mailbox: name, active_since: now - 120_000, fired_at: now - 60_000 });
    await sender.send(notification(`${name}-1`, [firing], { created_at: now }));
    const shown = await waitForAlert(name, 'backlog');
    assert.equal(shown.startsAt, new Date(now - 60_000).toISOString());
    // Alertmanager refuses an alert that ends before it starts (HTTP 400), which would
    // leave this one active until its endsAt, 4 × repeat_interval away.
    const resolved = { ...firing, status: 'resolved' as const, resolved_at: now - 90_000 };
    await sender.send(notification(`${name}-2`, [resolved], { created_at: now - 90_000 }));
    assert.deepEqual(await amAlerts([`mailbox="${name}"`]), []);
  });
});
