/**
 * Why no access token could be had, classified, with a message that names the token
 * endpoint and the OAuth2 error code (RFC 6749 §5.2) and never a secret.
 */
import * as oauth from 'oauth4webapi';
import { CodedError } from '../errors.js';

export type TokenFailure =
  /** Connection refused, DNS, TLS: the endpoint could not be reached. */
  | 'unreachable'
  /** No complete answer within the token request's timeout. */
  | 'timeout'
  /** An answer that is not an OAuth2 token response (HTML, a 5xx, no access_token). */
  | 'invalid_response'
  /** The authorization server answered with an OAuth2 error (invalid_grant...). */
  | 'oauth'
  /** A rotated refresh token could not be written back to its file. */
  | 'store';

/**
 * OAuth2 errors that mean the credentials themselves were refused (a wrong or removed
 * client secret, a revoked or expired refresh token): they count as a failed login.
 */
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set([
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
]);

/** `code` says why: a TokenFailure. */
export class TokenError extends CodedError<TokenFailure> {
  /** The token endpoint, without query or user info. */
  readonly endpoint: string;
  /** The OAuth2 `error` code the server answered, if any. */
  readonly oauthError: string | null;

  constructor(
    kind: TokenFailure,
    endpoint: string,
    message: string,
    options: { oauthError?: string | null; cause?: unknown } = {},
  ) {
    super(kind, message, options);
    this.endpoint = endpoint;
    this.oauthError = options.oauthError ?? null;
  }

  /** The authorization server refused the client or the grant, like a refused password. */
  get credentialsRefused(): boolean {
    return this.oauthError !== null && CREDENTIAL_ERRORS.has(this.oauthError);
  }
}

/** The endpoint as shown in messages: scheme, host, port and path only. */
export function displayEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return 'the token endpoint';
  }
}

/** Server-provided text, printable and bounded (it goes into a probe result). */
function clean(text: string, max = 200): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}...` : printable;
}

function responseShape(value: unknown): string {
  if (!(value instanceof Response)) return 'an answer';
  const type = value.headers.get('content-type')?.split(';')[0]?.trim();
  return `HTTP ${value.status}${type ? ` (${clean(type, 60)})` : ''}`;
}

/** The errno-like code of a failed fetch (undici wraps it in `cause`). */
function networkCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('OAUTH_') && code !== 'ERR_INVALID_ARG_TYPE')
      return code;
    current = current.cause;
  }
  return null;
}

/** The OAuth2 error of a 401 with a WWW-Authenticate challenge (RFC 6749 §5.2). */
function challengeError(error: oauth.WWWAuthenticateChallengeError): string {
  for (const challenge of error.cause) {
    const code = challenge.parameters.error;
    if (typeof code === 'string' && code !== '') return code;
  }
  return error.status === 401 ? 'invalid_client' : `HTTP ${error.status}`;
}

/** Classifies whatever a token request threw. */
export function toTokenError(error: unknown, tokenUrl: string, timeoutMs: number): TokenError {
  if (error instanceof TokenError) return error;
  const endpoint = displayEndpoint(tokenUrl);
  const at = `token endpoint ${endpoint}`;
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    const seconds = Math.round(timeoutMs / 100) / 10;
    return new TokenError('timeout', endpoint, `${at} did not answer within ${seconds}s`);
  }
  if (error instanceof oauth.ResponseBodyError) {
    const description = error.error_description ? `: ${clean(error.error_description)}` : '';
    return new TokenError(
      'oauth',
      endpoint,
      `${at} refused the request with ${clean(error.error, 60)}${description} (HTTP ${error.status})`,
      { oauthError: clean(error.error, 60) },
    );
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const code = clean(challengeError(error), 60);
    return new TokenError(
      'oauth',
      endpoint,
      `${at} refused the request with ${code} (HTTP ${error.status})`,
      { oauthError: code },
    );
  }
  if (error instanceof oauth.OperationProcessingError) {
    const shape = responseShape(error.cause);
    const why =
      error.code === oauth.RESPONSE_IS_NOT_JSON || error.code === oauth.PARSE_ERROR
        ? `answered ${shape}, not OAuth2 JSON`
        : error.code === oauth.RESPONSE_IS_NOT_CONFORM
          ? `answered ${shape}, not a token response`
          : `answered with an unusable token response: ${clean(error.message)}`;
    return new TokenError('invalid_response', endpoint, `${at} ${why}`);
  }
  if (error instanceof oauth.UnsupportedOperationError) {
    return new TokenError('invalid_response', endpoint, `${at} ${clean(error.message)}`);
  }
  const code = networkCode(error);
  if (code !== null) {
    return new TokenError('unreachable', endpoint, `${at} is unreachable: ${clean(code, 60)}`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TokenError('unreachable', endpoint, `${at} could not be asked: ${clean(message)}`);
}
