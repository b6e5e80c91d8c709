import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPerfData, formatPerfDatum, perfNumber } from '../../../src/check/perfdata.js';

describe('perfdata', () => {
  it('label=value[UOM];warn;crit;min;max, trailing empty fields left out', () => {
    assert.equal(
      formatPerfDatum({ label: 'messages', value: 3, uom: '', warn: '100', crit: '500', min: 0 }),
      'messages=3;100;500;0',
    );
    assert.equal(
      formatPerfDatum({ label: 'size', value: 1208, uom: 'B', min: 0 }),
      'size=1208B;;;0',
    );
    assert.equal(formatPerfDatum({ label: 'time', value: 0.0934, uom: 's' }), 'time=0.0934s');
  });

  it('quotes labels with other characters, doubling a quote', () => {
    assert.equal(formatPerfDatum({ label: "it's here", value: 1, uom: '' }), "'it''s here'=1");
  });

  it('numbers are plain decimals, never exponents', () => {
    assert.equal(perfNumber(1e-7), '0');
    assert.equal(perfNumber(0.000123456789), '0.000123');
    assert.equal(perfNumber(12345678), '12345678');
  });

  it('joins data with spaces', () => {
    assert.equal(
      formatPerfData([
        { label: 'a', value: 1, uom: '' },
        { label: 'b', value: 2, uom: 's', min: 0 },
      ]),
      'a=1 b=2s;;;0',
    );
  });
});
