import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { clientVerdict } from './client-cert.js';
import type { WebSettings } from './web-config-load.js';

/** How long a TLS handshake may take. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface WebServerHandle {
  server: Server;
  /** Whether it speaks TLS (fixed for its life). */
  tls: boolean;
  /**
   * New settings from the web configuration: new connections get the new certificate,
   * CA, versions and suites (established ones keep theirs). Whether TLS is on and the
   * client_auth_type were checked to be unchanged (web-config-watch.ts).
   */
  apply(next: WebSettings | undefined): void;
}

/**
 * The node:http server, or the node:https one when the web configuration has
 * tls_server_config. Client certificates that OpenSSL lets through but the configured
 * client_auth_type or client_allowed_sans do not are cut off right after the handshake,
 * before any request is read.
 */
export function createWebServer(
  settings: WebSettings | undefined,
  handler: RequestHandler,
  options: {
    logger?: Logger | undefined;
    /** A failed handshake, or a client certificate refused after it: a metric. */
    onTlsRefused?: (() => void) | undefined;
  } = {},
): WebServerHandle {
  const log = options.logger;
  const tls = settings?.tls;
  if (tls === undefined) {
    return { server: createHttpServer(handler), tls: false, apply() {} };
  }
  let current = tls;
  const server = createHttpsServer(
    {
      ...tls.contextOptions(),
      requestCert: tls.requestCert,
      rejectUnauthorized: tls.rejectUnauthorized,
      // Node's default is 120 s: a client that stalls the handshake is let go as soon as a
      // slow request would be (the HTTP server's request timeout).
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    handler,
  );
  // First among the listeners, so the HTTP parser never sees a refused connection's data.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const verdict = clientVerdict(current.clientAuth, current.allowedSans, {
      certificate: current.requestCert ? socket.getPeerX509Certificate() : undefined,
      authorized: socket.authorized,
    });
    if (verdict.ok) return;
    log?.info(
      { event: 'tls_client_refused', reason: verdict.reason, remote: socket.remoteAddress },
      'client certificate refused',
    );
    options.onTlsRefused?.();
    socket.destroy();
  });
  server.on('tlsClientError', (err, socket) => {
    options.onTlsRefused?.();
    log?.debug(
      {
        event: 'tls_handshake_failed',
        code: (err as { code?: string }).code,
        remote: socket.remoteAddress,
      },
      'TLS handshake failed',
    );
  });
  return {
    server,
    tls: true,
    apply(next) {
      if (next?.tls === undefined) return;
      server.setSecureContext(next.tls.contextOptions());
      current = next.tls;
    },
  };
}
