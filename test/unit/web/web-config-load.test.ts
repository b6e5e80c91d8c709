import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebConfigError } from '../../../src/web/web-config-error.js';
import { parseWebConfig } from '../../../src/web/web-config-load.js';
import { TLS_DIR, tlsText } from '../../fixtures/web-tls.js';

function load(yaml: string) {
  return parseWebConfig(yaml, { source: join(TLS_DIR, 'web.yml') });
}

const SERVER = 'tls_server_config:\n  cert_file: localhost.pem\n  key_file: localhost.key\n';

/** YAML block scalar of a PEM text, indented for a key at two spaces. */
function block(pem: string): string {
  return `|\n${pem
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n')}\n`;
}

describe('loadWebConfig: what Node is told', () => {
  it('each client_auth_type becomes requestCert / rejectUnauthorized', () => {
    const rows = [
      'NoClientCert',
      'RequestClientCert',
      'RequireAnyClientCert',
      'VerifyClientCertIfGiven',
      'RequireAndVerifyClientCert',
    ].map((mode) => {
      const ca = mode.includes('Verify') ? '  client_ca_file: ca.pem\n' : '';
      const tls = load(`${SERVER}  client_auth_type: ${mode}\n${ca}`).tls;
      return [mode, tls?.requestCert, tls?.rejectUnauthorized];
    });
    assert.deepEqual(rows, [
      ['NoClientCert', false, false],
      ['RequestClientCert', true, false],
      ['RequireAnyClientCert', true, false],
      ['VerifyClientCertIfGiven', true, false],
      ['RequireAndVerifyClientCert', true, true],
    ]);
  });

  it('the secure context options: versions, suites in OpenSSL names (TLS 1.3 kept), curves, order', () => {
    const tls = load(
      `${SERVER}  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  curve_preferences: [X25519, CurveP521]\n  prefer_server_cipher_suites: false\n`,
    ).tls;
    const options = tls?.contextOptions();
    assert.equal(options?.minVersion, 'TLSv1.3');
    assert.equal(options?.maxVersion, 'TLSv1.3');
    assert.equal(
      options?.ciphers,
      'ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256',
    );
    assert.equal(options?.ecdhCurve, 'X25519:P-521');
    assert.equal(options?.honorCipherOrder, false);
    assert.equal(options?.key, tlsText('localhost.key').trimEnd());
    assert.equal(tls?.certificate.serial, '1001');
  });

  it("defaults as in the toolkit: TLS 1.2 to 1.3, server order, Node's suites and curves", () => {
    const options = load(SERVER).tls?.contextOptions();
    assert.deepEqual(
      [
        options?.minVersion,
        options?.maxVersion,
        options?.honorCipherOrder,
        options?.ciphers,
        options?.ecdhCurve,
      ],
      ['TLSv1.2', 'TLSv1.3', true, undefined, undefined],
    );
  });

  it('inline cert, key and client_ca work like the files', () => {
    const tls = load(
      `tls_server_config:\n  cert: ${block(tlsText('localhost2.pem'))}  key: ${block(tlsText('localhost2.key'))}  client_auth_type: VerifyClientCertIfGiven\n  client_ca: ${block(tlsText('ca.pem'))}`,
    ).tls;
    assert.equal(tls?.certificate.serial, '1005');
    assert.equal(tls?.contextOptions().ca, `${tlsText('ca.pem').trimEnd()}\n`);
  });

  it('an inline key that does not match: named, never shown', () => {
    const key = tlsText('wronghost.key');
    assert.throws(
      () => load(`tls_server_config:\n  cert_file: localhost.pem\n  key: ${block(key)}`),
      (error: unknown) =>
        error instanceof WebConfigError &&
        error.message === 'tls_server_config.key: does not match the certificate in cert_file' &&
        !error.message.includes('PRIVATE'),
    );
  });

  it('the files to watch: the web config and every file it names, resolved', () => {
    const settings = load(
      `${SERVER}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n`,
    );
    assert.deepEqual(settings.files, [
      join(TLS_DIR, 'web.yml'),
      join(TLS_DIR, 'localhost.pem'),
      join(TLS_DIR, 'localhost.key'),
      join(TLS_DIR, 'ca.pem'),
    ]);
  });

  it('check-config sees the settings with hashes and the inline key masked', () => {
    const hash = '$2y$04$7wD8pc1Dd3c0w7Ptyq5IEe0UKiS47N6Eh0NwlWK.65dPcNZqghpcK';
    const settings = load(
      `tls_server_config:\n  cert_file: localhost.pem\n  key: ${block(tlsText('localhost.key'))}basic_auth_users:\n  bob: ${hash}\nrate_limit:\n  interval: 2s\n  burst: 5\n`,
    );
    const shown = JSON.stringify(settings.data);
    assert.ok(!shown.includes(hash));
    assert.ok(!shown.includes('PRIVATE KEY'));
    assert.deepEqual(settings.data.basic_auth_users, { bob: '***' });
    assert.equal(settings.data.tls_server_config?.key, '***');
    assert.deepEqual(settings.rateLimit, { intervalMs: 2_000, burst: 5 });
    assert.equal(settings.users.get('bob')?.reveal(), hash);
  });

  it('reads certificate files through the injected reader', () => {
    const read: string[] = [];
    parseWebConfig(SERVER, {
      source: '/etc/pop3-monitor/web.yml',
      readFile: (path) => {
        read.push(path);
        return tlsText(path.endsWith('.pem') ? 'localhost.pem' : 'localhost.key');
      },
    });
    assert.deepEqual(read, ['/etc/pop3-monitor/localhost.pem', '/etc/pop3-monitor/localhost.key']);
  });
});

describe('config/web.yml, the shipped example', () => {
  it('loads, with its file names standing for real certificates', () => {
    const example = fileURLToPath(new URL('../../../config/web.yml', import.meta.url));
    const stand: Record<string, string> = {
      'tls.crt': 'localhost.pem',
      'tls.key': 'localhost.key',
      'client-ca.crt': 'ca.pem',
    };
    const settings = parseWebConfig(readFileSync(example, 'utf8'), {
      source: example,
      readFile: (path) => tlsText(stand[basename(path)] ?? 'missing'),
    });
    assert.equal(settings.tls?.clientAuth, 'VerifyClientCertIfGiven');
    assert.deepEqual([...settings.users.keys()], ['prometheus']);
    assert.deepEqual(settings.headers, { 'Strict-Transport-Security': 'max-age=31536000' });
  });
});

describe('the README web.yml example', () => {
  it('loads, with its file names standing for real certificates', () => {
    const readme = readFileSync(
      fileURLToPath(new URL('../../../README.md', import.meta.url)),
      'utf8',
    );
    const block = /```yaml\n# web\.yml[^\n]*\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'the README has a ```yaml block starting with # web.yml');
    const stand: Record<string, string> = {
      'tls.crt': 'localhost.pem',
      'tls.key': 'localhost.key',
      'client-ca.crt': 'ca.pem',
    };
    const settings = parseWebConfig(block, {
      source: '/etc/pop3-monitor/web.yml',
      readFile: (path) => tlsText(stand[basename(path)] ?? 'missing'),
    });
    assert.equal(settings.tls?.clientAuth, 'RequireAndVerifyClientCert');
    assert.equal(settings.users.size, 1);
  });
});
