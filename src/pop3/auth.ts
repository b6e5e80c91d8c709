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

export type AuthChoice = 'user' | 'apop' | 'plain' | 'login' | 'xoauth2';

/**
 * The method to log in with. 'auto' takes the strongest the server offers that works with
 * a password: SASL PLAIN (one round trip, RFC 4616), then SASL LOGIN, then USER/PASS
 * (RFC 1939 §7, the baseline every server has, also when CAPA is missing or does not list
 * USER). Never APOP (only when asked: its MD5 needs the plaintext secret on the server)
 * and never XOAUTH2 (it needs a token, not a password). An explicit choice is returned as
 * is, except APOP without a greeting timestamp: null, for the caller to report.
 */
export function chooseAuth(
  configured: 'auto' | AuthChoice,
  caps: Capabilities,
  hasTimestamp: boolean,
): AuthChoice | null {
  if (configured === 'apop') return hasTimestamp ? 'apop' : null;
  if (configured !== 'auto') return configured;
  if (caps.sasl.includes('PLAIN')) return 'plain';
  if (caps.sasl.includes('LOGIN')) return 'login';
  return 'user';
}
