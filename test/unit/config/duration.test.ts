import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatDuration,
  humanDuration,
  MAX_DURATION_MS,
  parseDuration,
} from '../../../src/config/duration.js';
import { durationMs } from '../../../src/config/schema.js';

describe('parseDuration', () => {
  const good: [string | number, number][] = [
    ['500ms', 500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['4h', 14_400_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1m30s500ms', 90_500],
    ['1.5s', 1500],
    ['0s', 0],
    [' 10s ', 10_000],
    ['10', 10_000],
    ['2.5', 2500],
    ['1.25', 1250],
    ['1.25s', 1250],
    [10, 10_000],
    [0.25, 250],
    [0, 0],
  ];
  for (const [input, ms] of good) {
    it(`reads ${JSON.stringify(input)} as ${ms} ms`, () => assert.equal(parseDuration(input), ms));
  }

  const bad: (string | number)[] = [
    '',
    's',
    '10 s',
    '10x',
    '-5s',
    '-5',
    '1.5.5s',
    '10seconds',
    'ms10',
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    1e308,
    '9'.repeat(400),
    `${'9'.repeat(400)}h`,
  ];
  for (const input of bad) {
    it(`refuses ${JSON.stringify(String(input)).slice(0, 40)}`, () =>
      assert.equal(parseDuration(input), null));
  }
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [10_000, '10s'],
    [90_000, '1m30s'],
    [14_400_000, '4h'],
    [90_061_001, '1d1h1m1s1ms'],
  ];
  for (const [ms, text] of cases) {
    it(`shows ${ms} ms as ${text}`, () => assert.equal(formatDuration(ms), text));
  }

  it('round-trips through parseDuration for every whole number of ms up to the maximum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_DURATION_MS }), (ms) => {
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
      { numRuns: 300 },
    );
  });
});

describe('humanDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [59.9, '59s'],
    [60, '1m 0s'],
    [303, '5m 3s'],
    [7204.56299996376, '2h 0m'],
    [7260, '2h 1m'],
    [3_599, '59m 59s'],
    [3_600, '1h 0m'],
    [86_399, '23h 59m'],
    [86_400, '1d 0h'],
    [86_400 * 3 + 4 * 3600 + 59, '3d 4h'],
    [-5, '0s'],
    [Number.NaN, '0s'],
  ];
  for (const [seconds, text] of cases) {
    it(`shows ${seconds} s as ${text}`, () => assert.equal(humanDuration(seconds), text));
  }
});

describe('durationMs (schema)', () => {
  it('accepts up to 24d and refuses longer, since Node timers overflow', () => {
    assert.deepEqual(durationMs.safeParse('24d').data, MAX_DURATION_MS);
    assert.equal(durationMs.safeParse('24d1ms').error?.issues[0]?.message, 'expected at most 24d');
  });

  it('refuses a non-duration without echoing it', () => {
    assert.equal(
      durationMs.safeParse('hunter2').error?.issues[0]?.message,
      'expected a duration such as 10s, 5m or 4h',
    );
    assert.equal(
      durationMs.safeParse(true).error?.issues[0]?.message,
      'expected a duration such as 10s, 5m or 4h',
    );
  });
});
