import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';

/**
 * `pop3-monitor healthcheck`: the container's HEALTHCHECK and a Kubernetes exec probe.
 * GET /healthz of the local daemon; a daemon that serves HTTPS (a web config with
 * tls_server_config) is recognised and asked again over TLS. On loopback the certificate
 * is not verified (the point is whether this process answers, and its certificate names a
 * host, not 127.0.0.1); elsewhere it is, against `ca`. Under RequireAndVerifyClientCert the
 * handshake itself needs a client certificate: `cert` and `key`.
 */
export interface HealthCheckOptions {
  url: string;
  /** PEM file names. */
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  timeoutMs?: number;
}

export const DEFAULT_HEALTH_URL = 'http://127.0.0.1:9469/healthz';

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
  let url = new URL(options.url);
  let outcome = await attempt(url, options);
  // An HTTPS server drops a plain HTTP request: ask again over TLS.
  if ('error' in outcome && url.protocol === 'http:' && !NOT_LISTENING.has(outcome.code)) {
    url = new URL(url.href.replace(/^http:/, 'https:'));
    outcome = await attempt(url, options);
  }
  if ('error' in outcome) {
    // OpenSSL's messages run over several lines of internals: its code says it better.
    const code = outcome.code ?? '';
    const why = code.startsWith('ERR_SSL_')
      ? `${code}${code.includes('CERTIFICATE_REQUIRED') ? ' (the server asks for a client certificate: --cert and --key)' : ''}`
      : (outcome.error.split('\n', 1)[0] ?? outcome.error);
    return { healthy: false, line: `unhealthy: ${url.href}: ${why}` };
  }
  const healthy = outcome.status === 200;
  return {
    healthy,
    line: `${healthy ? 'healthy' : 'unhealthy'}: ${url.href} answered ${outcome.status} ${outcome.body}`,
  };
}
