import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  expectedGapMs,
  longestGapMs,
  ProgressWatchdog,
  progressProblem,
} from '../../../src/schedule/watchdog.js';

const MINUTE = 60_000;

describe('progressProblem', () => {
  const base = { startedAt: 0, lastProgressAt: null, expectedGapMs: MINUTE, slackMs: 40_000 };

  it('healthy while progress came within twice the shortest interval plus the slack', () => {
    assert.equal(progressProblem({ ...base, now: 160_000 }), null);
    assert.equal(progressProblem({ ...base, now: 500_000, lastProgressAt: 340_000 }), null);
  });

  it('stuck past that, counting from the start when nothing ever progressed', () => {
    assert.equal(
      progressProblem({ ...base, now: 160_001 }),
      'no probe started or finished for 160s since the start (expected within 160s)',
    );
    assert.equal(
      progressProblem({ ...base, now: 600_000, lastProgressAt: 100_000 }),
      'no probe started or finished for 500s since the last one (expected within 160s)',
    );
  });

  it('no mailbox (or none whose schedule ever fires): nothing is expected', () => {
    assert.equal(
      progressProblem({ ...base, now: 1e12, expectedGapMs: Number.POSITIVE_INFINITY }),
      null,
    );
  });
});

describe('ProgressWatchdog', () => {
  it('says nothing before start; then reports the last progress', () => {
    const dog = new ProgressWatchdog();
    assert.equal(dog.problem(1e9, MINUTE, 0), null);
    dog.start(0);
    assert.match(dog.problem(121_000, MINUTE, 0) ?? '', /^no probe started or finished for 121s/);
    dog.progress(100_000);
    assert.equal(dog.problem(121_000, MINUTE, 0), null);
  });
});

describe('longestGapMs and expectedGapMs', () => {
  it('every 5 s, every minute, hourly', () => {
    assert.equal(longestGapMs('*/5 * * * * *'), 5000);
    assert.equal(longestGapMs('*/60 * * * * *'), MINUTE);
    assert.equal(longestGapMs('0 * * * *'), 60 * MINUTE);
  });

  it('a weekday schedule has a three-day gap over the weekend', () => {
    assert.equal(longestGapMs('0 9 * * 1-5', 'UTC'), 3 * 24 * 60 * MINUTE);
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
