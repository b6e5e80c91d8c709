import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createFlowMetrics } from '../../../src/metrics/flow-metrics.js';

async function series(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

describe('mail-flow metrics', () => {
  it('a declared loop starts its counters at 0; a send failure reason appears at its first occurrence', async () => {
    const registry = new Registry();
    const flow = createFlowMetrics(registry);
    flow.setTargets(['l'], []);
    assert.deepEqual(await series(registry), [
      'pop3_delivery_sent_total{loop="l"} 0',
      'pop3_delivery_lost_total{loop="l"} 0',
      'pop3_delivery_late_total{loop="l"} 0',
      'pop3_delivery_forged_total{loop="l"} 0',
    ]);
    flow.recordSendFailure('l', 'auth');
    flow.recordDelivered('l', 3, null, 1_700_000_000_000);
    const lines = await series(registry);
    assert.ok(lines.includes('pop3_delivery_send_failures_total{loop="l",reason="auth"} 1'));
    assert.ok(!lines.some((l) => l.includes('reason="connect"')));
    assert.ok(lines.includes('pop3_delivery_last_success_timestamp_seconds{loop="l"} 1700000000'));
    assert.ok(lines.includes('pop3_delivery_duration_seconds_bucket{le="5",loop="l"} 1'));
    assert.ok(!lines.some((l) => l.startsWith('pop3_delivery_server_seconds')));
  });

  it('loops and watches the config no longer has lose every series; unknown ones are not recorded', async () => {
    const registry = new Registry();
    const flow = createFlowMetrics(registry);
    flow.setTargets(['gone', 'kept'], [{ mailbox: 'm', expect: 'w' }]);
    flow.recordSendFailure('gone', 'tls');
    flow.recordDelivered('gone', 1, 0, 1_000);
    flow.setExpectLastSeen({ mailbox: 'm', expect: 'w' }, 2_000);
    flow.setTargets(['kept'], []);
    flow.recordSent('never-declared');
    flow.setExpectLastSeen({ mailbox: 'm', expect: 'w' }, 3_000);
    const lines = await series(registry);
    assert.deepEqual(
      lines.filter(
        (l) => l.includes('"gone"') || l.includes('never-declared') || l.includes('expect='),
      ),
      [],
    );
    assert.ok(lines.includes('pop3_delivery_sent_total{loop="kept"} 0'));
  });
});
