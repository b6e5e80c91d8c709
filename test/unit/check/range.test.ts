import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeBreach,
  formatRange,
  parseRange,
  rangeAlerts,
  ThresholdError,
} from '../../../src/check/range.js';

const INF = Number.POSITIVE_INFINITY;

describe('parseRange: the Monitoring Plugins guidelines table', () => {
  // [range, values that alert, values that do not]
  const table: [string, number[], number[]][] = [
    ['10', [-1, 10.5, 11], [0, 5, 10]],
    ['10:', [-1, 9.99], [10, 11, 1e9]],
    ['~:10', [10.01, 11], [-1e9, 0, 10]],
    ['10:20', [9, 21], [10, 15, 20]],
    ['@10:20', [10, 15, 20], [9, 21]],
    ['0:0', [1, -1], [0]],
  ];
  for (const [text, alert, quiet] of table) {
    it(`${text} alerts on ${alert.join(', ')} and not on ${quiet.join(', ')}`, () => {
      const range = parseRange(text);
      for (const v of alert) assert.equal(rangeAlerts(range, v), true, `${v} should alert`);
      for (const v of quiet) assert.equal(rangeAlerts(range, v), false, `${v} should not alert`);
    });
  }

  it('parses the forms into start, end and inside', () => {
    assert.deepEqual(parseRange('10'), { start: 0, end: 10, inside: false });
    assert.deepEqual(parseRange('10:'), { start: 10, end: INF, inside: false });
    assert.deepEqual(parseRange('~:10'), {
      start: Number.NEGATIVE_INFINITY,
      end: 10,
      inside: false,
    });
    assert.deepEqual(parseRange('@1.5:2.5'), { start: 1.5, end: 2.5, inside: true });
    assert.deepEqual(parseRange('-5:-1'), { start: -5, end: -1, inside: false });
  });

  it('takes units and gives base units', () => {
    const age = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };
    assert.deepEqual(parseRange('2h', age), { start: 0, end: 7200, inside: false });
    assert.deepEqual(parseRange('30m:1d', age), { start: 1800, end: 86_400, inside: false });
    assert.deepEqual(parseRange('500ms', { '': 1, s: 1, ms: 0.001 }), {
      start: 0,
      end: 0.5,
      inside: false,
    });
  });

  for (const bad of ['', '@', 'x', '10:5', '1:2:3', '2x', '~', '1e3', '10 20']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseRange(bad, { '': 1, s: 1 }), ThresholdError);
    });
  }

  it('names the units it knows when one is unknown', () => {
    assert.throws(() => parseRange('2y', { '': 1, s: 1, m: 60 }), {
      message: '"2y" is not a threshold range (units: s, m)',
    });
  });
});

describe('formatRange and describeBreach', () => {
  const forms: [string, string][] = [
    ['10', '10'],
    ['10:', '10:'],
    ['~:10', '~:10'],
    ['10:20', '10:20'],
    ['@10:20', '@10:20'],
    ['@0:5', '@0:5'],
    ['0:10', '10'],
  ];
  for (const [text, shown] of forms) {
    it(`${text} is shown as ${shown}`, () => assert.equal(formatRange(parseRange(text)), shown));
  }

  it('in base units', () => {
    assert.equal(formatRange(parseRange('1h:', { '': 1, h: 3600 })), '3600:');
    assert.equal(formatRange(parseRange('100ms', { '': 1, ms: 0.001 })), '0.1');
  });

  it('says which side was crossed', () => {
    assert.equal(describeBreach(parseRange('500'), 600), '> 500');
    assert.equal(describeBreach(parseRange('10:'), 3, 's'), '< 10s');
    assert.equal(describeBreach(parseRange('@10:20'), 15), 'within 10..20');
  });
});
