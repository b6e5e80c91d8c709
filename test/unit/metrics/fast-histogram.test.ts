import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../../src/metrics/fast-histogram.js';
import { PROBE_DURATION_BUCKETS } from '../../../src/metrics/metrics.js';

const NAME = 'pop3_probe_duration_seconds';
const HELP = 'Duration of each phase of a probe; phase="total" is the whole probe.';

function both() {
  const registry = new Registry();
  const reference = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['mailbox', 'team', 'phase'],
    buckets: [...PROBE_DURATION_BUCKETS],
    registers: [registry],
  });
  const fast = new FastHistogram({ name: NAME, help: HELP, buckets: PROBE_DURATION_BUCKETS });
  return { registry, reference, fast };
}

describe('FastHistogram', () => {
  it("renders exactly what prom-client's Histogram renders for the same observations", async () => {
    const { registry, reference, fast } = both();
    const values = [0, 0.001, 0.002, 0.0021, 0.5, 1, 29.9, 30, 31, 120];
    const mailboxes = ['support', 'in"voices', 'back\\slash', 'new\nline'];
    for (const [i, mailbox] of mailboxes.entries()) {
      for (const phase of ['connect', 'total']) {
        for (const v of values.slice(i)) {
          const labels = { mailbox, team: 'care', phase };
          reference.observe(labels, v);
          fast.observe(labels, v);
        }
      }
    }
    assert.equal(fast.render(), await registry.metrics());
  });

  it('removes a series, and renders only HELP and TYPE when empty', async () => {
    const { registry, reference, fast } = both();
    for (const h of [reference, fast]) {
      h.observe({ mailbox: 'a', team: 'x', phase: 'total' }, 0.01);
      h.observe({ mailbox: 'b', team: 'x', phase: 'total' }, 0.02);
      h.remove({ mailbox: 'a', team: 'x', phase: 'total' });
    }
    assert.equal(fast.render(), await registry.metrics());
    assert.equal(fast.seriesCount, 1);
    fast.remove({ mailbox: 'b', team: 'x', phase: 'total' });
    assert.equal(fast.render(), `# HELP ${NAME} ${HELP}\n# TYPE ${NAME} histogram\n`);
  });

  it('renders 13 phases x 1,000 mailboxes (221,000 lines) with every count right', () => {
    const { fast } = both();
    for (let i = 0; i < 1000; i++) {
      for (let p = 0; p < 13; p++)
        fast.observe({ mailbox: `m${i}`, team: 't', phase: `p${p}` }, 0.003);
    }
    const lines = fast.render().trimEnd().split('\n');
    assert.equal(lines.length, 2 + 1000 * 13 * (PROBE_DURATION_BUCKETS.length + 3));
    assert.equal(
      lines.filter((l) => l.startsWith(`${NAME}_count{`) && l.endsWith(' 1')).length,
      13_000,
    );
  });
});
