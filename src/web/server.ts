import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type ListenAddress, parseListen } from '../config/listen.js';
import { type RefusalReason, RequestGuard, type WebAuth } from './access.js';
import { createResponder } from './respond.js';
import { createRoutes, type WebBackend } from './routes.js';
import { createWebServer, type RequestHandler } from './tls-server.js';
import type { WebSettings } from './web-config-load.js';

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
  backend: WebBackend;
  /** When set, every endpoint but /healthz and /readyz requires one of these credentials. */
  auth?: WebAuth | undefined;
  /**
   * The web configuration file's settings (TLS, client certificates, bcrypt users, headers,
   * rate limit); without them plain HTTP with `auth` only.
   */
  web?: WebSettings | undefined;
  /** How long a successful bcrypt check is remembered (5 min); benchmarks set 0. */
  passwordCacheTtlMs?: number | undefined;
  /** Each request refused (401, 403, 429), by reason: a metric. */
  onRefused?: ((reason: RefusalReason) => void) | undefined;
  /** Each TLS connection that failed its handshake or whose client certificate was refused. */
  onTlsRefused?: (() => void) | undefined;
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
export function parseListenAddress(listen: string): ListenAddress {
  const address = parseListen(listen);
  if (address === null) {
    throw new RangeError(
      `server.listen: expected host:port such as 127.0.0.1:9469, got ${JSON.stringify(listen)}`,
    );
  }
  return address;
}

/**
 * The HTTP server (node:http, or node:https with the web configuration's TLS): request
 * limits and timeouts, listening and closing; what each path answers is in routes.ts, who
 * may ask and the headers in access.ts, the TLS and client certificates in tls-server.ts.
 * Nothing it serves shows the config's secrets.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { host, port } = parseListenAddress(options.listen);
  const log = options.logger;
  const access = new RequestGuard({
    auth: options.auth,
    web: options.web,
    passwordCacheTtlMs: options.passwordCacheTtlMs,
    onRefused: (reason) => options.onRefused?.(reason),
  });
  const route = createRoutes(options.backend, access, log);
  const { send } = createResponder((kind) => access.headers(kind));

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
        log?.error({ event: 'http_request_failed', err }, 'request failed');
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
  server.on('error', (err) => log?.error({ event: 'http_server_error', err }, 'HTTP server error'));
  const bound = server.address() as AddressInfo;
  log?.info(
    { event: 'http_listening', host: bound.address, port: bound.port, tls: web.tls },
    web.tls ? 'HTTPS server listening' : 'HTTP server listening',
  );

  return {
    address: { host: bound.address, port: bound.port },
    tls: web.tls,
    applyWeb(next) {
      access.update(next);
      web.apply(next);
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
