import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spreadFraction } from '../../../src/schedule/scheduler.js';

describe('spreadFraction', () => {
  it('keeps a name at the same place across restarts (pinned values)', () => {
    // Pinned: a change here moves every mailbox's probe time after an upgrade.
    assert.equal(spreadFraction('support'), 0.35883830507084014);
    assert.equal(spreadFraction('billing'), 0.6750686453706436);
    assert.equal(spreadFraction('sales'), 0.34821392914286875);
  });

  it('spreads 1,000 sequential names evenly over [0, 1) (10 buckets, each 100 ± 40%)', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) {
      const fraction = spreadFraction(`mailbox-${i}`);
      assert.ok(fraction >= 0 && fraction < 1, `${fraction}`);
      const bucket = Math.floor(fraction * 10);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const [i, count] of buckets.entries()) {
      assert.ok(count >= 60 && count <= 140, `bucket ${i} holds ${count}: ${buckets.join(' ')}`);
    }
  });
});
