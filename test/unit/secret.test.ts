import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { MASK, maskSecrets, Secret, secretMasker } from '../../src/secret.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('Secret', () => {
  it('shows *** in JSON, string conversion and inspect; reveal() gives the value', () => {
    const secret = new Secret('hunter22');
    assert.equal(MASK, '***');
    assert.equal(JSON.stringify({ password: secret }), '{"password":"***"}');
    assert.equal(`${secret}`, '***');
    assert.equal(inspect({ secret }), '{ secret: *** }');
    assert.equal(secret.reveal(), 'hunter22');
    assert.equal(secret.length, 8);
  });
});

describe('maskSecrets', () => {
  it('masks a secret as is and base64-encoded (an AUTH LOGIN echo)', () => {
    const text = `-ERR hunter22 refused; you sent ${b64('hunter22')}`;
    assert.equal(maskSecrets(text, [new Secret('hunter22')]), '-ERR *** refused; you sent ***');
  });

  it('masks a SASL PLAIN blob of any of the secrets, at any alignment, with or without authzid', () => {
    const secrets = [new Secret('aaa-1'), 'zz-second-pw'];
    for (const user of ['u', 'us', 'use']) {
      for (const blob of [b64(`\0${user}\0zz-second-pw`), b64(`${user}\0${user}\0zz-second-pw`)]) {
        assert.equal(maskSecrets(`-ERR bad ${blob} here`, secrets), '-ERR bad *** here', blob);
      }
    }
  });

  it('masks an XOAUTH2 blob carrying the token, and a blob quoted from its middle', () => {
    const blob = b64('user=u@example.com\x01auth=Bearer tok-123456\x01\x01');
    assert.equal(maskSecrets(`[${blob}]`, ['tok-123456']), '[***]');
    assert.equal(maskSecrets(`: ${blob.slice(1)}`, ['tok-123456']), ': ***');
  });

  it('masks a secret of 3 characters, in every form; one of 2 is left (it would mask words)', () => {
    const plain = b64('\0me\0abc');
    assert.equal(maskSecrets(`abc ${b64('abc')} ${plain}`, ['abc']), '*** *** ***');
    assert.equal(
      maskSecrets(`ab ${b64('ab')} ${b64('\0me\0ab')}`, ['ab']),
      `ab ${b64('ab')} ${b64('\0me\0ab')}`,
    );
  });

  it('leaves a text without a secret as it was, and ignores missing secrets', () => {
    const text = '-ERR [AUTH] Authentication failed (QUJD is base64)';
    assert.equal(maskSecrets(text, [new Secret('abc-secret'), undefined]), text);
    assert.equal(maskSecrets(text, []), text);
  });

  it('masks the longer of two secrets that start alike whole, and only what matches', () => {
    assert.equal(maskSecrets('x abcdef y', ['abc', 'abcdef']), 'x *** y');
    assert.equal(maskSecrets('x abcdef y', ['abcdef', 'abc']), 'x *** y');
    // Same first three characters, different secret: not masked.
    assert.equal(maskSecrets('-ERR abcxyz', ['abcdef']), '-ERR abcxyz');
  });

  it('masks a 3-character secret that ends the text', () => {
    assert.equal(maskSecrets('you sent: abc', ['abc']), 'you sent: ***');
  });

  it('decodes a blob too short for the longest secret when it can hold a shorter one', () => {
    const blob = b64('\0me\0abc');
    assert.equal(maskSecrets(`-ERR ${blob}`, ['abc', 'a-much-longer-secret-value']), '-ERR ***');
  });

  it('prepares a list once: the same list gives the same masker', () => {
    const list = ['hunter22'];
    assert.equal(secretMasker(list), secretMasker(list));
    assert.notEqual(secretMasker(list), secretMasker(['hunter22']));
  });
});
