import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { WebSettings } from '../../../src/web/web-config-load.js';
import { loadWebConfig } from '../../../src/web/web-config-load.js';
import { WebConfigWatcher } from '../../../src/web/web-config-watch.js';
import { poll } from '../../fixtures/poll.js';
import { tempFolder, tlsText } from '../../fixtures/web-tls.js';

const WEB = 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n';

function setUp(web = WEB) {
  const dir = tempFolder({
    'web.yml': web,
    'cert.pem': tlsText('localhost.pem'),
    'key.pem': tlsText('localhost.key'),
    'ca.pem': tlsText('ca.pem'),
  });
  const path = join(dir, 'web.yml');
  const reloads: WebSettings[] = [];
  const errors: string[] = [];
  const watcher = new WebConfigWatcher({
    path,
    initial: loadWebConfig(path),
    onReload: (next) => reloads.push(next),
    onError: (error) => errors.push(error.message),
  });
  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
  const serial = () => watcher.current.tls?.certificate.serial;
  return { dir, path, watcher, reloads, errors, write, serial };
}

describe('WebConfigWatcher', () => {
  it('reads a renewed certificate and key once they held still for one check', () => {
    const { watcher, reloads, errors, write, serial } = setUp();
    assert.equal(watcher.check(), 'unchanged');
    write('cert.pem', tlsText('localhost2.pem'));
    write('key.pem', tlsText('localhost2.key'));
    assert.equal(watcher.check(), 'settling');
    assert.equal(serial(), '1001');
    assert.equal(watcher.check(), 'reloaded');
    assert.equal(serial(), '1005');
    assert.equal(reloads.length, 1);
    assert.equal(watcher.check(), 'unchanged');
    assert.deepEqual(errors, []);
  });

  it('a certificate without its new key keeps the old pair, says so once, and takes the key when it comes', () => {
    const { watcher, reloads, errors, write, serial } = setUp();
    write('cert.pem', tlsText('localhost2.pem'));
    assert.equal(watcher.check(), 'settling');
    assert.equal(watcher.check(), 'failed');
    assert.equal(watcher.check(), 'unchanged');
    assert.deepEqual(errors, [
      'tls_server_config.key_file: does not match the certificate in cert_file',
    ]);
    assert.equal(serial(), '1001');
    write('key.pem', tlsText('localhost2.key'));
    assert.equal(watcher.check(), 'settling');
    assert.equal(watcher.check(), 'reloaded');
    assert.equal(serial(), '1005');
    assert.equal(reloads.length, 1);
  });

  it('an unreadable key file, then an invalid web.yml: the previous settings stay', () => {
    const { dir, watcher, errors, write, serial } = setUp();
    rmSync(join(dir, 'key.pem'));
    watcher.check();
    assert.equal(watcher.check(), 'failed');
    write('key.pem', tlsText('localhost.key'));
    watcher.check();
    assert.equal(watcher.check(), 'reloaded');
    write('web.yml', `${WEB}  client_ca_files: ca.pem\n`);
    watcher.check();
    assert.equal(watcher.check(), 'failed');
    assert.deepEqual(errors, [
      'tls_server_config.key_file: cannot read key.pem: no such file (ENOENT)',
      'tls_server_config.client_ca_files: unknown field',
    ]);
    assert.equal(serial(), '1001');
  });

  it('users and headers change at once; turning TLS off or changing client_auth_type takes a restart', () => {
    const { watcher, errors, write, reloads } = setUp();
    write('web.yml', `${WEB}http_server_config:\n  headers:\n    X-Frame-Options: deny\n`);
    watcher.check();
    assert.equal(watcher.check(), 'reloaded');
    assert.deepEqual(reloads[0]?.headers, { 'X-Frame-Options': 'deny' });
    write('web.yml', '');
    watcher.check();
    assert.equal(watcher.check(), 'failed');
    write(
      'web.yml',
      `${WEB}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n`,
    );
    watcher.check();
    assert.equal(watcher.check(), 'failed');
    assert.deepEqual(errors, [
      'tls_server_config: removed: turning TLS off takes a restart; the previous settings stay',
      'tls_server_config.client_auth_type: changed from NoClientCert to RequireAndVerifyClientCert: that takes a restart; the previous settings stay',
    ]);
    assert.equal(watcher.current.tls?.clientAuth, 'NoClientCert');
  });

  it('a Kubernetes secret update (the ..data symbolic link swapped) is seen through the links', () => {
    const dir = tempFolder();
    const version = (name: string, cert: string, key: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'tls.crt'), tlsText(cert));
      writeFileSync(join(dir, name, 'tls.key'), tlsText(key));
    };
    version('..v1', 'localhost.pem', 'localhost.key');
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir, 'tls.key'));
    writeFileSync(
      join(dir, 'web.yml'),
      'tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n',
    );
    const path = join(dir, 'web.yml');
    const watcher = new WebConfigWatcher({
      path,
      initial: loadWebConfig(path),
      onReload: () => {},
      onError: (error) => assert.fail(error.message),
    });
    version('..v2', 'localhost2.pem', 'localhost2.key');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    assert.equal(watcher.check(), 'settling');
    assert.equal(watcher.check(), 'reloaded');
    assert.equal(watcher.current.tls?.certificate.serial, '1005');
  });

  it('start() looks at the files on a timer; stop() ends it', async () => {
    const { watcher, write, serial } = setUp();
    const fast = new WebConfigWatcher({
      path: watcher.current.source,
      initial: watcher.current,
      intervalMs: 10,
      onReload: () => {},
      onError: () => {},
    });
    fast.start();
    write('cert.pem', tlsText('localhost2.pem'));
    write('key.pem', tlsText('localhost2.key'));
    await poll('the timer to read the renewed certificate', () =>
      fast.current.tls?.certificate.serial === '1005' ? true : undefined,
    );
    fast.stop();
    // The other watcher was never started: it still has the first reading.
    assert.equal(serial(), '1001');
  });
});
