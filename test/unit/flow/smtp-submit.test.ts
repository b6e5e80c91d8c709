import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoopConfig } from '../../../src/config/schema.js';
import { probeMail, submitReason } from '../../../src/flow/smtp-submit.js';
import { Secret } from '../../../src/secret.js';

function err(fields: Record<string, unknown>): Error {
  return Object.assign(new Error('x'), fields);
}

describe('SMTP submission of probe messages', () => {
  it('classifies failures with the probe reasons', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ code: 'ESOCKET', originalCode: 'ECONNREFUSED' }, 'connect'],
      [{ code: 'EDNS', originalCode: 'ENOTFOUND' }, 'dns'],
      [{ code: 'ETIMEDOUT' }, 'timeout'],
      [{ code: 'ETLS' }, 'tls'],
      [{ code: 'ESOCKET', originalCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'tls'],
      [{ code: 'ESOCKET', originalCode: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'tls'],
      [{ code: 'EAUTH', responseCode: 535 }, 'auth'],
      [{ code: 'EENVELOPE', responseCode: 550 }, 'server_perm'],
      [{ code: 'EMESSAGE', responseCode: 451 }, 'server_temp'],
      [{ code: 'ECONNECTION', originalCode: 'ECONNRESET' }, 'closed'],
      [{ code: 'EPROTOCOL' }, 'protocol'],
    ];
    for (const [fields, reason] of cases)
      assert.equal(submitReason(err(fields)), reason, JSON.stringify(fields));
  });

  it('the probe message: signed header, its own Message-ID, machine-made', () => {
    const loop = {
      name: 'l',
      from: 'Monitor <monitor@example.com>',
      to: 'support@example.com',
      hmac_key: new Secret('a-loop-key-of-32-characters-here'),
    } as LoopConfig;
    const mail = probeMail(loop, { loop: 'l', seq: 3, sent: 1767225600000 });
    assert.equal(mail.messageId, '<pop3-monitor.loop.l.3.1767225600000@example.com>');
    assert.equal(mail.subject, 'pop3-monitor delivery probe l #3');
    const headers = mail.headers as Record<string, string>;
    assert.match(
      headers['X-Pop3-Monitor-Probe'] ?? '',
      /^loop=l; seq=3; sent=1767225600000; sig=[0-9a-f]{64}$/,
    );
    assert.equal(headers['Auto-Submitted'], 'auto-generated');
  });
});
