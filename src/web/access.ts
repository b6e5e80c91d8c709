import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Secret } from '../secret.js';

/**
 * Who may ask what, and the headers every answer carries: the one place of the HTTP
 * server's access rules, so that TLS client certificates, more users or a rate limit
 * change this file and no handler.
 */

const REALM = 'pop3-monitor';

export interface WebAuth {
  basic?: { username: string; password: Secret } | undefined;
  bearer?: Secret | undefined;
}

/** What a container runtime's or kubelet's liveness probe asks: answered without credentials. */
const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz']);

/** Equal-time comparison: both sides hashed first so their lengths leak nothing either. */
function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function authorized(header: string | undefined, auth: WebAuth): boolean {
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

function challenges(auth: WebAuth): string[] {
  const out: string[] = [];
  if (auth.basic !== undefined) out.push(`Basic realm="${REALM}", charset="UTF-8"`);
  if (auth.bearer !== undefined) out.push(`Bearer realm="${REALM}"`);
  return out;
}

export type AccessDecision =
  | { allowed: true }
  | { allowed: false; status: 401; headers: Record<string, string | string[]> };

/** Whether the request may see `path`: /healthz always, the rest with credentials when set. */
export function checkAccess(
  req: IncomingMessage,
  path: string,
  auth: WebAuth | undefined,
): AccessDecision {
  if (auth === undefined || (auth.basic === undefined && auth.bearer === undefined)) {
    return { allowed: true };
  }
  if (OPEN_PATHS.has(path) || authorized(req.headers.authorization, auth)) return { allowed: true };
  return { allowed: false, status: 401, headers: { 'WWW-Authenticate': challenges(auth) } };
}

/** On every response. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

/**
 * On the pages for browsers: their script and style are files of this server (no inline
 * script, no other origin), they are never framed, and they send no referrer elsewhere.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON_HEADERS,
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
};
