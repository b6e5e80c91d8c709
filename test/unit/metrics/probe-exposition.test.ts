import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderProbeMetrics } from '../../../src/metrics/probe-exposition.js';
import { failed, ok } from '../../fixtures/probe-results.js';

describe('renderProbeMetrics', () => {
  it('the facts under their /metrics names, this probe’s times under names of their own', () => {
    const { contentType, body } = renderProbeMetrics(
      ok('support', {
        messages: 3,
        size_bytes: 1208,
        oldest_message_timestamp: 1767601800,
        uidl_count: 3,
        phases: { connect: 0.001, tls: 0.01, auth: 0.02, total: 0.05 },
        tls: {
          protocol: 'TLSv1.3',
          cipher: 'TLS_AES_256_GCM_SHA384',
          cert_expiry_timestamp: 1800000000,
          cert_subject: 'localhost',
          cert_issuer: 'ca',
          resumed: false,
        },
      }),
      { team: 'a"b' },
    );
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const samples = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const L = 'mailbox="support",team="a\\"b"';
    assert.deepEqual(samples, [
      `pop3_up{${L}} 1`,
      `pop3_messages{${L}} 3`,
      `pop3_size_bytes{${L}} 1208`,
      `pop3_oldest_message_timestamp_seconds{${L}} 1767601800`,
      `pop3_tls_cert_expiry_timestamp_seconds{${L}} 1800000000`,
      `pop3_uidl_messages{${L}} 3`,
      `pop3_probe_last_duration_seconds{${L}} 0.05`,
      `pop3_probe_last_phase_duration_seconds{${L},phase="connect"} 0.001`,
      `pop3_probe_last_phase_duration_seconds{${L},phase="tls"} 0.01`,
      `pop3_probe_last_phase_duration_seconds{${L},phase="auth"} 0.02`,
    ]);
    assert.match(body, /^# TYPE pop3_up gauge$/m);
    assert.match(body, /^# TYPE pop3_probe_last_phase_duration_seconds gauge$/m);
  });

  it('an empty maildrop has no oldest message; a failure says why and nothing it did not see', () => {
    const empty = renderProbeMetrics(ok('e', { messages: 0, oldest_message_timestamp: 1 }), {});
    assert.doesNotMatch(empty.body, /oldest/);
    const down = renderProbeMetrics(failed('d', 'timeout', 'greeting'), {});
    const samples = down.body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.deepEqual(samples, [
      'pop3_up{mailbox="d"} 0',
      'pop3_probe_last_duration_seconds{mailbox="d"} 0.5',
      'pop3_probe_last_phase_duration_seconds{mailbox="d",phase="connect"} 0.001',
      'pop3_probe_last_failure_info{mailbox="d",reason="timeout",phase="greeting"} 1',
    ]);
  });
});
