import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createWebServer, type WebServerHandle } from '../../../src/web/tls-server.js';
import { parseWebConfig, type WebSettings } from '../../../src/web/web-config-load.js';
import { handshake, TLS_DIR, tlsText } from '../../fixtures/web-tls.js';

/** Web settings from YAML text; file names relative to test/fixtures/tls. */
function settings(yaml: string): WebSettings {
  return parseWebConfig(yaml, { source: join(TLS_DIR, 'web.yml') });
}

const servers: WebServerHandle[] = [];
after(() => {
  for (const handle of servers) handle.server.close();
});

async function serve(web: WebSettings): Promise<{ port: number; handle: WebServerHandle }> {
  const handle = createWebServer(web, (_req, res) => res.end('ok\n'));
  servers.push(handle);
  await new Promise<void>((resolve) => handle.server.listen(0, '127.0.0.1', resolve));
  return { port: (handle.server.address() as AddressInfo).port, handle };
}

const SERVER = 'cert_file: localhost.pem\n  key_file: localhost.key';
const client = { cert: tlsText('client.pem'), key: tlsText('client.key') };
const foreignClient = { cert: tlsText('client-other.pem'), key: tlsText('client-other.key') };

function mode(type: string, extra = ''): WebSettings {
  const ca = type === 'NoClientCert' ? '' : '\n  client_ca_file: ca.pem';
  return settings(`tls_server_config:\n  ${SERVER}\n  client_auth_type: ${type}${ca}${extra}`);
}

describe('the HTTPS server: the five client_auth_type modes', () => {
  // What each mode does with no certificate, a verified one, and one from another CA.
  const table: Array<[string, [boolean, boolean, boolean]]> = [
    ['NoClientCert', [true, true, true]],
    ['RequestClientCert', [true, true, true]],
    ['RequireAnyClientCert', [false, true, true]],
    ['VerifyClientCertIfGiven', [true, true, false]],
    ['RequireAndVerifyClientCert', [false, true, false]],
  ];
  for (const [type, [none, good, foreign]] of table) {
    it(`${type}: without a certificate ${none ? 'served' : 'refused'}, with ours ${good ? 'served' : 'refused'}, with another CA's ${foreign ? 'served' : 'refused'}`, async () => {
      const { port } = await serve(mode(type));
      const outcomes = [
        await handshake(port),
        await handshake(port, client),
        await handshake(port, foreignClient),
      ];
      assert.deepEqual(
        outcomes.map((o) => o.ok),
        [none, good, foreign],
        JSON.stringify(outcomes),
      );
      for (const outcome of outcomes)
        if (outcome.ok) assert.equal(outcome.answer, 'HTTP/1.1 200 OK');
    });
  }

  it('RequireAndVerifyClientCert without a certificate fails in the handshake itself (TLS alert)', async () => {
    const { port } = await serve(mode('RequireAndVerifyClientCert'));
    const outcome = await handshake(port);
    assert.deepEqual(outcome, { ok: false, error: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
  });

  it('client_allowed_sans: a verified certificate must name one of them (an IPv6 name compares by value)', async () => {
    const allowed = await serve(
      mode('RequireAndVerifyClientCert', '\n  client_allowed_sans: [other.example, "0::1"]'),
    );
    assert.equal((await handshake(allowed.port, client)).ok, true);
    const uri = await serve(
      mode(
        'RequireAndVerifyClientCert',
        '\n  client_allowed_sans: ["spiffe://example/prometheus"]',
      ),
    );
    assert.equal((await handshake(uri.port, client)).ok, true);
    const refused = await serve(
      mode('VerifyClientCertIfGiven', '\n  client_allowed_sans: [grafana.example]'),
    );
    assert.equal((await handshake(refused.port, client)).ok, false);
    // VerifyClientCertIfGiven: no certificate, no names to check.
    assert.equal((await handshake(refused.port)).ok, true);
  });
});

describe('the HTTPS server: versions, suites and rotation', () => {
  it('min_version TLS13 refuses a TLS 1.2 client; max_version TLS12 serves 1.2', async () => {
    const only13 = await serve(settings(`tls_server_config:\n  ${SERVER}\n  min_version: TLS13`));
    const old = await handshake(only13.port, { maxVersion: 'TLSv1.2' });
    assert.equal(old.ok, false);
    const only12 = await serve(settings(`tls_server_config:\n  ${SERVER}\n  max_version: TLS12`));
    const outcome = await handshake(only12.port);
    assert.equal(outcome.ok && outcome.protocol, 'TLSv1.2');
  });

  it('cipher_suites governs TLS 1.2 and leaves TLS 1.3 its suites, as in Go', async () => {
    const { port } = await serve(
      settings(
        `tls_server_config:\n  ${SERVER}\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]`,
      ),
    );
    const tls12 = await handshake(port, { maxVersion: 'TLSv1.2' });
    assert.equal(tls12.ok && tls12.cipher, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256');
    const refused = await handshake(port, {
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    });
    assert.equal(refused.ok, false);
    const tls13 = await handshake(port);
    assert.equal(tls13.ok && tls13.protocol, 'TLSv1.3');
  });

  it('a TLS 1.3 suite in the list restricts TLS 1.3 to the listed ones', async () => {
    const { port } = await serve(
      settings(`tls_server_config:\n  ${SERVER}\n  cipher_suites: [TLS_AES_128_GCM_SHA256]`),
    );
    const outcome = await handshake(port, {
      ciphers: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256',
    });
    assert.equal(outcome.ok && outcome.cipher, 'TLS_AES_128_GCM_SHA256');
    const refused = await handshake(port, { ciphers: 'TLS_AES_256_GCM_SHA384' });
    assert.equal(refused.ok, false);
  });

  it('curve_preferences: a client without the listed curve is refused', async () => {
    const { port } = await serve(
      settings(`tls_server_config:\n  ${SERVER}\n  curve_preferences: [CurveP384]`),
    );
    assert.equal((await handshake(port, { ecdhCurve: 'P-384' })).ok, true);
    assert.equal((await handshake(port, { ecdhCurve: 'X25519' })).ok, false);
  });

  it('apply(): new connections get the new certificate, no restart', async () => {
    const { port, handle } = await serve(mode('NoClientCert'));
    const before = await handshake(port);
    assert.equal(before.ok && before.serial, '1001');
    handle.apply(
      settings('tls_server_config:\n  cert_file: localhost2.pem\n  key_file: localhost2.key'),
    );
    const rotated = await handshake(port);
    assert.equal(rotated.ok && rotated.serial, '1005');
  });
});
