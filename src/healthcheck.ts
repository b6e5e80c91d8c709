import { request } from 'node:http';
import { type ListenAddress, localUrl } from './config/listen.js';

/**
 * `pop3-monitor healthcheck`: asks the daemon's /healthz on the address it listens on (the
 * config's server.listen, or --listen), as a container's HEALTHCHECK does: 0 when it
 * answers 200, 1 otherwise. /healthz needs no credentials; it turns 503 when the
 * scheduler stops making progress.
 */

const TIMEOUT_MS = 4000;

export function checkHealth(address: ListenAddress, out: (text: string) => void): Promise<0 | 1> {
  const url = `${localUrl(address)}/healthz`;
  return new Promise((resolve) => {
    const req = request(url, { timeout: TIMEOUT_MS, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 1000) body += chunk;
      });
      res.on('end', () => {
        out(`${url}: ${res.statusCode} ${body.trim()}\n`);
        resolve(res.statusCode === 200 ? 0 : 1);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)));
    req.on('error', (error) => {
      out(`${url}: ${error.message}\n`);
      resolve(1);
    });
    req.end();
  });
}
