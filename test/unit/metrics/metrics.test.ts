import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import {
  createMetrics,
  type Metrics,
  PHASE_DURATION_BUCKETS,
  PROBE_DURATION_BUCKETS,
} from '../../../src/metrics/metrics.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import { exampleMailboxConfig } from '../../fixtures/mailbox-config.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (one sample a line), unescaping label values. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const pairs = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m[2] ?? '';
    let consumed = 0;
    for (let p = pairs.exec(body); p !== null; p = pairs.exec(body)) {
      labels[p[1]!] = p[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      consumed = pairs.lastIndex;
    }
    assert.equal(consumed, body.length, `unparsable labels: ${line}`);
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

async function scrape(metrics: Metrics): Promise<Sample[]> {
  return parseExposition((await metrics.render()).body);
}

/** The value of the one sample with exactly these labels, or undefined when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}) {
  const found = samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value;
}

function success(name: string, overrides: Partial<ProbeResult> = {}): ProbeResult {
  return {
    mailbox: name,
    success: true,
    messages: 3,
    size_bytes: 825,
    phases: {
      connect: 0.0012,
      tls: 0.0081,
      greeting: 0.0004,
      auth: 0.015,
      stat: 0.0003,
      quit: 0.0002,
      total: 0.026,
    },
    capabilities: ['TOP', 'UIDL', 'PIPELINING'],
    error: null,
    started_at: 1_700_000_000,
    uidl_count: 3,
    oldest_message_timestamp: 1_699_990_000,
    tls: {
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      cert_expiry_timestamp: 1_710_000_000,
      cert_subject: 'CN=pop.example.com',
      cert_issuer: 'CN=Example CA',
      resumed: false,
    },
    auth_method: 'USER',
    login_delay_seconds: null,
    pipelined: true,
    ...overrides,
  };
}

function failure(name: string, error: ProbeResult['error'], phases: ProbeResult['phases']) {
  return success(name, {
    success: false,
    messages: null,
    size_bytes: null,
    phases,
    error,
    started_at: 1_700_000_060,
    uidl_count: null,
    oldest_message_timestamp: null,
    tls: null,
    auth_method: null,
  });
}

const authRefused = failure(
  'support',
  {
    code: 'auth',
    message: 'the server refused the credentials',
    response: '-ERR [AUTH] invalid login',
    command: 'PASS',
    phase: 'auth',
  },
  { connect: 0.001, tls: 0.008, greeting: 0.0004, auth: 0.5, total: 0.51 },
);

const connectRefused = failure(
  'support',
  {
    code: 'connect',
    message: 'connection refused',
    response: null,
    command: null,
    phase: 'connect',
  },
  { connect: 0.0005, total: 0.0006 },
);

function fresh(mailboxPhases = false): Metrics {
  return createMetrics({ version: '1.2.3', defaultMetrics: false, mailboxPhases });
}

const SUPPORT = { mailbox: 'support' };
const SERVER = { server: 'pop.example.com:995' };

/** Sample lines that carry this mailbox's label: what the series budget counts. */
function seriesOf(samples: Sample[], mailbox: string): Sample[] {
  return samples.filter((x) => x.labels.mailbox === mailbox);
}

describe('createMetrics', () => {
  it('records a successful probe as exact gauge, counter and histogram samples', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(success('support'));
    const s = await scrape(metrics);

    assert.equal(value(s, 'pop3_up', SUPPORT), 1);
    assert.equal(value(s, 'pop3_messages', SUPPORT), 3);
    assert.equal(value(s, 'pop3_size_bytes', SUPPORT), 825);
    assert.equal(value(s, 'pop3_probes_total', SUPPORT), 1);
    assert.equal(value(s, 'pop3_last_success_timestamp_seconds', SUPPORT), 1_700_000_000.026);
    assert.equal(value(s, 'pop3_oldest_message_timestamp_seconds', SUPPORT), 1_699_990_000);
    assert.equal(value(s, 'pop3_tls_cert_expiry_timestamp_seconds', SUPPORT), 1_710_000_000);
    assert.equal(value(s, 'pop3_uidl_messages', SUPPORT), 3);
    assert.equal(value(s, 'pop3_login_delay_seconds', SUPPORT), undefined);
    // No failure yet: no failure series at all.
    assert.deepEqual(
      s.filter((x) => x.name === 'pop3_probe_failures_total' || x.name.startsWith('pop3_login_f')),
      [],
    );
    // The whole probe, without a phase label.
    assert.equal(value(s, 'pop3_probe_duration_seconds_count', SUPPORT), 1);
    assert.equal(value(s, 'pop3_probe_duration_seconds_sum', SUPPORT), 0.026);
    assert.equal(value(s, 'pop3_probe_duration_seconds_bucket', { ...SUPPORT, le: '0.02' }), 0);
    assert.equal(value(s, 'pop3_probe_duration_seconds_bucket', { ...SUPPORT, le: '0.05' }), 1);
    assert.ok(!s.some((x) => 'phase' in x.labels && 'mailbox' in x.labels));
    // The phases, per server.
    const auth = { ...SERVER, phase: 'auth' };
    assert.equal(value(s, 'pop3_phase_duration_seconds_sum', auth), 0.015);
    assert.equal(value(s, 'pop3_phase_duration_seconds_count', auth), 1);
    assert.equal(value(s, 'pop3_phase_duration_seconds_bucket', { ...auth, le: '0.01' }), 0);
    assert.equal(value(s, 'pop3_phase_duration_seconds_bucket', { ...auth, le: '0.02' }), 1);
    // Phases the probe did not go through have no series; `total` is never a phase.
    assert.equal(
      value(s, 'pop3_phase_duration_seconds_count', { ...SERVER, phase: 'top' }),
      undefined,
    );
    assert.deepEqual(
      s.filter((x) => x.labels.phase === 'total'),
      [],
    );
  });

  it('on failure sets up to 0, counts the reason and keeps the last messages and size', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(success('support'));
    metrics.recordProbe(authRefused);
    const s = await scrape(metrics);

    assert.equal(value(s, 'pop3_up', SUPPORT), 0);
    assert.equal(value(s, 'pop3_probes_total', SUPPORT), 2);
    assert.equal(value(s, 'pop3_probe_failures_total', { ...SUPPORT, reason: 'auth' }), 1);
    assert.equal(
      value(s, 'pop3_probe_failures_total', { ...SUPPORT, reason: 'connect' }),
      undefined,
    );
    assert.equal(value(s, 'pop3_login_failures_total', { ...SUPPORT, reason: 'auth' }), 1);
    assert.equal(value(s, 'pop3_messages', SUPPORT), 3);
    assert.equal(value(s, 'pop3_size_bytes', SUPPORT), 825);
    assert.equal(value(s, 'pop3_oldest_message_timestamp_seconds', SUPPORT), 1_699_990_000);
    assert.equal(value(s, 'pop3_tls_cert_expiry_timestamp_seconds', SUPPORT), 1_710_000_000);
    assert.equal(value(s, 'pop3_last_success_timestamp_seconds', SUPPORT), 1_700_000_000.026);
    assert.equal(value(s, 'pop3_probe_duration_seconds_count', SUPPORT), 2);
    assert.equal(value(s, 'pop3_phase_duration_seconds_count', { ...SERVER, phase: 'auth' }), 2);
  });

  it('counts a connect failure as a probe failure but not as a login failure', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(connectRefused);
    const s = await scrape(metrics);

    assert.equal(value(s, 'pop3_probe_failures_total', { ...SUPPORT, reason: 'connect' }), 1);
    assert.deepEqual(
      s.filter((x) => x.name === 'pop3_login_failures_total'),
      [],
    );
    assert.equal(value(s, 'pop3_messages', SUPPORT), undefined);
    assert.equal(value(s, 'pop3_last_success_timestamp_seconds', SUPPORT), undefined);
  });

  it('counts an [IN-USE] refusal during login as a login failure with reason in_use', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    const inUse = failure(
      'support',
      {
        code: 'in_use',
        message: 'maildrop locked',
        response: '-ERR [IN-USE] locked',
        command: 'PASS',
        phase: 'auth',
      },
      { total: 0.1 },
    );
    metrics.recordProbe(inUse);
    const s = await scrape(metrics);
    assert.equal(value(s, 'pop3_login_failures_total', { ...SUPPORT, reason: 'in_use' }), 1);
    assert.equal(value(s, 'pop3_probe_failures_total', { ...SUPPORT, reason: 'in_use' }), 1);
  });

  it('removes the oldest-message series when a successful probe finds the maildrop empty', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(success('support'));
    metrics.recordProbe(
      success('support', {
        messages: 0,
        size_bytes: 0,
        uidl_count: 0,
        oldest_message_timestamp: 1,
      }),
    );
    const s = await scrape(metrics);
    assert.equal(value(s, 'pop3_oldest_message_timestamp_seconds', SUPPORT), undefined);
    assert.equal(value(s, 'pop3_messages', SUPPORT), 0);
    assert.equal(value(s, 'pop3_uidl_messages', SUPPORT), 0);
  });

  it('removes facts a successful probe no longer sees and sets LOGIN-DELAY when announced', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(success('support'));
    metrics.recordProbe(
      success('support', { tls: null, uidl_count: null, login_delay_seconds: 300 }),
    );
    const s = await scrape(metrics);
    assert.equal(value(s, 'pop3_tls_cert_expiry_timestamp_seconds', SUPPORT), undefined);
    assert.equal(value(s, 'pop3_uidl_messages', SUPPORT), undefined);
    assert.equal(value(s, 'pop3_login_delay_seconds', SUPPORT), 300);
  });

  it('counts whole-probe durations into at most 10 cumulative buckets', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    for (const total of [0.001, 0.03, 0.7, 45]) {
      metrics.recordProbe(success('support', { phases: { total } }));
    }
    const s = await scrape(metrics);
    const buckets = s
      .filter((x) => x.name === 'pop3_probe_duration_seconds_bucket')
      .map((x) => [x.labels.le, x.value]);
    assert.deepEqual(buckets, [
      ['0.02', 1],
      ['0.05', 2],
      ['0.1', 2],
      ['0.2', 2],
      ['0.5', 2],
      ['1', 3],
      ['2', 3],
      ['5', 3],
      ['+Inf', 4],
    ]);
    assert.equal(buckets.length, PROBE_DURATION_BUCKETS.length + 1);
    assert.ok(buckets.length <= 10);
    assert.equal(value(s, 'pop3_probe_duration_seconds_sum', SUPPORT), 45.731);
  });

  it('aggregates the phases of every mailbox on one server, and per server apart', async () => {
    const metrics = fresh();
    metrics.setMailboxes([
      exampleMailboxConfig('support'),
      exampleMailboxConfig('sales'),
      exampleMailboxConfig('legacy', { host: '::1', port: 110, tls: 'none' }),
    ]);
    metrics.recordProbe(success('support', { phases: { connect: 0.004, auth: 0.3, total: 0.31 } }));
    metrics.recordProbe(success('sales', { phases: { connect: 0.0015, total: 0.01 } }));
    metrics.recordProbe(success('legacy', { phases: { connect: 0.0005, total: 0.001 } }));
    const s = await scrape(metrics);
    const connect = { ...SERVER, phase: 'connect' };
    assert.equal(value(s, 'pop3_phase_duration_seconds_count', connect), 2);
    assert.equal(value(s, 'pop3_phase_duration_seconds_sum', connect), 0.0055);
    assert.equal(value(s, 'pop3_phase_duration_seconds_bucket', { ...connect, le: '0.002' }), 1);
    assert.equal(value(s, 'pop3_phase_duration_seconds_bucket', { ...connect, le: '0.005' }), 2);
    assert.equal(value(s, 'pop3_phase_duration_seconds_count', { ...SERVER, phase: 'auth' }), 1);
    const v6 = { server: '[::1]:110', phase: 'connect' };
    assert.equal(value(s, 'pop3_phase_duration_seconds_count', v6), 1);
    const buckets = s.filter(
      (x) => x.name === 'pop3_phase_duration_seconds_bucket' && x.labels.server === '[::1]:110',
    );
    assert.equal(buckets.length, PHASE_DURATION_BUCKETS.length + 1);
    // A server no mailbox uses any more loses its series; the others keep counting.
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    const after = await scrape(metrics);
    assert.deepEqual(
      after.filter((x) => x.labels.server === '[::1]:110'),
      [],
    );
    assert.equal(value(after, 'pop3_phase_duration_seconds_count', connect), 2);
  });

  it('adds per-mailbox phase histograms with mailbox_phases, and drops them when turned off', async () => {
    const metrics = fresh(true);
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(success('support'));
    const s = await scrape(metrics);
    const auth = { ...SUPPORT, phase: 'auth' };
    assert.equal(value(s, 'pop3_mailbox_phase_duration_seconds_count', auth), 1);
    assert.equal(value(s, 'pop3_mailbox_phase_duration_seconds_sum', auth), 0.015);
    assert.equal(
      value(s, 'pop3_mailbox_phase_duration_seconds_count', { ...SUPPORT, phase: 'total' }),
      undefined,
    );
    // Six phases of 16 lines each on top of the default series.
    assert.equal(
      s.filter((x) => x.name.startsWith('pop3_mailbox_phase_duration_seconds')).length,
      6 * (PHASE_DURATION_BUCKETS.length + 3),
    );
    metrics.setMailboxPhases(false);
    const off = await metrics.render();
    assert.ok(!off.body.includes('pop3_mailbox_phase_duration_seconds'));
    assert.equal(value(parseExposition(off.body), 'pop3_probe_duration_seconds_count', SUPPORT), 1);
  });

  it('starts probes_total at 0 and the counters by reason only with their first count', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    const s = await scrape(metrics);
    assert.equal(value(s, 'pop3_probes_total', SUPPORT), 0);
    for (const name of [
      'pop3_probe_failures_total',
      'pop3_login_failures_total',
      'pop3_probe_skipped_total',
      'pop3_probe_duration_seconds_count',
      'pop3_phase_duration_seconds_count',
    ]) {
      assert.deepEqual(
        s.filter((x) => x.name === name),
        [],
        name,
      );
    }
    assert.equal(value(s, 'pop3_alert_notifications_total', { result: 'sent' }), 0);
    assert.equal(value(s, 'pop3_alert_notifications_total', { result: 'failed' }), 0);
    assert.equal(value(s, 'pop3_monitor_config_reloads_total', { result: 'success' }), 0);
    assert.equal(value(s, 'pop3_monitor_config_reloads_total', { result: 'failure' }), 0);
    assert.equal(value(s, 'pop3_alert_outbox_pending'), 0);
    assert.equal(value(s, 'pop3_monitor_build_info', { version: '1.2.3' }), 1);
    // Not known yet: absent rather than a 0 that would read as "the reload failed".
    assert.equal(value(s, 'pop3_monitor_config_last_reload_successful'), undefined);
    // pop3_up only appears with the first probe, so it never claims a state not seen.
    assert.equal(value(s, 'pop3_up', SUPPORT), undefined);
  });

  it('keeps a TLS mailbox within 24 series on a bad day: login refused, backing off, alert firing', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support', { labels: { team: 'care' } })]);
    metrics.recordProbe(success('support'));
    const healthy = seriesOf(await scrape(metrics), 'support');
    assert.equal(healthy.length, 20, healthy.map((x) => x.name).join(' '));
    metrics.recordProbe(authRefused);
    metrics.recordSkip('support', 'auth_backoff');
    metrics.setAlertFiring('login_failed', 'support', 'critical', true);
    metrics.recordProbe(success('support'));
    const bad = seriesOf(await scrape(metrics), 'support');
    assert.equal(bad.length, 24, bad.map((x) => x.name).join(' '));
  });

  it('sets the info series from the config, without the username; tls_insecure only when on', async () => {
    const metrics = fresh();
    metrics.setMailboxes([
      exampleMailboxConfig('support', {
        port: 110,
        tls: 'starttls',
        auth: 'plain',
        tls_insecure: true,
      }),
      exampleMailboxConfig('sales'),
    ]);
    const s = await scrape(metrics);
    const info = s.filter((x) => x.name === 'pop3_mailbox_info' && x.labels.mailbox === 'support');
    assert.deepEqual(info, [
      {
        name: 'pop3_mailbox_info',
        labels: {
          mailbox: 'support',
          host: 'pop.example.com',
          port: '110',
          tls: 'starttls',
          auth: 'plain',
        },
        value: 1,
      },
    ]);
    assert.equal(value(s, 'pop3_tls_insecure', SUPPORT), 1);
    assert.equal(value(s, 'pop3_tls_insecure', { mailbox: 'sales' }), undefined);
    assert.ok(!(await metrics.render()).body.includes('support@example.com'));
  });

  it('removes every series of a mailbox dropped by setMailboxes and keeps the others', async () => {
    const metrics = fresh(true);
    metrics.setMailboxes([exampleMailboxConfig('support'), exampleMailboxConfig('sales')]);
    metrics.recordProbe(success('support'));
    metrics.recordProbe(success('sales'));
    metrics.recordProbe(failure('sales', authRefused.error, { total: 0.2 }));
    metrics.recordSkip('sales', 'overlap');
    metrics.setAlertFiring('login_failed', 'sales', 'critical', true);
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    const s = await scrape(metrics);

    const left = s.filter((x) => x.labels.mailbox === 'sales');
    assert.deepEqual(left, []);
    assert.equal(value(s, 'pop3_probes_total', SUPPORT), 1);
    assert.equal(value(s, 'pop3_up', SUPPORT), 1);
    // A probe that ends after its mailbox was removed does not bring the series back.
    metrics.recordProbe(success('sales'));
    assert.deepEqual(
      (await scrape(metrics)).filter((x) => x.labels.mailbox === 'sales'),
      [],
    );
  });

  it('replaces the info series when a mailbox host changes, keeping its counters', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(success('support'));
    metrics.setMailboxes([exampleMailboxConfig('support', { host: 'pop2.example.com' })]);
    metrics.recordProbe(success('support'));
    const s = await scrape(metrics);
    assert.deepEqual(
      s.filter((x) => x.name === 'pop3_mailbox_info').map((x) => x.labels.host),
      ['pop2.example.com'],
    );
    assert.equal(value(s, 'pop3_probes_total', SUPPORT), 2);
    // Its phases now count for the new server; the old one's series are gone.
    assert.deepEqual(
      [...new Set(s.filter((x) => x.labels.server).map((x) => x.labels.server))],
      ['pop2.example.com:995'],
    );
  });

  it('appends extra labels to every mailbox series, "" for a mailbox without the key', async () => {
    const metrics = fresh();
    metrics.setMailboxes([
      exampleMailboxConfig('support', { labels: { team: 'care' } }),
      exampleMailboxConfig('sales'),
    ]);
    metrics.recordProbe(success('support'));
    metrics.recordProbe(authRefused);
    metrics.setAlertFiring('backlog', 'support', 'warning', true);
    const s = await scrape(metrics);

    const care = { mailbox: 'support', team: 'care' };
    assert.equal(value(s, 'pop3_up', care), 0);
    assert.equal(value(s, 'pop3_probes_total', { mailbox: 'sales', team: '' }), 0);
    assert.equal(value(s, 'pop3_probe_duration_seconds_count', care), 2);
    assert.equal(value(s, 'pop3_probe_failures_total', { ...care, reason: 'auth' }), 1);
    assert.equal(
      value(s, 'pop3_alerts_firing', { ...care, rule: 'backlog', severity: 'warning' }),
      1,
    );
    for (const sample of s.filter((x) => x.name.startsWith('pop3_') && 'mailbox' in x.labels)) {
      assert.ok('team' in sample.labels, `${sample.name} lacks the team label`);
    }
    // Per-server series do not carry a mailbox's labels.
    assert.ok(s.some((x) => x.labels.server !== undefined));
    assert.ok(!s.some((x) => x.labels.server !== undefined && 'team' in x.labels));
    assert.equal(value(s, 'pop3_alert_outbox_pending'), 0);
  });

  it('replaces the series when the extra label names change: counters restart, gauges and alerts carry over', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordProbe(success('support'));
    metrics.setAlertFiring('backlog', 'support', 'warning', true);
    metrics.setMailboxes([exampleMailboxConfig('support', { labels: { team: 'care' } })]);
    const s = await scrape(metrics);

    const care = { mailbox: 'support', team: 'care' };
    assert.deepEqual(
      s.filter(
        (x) =>
          x.name.startsWith('pop3_') && x.labels.mailbox === 'support' && !('team' in x.labels),
      ),
      [],
    );
    assert.equal(value(s, 'pop3_probes_total', care), 0);
    assert.equal(value(s, 'pop3_up', care), 1);
    assert.equal(value(s, 'pop3_messages', care), 3);
    assert.equal(
      value(s, 'pop3_alerts_firing', { ...care, rule: 'backlog', severity: 'warning' }),
      1,
    );
    assert.equal(value(s, 'pop3_probe_duration_seconds_count', care), undefined);
  });

  it('replaces the series of one mailbox whose extra label value changed', async () => {
    const metrics = fresh();
    metrics.setMailboxes([
      exampleMailboxConfig('support', { labels: { team: 'a' } }),
      exampleMailboxConfig('sales', { labels: { team: 'x' } }),
    ]);
    metrics.recordProbe(success('support'));
    metrics.recordProbe(success('sales'));
    metrics.setMailboxes([
      exampleMailboxConfig('support', { labels: { team: 'b' } }),
      exampleMailboxConfig('sales', { labels: { team: 'x' } }),
    ]);
    const s = await scrape(metrics);

    assert.deepEqual(
      s.filter((x) => x.labels.team === 'a'),
      [],
    );
    assert.equal(value(s, 'pop3_probes_total', { mailbox: 'support', team: 'b' }), 0);
    assert.equal(value(s, 'pop3_up', { mailbox: 'support', team: 'b' }), 1);
    assert.equal(value(s, 'pop3_probes_total', { mailbox: 'sales', team: 'x' }), 1);
  });

  it('refuses an extra label named like one of its own (the config refuses it first)', () => {
    const metrics = fresh();
    assert.throws(
      () => metrics.setMailboxes([exampleMailboxConfig('support', { labels: { server: 'x' } })]),
      /extra label "server" is a label of pop3-monitor itself/,
    );
  });

  it('shows a firing alert as 1 and removes the series when it resolves', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    const labels = { ...SUPPORT, rule: 'unreachable', severity: 'critical' };
    metrics.setAlertFiring('unreachable', 'support', 'critical', true);
    assert.equal(value(await scrape(metrics), 'pop3_alerts_firing', labels), 1);
    metrics.setAlertFiring('unreachable', 'support', 'critical', false);
    assert.equal(value(await scrape(metrics), 'pop3_alerts_firing', labels), undefined);
    // An alert for a mailbox that is not configured is not shown.
    metrics.setAlertFiring('unreachable', 'ghost', 'critical', true);
    assert.deepEqual(
      (await scrape(metrics)).filter((x) => x.name === 'pop3_alerts_firing'),
      [],
    );
  });

  it('counts skips, notifications, the outbox and reloads', async () => {
    const metrics = fresh();
    metrics.setMailboxes([exampleMailboxConfig('support')]);
    metrics.recordSkip('support', 'auth_backoff');
    metrics.recordSkip('support', 'auth_backoff');
    metrics.recordNotification('sent');
    metrics.recordNotification('failed');
    metrics.recordNotification('sent');
    metrics.setOutboxPending(4);
    metrics.recordReload(true, 1_700_000_123_500);
    metrics.recordReload(false, 1_700_000_200_000);
    const s = await scrape(metrics);

    assert.equal(value(s, 'pop3_probe_skipped_total', { ...SUPPORT, reason: 'auth_backoff' }), 2);
    assert.equal(
      value(s, 'pop3_probe_skipped_total', { ...SUPPORT, reason: 'overlap' }),
      undefined,
    );
    assert.equal(value(s, 'pop3_alert_notifications_total', { result: 'sent' }), 2);
    assert.equal(value(s, 'pop3_alert_notifications_total', { result: 'failed' }), 1);
    assert.equal(value(s, 'pop3_alert_outbox_pending'), 4);
    assert.equal(value(s, 'pop3_monitor_config_reloads_total', { result: 'success' }), 1);
    assert.equal(value(s, 'pop3_monitor_config_reloads_total', { result: 'failure' }), 1);
    assert.equal(value(s, 'pop3_monitor_config_last_reload_successful'), 0);
    assert.equal(
      value(s, 'pop3_monitor_config_last_reload_success_timestamp_seconds'),
      1_700_000_123.5,
    );
  });

  it('reports the initial config load when given configLoadedAtMs, without counting a reload', async () => {
    const metrics = createMetrics({
      version: '1',
      defaultMetrics: false,
      configLoadedAtMs: 1_000_000,
    });
    const s = await scrape(metrics);
    assert.equal(value(s, 'pop3_monitor_config_last_reload_successful'), 1);
    assert.equal(value(s, 'pop3_monitor_config_last_reload_success_timestamp_seconds'), 1000);
    assert.equal(value(s, 'pop3_monitor_config_reloads_total', { result: 'success' }), 0);
  });

  it('streams many mailboxes in chunks, each family once, the same text as render()', async () => {
    const metrics = fresh();
    const names = Array.from({ length: 1000 }, (_, i) => `m${i}`);
    metrics.setMailboxes(names.map((n) => exampleMailboxConfig(n)));
    for (const n of names) metrics.recordProbe(success(n));
    const { contentType, chunks } = metrics.exposition();
    const parts: string[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.ok(parts.length > 50, `${parts.length} chunks`);
    assert.ok(Math.max(...parts.map((p) => p.length)) < 256 * 1024);
    const text = parts.join('');
    assert.equal(text, (await metrics.render()).body);
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    assert.equal(new Set(types).size, types.length, 'a family appears twice');
    assert.equal(parseExposition(text).filter((x) => x.name === 'pop3_up').length, 1000);
  });

  it('uses the registry it is given, with prom-client default metrics and its content type', async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry, version: '1' });
    assert.equal(metrics.registry, registry);
    const rendered = await metrics.render();
    assert.equal(rendered.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const names = new Set(parseExposition(rendered.body).map((x) => x.name));
    assert.ok(names.has('process_cpu_user_seconds_total'));
    assert.ok(names.has('nodejs_heap_size_used_bytes'));
    assert.ok(!(await fresh().render()).body.includes('process_cpu_user_seconds_total'));
  });

  it('the HTTP server series: web config readings, refused requests by reason, TLS refusals', async () => {
    const plain = await scrape(fresh());
    assert.equal(value(plain, 'pop3_monitor_web_config_last_reload_successful'), undefined);
    assert.equal(
      value(plain, 'pop3_monitor_web_config_reloads_total', { result: 'failure' }),
      undefined,
    );
    assert.equal(
      value(plain, 'pop3_monitor_http_requests_refused_total', { reason: 'unauthorized' }),
      0,
    );
    assert.equal(value(plain, 'pop3_monitor_http_tls_refused_total'), 0);

    const metrics = createMetrics({ version: '1', defaultMetrics: false, webConfig: true });
    const start = await scrape(metrics);
    assert.equal(value(start, 'pop3_monitor_web_config_last_reload_successful'), 1);
    assert.equal(value(start, 'pop3_monitor_web_config_reloads_total', { result: 'failure' }), 0);
    metrics.recordWebConfigReload(false);
    metrics.recordHttpRefusal('unauthorized');
    metrics.recordHttpRefusal('unauthorized');
    metrics.recordHttpRefusal('cross_site');
    metrics.recordTlsRefusal();
    const s = await scrape(metrics);
    assert.equal(value(s, 'pop3_monitor_web_config_last_reload_successful'), 0);
    assert.equal(value(s, 'pop3_monitor_web_config_reloads_total', { result: 'failure' }), 1);
    assert.equal(value(s, 'pop3_monitor_web_config_reloads_total', { result: 'success' }), 0);
    assert.deepEqual(
      s
        .filter((x) => x.name === 'pop3_monitor_http_requests_refused_total')
        .map((x) => [x.labels.reason, x.value]),
      [
        ['unauthorized', 2],
        ['rate_limited', 0],
        ['cross_site', 1],
      ],
    );
    assert.equal(value(s, 'pop3_monitor_http_tls_refused_total'), 1);
    metrics.recordWebConfigReload(true);
    assert.equal(value(await scrape(metrics), 'pop3_monitor_web_config_last_reload_successful'), 1);
  });
});
