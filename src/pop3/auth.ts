import { createHash } from 'node:crypto';
import { Pop3Error } from './errors.js';
import type { Capabilities } from './responses.js';

/**
 * RFC 1939 §7 APOP: lowercase hex MD5 of the greeting's timestamp (with its angle
 * brackets) followed by the shared secret. The timestamp came off the wire as latin1; the
 * secret is the user's text, sent as UTF-8.
 */
export function apopDigest(timestamp: string, secret: string): string {
  return createHash('md5')
    .update(Buffer.from(timestamp, 'latin1'))
    .update(Buffer.from(secret, 'utf8'))
    .digest('hex');
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/**
 * RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, UTF-8. A NUL inside a field
 * would shift the fields (and could name another authorization identity), so it is
 * refused before anything is sent. The message names no value.
 */
export function saslPlain(username: string, password: string, authzid = ''): string {
  if (authzid.includes('\0') || username.includes('\0') || password.includes('\0')) {
    throw new Pop3Error('auth', 'SASL PLAIN cannot carry a username or password containing NUL');
  }
  return base64(`${authzid}\0${username}\0${password}`);
}

/** draft-murchison-sasl-login: the username, then the password, each base64 on its own. */
export function saslLoginResponses(username: string, password: string): [string, string] {
  return [base64(username), base64(password)];
}

/**
 * Google's and Microsoft's XOAUTH2: "user=" u ^A "auth=Bearer " token ^A ^A. A ^A inside
 * either field would end it early, so it is refused.
 */
export function xoauth2(username: string, token: string): string {
  if (username.includes('\x01') || token.includes('\x01')) {
    throw new Pop3Error('auth', 'XOAUTH2 cannot carry a username or token containing \\x01');
  }
  return base64(`user=${username}\x01auth=Bearer ${token}\x01\x01`);
}

/** RFC 5802 §5.1 saslname, as RFC 7628 §3.1 uses it in the GS2 header: "=" and "," escaped. */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/**
 * RFC 7628 §3.1 OAUTHBEARER client response: the GS2 header naming the user, then
 * host, port and auth key-value pairs, each ended by ^A, and a final ^A. A ^A inside a
 * value would end it early, so it is refused.
 */
export function oauthBearer(username: string, token: string, host: string, port: number): string {
  if ([username, token, host].some((v) => v.includes('\x01'))) {
    throw new Pop3Error('auth', 'OAUTHBEARER cannot carry a username or token containing \\x01');
  }
  const kv = `host=${host}\x01port=${port}\x01auth=Bearer ${token}\x01`;
  return base64(`n,a=${saslName(username)},\x01${kv}\x01`);
}

/**
 * RFC 7628 §3.2.3: after an error challenge the client sends a single ^A and the server
 * answers with the failure. XOAUTH2 ends the same exchange with an empty line.
 */
export const OAUTHBEARER_DUMMY_RESPONSE = base64('\x01');

const ERROR_FIELDS = ['status', 'schemes', 'scope'] as const;

/**
 * The error a server sends as a "+" challenge to XOAUTH2 or OAUTHBEARER (RFC 7628 §3.2.2:
 * base64 of a JSON object such as {"status":"invalid_token","scope":"..."}), as short text
 * for a message: only the known fields, printable, bounded. null when it is not such JSON.
 * The token is never part of it; a server quoting it back is masked by the probe.
 */
export function describeBearerError(challenge: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeChallenge(challenge));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const fields = parsed as Record<string, unknown>;
  const parts = ERROR_FIELDS.flatMap((key) => {
    const value = fields[key];
    if (typeof value !== 'string' && typeof value !== 'number') return [];
    const text = String(value)
      .replace(/[^\x20-\x7e]/g, '?')
      .slice(0, 120);
    return [`${key} ${text}`];
  });
  return parts.length === 0 ? null : parts.join(', ');
}

/** RFC 5034 §4: an empty initial response is sent as a single "=". */
export function encodeInitialResponse(b64: string): string {
  return b64 === '' ? '=' : b64;
}

/** RFC 2449 §4: a command line, CRLF included, is at most 255 octets. */
export const MAX_COMMAND_OCTETS = 255;

/**
 * Whether "AUTH mech initial-response" CRLF fits in 255 octets (RFC 5034 §4); when it
 * does not, the client sends "AUTH mech" and the response after the first "+".
 */
export function fitsInitialResponse(mechanism: string, b64: string): boolean {
  const line = `AUTH ${mechanism} ${encodeInitialResponse(b64)}\r\n`;
  return Buffer.byteLength(line, 'utf8') <= MAX_COMMAND_OCTETS;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The text of a "+ base64" continuation (RFC 5034 §4), decoded as UTF-8. Padding may be
 * left out; anything else that is not base64 is a protocol error (Buffer.from would
 * silently skip it).
 */
export function decodeChallenge(text: string): string {
  const b64 = text.replace(/^[ \t]+|[ \t]+$/g, '');
  if (b64 === '' || b64 === '=') return '';
  const unpadded = b64.replace(/=+$/, '');
  const valid =
    BASE64.test(b64) &&
    unpadded.length % 4 !== 1 &&
    (unpadded.length === b64.length || b64.length % 4 === 0);
  if (!valid) {
    throw new Pop3Error('protocol', 'SASL challenge is not valid base64', {
      response: `+ ${text.slice(0, 200)}`,
    });
  }
  return Buffer.from(unpadded, 'base64').toString('utf8');
}

export type AuthChoice = 'user' | 'apop' | 'plain' | 'login' | 'xoauth2' | 'oauthbearer';

/**
 * The method to log in with. 'auto' takes the strongest the server offers that works with
 * a password: SASL PLAIN (one round trip, RFC 4616), then SASL LOGIN, then USER/PASS
 * (RFC 1939 §7, the baseline every server has, also when CAPA is missing or does not list
 * USER). Never APOP (only when asked: its MD5 needs the plaintext secret on the server)
 * and never XOAUTH2 or OAUTHBEARER for a password (they need a token): with a token
 * (`withToken`, an oauth2 mailbox) 'auto' picks one of those two. An explicit choice is returned as
 * is, except APOP without a greeting timestamp: null, for the caller to report.
 */
export function chooseAuth(
  configured: 'auto' | AuthChoice,
  caps: Capabilities,
  hasTimestamp: boolean,
  withToken = false,
): AuthChoice | null {
  if (configured === 'apop') return hasTimestamp ? 'apop' : null;
  if (configured !== 'auto') return configured;
  // A token (oauth2): the standard OAUTHBEARER when offered, else XOAUTH2, which Gmail and
  // Exchange Online take and which needs no announcement to be tried.
  if (withToken) return caps.sasl.includes('OAUTHBEARER') ? 'oauthbearer' : 'xoauth2';
  if (caps.sasl.includes('PLAIN')) return 'plain';
  if (caps.sasl.includes('LOGIN')) return 'login';
  return 'user';
}
