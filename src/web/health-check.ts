import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { type ListenAddress, localUrl } from '../config/listen.js';

/**
 * `pop3-monitor healthcheck`: the container's HEALTHCHECK and a Kubernetes exec probe.
 * GET /healthz on the address the daemon listens on (the config's server.listen, or
 * --listen): over HTTPS when its web config has tls_server_config, over HTTP when it has
 * none; when that is not known (--listen without the config) HTTP first, then HTTPS if the
 * port did not speak HTTP. On loopback the certificate is not verified (the point is
 * whether this process answers, and its certificate names a host, not 127.0.0.1);
 * elsewhere it is, against `ca`. Under RequireAndVerifyClientCert the handshake itself
 * needs a client certificate: `cert` and `key`. /healthz needs no credentials; it turns
 * 503 when the scheduler stops making progress.
 */
export interface HealthCheckOptions {
  address: ListenAddress;
  /** Whether the daemon serves HTTPS; undefined when not known. */
  tls: boolean | undefined;
  /** PEM file names. */
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  timeoutMs?: number;
}

type Attempt = { status: number; body: string } | { error: string; code: string | undefined };

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

function attempt(url: URL, options: HealthCheckOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    const tls = url.protocol === 'https:';
    const common = { method: 'GET', agent: false, timeout: options.timeoutMs ?? 4_000 } as const;
    const read = (file: string | undefined) =>
      file === undefined ? undefined : readFileSync(file);
    const req = tls
      ? httpsRequest(url, {
          ...common,
          ca: read(options.ca),
          cert: read(options.cert),
          key: read(options.key),
          rejectUnauthorized: options.ca !== undefined || !isLoopback(url.hostname),
        })
      : httpRequest(url, common);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 1024) body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      res.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ error: error.message, code: error.code }),
      );
    });
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ error: error.message, code: error.code }),
    );
    req.end();
  });
}

/** Connection refused, or no answer at all: nothing to retry over TLS. */
const NOT_LISTENING: ReadonlySet<string | undefined> = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
]);

export async function checkHealth(
  options: HealthCheckOptions,
): Promise<{ healthy: boolean; line: string }> {
  const plain = `${localUrl(options.address)}/healthz`;
  let url = new URL(options.tls === true ? plain.replace(/^http:/, 'https:') : plain);
  let outcome = await attempt(url, options);
  // An HTTPS server drops a plain HTTP request: ask again over TLS.
  if ('error' in outcome && options.tls === undefined && !NOT_LISTENING.has(outcome.code)) {
    url = new URL(plain.replace(/^http:/, 'https:'));
    outcome = await attempt(url, options);
  }
  if ('error' in outcome) {
    // OpenSSL's messages run over several lines of internals: its code says it better.
    const code = outcome.code ?? '';
    const why = code.startsWith('ERR_SSL_')
      ? `${code}${code.includes('CERTIFICATE_REQUIRED') ? ' (the server asks for a client certificate: --cert and --key)' : ''}`
      : (outcome.error.split('\n', 1)[0] ?? outcome.error);
    return { healthy: false, line: `${url.href}: ${why}` };
  }
  return {
    healthy: outcome.status === 200,
    line: `${url.href}: ${outcome.status} ${outcome.body}`,
  };
}
