import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactSecrets } from '../../../src/probe/redact.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import { Secret } from '../../../src/secret.js';

function failed(message: string, response: string | null): ProbeResult {
  return {
    mailbox: 'b',
    success: false,
    messages: null,
    size_bytes: null,
    phases: {},
    capabilities: [],
    error: { code: 'auth', message, response, command: 'PASS', phase: 'auth' },
    started_at: 0,
    uidl_count: null,
    oldest_message_timestamp: null,
    tls: null,
    auth_method: null,
    login_delay_seconds: null,
    pipelined: false,
  };
}

const plainBlob = (user: string, pass: string) =>
  Buffer.from(`\0${user}\0${pass}`).toString('base64');

describe('redactSecrets', () => {
  it("masks another mailbox's password that a server quotes in this one's reply", () => {
    const own = new Secret('own-secret-1');
    const other = new Secret('other-mailbox-pw');
    const result = redactSecrets(
      failed('login refused: -ERR other-mailbox-pw is wrong', '-ERR other-mailbox-pw is wrong'),
      [own, other],
    );
    assert.equal(result.error?.message, 'login refused: -ERR *** is wrong');
    assert.equal(result.error?.response, '-ERR *** is wrong');
  });

  it('masks a SASL PLAIN blob in the message and the response (maskSecrets: secret.test.ts)', () => {
    const blob = plainBlob('u', 'zz-second-pw');
    const result = redactSecrets(failed(`-ERR bad ${blob}`, `-ERR ${blob}`), [
      new Secret('zz-second-pw'),
    ]);
    assert.equal(result.error?.message, '-ERR bad ***');
    assert.equal(result.error?.response, '-ERR ***');
  });

  it('leaves text without a secret alone, and a successful result untouched', () => {
    const secrets = [new Secret('abc-secret')];
    assert.equal(
      redactSecrets(failed('-ERR [AUTH] Authentication failed', null), secrets).error?.message,
      '-ERR [AUTH] Authentication failed',
    );
    const ok = { ...failed('', null), success: true, error: null };
    assert.equal(redactSecrets(ok, secrets), ok);
  });
});
