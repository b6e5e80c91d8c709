import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Writing answers: every one with the common headers (ours and the web configuration's
 * http_server_config.headers), a page with the page headers too. The headers come from the
 * access rules (access.ts), read at each answer, so a changed web config applies at once.
 */

export type Headers = Record<string, string | string[]>;
export type HeadersOf = (kind: 'page' | 'other') => Readonly<Headers>;

export interface Responder {
  send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: string,
    headers?: Headers,
  ): void;
  sendPage(req: IncomingMessage, res: ServerResponse, status: number, html: string): void;
  /** A file of ours (the pages' script and style): cacheable for a while, unlike the rest. */
  sendAsset(req: IncomingMessage, res: ServerResponse, body: string, contentType: string): void;
  methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void;
}

export function createResponder(headersOf: HeadersOf): Responder {
  function write(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: string,
    kind: 'page' | 'other',
    headers: Headers,
  ): void {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      ...headersOf(kind),
      ...headers,
    });
    // A HEAD response has the headers of the GET one and no body (RFC 9110 section 9.3.2).
    res.end(req.method === 'HEAD' ? undefined : body);
  }
  return {
    send: (req, res, status, body, headers = {}) => write(req, res, status, body, 'other', headers),
    sendPage: (req, res, status, html) =>
      write(req, res, status, html, 'page', { 'Content-Type': 'text/html; charset=utf-8' }),
    sendAsset: (req, res, body, contentType) =>
      write(req, res, 200, body, 'other', {
        'Content-Type': contentType,
        'Cache-Control': 'max-age=300',
      }),
    methodNotAllowed: (req, res, allow) =>
      write(req, res, 405, 'method not allowed\n', 'other', { Allow: allow }),
  };
}
