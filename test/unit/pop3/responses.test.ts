import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pop3Error } from '../../../src/pop3/errors.js';
import {
  apopTimestamp,
  emptyCapabilities,
  type Header,
  MAX_HEADER_CHARS,
  MAX_HEADERS,
  messageTimestamp,
  parseCapa,
  parseHeaderBlock,
  parseResponseCode,
  parseStat,
  parseUidlLine,
  parseUidlLines,
  reasonForErr,
} from '../../../src/pop3/responses.js';

function assertProtocol(fn: () => unknown): void {
  assert.throws(fn, (error: unknown) => error instanceof Pop3Error && error.code === 'protocol');
}

describe('parseResponseCode', () => {
  it('splits a code from the text (RFC 2449 §8)', () => {
    assert.deepEqual(parseResponseCode('[IN-USE] Mailbox locked'), {
      code: 'IN-USE',
      text: 'Mailbox locked',
    });
  });

  it('keeps hierarchical codes and upper-cases them', () => {
    assert.deepEqual(parseResponseCode('[sys/temp] try later'), {
      code: 'SYS/TEMP',
      text: 'try later',
    });
    assert.deepEqual(parseResponseCode('[SYS/TEMP/QUOTA]'), { code: 'SYS/TEMP/QUOTA', text: '' });
  });

  it('returns no code when there is none or it is malformed', () => {
    assert.deepEqual(parseResponseCode('Mailbox locked'), { code: null, text: 'Mailbox locked' });
    assert.deepEqual(parseResponseCode('[] x'), { code: null, text: '[] x' });
    assert.deepEqual(parseResponseCode('[SYS/] x'), { code: null, text: '[SYS/] x' });
    assert.deepEqual(parseResponseCode('[IN USE] x'), { code: null, text: '[IN USE] x' });
    assert.deepEqual(parseResponseCode('[IN-USE x'), { code: null, text: '[IN-USE x' });
    assert.deepEqual(parseResponseCode('text [AUTH]'), { code: null, text: 'text [AUTH]' });
    assert.deepEqual(parseResponseCode('x[AUTH] y'), { code: null, text: 'x[AUTH] y' });
  });

  it('allows blanks before the code', () => {
    assert.deepEqual(parseResponseCode(' \t[AUTH] bad'), { code: 'AUTH', text: 'bad' });
  });
});

describe('reasonForErr', () => {
  it('maps the RFC 2449 and RFC 3206 codes in every context', () => {
    for (const context of ['greeting', 'auth', 'stls', 'command'] as const) {
      assert.equal(reasonForErr('[IN-USE] locked', context), 'in_use');
      assert.equal(reasonForErr('[LOGIN-DELAY] wait', context), 'login_delay');
      assert.equal(reasonForErr('[SYS/TEMP] later', context), 'server_temp');
      assert.equal(reasonForErr('[SYS/PERM] never', context), 'server_perm');
      assert.equal(reasonForErr('[AUTH] bad password', context), 'auth');
    }
  });

  it('reads an unknown sub-level as its parent', () => {
    assert.equal(reasonForErr('[SYS/TEMP/DISK] full', 'command'), 'server_temp');
    assert.equal(reasonForErr('[IN-USE/OTHER] x', 'auth'), 'in_use');
  });

  it('falls back to the context without a known code', () => {
    assert.equal(reasonForErr('Authentication failed.', 'auth'), 'auth');
    assert.equal(reasonForErr('Too many connections', 'greeting'), 'server_perm');
    assert.equal(reasonForErr('TLS not available', 'stls'), 'tls');
    assert.equal(reasonForErr('Unknown command', 'command'), 'protocol');
    assert.equal(reasonForErr('[SYS] vague', 'auth'), 'auth');
    assert.equal(reasonForErr('[X-VENDOR] odd', 'command'), 'protocol');
  });
});

describe('parseCapa', () => {
  it('parses a Dovecot-like pre-login capability list', () => {
    const caps = parseCapa([
      'CAPA',
      'TOP',
      'UIDL',
      'RESP-CODES',
      'PIPELINING',
      'AUTH-RESP-CODE',
      'STLS',
      'USER',
      'SASL PLAIN login',
    ]);
    assert.deepEqual(caps, {
      lines: [
        'CAPA',
        'TOP',
        'UIDL',
        'RESP-CODES',
        'PIPELINING',
        'AUTH-RESP-CODE',
        'STLS',
        'USER',
        'SASL PLAIN login',
      ],
      names: [
        'CAPA',
        'TOP',
        'UIDL',
        'RESP-CODES',
        'PIPELINING',
        'AUTH-RESP-CODE',
        'STLS',
        'USER',
        'SASL',
      ],
      sasl: ['PLAIN', 'LOGIN'],
      user: true,
      top: true,
      uidl: true,
      pipelining: true,
      stls: true,
      respCodes: true,
      authRespCode: true,
      loginDelaySeconds: null,
      expire: null,
      implementation: null,
    });
  });

  it('parses LOGIN-DELAY, EXPIRE and IMPLEMENTATION (RFC 2449 §6)', () => {
    const caps = parseCapa([
      '  LOGIN-DELAY 900 USER ',
      'expire never',
      'IMPLEMENTATION Shlemazle  Plotz-v302',
      'top',
    ]);
    assert.equal(caps.loginDelaySeconds, 900);
    assert.equal(caps.expire, 'NEVER');
    assert.equal(caps.implementation, 'Shlemazle  Plotz-v302');
    assert.deepEqual(caps.lines, [
      'LOGIN-DELAY 900 USER',
      'expire never',
      'IMPLEMENTATION Shlemazle  Plotz-v302',
      'top',
    ]);
    assert.deepEqual(caps.names, ['LOGIN-DELAY', 'EXPIRE', 'IMPLEMENTATION', 'TOP']);
    assert.equal(caps.top, true);
    assert.equal(caps.user, false);
    assert.equal(parseCapa(['EXPIRE 0']).expire, '0');
    assert.equal(parseCapa(['LOGIN-DELAY 0']).loginDelaySeconds, 0);
  });

  it('ignores a malformed LOGIN-DELAY value', () => {
    assert.equal(parseCapa(['LOGIN-DELAY']).loginDelaySeconds, null);
    assert.equal(parseCapa(['LOGIN-DELAY -5']).loginDelaySeconds, null);
    assert.equal(parseCapa(['LOGIN-DELAY 1e3']).loginDelaySeconds, null);
    assert.equal(parseCapa(['LOGIN-DELAY 99999999999999999']).loginDelaySeconds, null);
  });

  it('merges SASL lines, skips blank lines and lists each name once', () => {
    const caps = parseCapa(['SASL PLAIN', '', '\t', 'SASL XOAUTH2 plain', 'UIDL', 'uidl']);
    assert.deepEqual(caps.sasl, ['PLAIN', 'XOAUTH2']);
    assert.deepEqual(caps.names, ['SASL', 'UIDL']);
    assert.deepEqual(caps.lines, ['SASL PLAIN', 'SASL XOAUTH2 plain', 'UIDL', 'uidl']);
  });

  it('splits words on runs of blanks, trims every trailing blank, and takes EXPIRE alone as unknown', () => {
    const caps = parseCapa(['SASL PLAIN \t LOGIN', 'USER \t ', 'EXPIRE']);
    assert.deepEqual(caps.sasl, ['PLAIN', 'LOGIN']);
    assert.deepEqual(caps.lines, ['SASL PLAIN \t LOGIN', 'USER', 'EXPIRE']);
    assert.equal(caps.expire, null);
  });

  it('reads at most 1000 lines', () => {
    const lines = Array.from({ length: 1500 }, (_, i) => `X-CAP-${i}`);
    lines.push('STLS');
    const caps = parseCapa(lines);
    assert.equal(caps.lines.length, 1000);
    assert.equal(caps.stls, false);
  });

  it('equals emptyCapabilities for an empty list', () => {
    assert.deepEqual(parseCapa([]), emptyCapabilities());
    assert.deepEqual(emptyCapabilities(), {
      lines: [],
      names: [],
      sasl: [],
      user: false,
      top: false,
      uidl: false,
      pipelining: false,
      stls: false,
      respCodes: false,
      authRespCode: false,
      loginDelaySeconds: null,
      expire: null,
      implementation: null,
    });
  });
});

describe('parseStat', () => {
  it('parses the RFC 1939 example and extra words', () => {
    assert.deepEqual(parseStat('2 320'), { count: 2, octets: 320 });
    assert.deepEqual(parseStat('3 825 extra words'), { count: 3, octets: 825 });
    assert.deepEqual(parseStat(' 0  0 '), { count: 0, octets: 0 });
    assert.deepEqual(parseStat('9007199254740991 1'), { count: 9007199254740991, octets: 1 });
  });

  it('refuses what is not two non-negative safe integers', () => {
    for (const text of [
      '',
      '3',
      '3 x',
      '-1 5',
      '1.5 2',
      '0x10 2',
      '1e3 2',
      '+1 2',
      '9007199254740992 1',
    ]) {
      assertProtocol(() => parseStat(text));
    }
  });

  it('names the command in its error', () => {
    assert.throws(
      () => parseStat('nope'),
      (error: unknown) =>
        error instanceof Pop3Error &&
        error.command === 'STAT' &&
        error.message === 'malformed STAT reply: "nope"',
    );
  });
});

describe('malformed replies', () => {
  it('quote at most 80 characters of the reply in the error', () => {
    assert.throws(
      () => parseStat('x'.repeat(200)),
      (error: unknown) =>
        error instanceof Pop3Error && error.message === `malformed STAT reply: "${'x'.repeat(80)}"`,
    );
  });
});

describe('parseUidlLines', () => {
  it('accepts runs of blanks between the number and the uid', () => {
    assert.deepEqual(parseUidlLine('1 \t abc'), { n: 1, uid: 'abc' });
  });

  it('names the command and the line in its error', () => {
    assert.throws(
      () => parseUidlLine('0 abc'),
      (error: unknown) =>
        error instanceof Pop3Error &&
        error.code === 'protocol' &&
        error.command === 'UIDL' &&
        error.message === 'malformed UIDL line: "0 abc"',
    );
  });

  it('parses the RFC 1939 example', () => {
    assert.deepEqual(parseUidlLines(['1 whqtswO00WBw418f9t5JxYwZ', '2 QhdPYR:00WBw1Ph7x7']), [
      { n: 1, uid: 'whqtswO00WBw418f9t5JxYwZ' },
      { n: 2, uid: 'QhdPYR:00WBw1Ph7x7' },
    ]);
  });

  it('accepts uids of 1 and 70 characters across 0x21-0x7E', () => {
    const longest = '!'.repeat(35) + '~'.repeat(35);
    assert.deepEqual(parseUidlLines(['1 x', `2 ${longest}`]), [
      { n: 1, uid: 'x' },
      { n: 2, uid: longest },
    ]);
  });

  it('refuses uids that are empty, too long, or hold other bytes', () => {
    for (const line of [
      '1',
      '1 ',
      `1 ${'a'.repeat(71)}`,
      '1 a b',
      '1 caf\xe9',
      '1 a\x00',
      '0 abc',
      'x abc',
      '-1 abc',
    ]) {
      assertProtocol(() => parseUidlLines([line]));
    }
  });
});

describe('parseHeaderBlock', () => {
  it('reads headers up to the first empty line and unfolds continuations', () => {
    const lines = [
      'Received: from a.example by b.example;',
      '\tTue, 1 Jul 2003 10:52:37 +0200',
      'Subject: a long',
      '  subject',
      'X-Empty:',
      'date : Tue, 1 Jul 2003 10:52:37 +0200',
      '',
      'Body: not a header',
    ];
    assert.deepEqual(parseHeaderBlock(lines), [
      { name: 'Received', value: 'from a.example by b.example;\tTue, 1 Jul 2003 10:52:37 +0200' },
      { name: 'Subject', value: 'a long  subject' },
      { name: 'X-Empty', value: '' },
      { name: 'date', value: 'Tue, 1 Jul 2003 10:52:37 +0200' },
    ]);
  });

  it('skips lines that are not fields and continuations without a field', () => {
    assert.deepEqual(
      parseHeaderBlock([' orphan', 'From sender Tue Jul  1 10:52:37 2003', 'no colon', 'A: 1']),
      [{ name: 'A', value: '1' }],
    );
  });

  it('keeps NUL and 8-bit bytes', () => {
    assert.deepEqual(parseHeaderBlock(['X-\xe9: a\x00b\xff']), [
      { name: 'X-\xe9', value: 'a\x00b\xff' },
    ]);
  });

  it('skips a line without a colon', () => {
    assert.deepEqual(parseHeaderBlock(['Subject: x', 'garbage', 'To: y']), [
      { name: 'Subject', value: 'x' },
      { name: 'To', value: 'y' },
    ]);
  });

  it('caps a value at MAX_HEADER_CHARS, on one line or folded', () => {
    const [long] = parseHeaderBlock([`X:${'v'.repeat(70_000)}`]);
    assert.equal(long?.value.length, MAX_HEADER_CHARS);
    const fold = ` ${'w'.repeat(40_000)}`;
    const [folded] = parseHeaderBlock(['X: a', fold, fold, fold]);
    assert.equal(folded?.value.length, MAX_HEADER_CHARS - 1); // the leading blank trimmed
  });

  it('stops after 1000 headers', () => {
    const lines = Array.from({ length: 1200 }, (_, i) => `X-${i}: v`);
    const headers = parseHeaderBlock(lines);
    assert.equal(headers.length, MAX_HEADERS);
    assert.deepEqual(headers[999], { name: 'X-999', value: 'v' });
  });
});

describe('messageTimestamp', () => {
  const at = (name: string, value: string): Header => ({ name, value });

  it('reads Date: in RFC 5322 form', () => {
    assert.equal(messageTimestamp([at('Date', 'Tue, 1 Jul 2003 10:52:37 +0200')]), 1057049557);
    assert.equal(messageTimestamp([at('DATE', '1 Jul 2003 10:52 -0000')]), 1057056720);
  });

  it('reads comments, named and obsolete zones, and two-digit years (RFC 5322 §4.3)', () => {
    assert.equal(
      messageTimestamp([at('Date', 'Mon, 2 Jan 2006 15:04:05 +0000 (UTC)')]),
      1136214245,
    );
    assert.equal(
      messageTimestamp([at('Date', 'Thu, 13 Feb 1969 23:32:54 -0330 (Newfoundland Time)')]),
      -27723426,
    );
    assert.equal(messageTimestamp([at('Date', 'Fri, 21 Nov 97 09:55:06 GMT')]), 880106106);
    assert.equal(messageTimestamp([at('Date', '2 Jan 06 15:04:05 EST')]), 1136232245);
    assert.equal(messageTimestamp([at('Date', '2 Jan 2006 15:04:05 Z')]), 1136214245);
    assert.equal(messageTimestamp([at('Date', 'Tue, 1 Jul 2003 10:52:37 +0200 CEST')]), 1057049557);
  });

  it('reads the asctime and ISO 8601 forms some mailers write', () => {
    assert.equal(messageTimestamp([at('Date', 'Tue Jul  1 10:52:37 2003')]), 1057056757);
    assert.equal(messageTimestamp([at('Date', '2003-07-01T10:52:37+02:00')]), 1057049557);
  });

  it('finds Date: among other fields', () => {
    assert.equal(
      messageTimestamp([at('Subject', 'hi'), at('Date', 'Tue, 1 Jul 2003 10:52:37 +0200')]),
      1057049557,
    );
  });

  it('reads a Received: date only after a semicolon', () => {
    assert.equal(messageTimestamp([at('Received', 'Tue, 1 Jul 2003 00:00:00 +0000')]), null);
  });

  it('falls back to the first Received: when Date: is absent or unreadable', () => {
    const received = [
      at('Received', 'from b by c; Wed, 2 Jul 2003 00:00:00 +0000'),
      at('Received', 'from a by b; Tue, 1 Jul 2003 00:00:00 +0000'),
    ];
    assert.equal(messageTimestamp(received), 1057104000);
    assert.equal(messageTimestamp([at('Date', 'yesterday'), ...received]), 1057104000);
    assert.equal(
      messageTimestamp([at('Received', 'from x (by; y) id 1; Wed, 2 Jul 2003 00:00:00 +0000')]),
      1057104000,
    );
  });

  it('returns null when nothing parses', () => {
    assert.equal(messageTimestamp([]), null);
    assert.equal(messageTimestamp([at('Date', '1')]), null);
    assert.equal(messageTimestamp([at('Date', 'foo 12')]), null);
    assert.equal(messageTimestamp([at('Date', '31 Feb 2003 10:00 +0000')]), null);
    assert.equal(messageTimestamp([at('Date', '1 Jul 2003 24:00 +0000')]), null);
    assert.equal(messageTimestamp([at('Date', '1 Jul 2003 10:00 +0260')]), null);
    assert.equal(messageTimestamp([at('Date', '1 Jul 2003 10:00 +0000 (open')]), null);
    assert.equal(messageTimestamp([at('Received', 'from a by b')]), null);
    assert.equal(messageTimestamp([at('Received', 'from a; not a date')]), null);
  });
});

describe('apopTimestamp', () => {
  it('finds the RFC 1939 example timestamp', () => {
    assert.equal(
      apopTimestamp('+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>'),
      '<1896.697170952@dbc.mtview.ca.us>',
    );
  });

  it('takes the last msg-id and ignores brackets without @', () => {
    assert.equal(apopTimestamp('POP3 <host> ready <a@b> <1.2@c>'), '<1.2@c>');
    assert.equal(apopTimestamp('Dovecot ready. <x y@z>'), null);
    assert.equal(apopTimestamp('Dovecot ready.'), null);
    assert.equal(apopTimestamp('<no-at-sign>'), null);
  });
});
