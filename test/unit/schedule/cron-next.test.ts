import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import cron from 'node-cron';
import { intervalOf, nextFireTime } from '../../../src/schedule/cron-next.js';
import { SchedulerError } from '../../../src/schedule/errors.js';

const RUNS = 8;

/**
 * node-cron's own next runs (from the real now) next to ours chained from the same now.
 * node-cron reads the real clock inside getNextRuns, so a second boundary crossed during
 * the call would make the two disagree: measure again when that happens.
 */
function ourRuns(expr: string, from: number, timezone: string, count = RUNS): string[] {
  const runs: string[] = [];
  let at = from;
  for (let i = 0; i < count; i++) {
    const next = nextFireTime(expr, at, { timezone });
    assert.notEqual(next, null, `${expr} fired fewer than ${count} times`);
    runs.push(new Date(next as number).toISOString());
    at = next as number;
  }
  return runs;
}

function oracleAndOurs(
  expr: string,
  timezone: string,
  count = RUNS,
): { from: number; oracle: string[]; ours: string[] } {
  for (;;) {
    const before = Date.now();
    const task = cron.createTask(expr, () => {}, { timezone });
    const oracle = task.getNextRuns(count).map((d) => d.toISOString());
    task.destroy();
    const after = Date.now();
    if (Math.floor(before / 1000) !== Math.floor(after / 1000)) continue;
    return { from: before, oracle, ours: ourRuns(expr, before, timezone, count) };
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

// Expressions where at most one day field is restricted, so cron's OR rule does not apply
// and node-cron's own semantics are the reference.
const TABLE = [
  '*/60 * * * * *',
  '* * * * * *',
  '*/15 * * * * *',
  '15,45 */3 * * * *',
  '0 */5 * * * *',
  '*/7 5-10 * * *',
  '0 0 9,17 * * *',
  '30 59 23 * * *',
  '0 30 9 * * mon-fri',
  '0 0 0 * * 7',
  '0 0 12 ? * sun',
  '0 0 0 1-5/2,20 jan,jun *',
  '0 0 0 29 2 *',
  '0 0 0 31 * *',
  '0 0 0 L * *',
  '0 0 0 L-3 * *',
  '0 0 0 15W * *',
  '0 0 0 1W * *',
  '0 0 0 LW * *',
  '0 0 0 * * 5L',
  '0 0 0 * * 1#2',
  '0 0 0 */2 * mon',
  '@hourly',
  '@daily',
  '@weekly',
  '@monthly',
  '@yearly',
];

describe('nextFireTime against node-cron', () => {
  for (const expr of TABLE) {
    it(`gives node-cron's next ${RUNS} runs of "${expr}" in UTC`, () => {
      const { oracle, ours } = oracleAndOurs(expr, 'UTC');
      assert.deepEqual(ours, oracle);
    });
  }

  for (const timezone of ['America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) {
    for (const expr of ['0 */5 * * * *', '0 30 9 * * mon-fri', '0 0 0 L * *', '0 0 0 29 2 *']) {
      it(`gives node-cron's next runs of "${expr}" in ${timezone}`, () => {
        const { oracle, ours } = oracleAndOurs(expr, timezone);
        assert.deepEqual(ours, oracle);
      });
    }
  }

  // node-cron requires both day fields; cron (and we) accept either when both are restricted.
  // Our runs must then be the union of node-cron's runs of each half.
  for (const [expr, dayOnly, weekdayOnly] of [
    ['0 0 9 1,15 * mon', '0 0 9 1,15 * *', '0 0 9 * * mon'],
    ['0 0 12 13 * fri', '0 0 12 13 * *', '0 0 12 * * fri'],
    ['0 0 6 L * 1#1', '0 0 6 L * *', '0 0 6 * * 1#1'],
  ] as const) {
    it(`fires "${expr}" when either day field matches (cron's OR rule)`, () => {
      const a = oracleAndOurs(dayOnly, 'UTC');
      const b = oracleAndOurs(weekdayOnly, 'UTC');
      // Each half was measured from its own now: compare after the later one, and only
      // as many runs as both lists are sure to cover.
      const from = Math.floor(b.from / 1000) * 1000;
      const union = [...new Set([...a.oracle, ...b.oracle])]
        .filter((run) => Date.parse(run) > from)
        .sort()
        .slice(0, RUNS - 2);
      assert.deepEqual(ourRuns(expr, from, 'UTC', RUNS - 2), union);
    });
  }
});

describe('nextFireTime', () => {
  it('returns the first match strictly after the instant, ignoring its milliseconds', () => {
    const expr = '*/60 * * * * *';
    assert.equal(
      iso(nextFireTime(expr, Date.UTC(2026, 0, 1, 0, 0, 30, 500))),
      '2026-01-01T00:01:00.000Z',
    );
    assert.equal(
      iso(nextFireTime(expr, Date.UTC(2026, 0, 1, 0, 1, 0, 0))),
      '2026-01-01T00:02:00.000Z',
    );
    assert.equal(
      iso(nextFireTime(expr, Date.UTC(2026, 0, 1, 0, 0, 59, 999))),
      '2026-01-01T00:01:00.000Z',
    );
  });

  it('carries over minute, hour, day, month and year boundaries', () => {
    assert.equal(
      iso(nextFireTime('30 59 23 31 12 *', Date.UTC(2026, 0, 1))),
      '2026-12-31T23:59:30.000Z',
    );
    assert.equal(
      iso(nextFireTime('0 0 0 1 1 *', Date.UTC(2026, 11, 31, 23, 59, 59))),
      '2027-01-01T00:00:00.000Z',
    );
    assert.equal(
      iso(nextFireTime('0 0 0 29 2 *', Date.UTC(2026, 0, 1))),
      '2028-02-29T00:00:00.000Z',
    );
  });

  it('gives up with null after five years', () => {
    // The fifth Monday of February: 2016, then not until 2044.
    assert.equal(
      iso(nextFireTime('0 0 0 * 2 1#5', Date.UTC(2015, 0, 1))),
      '2016-02-29T00:00:00.000Z',
    );
    assert.equal(nextFireTime('0 0 0 * 2 1#5', Date.UTC(2026, 0, 1)), null);
  });

  it('rejects a bad expression or time zone with a SchedulerError', () => {
    assert.throws(
      () => nextFireTime('61 * * * * *', 0),
      (err: unknown) => err instanceof SchedulerError && err.code === 'invalid_schedule',
    );
    assert.throws(
      () => nextFireTime('* * * * * *', 0, { timezone: 'Mars/Olympus' }),
      (err: unknown) => err instanceof SchedulerError && err.code === 'invalid_timezone',
    );
  });
});

describe('nextFireTime across daylight saving changes', () => {
  const tz = { timezone: 'America/New_York' };

  it('skips wall times the spring change removes (2026-03-08, 02:00 EST → 03:00 EDT)', () => {
    assert.equal(
      iso(nextFireTime('0 * * * * *', Date.UTC(2026, 2, 8, 6, 59), tz)),
      '2026-03-08T07:00:00.000Z',
    );
    assert.equal(
      iso(nextFireTime('0 30 2 * * *', Date.UTC(2026, 2, 7, 5), tz)),
      '2026-03-07T07:30:00.000Z',
    );
    assert.equal(
      iso(nextFireTime('0 30 2 * * *', Date.UTC(2026, 2, 8, 5), tz)),
      '2026-03-09T06:30:00.000Z',
    );
  });

  it('fires both occurrences of wall times the autumn change repeats (2026-11-01, 02:00 EDT → 01:00 EST)', () => {
    assert.equal(
      iso(nextFireTime('0 * * * * *', Date.UTC(2026, 10, 1, 5, 59), tz)),
      '2026-11-01T06:00:00.000Z',
    );
    const runs: Array<string | null> = [];
    let at: number | null = Date.UTC(2026, 10, 1, 4);
    for (let i = 0; i < 3 && at !== null; i++) {
      at = nextFireTime('0 30 1 * * *', at, tz);
      runs.push(iso(at));
    }
    assert.deepEqual(runs, [
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });
});

describe('intervalOf', () => {
  it('is the gap between the next two fires', () => {
    assert.equal(intervalOf('*/60 * * * * *', Date.UTC(2026, 0, 1, 0, 0, 10)), 60_000);
    assert.equal(intervalOf('*/10 * * * * *', Date.UTC(2026, 0, 1)), 10_000);
    assert.equal(intervalOf('0 0 9,17 * * *', Date.UTC(2026, 0, 1, 8)), 8 * 3_600_000);
    assert.equal(intervalOf('0 0 9,17 * * *', Date.UTC(2026, 0, 1, 10)), 16 * 3_600_000);
  });

  it('is Infinity when the schedule fires fewer than twice within the horizon', () => {
    assert.equal(intervalOf('0 0 0 * 2 1#5', Date.UTC(2026, 0, 1)), Number.POSITIVE_INFINITY);
  });
});
