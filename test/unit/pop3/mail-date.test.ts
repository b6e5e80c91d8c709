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

// 2003-07-01 10:52:37 UTC and 10:52:00 UTC (date -ud '2003-07-01 10:52:37 UTC' +%s).
const AT = 1_057_056_757;
const AT_MINUTE = 1_057_056_720;
const HOUR = 3600;

describe('parseMailDate zones', () => {
  it('reads every obsolete named zone with its own offset, in any case', () => {
    const expected: Array<[string, number]> = [
      ['UT', AT],
      ['utc', AT],
      ['GMT', AT],
      ['Z', AT],
      ['EST', AT + 5 * HOUR],
      ['EDT', AT + 4 * HOUR],
      ['CST', AT + 6 * HOUR],
      ['CDT', AT + 5 * HOUR],
      ['MST', AT + 7 * HOUR],
      ['MDT', AT + 6 * HOUR],
      ['PST', AT + 8 * HOUR],
      ['pdt', AT + 7 * HOUR],
    ];
    for (const [zone, at] of expected) {
      assert.equal(parseMailDate(`1 Jul 2003 10:52:37 ${zone}`), at, zone);
    }
  });

  it('reads numeric zones to the minute, and refuses minutes past 59', () => {
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0200'), AT - 2 * HOUR);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 -0330'), AT + 3 * HOUR + 1800);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0259'), AT - 2 * HOUR - 59 * 60);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0260'), null);
  });

  it('reads a military zone as -0000, but not J (no such zone)', () => {
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 A'), AT);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 Y'), AT);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 J'), null);
  });

  it('takes a zone only after the time, and only once; a zone name after it is ignored', () => {
    assert.equal(parseMailDate('1 Jul 2003 +0000 10:52:37'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0000 +0100'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0200 CEST'), AT - 2 * HOUR);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0200 abcdef'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0200 cest2'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37'), AT); // no zone: UTC
  });
});

describe('parseMailDate names, numbers and times', () => {
  it('reads day and month names in full, abbreviated, or with a dot', () => {
    assert.equal(parseMailDate('Tuesday, 1 July 2003 10:52:37 +0000'), AT);
    assert.equal(parseMailDate('Tue., 1 Jul. 2003 10:52:37 +0000'), AT);
    assert.equal(parseMailDate('Tue,1 Jul 2003 10:52:37 +0000'), AT);
    assert.equal(parseMailDate(', 1 Jul 2003 10:52:37 +0000'), AT);
    assert.equal(parseMailDate('1\tJul\t2003\t10:52:37\t+0000'), AT);
    assert.equal(parseMailDate('01 Jul 2003 10:52:37 +0000'), AT);
  });

  it('reads every month, and any day name (not checked against the date)', () => {
    // date -ud '2003-MM-01 00:00:00 UTC' +%s
    const firsts = [
      1_041_379_200, 1_044_057_600, 1_046_476_800, 1_049_155_200, 1_051_747_200, 1_054_425_600,
      1_057_017_600, 1_059_696_000, 1_062_374_400, 1_064_966_400, 1_067_644_800, 1_070_236_800,
    ];
    const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July'];
    months.push('August', 'September', 'October', 'November', 'December');
    for (const [i, month] of months.entries()) {
      assert.equal(parseMailDate(`1 ${month} 2003 00:00 +0000`), firsts[i], month);
      assert.equal(parseMailDate(`1 ${month.slice(0, 3)} 2003 00:00 +0000`), firsts[i], month);
    }
    for (const day of ['Mon', 'Tuesday', 'Wed', 'Thu', 'Fri', 'Saturday', 'Sunday', 'sat', 'sun']) {
      assert.equal(parseMailDate(`${day}, 1 Jul 2003 10:52:37 +0000`), AT, day);
    }
  });

  it('refuses a date without a month, a time, a day or a year', () => {
    assert.equal(parseMailDate('1 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003'), null);
    assert.equal(parseMailDate('1 Jul 10:52:37 +0000'), null);
  });

  it('refuses numbers and times with anything around the digits', () => {
    assert.equal(parseMailDate('+1 Jul 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003.0 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 x10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37x +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 x+0200'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +02000'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 bb'), null);
  });

  it('refuses a day name that is not first, a second month, time or stray word', () => {
    assert.equal(parseMailDate('1 Jul 2003 Tue 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul Aug 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 2 Jul 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Ju 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('Jul 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 +0000'), null);
  });

  it('refuses a three-digit day, day 0, hour 24, minute 60 and second 61; second 60 is a leap second', () => {
    assert.equal(parseMailDate('001 Jul 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('0 Jul 2003 10:52:37 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 23:59:59 +0000'), 1_057_103_999);
    assert.equal(parseMailDate('1 Jul 2003 10:60:00 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:60 +0000'), AT_MINUTE + 60);
    assert.equal(parseMailDate('1 Jul 2003 10:52:61 +0000'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52 +0000'), AT_MINUTE);
    assert.equal(parseMailDate('1 Jul 2003 1:52:37 +0000'), AT - 9 * HOUR);
  });
});

describe('parseMailDate comments, ISO 8601 and length', () => {
  it('strips nested comments and escaped parentheses, and a comment separates tokens', () => {
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0000 (a (nested) comment)'), AT);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0000 (a \\) escaped)'), AT);
    assert.equal(parseMailDate('1 Jul 2003(c)10:52:37 +0000'), AT);
  });

  it('refuses unbalanced parentheses, and a backslash outside a comment', () => {
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0000 )('), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0000 ((x)'), null);
    assert.equal(parseMailDate('1 Jul 2003 10:52:37 +0000 \\x'), null);
  });

  it('reads ISO 8601 with a space, a fraction or no seconds; refuses an impossible one', () => {
    assert.equal(parseMailDate('2003-07-01 10:52:37Z'), AT);
    assert.equal(parseMailDate('2003-07-01T10:52:37.5+02:00'), AT - 2 * HOUR);
    assert.equal(parseMailDate('2003-07-01t10:52z'), AT_MINUTE);
    assert.equal(parseMailDate(' 2003-07-01T10:52:37.55Z '), AT);
    assert.equal(parseMailDate('2003-07-01T10:52:37+0200'), AT - 2 * HOUR);
    assert.equal(parseMailDate('2003-13-01T10:52:37Z'), null);
    assert.equal(parseMailDate('2003-07-01T10:52:37'), null);
  });

  it('reads up to 256 characters and refuses longer text', () => {
    const date = '1 Jul 2003 10:52:37 +0000';
    assert.equal(parseMailDate(date.padEnd(256)), AT);
    assert.equal(parseMailDate(date.padEnd(257)), null);
  });
});
