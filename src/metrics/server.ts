import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Secret } from '../secret.js';
import type { Exposition } from './metrics.js';
import { acceptsGzip, createMetricsStreamer } from './metrics-stream.js';

/** Bodies are never needed (POST /-/reload takes none): anything larger is refused. */
export const MAX_BODY_BYTES = 64 * 1024;
/** After a 413, this much more is read and dropped, for this long, before the socket goes. */
const MAX_DRAIN_BYTES = 1024 * 1024;
const LINGER_MS = 2_000;
/** The whole request (headers and body) must arrive within this, against slow clients. */
const REQUEST_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this (Prometheus scrapes reuse it). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** On close(), requests in progress get this long before their sockets are destroyed. */
const CLOSE_GRACE_MS = 2_000;
const REALM = 'pop3-monitor';

export interface HttpServerOptions {
  /** "host:port", "[::1]:9469", or ":9469" for every interface; port 0 picks a free one. */
  listen: string;
  /** The /metrics text, streamed chunk by chunk (one render at a time). */
  exposition(): Exposition;
  /** Config loaded and the first round of probes attempted. */
  isReady(): boolean;
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** When set, every endpoint but /healthz requires one of these credentials. */
  auth?: { basic?: { username: string; password: Secret }; bearer?: Secret };
  logger?: Logger;
}

export interface HttpServer {
  address: { host: string; port: number };
  /** Stops listening and ends every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

/** Splits "host:port" ("[v6]:port", ":port"); host undefined means every interface. */
export function parseListenAddress(listen: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new RangeError(
      `server.listen: expected host:port such as 127.0.0.1:9469, got ${JSON.stringify(listen)}`,
    );
  }
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** Equal-time comparison: both sides hashed first so their lengths leak nothing either. */
function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function authorized(header: string | undefined, auth: NonNullable<HttpServerOptions['auth']>) {
  if (header === undefined) return false;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space === -1 ? header.length : space).toLowerCase();
  const credentials = space === -1 ? '' : header.slice(space + 1).trim();
  // RFC 7617 section 2: base64 of "user-id:password", the user-id has no colon.
  if (scheme === 'basic' && auth.basic !== undefined) {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return false;
    const userOk = safeEqual(decoded.slice(0, colon), auth.basic.username);
    const passwordOk = safeEqual(decoded.slice(colon + 1), auth.basic.password.reveal());
    return userOk && passwordOk;
  }
  // RFC 6750 section 2.1.
  if (scheme === 'bearer' && auth.bearer !== undefined) {
    return safeEqual(credentials, auth.bearer.reveal());
  }
  return false;
}

function challenges(auth: NonNullable<HttpServerOptions['auth']>): string[] {
  const out: string[] = [];
  if (auth.basic !== undefined) out.push(`Basic realm="${REALM}", charset="UTF-8"`);
  if (auth.bearer !== undefined) out.push(`Bearer realm="${REALM}"`);
  return out;
}

const INDEX_HTML = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>pop3-monitor</title></head>
<body>
<h1>pop3-monitor</h1>
<p>Probes mailboxes over POP3 and exports Prometheus metrics.</p>
<ul>
<li><a href="metrics">Metrics</a></li>
<li><a href="healthz">Health</a></li>
<li><a href="readyz">Readiness</a></li>
</ul>
</body>
</html>
`;

/** On every response. */
const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...COMMON_HEADERS,
    ...headers,
  });
  // A HEAD response has the headers of the GET one and no body (RFC 9110 section 9.3.2).
  res.end(req.method === 'HEAD' ? undefined : body);
}

function methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void {
  send(req, res, 405, 'method not allowed\n', { Allow: allow });
}

/**
 * Serves /metrics, /healthz, /readyz and /-/reload on node:http. Nothing it serves shows
 * the config or a secret.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { host, port } = parseListenAddress(options.listen);
  const log = options.logger;
  const auth =
    options.auth !== undefined &&
    (options.auth.basic !== undefined || options.auth.bearer !== undefined)
      ? options.auth
      : undefined;
  const metrics = createMetricsStreamer(() => options.exposition(), COMMON_HEADERS, log);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    const method = req.method ?? 'GET';
    const readOnly = method === 'GET' || method === 'HEAD';

    if (path === '/healthz') {
      if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
      return send(req, res, 200, 'ok\n');
    }
    if (auth !== undefined && !authorized(req.headers.authorization, auth)) {
      log?.debug({ remote: req.socket.remoteAddress, path }, 'http_auth_refused');
      return send(req, res, 401, 'unauthorized\n', { 'WWW-Authenticate': challenges(auth) });
    }
    switch (path) {
      case '/metrics': {
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        const gzip = acceptsGzip(req.headers['accept-encoding']);
        // HEAD: the headers a GET would have, without rendering anything.
        if (method === 'HEAD') {
          res.writeHead(200, {
            ...COMMON_HEADERS,
            'Content-Type': options.exposition().contentType,
            Vary: 'Accept-Encoding',
            ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
          });
          res.end();
          return;
        }
        return metrics.serve(res, gzip);
      }
      case '/readyz':
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        return options.isReady()
          ? send(req, res, 200, 'ready\n')
          : send(req, res, 503, 'not ready\n');
      case '/-/reload': {
        if (method !== 'POST') return methodNotAllowed(req, res, 'POST');
        let outcome: Awaited<ReturnType<HttpServerOptions['reload']>>;
        try {
          outcome = await options.reload();
        } catch (err) {
          log?.error({ err }, 'http_reload_failed');
          return send(req, res, 500, 'reload failed\n');
        }
        if (outcome.ok) return send(req, res, 200, 'reloaded\n');
        return send(req, res, 500, `reload failed: ${outcome.error}\n`);
      }
      case '/':
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        return send(req, res, 200, INDEX_HTML, { 'Content-Type': 'text/html; charset=utf-8' });
      default:
        return send(req, res, 404, 'not found\n');
    }
  }

  /** Responses not yet finished, so close() can ask them to end their connection. */
  const active = new Set<ServerResponse>();
  let closing: Promise<void> | undefined;

  const server = createServer((req, res) => {
    active.add(res);
    res.on('close', () => active.delete(res));
    if (closing !== undefined) res.shouldKeepAlive = false;
    const declared = Number(req.headers['content-length'] ?? 0);
    let received = 0;
    let refused = false;
    // Answer 413 and close, but keep reading (and dropping) for a while: destroying a
    // socket with unread input sends a RST, which can make the client lose the answer.
    const refuse = (): void => {
      refused = true;
      send(req, res, 413, 'request body too large\n', { Connection: 'close' });
      res.once('finish', () => {
        const linger = setTimeout(() => req.destroy(), LINGER_MS);
        linger.unref();
        req.socket.once('close', () => clearTimeout(linger));
      });
    };
    if (declared > MAX_BODY_BYTES) refuse();
    // The body is read and thrown away, so the connection can serve the next request.
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_BODY_BYTES && !refused) refuse();
      if (received > MAX_DRAIN_BYTES) req.destroy();
    });
    req.on('end', () => {
      if (refused) return;
      route(req, res).catch((err: unknown) => {
        log?.error({ err }, 'http_request_failed');
        if (!res.headersSent) send(req, res, 500, 'internal error\n');
        else res.destroy();
      });
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

  // Malformed requests and header timeouts get Node's own 400 / 408 / 431 and a close.

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log?.error({ err }, 'http_server_error'));
  const bound = server.address() as AddressInfo;
  log?.info({ host: bound.address, port: bound.port }, 'http_listening');

  return {
    address: { host: bound.address, port: bound.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        grace.unref();
        server.close(() => {
          clearTimeout(grace);
          resolve();
        });
        // Idle keep-alive connections would hold close() until they time out; a busy one
        // is told to close once its response is written ("Connection: close").
        server.closeIdleConnections();
        for (const res of active) if (!res.headersSent) res.shouldKeepAlive = false;
      });
      return closing;
    },
  };
}
