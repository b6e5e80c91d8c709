import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMailDate } from '../../../src/pop3/mail-date.js';

describe('parseMailDate years (RFC 5322 section 4.3)', () => {
  it('reads two-digit years 00-49 as 20xx and 50-99 as 19xx, at both edges', () => {
    assert.equal(parseMailDate('1 Jan 00 00:00:00 +0000'), 946_684_800); // 2000-01-01
    assert.equal(parseMailDate('31 Dec 49 23:59:59 +0000'), 2_524_607_999); // 2049-12-31
    assert.equal(parseMailDate('1 Jan 50 00:00:00 +0000'), -631_152_000); // 1950-01-01
    assert.equal(parseMailDate('31 Dec 99 00:00:00 +0000'), 946_598_400); // 1999-12-31
  });

  it('adds 1900 to a three-digit year, and takes a four-digit one as written', () => {
    assert.equal(parseMailDate('1 Jan 103 00:00:00 +0000'), 1_041_379_200); // 2003-01-01
    assert.equal(parseMailDate('1 Jan 2003 00:00:00 +0000'), 1_041_379_200);
    assert.equal(parseMailDate('1 Jan 1900 00:00:00 +0000'), -2_208_988_800);
  });

  it('refuses a one-digit year and years before 1900', () => {
    assert.equal(parseMailDate('1 Jan 5 00:00:00 +0000'), null);
    assert.equal(parseMailDate('31 Dec 1899 00:00:00 +0000'), null);
  });
});
