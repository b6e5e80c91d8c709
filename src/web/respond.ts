import type { IncomingMessage, ServerResponse } from 'node:http';
import { COMMON_HEADERS, PAGE_HEADERS } from './access.js';

/** Writing answers: every one with the common headers, a page with the page headers too. */

export type Headers = Record<string, string | string[]>;

export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: Headers = {},
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

export function sendPage(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  html: string,
): void {
  send(req, res, status, html, { ...PAGE_HEADERS, 'Content-Type': 'text/html; charset=utf-8' });
}

/** A file of ours (the pages' script and style): cacheable for a while, unlike the rest. */
export function sendAsset(
  req: IncomingMessage,
  res: ServerResponse,
  body: string,
  contentType: string,
): void {
  send(req, res, 200, body, { 'Content-Type': contentType, 'Cache-Control': 'max-age=300' });
}

export function methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void {
  send(req, res, 405, 'method not allowed\n', { Allow: allow });
}
