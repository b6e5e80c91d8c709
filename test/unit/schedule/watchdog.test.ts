import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectedGapMs, longestGapMs, ProgressWatchdog } from '../../../src/schedule/watchdog.js';
import { GlobalFakeTime } from '../../fixtures/global-fake-time.js';

const MINUTE = 60_000;

describe('ProgressWatchdog', () => {
  /** A watchdog started at 0, with progress at `last` (none when null). */
  const dog = (last: number | null) => {
    const watchdog = new ProgressWatchdog();
    watchdog.start(0);
    if (last !== null) watchdog.progress(last);
    return watchdog;
  };

  it('healthy while progress came within twice the shortest interval plus the slack', () => {
    assert.equal(dog(null).problem(160_000, MINUTE, 40_000), null);
    assert.equal(dog(340_000).problem(500_000, MINUTE, 40_000), null);
  });

  it('stuck past that, counting from the start when nothing ever progressed', () => {
    assert.equal(
      dog(null).problem(160_001, MINUTE, 40_000),
      'no probe started or finished for 160s since the start (expected within 160s)',
    );
    assert.equal(
      dog(100_000).problem(600_000, MINUTE, 40_000),
      'no probe started or finished for 500s since the last one (expected within 160s)',
    );
  });

  it('no mailbox (or none whose schedule ever fires): nothing is expected', () => {
    assert.equal(dog(null).problem(1e12, Number.POSITIVE_INFINITY, 0), null);
  });

  it('says nothing before start; then reports the last progress', () => {
    const watchdog = new ProgressWatchdog();
    assert.equal(watchdog.problem(1e9, MINUTE, 0), null);
    watchdog.start(0);
    assert.match(
      watchdog.problem(121_000, MINUTE, 0) ?? '',
      /^no probe started or finished for 121s/,
    );
    watchdog.progress(100_000);
    assert.equal(watchdog.problem(121_000, MINUTE, 0), null);
  });
});

describe('longestGapMs and expectedGapMs', () => {
  it('every 5 s, every minute, hourly', () => {
    assert.equal(longestGapMs('*/5 * * * * *'), 5000);
    assert.equal(longestGapMs('*/60 * * * * *'), MINUTE);
    assert.equal(longestGapMs('0 * * * *'), 60 * MINUTE);
  });

  it('a weekday schedule has a three-day gap over the weekend, wherever in its runs it falls', () => {
    // From Monday 2026-01-05 the ten runs end on a Friday: the longest gap is not the last.
    const time = new GlobalFakeTime(Date.UTC(2026, 0, 5));
    try {
      assert.equal(longestGapMs('0 9 * * 1-5', 'UTC'), 3 * 24 * 60 * MINUTE);
    } finally {
      time.uninstall();
    }
  });

  it('a schedule that never runs, or is no schedule, has no gap', () => {
    assert.equal(longestGapMs('0 0 30 2 *'), Number.POSITIVE_INFINITY);
    assert.equal(longestGapMs('not cron'), Number.POSITIVE_INFINITY);
  });

  it('a fleet: the shortest of the longest gaps (progress from any mailbox counts)', () => {
    assert.equal(expectedGapMs(['0 * * * *', '*/30 * * * * *', '0 * * * *']), 30_000);
    assert.equal(expectedGapMs([]), Number.POSITIVE_INFINITY);
  });
});
