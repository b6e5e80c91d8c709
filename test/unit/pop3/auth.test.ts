import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  apopDigest,
  chooseAuth,
  decodeChallenge,
  describeBearerError,
  encodeInitialResponse,
  fitsInitialResponse,
  OAUTHBEARER_DUMMY_RESPONSE,
  oauthBearer,
  saslLoginResponses,
  saslPlain,
  xoauth2,
} from '../../../src/pop3/auth.js';
import { Pop3Error } from '../../../src/pop3/errors.js';
import { emptyCapabilities, parseCapa } from '../../../src/pop3/responses.js';

describe('apopDigest', () => {
  it('matches the RFC 1939 §7 example', () => {
    assert.equal(
      apopDigest('<1896.697170952@dbc.mtview.ca.us>', 'tanstaaf'),
      'c4c9334bac560ecc979e58001b3e22fb',
    );
  });

  it('hashes a non-ASCII secret as UTF-8', () => {
    // md5("<1@x>" + "é" as UTF-8 0xc3 0xa9)
    assert.equal(apopDigest('<1@x>', 'é'), 'ec75271551fe134e05e1cb06f7de690a');
  });
});

describe('SASL encodings', () => {
  it('encodes PLAIN as authzid NUL user NUL pass (RFC 4616 §2)', () => {
    assert.equal(saslPlain('tim', 'tanstaaftanstaaf'), 'AHRpbQB0YW5zdGFhZnRhbnN0YWFm');
    assert.equal(
      Buffer.from(saslPlain('Kurt', 'xipj3plmq', 'Ursel'), 'base64').toString('utf8'),
      'Ursel\0Kurt\0xipj3plmq',
    );
    assert.equal(Buffer.from(saslPlain('ü', 'ß'), 'base64').toString('hex'), '00c3bc00c39f');
  });

  it('refuses a NUL inside PLAIN fields without echoing them', () => {
    assert.throws(
      () => saslPlain('a', 'se\0cret'),
      (error: unknown) =>
        error instanceof Pop3Error && error.code === 'auth' && !error.message.includes('cret'),
    );
    assert.throws(() => saslPlain('a\0b', 'p'), Pop3Error);
    assert.throws(() => saslPlain('a', 'p', 'z\0'), Pop3Error);
  });

  it('encodes LOGIN as two base64 answers', () => {
    assert.deepEqual(saslLoginResponses('tim', 'tanstaaf'), ['dGlt', 'dGFuc3RhYWY=']);
  });

  it('encodes XOAUTH2 as Google documents it', () => {
    assert.equal(
      xoauth2('someuser@example.com', 'ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg'),
      'dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==',
    );
    assert.throws(() => xoauth2('u', 'to\x01ken'), Pop3Error);
  });

  it('sends an empty initial response as "=" (RFC 5034 §4)', () => {
    assert.equal(encodeInitialResponse(''), '=');
    assert.equal(encodeInitialResponse('dGlt'), 'dGlt');
  });
});

describe('fitsInitialResponse', () => {
  it('allows exactly 255 octets with CRLF (RFC 2449 §4)', () => {
    // "AUTH PLAIN " is 11 octets and CRLF 2: 242 octets of response fill the line.
    assert.equal(fitsInitialResponse('PLAIN', 'A'.repeat(242)), true);
    assert.equal(fitsInitialResponse('PLAIN', 'A'.repeat(243)), false);
    assert.equal(fitsInitialResponse('XOAUTH2', 'A'.repeat(240)), true);
    assert.equal(fitsInitialResponse('XOAUTH2', 'A'.repeat(241)), false);
  });

  it('counts the "=" of an empty response', () => {
    assert.equal(fitsInitialResponse('X'.repeat(246), ''), true);
    assert.equal(fitsInitialResponse('X'.repeat(247), ''), false);
  });

  it('refuses a typical OAuth token inline', () => {
    assert.equal(
      fitsInitialResponse('XOAUTH2', xoauth2('user@example.com', 't'.repeat(200))),
      false,
    );
    assert.equal(fitsInitialResponse('PLAIN', saslPlain('user@example.com', 'secret')), true);
  });
});

describe('decodeChallenge', () => {
  it('decodes base64 with or without padding', () => {
    assert.equal(decodeChallenge('VXNlcm5hbWU6'), 'Username:');
    assert.equal(decodeChallenge('UGFzc3dvcmQ6'), 'Password:');
    assert.equal(decodeChallenge('QQ=='), 'A');
    assert.equal(decodeChallenge('QQ'), 'A');
    assert.equal(decodeChallenge(' QUI= '), 'AB');
    assert.equal(decodeChallenge(''), '');
    assert.equal(decodeChallenge('='), '');
  });

  it('throws a protocol error on anything else', () => {
    for (const text of ['a', 'QQ=', 'QQ===', 'Q=Q=', 'QUJD==', '==', 'VX*l', 'VXNl cm5h']) {
      assert.throws(
        () => decodeChallenge(text),
        (error: unknown) => error instanceof Pop3Error && error.code === 'protocol',
        text,
      );
    }
  });
});

describe('chooseAuth', () => {
  const dovecot = parseCapa(['USER', 'SASL PLAIN LOGIN']);
  const loginOnly = parseCapa(['USER', 'SASL LOGIN CRAM-MD5']);
  const userOnly = parseCapa(['USER', 'TOP']);
  const oauthOnly = parseCapa(['SASL XOAUTH2']);

  it('prefers SASL PLAIN, then LOGIN, then USER on auto', () => {
    assert.equal(chooseAuth('auto', dovecot, true), 'plain');
    assert.equal(chooseAuth('auto', loginOnly, true), 'login');
    assert.equal(chooseAuth('auto', userOnly, true), 'user');
  });

  it('falls back to USER without CAPA or without a password mechanism', () => {
    assert.equal(chooseAuth('auto', emptyCapabilities(), false), 'user');
    assert.equal(chooseAuth('auto', oauthOnly, false), 'user');
  });

  it('never picks APOP on auto, even with a timestamp', () => {
    assert.equal(chooseAuth('auto', userOnly, true), 'user');
  });

  it('returns explicit choices as they are', () => {
    assert.equal(chooseAuth('plain', userOnly, false), 'plain');
    assert.equal(chooseAuth('login', emptyCapabilities(), false), 'login');
    assert.equal(chooseAuth('user', dovecot, false), 'user');
    assert.equal(chooseAuth('xoauth2', dovecot, false), 'xoauth2');
    assert.equal(chooseAuth('apop', emptyCapabilities(), true), 'apop');
  });

  it('returns null for APOP without a greeting timestamp', () => {
    assert.equal(chooseAuth('apop', dovecot, false), null);
  });
});

describe('OAUTHBEARER (RFC 7628) and the bearer error challenge', () => {
  const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

  it('encodes the GS2 header, host, port and token, each pair ended by ^A', () => {
    assert.equal(
      decode(
        oauthBearer(
          'user@example.com',
          'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==',
          'server.example.com',
          143,
        ),
      ),
      'n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01',
    );
  });

  it('escapes "," and "=" in the user name as =2C and =3D (RFC 5802 saslname)', () => {
    assert.match(decode(oauthBearer('a,b=c', 't', 'h', 1)), /^n,a=a=2Cb=3Dc,\x01/);
  });

  it('refuses a ^A in the user, token or host, naming no value', () => {
    for (const [user, token, host] of [
      ['u\x01', 't', 'h'],
      ['u', 't\x01', 'h'],
      ['u', 't', 'h\x01'],
    ] as const) {
      assert.throws(
        () => oauthBearer(user, token, host, 1),
        (e: unknown) => e instanceof Pop3Error && e.code === 'auth' && !e.message.includes('t\x01'),
      );
    }
  });

  it('the dummy response after an error challenge is base64 of a single ^A', () => {
    assert.equal(OAUTHBEARER_DUMMY_RESPONSE, 'AQ==');
  });

  it('describes the error JSON by its known fields only, printable and bounded', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
    assert.equal(
      describeBearerError(
        b64({ status: 'invalid_token', scope: 'mail', 'openid-configuration': 'x' }),
      ),
      'status invalid_token, scope mail',
    );
    assert.equal(
      describeBearerError(b64({ status: 401, schemes: 'bearer' })),
      'status 401, schemes bearer',
    );
    assert.equal(describeBearerError(b64({ status: 'a\u0000b' })), 'status a?b');
    assert.equal(
      describeBearerError(b64({ status: 'x'.repeat(500) })),
      `status ${'x'.repeat(120)}`,
    );
    assert.equal(describeBearerError(b64({ token: 'secret' })), null);
    assert.equal(describeBearerError(b64(['status'])), null);
    assert.equal(describeBearerError(Buffer.from('not json').toString('base64')), null);
    assert.equal(describeBearerError(''), null);
  });

  it('auto with a token picks OAUTHBEARER when offered, else XOAUTH2', () => {
    assert.equal(
      chooseAuth('auto', parseCapa(['SASL PLAIN OAUTHBEARER XOAUTH2']), false, true),
      'oauthbearer',
    );
    assert.equal(chooseAuth('auto', parseCapa(['SASL PLAIN XOAUTH2']), false, true), 'xoauth2');
    assert.equal(chooseAuth('auto', parseCapa([]), false, true), 'xoauth2');
    assert.equal(chooseAuth('xoauth2', parseCapa(['SASL OAUTHBEARER']), false, true), 'xoauth2');
  });
});
