import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../../src/web/token-bucket.js';

describe('TokenBucket (rate_limit: interval, burst)', () => {
  it('allows burst requests at once, then one per interval', () => {
    const bucket = new TokenBucket({ intervalMs: 1_000, burst: 3, nowMs: 0 });
    assert.deepEqual(
      [0, 0, 0, 0].map(() => bucket.take(0)),
      [true, true, true, false],
    );
    assert.equal(bucket.take(999), false);
    assert.equal(bucket.take(1_000), true);
    assert.equal(bucket.take(1_000), false);
  });

  it('never holds more than burst tokens, however long it was idle', () => {
    const bucket = new TokenBucket({ intervalMs: 100, burst: 2, nowMs: 0 });
    assert.deepEqual(
      [1, 2, 3].map(() => bucket.take(3_600_000)),
      [true, true, false],
    );
  });

  it('Retry-After: the seconds until the next token, rounded up, at least 1', () => {
    const bucket = new TokenBucket({ intervalMs: 5_000, burst: 1, nowMs: 0 });
    assert.equal(bucket.take(0), true);
    assert.equal(bucket.retryAfterSeconds(0), 5);
    assert.equal(bucket.retryAfterSeconds(4_500), 1);
    const fast = new TokenBucket({ intervalMs: 10, burst: 1, nowMs: 0 });
    fast.take(0);
    assert.equal(fast.retryAfterSeconds(0), 1);
  });

  it('a clock that steps back adds no tokens', () => {
    const bucket = new TokenBucket({ intervalMs: 1_000, burst: 1, nowMs: 10_000 });
    assert.equal(bucket.take(10_000), true);
    assert.equal(bucket.take(5_000), false);
    assert.equal(bucket.take(10_999), false);
    assert.equal(bucket.take(11_000), true);
  });

  it('refuses an interval of 0 or a burst below 1', () => {
    assert.throws(() => new TokenBucket({ intervalMs: 0, burst: 1, nowMs: 0 }), RangeError);
    assert.throws(() => new TokenBucket({ intervalMs: 10, burst: 0, nowMs: 0 }), RangeError);
  });
});
