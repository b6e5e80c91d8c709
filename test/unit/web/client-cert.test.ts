import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { clientVerdict, subjectAltNames } from '../../../src/web/client-cert.js';
import { tlsText } from '../../fixtures/web-tls.js';

const client = new X509Certificate(tlsText('client.pem'));

describe('subjectAltNames', () => {
  it('DNS, URI, e-mail and IP names of a real certificate', () => {
    assert.deepEqual(subjectAltNames(client), [
      'prometheus.example',
      'spiffe://example/prometheus',
      'prometheus@example.com',
      '0:0:0:0:0:0:0:1',
    ]);
  });

  it('quoted values with commas, and types that do not count', () => {
    const fake = {
      subjectAltName:
        'DNS:a.example, URI:"https://x.example/a,b", DirName:CN=x, othername:1.2.3;UTF8:y, email:"q\\"uote@example.com"',
    } as X509Certificate;
    assert.deepEqual(subjectAltNames(fake), [
      'a.example',
      'https://x.example/a,b',
      'q"uote@example.com',
    ]);
    assert.deepEqual(subjectAltNames({ subjectAltName: undefined } as X509Certificate), []);
  });
});

describe('clientVerdict', () => {
  const none = { certificate: undefined, authorized: false };
  const good = { certificate: client, authorized: true };
  const foreign = { certificate: client, authorized: false };
  it('each mode with no certificate, a verified one and an unverified one', () => {
    const rows = (
      [
        'NoClientCert',
        'RequestClientCert',
        'RequireAnyClientCert',
        'VerifyClientCertIfGiven',
        'RequireAndVerifyClientCert',
      ] as const
    ).map((mode) => [
      mode,
      ...[none, good, foreign].map((peer) => {
        const verdict = clientVerdict(mode, undefined, peer);
        return verdict.ok ? 'ok' : verdict.reason;
      }),
    ]);
    assert.deepEqual(rows, [
      ['NoClientCert', 'ok', 'ok', 'ok'],
      ['RequestClientCert', 'ok', 'ok', 'ok'],
      ['RequireAnyClientCert', 'no_certificate', 'ok', 'ok'],
      ['VerifyClientCertIfGiven', 'ok', 'ok', 'unverified_certificate'],
      ['RequireAndVerifyClientCert', 'no_certificate', 'ok', 'unverified_certificate'],
    ]);
  });

  it('allowed SANs: exact names, IPv6 by value', () => {
    const mode = 'RequireAndVerifyClientCert';
    assert.deepEqual(clientVerdict(mode, ['prometheus@example.com'], good), { ok: true });
    assert.deepEqual(clientVerdict(mode, ['::1'], good), { ok: true });
    assert.deepEqual(clientVerdict(mode, ['Prometheus.example', 'prometheus'], good), {
      ok: false,
      reason: 'san_not_allowed',
    });
  });
});
