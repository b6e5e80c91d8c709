/**
 * Helpers of the HTTPS tests: a small PKI made by `openssl` (a CA, a server certificate, a
 * second one for rotation, a client certificate, and a client certificate from an
 * unrelated CA), requests over node:https with or without a client certificate, and the
 * serial a new `openssl s_client` connection is served.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { requireBinary, run } from './shipping-support.js';

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** The renewed server certificate (another serial), for rotation. */
  server2Cert: string;
  server2Key: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate that does not verify (its CA is not the client CA). */
  strangerCert: string;
  strangerKey: string;
}

const EXTENSIONS = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:prometheus.example
`;

function openssl(args: string[]): void {
  const bin = requireBinary('openssl', '/usr/bin/openssl', 'openssl');
  const result = run(bin, args, { timeoutMs: 30_000 });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stderr}`);
}

/** A new EC P-256 key and a certificate signed by `ca` (self-signed when ca is undefined). */
function issue(dir: string, name: string, cn: string, profile: string, ca?: string): void {
  const cnf = join(dir, 'openssl.cnf');
  const at = (ext: string) => join(dir, `${name}.${ext}`);
  // 16 hex digits, the first not 0: openssl and Node print it alike.
  const serial = `0x4${randomBytes(7).toString('hex')}a`;
  const newKey = ['-config', cnf, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const subject = ['-nodes', '-keyout', at('key'), '-subj', `/CN=${cn}`];
  const signed = ['-days', '2', '-extensions', profile, '-set_serial', serial];
  if (ca === undefined) {
    openssl(['req', '-x509', ...newKey, ...subject, ...signed, '-out', at('pem')]);
    return;
  }
  openssl(['req', '-new', ...newKey, ...subject, '-out', at('csr')]);
  const issuer = ['-CA', join(dir, `${ca}.pem`), '-CAkey', join(dir, `${ca}.key`)];
  openssl([
    'x509',
    '-req',
    '-in',
    at('csr'),
    ...issuer,
    '-extfile',
    cnf,
    ...signed,
    '-out',
    at('pem'),
  ]);
}

/** Makes the PKI in `dir` with openssl (a few hundred ms). */
export function makePki(dir: string): Pki {
  writeFileSync(join(dir, 'openssl.cnf'), EXTENSIONS);
  issue(dir, 'ca', 'pop3-monitor https test CA', 'ca');
  issue(dir, 'stranger-ca', 'an unrelated CA', 'ca');
  issue(dir, 'server', 'localhost', 'server', 'ca');
  issue(dir, 'server2', 'localhost', 'server', 'ca');
  issue(dir, 'client', 'prometheus', 'client', 'ca');
  issue(dir, 'stranger', 'prometheus', 'client', 'stranger-ca');
  const at = (name: string) => join(dir, name);
  return {
    dir,
    ca: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    server2Cert: at('server2.pem'),
    server2Key: at('server2.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    strangerCert: at('stranger.pem'),
    strangerKey: at('stranger.key'),
  };
}

/** The serial of a PEM certificate file, as openssl prints it (upper-case hex). */
export function fileSerial(pem: string): string {
  const bin = requireBinary('openssl', '/usr/bin/openssl', 'openssl');
  const out = run(bin, ['x509', '-in', pem, '-noout', '-serial']);
  return out.stdout.trim().replace(/^serial=/, '');
}

/**
 * Connects with `openssl s_client` (a new connection, a full handshake) and returns the
 * serial of the certificate the server sent, or the error.
 */
export function servedSerial(
  port: number,
  pki: Pki,
  client?: { cert: string; key: string },
): { serial: string | undefined; output: string } {
  const bin = requireBinary('openssl', '/usr/bin/openssl', 'openssl');
  const connect = run(
    bin,
    [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-servername',
      'localhost',
      '-CAfile',
      pki.ca,
      '-verify_return_error',
      ...(client ? ['-cert', client.cert, '-key', client.key] : []),
    ],
    { timeoutMs: 10_000 },
  );
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(connect.stdout);
  if (cert === null) return { serial: undefined, output: connect.stdout + connect.stderr };
  const file = join(pki.dir, `served-${Date.now()}.pem`);
  writeFileSync(file, cert[0]);
  return { serial: fileSerial(file), output: connect.stdout + connect.stderr };
}

/** Replaces a file the way a renewal tool does: write aside, then rename over it. */
export function replaceFile(path: string, text: string | Buffer): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

export interface HttpsAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request over node:https (no agent: a new connection each time). */
export function httpsRequest(
  url: string,
  options: {
    ca: string;
    cert?: string;
    key?: string;
    method?: string;
    headers?: Record<string, string>;
  },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        servername: 'localhost',
        headers: options.headers,
        agent: false,
        timeout: 5_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export function basicAuth(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A bcrypt hash made by Apache's htpasswd -B (a $2y$ hash), as a user would make one. */
export function htpasswdHash(password: string, cost = 5): string {
  const bin = requireBinary('htpasswd', '/usr/bin/htpasswd', 'apache2-utils');
  const out = run(bin, ['-nbBC', String(cost), 'user', password]);
  if (out.status !== 0) throw new Error(`htpasswd failed: ${out.stderr}`);
  return out.stdout.trim().replace(/^user:/, '');
}

/** The SHA-256 of a PEM certificate's public key (SPKI), base64: what chromium pins. */
export function spkiHash(pem: string): string {
  const spki = new X509Certificate(readFileSync(pem)).publicKey.export({
    type: 'spki',
    format: 'der',
  });
  return createHash('sha256').update(spki).digest('base64');
}
