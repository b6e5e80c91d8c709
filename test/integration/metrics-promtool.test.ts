import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { createFlowMetrics } from '../../src/metrics/flow-metrics.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { ProbeResult } from '../../src/probe/result.js';
import { exampleMailboxConfig } from '../fixtures/mailbox-config.js';

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

function result(name: string, overrides: Partial<ProbeResult>): ProbeResult {
  return {
    mailbox: name,
    success: true,
    messages: 12,
    size_bytes: 48_213,
    phases: {
      dns: 0.0009,
      connect: 0.0031,
      tls: 0.0212,
      greeting: 0.0008,
      capa: 0.0006,
      auth: 0.0417,
      stat: 0.0004,
      uidl: 0.0011,
      top: 0.0019,
      quit: 0.0003,
      total: 0.0723,
    },
    capabilities: ['TOP', 'UIDL', 'PIPELINING', 'SASL PLAIN', 'LOGIN-DELAY 60'],
    error: null,
    started_at: 1_700_000_000,
    uidl_count: 12,
    oldest_message_timestamp: 1_699_900_000,
    tls: {
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      cert_expiry_timestamp: 1_710_000_000,
      cert_subject: 'CN=pop.example.com',
      cert_issuer: 'CN=R3',
      resumed: false,
    },
    auth_method: 'PLAIN',
    login_delay_seconds: 60,
    pipelined: true,
    ...overrides,
  };
}

function promtoolCheck(text: string): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, lines: output.split('\n').filter((l) => l !== '') }),
    );
    child.stdin.end(text);
  });
}

it('renders pop3_ series for three mailboxes that promtool check metrics lints without a complaint', async () => {
  assert.ok(
    existsSync(PROMTOOL),
    `promtool not found at ${PROMTOOL}: install the Debian package "prometheus" (or set PROMTOOL)`,
  );

  const metrics = createMetrics({
    version: '0.1.0',
    configLoadedAtMs: 1_699_999_000_000,
    // The opt-in per-mailbox phase histograms are linted too.
    mailboxPhases: true,
  });
  metrics.setMailboxes([
    exampleMailboxConfig('support', { labels: { team: 'care', site: 'eu-1' } }),
    // A label value that needs escaping in the exposition format.
    exampleMailboxConfig('sales', {
      labels: { team: 'sales "EMEA"\\west' },
      auth: 'plain',
      tls_insecure: true,
    }),
    exampleMailboxConfig('archive', { host: '192.0.2.7', port: 110, tls: 'none', auth: 'user' }),
  ]);
  metrics.recordProbe(result('support', {}));
  metrics.recordProbe(result('sales', { messages: 0, size_bytes: 0, uidl_count: 0 }));
  metrics.recordProbe(result('archive', { tls: null, login_delay_seconds: null }));
  metrics.recordProbe(
    result('archive', {
      success: false,
      messages: null,
      size_bytes: null,
      phases: { dns: 0.0007, connect: 10, total: 10.0009 },
      error: {
        code: 'timeout',
        message: 'no answer within 10s',
        response: null,
        command: null,
        phase: 'connect',
      },
      uidl_count: null,
      oldest_message_timestamp: null,
      tls: null,
      auth_method: null,
      login_delay_seconds: null,
    }),
  );
  metrics.recordSkip('archive', 'overlap');
  metrics.recordProbe(
    result('sales', {
      success: false,
      messages: null,
      size_bytes: null,
      uidl_count: null,
      oldest_message_timestamp: null,
      tls: null,
      phases: { connect: 0.002, tls: 0.02, greeting: 0.001, auth: 1.2, total: 1.3 },
      error: {
        code: 'auth',
        message: 'the server refused the credentials',
        response: '-ERR [AUTH] no',
        command: 'AUTH',
        phase: 'auth',
      },
    }),
  );
  metrics.setAlertFiring('unreachable', 'archive', 'critical', true);
  metrics.setAlertFiring('backlog', 'support', 'warning', true);
  metrics.recordNotification('sent');
  metrics.recordNotification('failed');
  metrics.setOutboxPending(1);
  metrics.recordReload(false, 1_700_000_100_000);
  // Mail flow: a loop that delivered, lost one and failed to send one; a watch that matched.
  const flow = createFlowMetrics(metrics.registry);
  flow.setTargets(['support-loop'], [{ mailbox: 'support', expect: 'nightly' }]);
  flow.recordSent('support-loop');
  flow.recordDelivered('support-loop', 4.2, 1, 1_700_000_004_200);
  flow.recordLost('support-loop');
  flow.recordSendFailure('support-loop', 'connect');
  flow.recordForged('support-loop');
  flow.setExpectLastSeen({ mailbox: 'support', expect: 'nightly' }, 1_699_990_000_000);
  metrics.setFlowAlertFiring(
    'delivery_lost',
    { mailbox: 'support', loop: 'support-loop' },
    'critical',
    true,
  );
  metrics.setFlowAlertFiring(
    'expect_overdue',
    { mailbox: 'support', expect: 'nightly' },
    'critical',
    true,
  );

  const { body } = await metrics.render();
  // The input really carries our data, so a clean lint means something.
  for (const expected of [
    'pop3_probe_duration_seconds_bucket{mailbox="support",site="eu-1",team="care",le="0.1"} 1',
    'pop3_phase_duration_seconds_bucket{server="pop.example.com:995",phase="connect",le="0.005"} 3',
    'pop3_phase_duration_seconds_count{server="192.0.2.7:110",phase="connect"} 2',
    'pop3_mailbox_phase_duration_seconds_count{mailbox="support",site="eu-1",team="care",phase="tls"} 1',
    'pop3_login_failures_total{mailbox="sales",site="",team="sales \\"EMEA\\"\\\\west",reason="auth"} 1',
    'pop3_tls_insecure{mailbox="sales",site="",team="sales \\"EMEA\\"\\\\west"} 1',
    'pop3_up{mailbox="archive",site="",team=""} 0',
    'pop3_messages{mailbox="sales",site="",team="sales \\"EMEA\\"\\\\west"} 0',
    'pop3_probe_failures_total{mailbox="archive",site="",team="",reason="timeout"} 1',
    'pop3_alerts_firing{mailbox="archive",site="",team="",rule="unreachable",severity="critical"} 1',
    'pop3_delivery_duration_seconds_bucket{le="5",loop="support-loop"} 1',
    'pop3_delivery_send_failures_total{loop="support-loop",reason="connect"} 1',
    'pop3_expect_last_seen_timestamp_seconds{mailbox="support",expect="nightly"} 1699990000',
    'pop3_alerts_firing{loop="support-loop",rule="delivery_lost",severity="critical"} 1',
  ]) {
    assert.ok(body.includes(expected), `missing from the exposition: ${expected}`);
  }

  const { code, lines } = await promtoolCheck(body);
  assert.ok(code === 0 || code === 3, `promtool exited ${code}: ${lines.join('\n')}`);
  assert.deepEqual(
    lines.filter((l) => l.startsWith('error') || l.includes('parsing error')),
    [],
    'promtool could not parse the exposition',
  );
  assert.deepEqual(
    lines.filter((l) => l.includes('pop3_')),
    [],
    'promtool lint complaints about pop3_ metrics',
  );
});
