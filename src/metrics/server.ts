import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Secret } from '../secret.js';
import { answerHeaders } from '../web/browser-safety.js';
import { type RefusalReason, RequestGuard } from '../web/request-guard.js';
import { createWebServer, type RequestHandler } from '../web/tls-server.js';
import type { WebSettings } from '../web/web-config-load.js';
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

export interface HttpServerOptions {
  /** "host:port", "[::1]:9469", or ":9469" for every interface; port 0 picks a free one. */
  listen: string;
  /** The /metrics text, streamed chunk by chunk (one render at a time). */
  exposition(): Exposition;
  /** Config loaded and the first round of probes attempted. */
  isReady(): boolean;
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** When set, every endpoint but /healthz and /readyz requires one of these credentials. */
  auth?: { basic?: { username: string; password: Secret }; bearer?: Secret };
  /**
   * The web configuration file's settings (TLS, client certificates, bcrypt users, headers,
   * rate limit); without them plain HTTP with `auth` only.
   */
  web?: WebSettings | undefined;
  /** How long a successful bcrypt check is remembered (5 min); benchmarks set 0. */
  passwordCacheTtlMs?: number | undefined;
  /** Each request refused (401, 403, 429), by reason: a metric. */
  onRefused?: (reason: RefusalReason) => void;
  /** Each TLS connection that failed its handshake or whose client certificate was refused. */
  onTlsRefused?: () => void;
  logger?: Logger;
}

export interface HttpServer {
  address: { host: string; port: number };
  /** Whether it speaks TLS. */
  tls: boolean;
  /** New web configuration settings: new connections and requests follow them. */
  applyWeb(next: WebSettings): void;
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

/**
 * Serves /metrics, /healthz, /readyz and /-/reload on node:http. Nothing it serves shows
 * the config or a secret.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { host, port } = parseListenAddress(options.listen);
  const log = options.logger;
  const guard = new RequestGuard({
    auth: options.auth,
    web: options.web,
    passwordCacheTtlMs: options.passwordCacheTtlMs,
    onRefused: (reason) => options.onRefused?.(reason),
  });
  let configured: Readonly<Record<string, string>> = options.web?.headers ?? {};
  /** On every answer but the pages; changed in place, so the metrics streamer sees it too. */
  const COMMON_HEADERS: Record<string, string> = {};
  const setHeaders = (): void => {
    for (const name of Object.keys(COMMON_HEADERS)) delete COMMON_HEADERS[name];
    Object.assign(COMMON_HEADERS, answerHeaders('other', configured));
  };
  setHeaders();
  const metrics = createMetricsStreamer(() => options.exposition(), COMMON_HEADERS, log);

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

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    const method = req.method ?? 'GET';
    const readOnly = method === 'GET' || method === 'HEAD';

    if (path === '/healthz') {
      if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
      return send(req, res, 200, 'ok\n');
    }
    const decision = await guard.decide({ method, path: path ?? '/', headers: req.headers });
    if (!decision.allowed) {
      log?.debug(
        { event: 'http_refused', reason: decision.reason, remote: req.socket.remoteAddress, path },
        'request refused',
      );
      return send(req, res, decision.status, decision.body, decision.headers);
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
        return send(req, res, 200, INDEX_HTML, {
          ...answerHeaders('page', configured),
          'Content-Type': 'text/html; charset=utf-8',
        });
      default:
        return send(req, res, 404, 'not found\n');
    }
  }

  /** Responses not yet finished, so close() can ask them to end their connection. */
  const active = new Set<ServerResponse>();
  let closing: Promise<void> | undefined;

  const handle: RequestHandler = (req, res) => {
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
  };
  const web = createWebServer(options.web, handle, {
    logger: log,
    onTlsRefused: options.onTlsRefused,
  });
  const server = web.server;
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
  log?.info({ host: bound.address, port: bound.port, tls: web.tls }, 'http_listening');

  return {
    address: { host: bound.address, port: bound.port },
    tls: web.tls,
    applyWeb(next) {
      guard.update(next);
      web.apply(next);
      configured = next.headers;
      setHeaders();
    },
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
