import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spreadFraction, spreadOffsetMs } from '../../../src/schedule/spread.js';

describe('spreadOffsetMs', () => {
  it('keeps a name in the same slot across restarts (pinned values)', () => {
    // Pinned: a change here moves every mailbox's probe time after an upgrade.
    assert.equal(spreadOffsetMs('support', 60_000), 21_530);
    assert.equal(spreadOffsetMs('billing', 60_000), 40_504);
    assert.equal(spreadOffsetMs('support', 10_000), 3_588);
  });

  it('spreads 1,000 sequential names evenly over a minute (10 buckets of 6 s, each 100 ± 40%)', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) {
      const offset = spreadOffsetMs(`mailbox-${i}`, 60_000);
      buckets[Math.floor(offset / 6_000)] = (buckets[Math.floor(offset / 6_000)] ?? 0) + 1;
    }
    for (const [i, count] of buckets.entries()) {
      assert.ok(count >= 60 && count <= 140, `bucket ${i} holds ${count}: ${buckets.join(' ')}`);
    }
  });

  it('stays a whole number of ms below the interval', () => {
    for (const interval of [1, 2, 999, 1_000, 60_000, 86_400_000]) {
      for (let i = 0; i < 200; i++) {
        const offset = spreadOffsetMs(`n${i}`, interval);
        assert.ok(
          Number.isInteger(offset) && offset >= 0 && offset < interval,
          `${offset} of ${interval}`,
        );
      }
    }
  });

  it('is 0 for an empty or unbounded window', () => {
    assert.equal(spreadOffsetMs('support', 0), 0);
    assert.equal(spreadOffsetMs('support', -5), 0);
    assert.equal(spreadOffsetMs('support', Number.POSITIVE_INFINITY), 0);
  });

  it('scales one fraction in [0, 1) by the window', () => {
    const fraction = spreadFraction('support');
    assert.ok(fraction >= 0 && fraction < 1);
    assert.equal(spreadOffsetMs('support', 3_600_000), Math.floor(fraction * 3_600_000));
  });
});
