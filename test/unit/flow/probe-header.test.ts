import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseProbeHeader,
  probeHeaderValue,
  verifyProbeHeader,
} from '../../../src/flow/probe-header.js';
import { Secret } from '../../../src/secret.js';

const KEY = new Secret('a-loop-key-of-32-characters-here');
const STAMP = { loop: 'support-loop', seq: 12, sent: 1767225600123 };

describe('the probe header', () => {
  it('is the canonical fields and the hex HMAC-SHA256 over them', () => {
    // printf 'loop=support-loop; seq=12; sent=1767225600123' | openssl dgst -sha256 -hmac KEY
    assert.equal(
      probeHeaderValue(STAMP, KEY),
      'loop=support-loop; seq=12; sent=1767225600123; sig=7edbaca750ca5018d214807e9cbb5eee64c64046b999623db0bdf43648ab9f62',
    );
    const parsed = parseProbeHeader(probeHeaderValue(STAMP, KEY));
    assert.deepEqual({ ...parsed, sig: undefined }, { ...STAMP, sig: undefined });
    assert.ok(parsed && verifyProbeHeader(parsed, KEY));
  });

  it('verifies after folding and unfolding (blanks where the line was broken)', () => {
    const folded = probeHeaderValue(STAMP, KEY)
      .replace('; sig=', ';  \t sig=')
      .replace('seq=', 'seq = ');
    const parsed = parseProbeHeader(folded);
    assert.ok(parsed && verifyProbeHeader(parsed, KEY));
  });

  it('does not verify with another key, or with any field changed', () => {
    const value = probeHeaderValue(STAMP, KEY);
    const parsed = parseProbeHeader(value);
    assert.ok(parsed);
    assert.equal(verifyProbeHeader(parsed, new Secret('another-key-of-32-characters-xx')), false);
    for (const changed of [
      value.replace('seq=12', 'seq=13'),
      value.replace('loop=support-loop', 'loop=support-lool'),
      value.replace('sent=1767225600123', 'sent=1767225600124'),
    ]) {
      const other = parseProbeHeader(changed);
      assert.ok(other);
      assert.equal(verifyProbeHeader(other, KEY), false, changed);
    }
  });

  it('refuses what a loop never writes', () => {
    for (const value of [
      '',
      'loop=a; seq=1; sent=2',
      'loop=a b; seq=1; sent=2; sig=' + '0'.repeat(64),
      'seq=1; loop=a; sent=2; sig=' + '0'.repeat(64),
      'loop=a; seq=1; sent=2; sig=' + '0'.repeat(63),
      'loop=a; seq=x; sent=2; sig=' + '0'.repeat(64),
    ]) {
      assert.equal(parseProbeHeader(value), null, value);
    }
  });
});
