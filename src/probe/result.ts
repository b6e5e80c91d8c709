import type { Reason } from '../pop3/errors.js';
import { POP3_PHASES, type Pop3Phase } from '../pop3/phases.js';
import type { ProbeScan } from './new-messages.js';
import type { Transcript } from './transcript.js';

/**
 * The phases of a probe result, in order: `token` (getting an OAuth2 access token, oauth2
 * mailboxes only, before the connection), the POP3 session's, then `total`, the whole probe.
 */
export const PHASES = ['token', ...POP3_PHASES, 'total'] as const;
export type Phase = 'token' | Pop3Phase | 'total';

/** Why a scheduled probe did not run: its previous one still ran, or the gate held it back. */
export const SKIP_REASONS = ['overlap', 'auth_backoff'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface ProbeError {
  code: Reason;
  /** Human-readable; never contains a password or token. */
  message: string;
  /** The server's status line that caused it, if any. */
  response: string | null;
  /** The command whose reply failed (no arguments), if any. */
  command: string | null;
  /** The phase in which it failed. */
  phase: Phase;
  /** For `token`: the OAuth2 error code the token endpoint answered (invalid_grant...). */
  oauth_error?: string;
  /**
   * For `token`: the authorization server refused the client or the grant (a wrong client
   * secret, a revoked refresh token). Like a refused password, it is a failed login.
   */
  credentials_refused?: boolean;
}

/** The credentials were refused: by the mail server (`auth`) or by the token endpoint. */
export function isCredentialRefusal(error: ProbeError): boolean {
  return error.code === 'auth' || (error.code === 'token' && error.credentials_refused === true);
}

/** How an oauth2 mailbox got its token for this probe. */
export interface ProbeOAuth2 {
  grant: string;
  /** True when the token came from the cache (no request to the token endpoint). */
  cached: boolean;
  /** True when the mail server refused a cached token and a fresh one was fetched. */
  retried: boolean;
}

export interface TlsInfo {
  protocol: string | null;
  cipher: string | null;
  /** Peer certificate notAfter, seconds since the epoch. */
  cert_expiry_timestamp: number | null;
  cert_subject: string | null;
  cert_issuer: string | null;
  /** True when the session was resumed from a ticket. */
  resumed: boolean;
}

/** The outcome of one probe (`probe --json` prints an array of these). */
export interface ProbeResult {
  mailbox: string;
  success: boolean;
  /** STAT count. */
  messages: number | null;
  /** STAT octets. */
  size_bytes: number | null;
  /** Seconds per phase; a phase that did not happen is absent. */
  phases: Partial<Record<Phase, number>>;
  /** CAPA as announced (after STLS, the second CAPA). */
  capabilities: string[];
  error: ProbeError | null;
  /** When the probe started, seconds since the epoch. */
  started_at: number;
  /** Number of UIDL entries (equals messages on a sane server). */
  uidl_count: number | null;
  /** Date: (or newest Received:) of message 1, seconds since the epoch. */
  oldest_message_timestamp: number | null;
  /** TLS details when TLS was used. */
  tls: TlsInfo | null;
  /** The SASL mechanism or USER/APOP used. */
  auth_method: string | null;
  /** CAPA LOGIN-DELAY, seconds, when announced. */
  login_delay_seconds: number | null;
  /** True when commands were pipelined. */
  pipelined: boolean;
  /** oauth2 mailboxes only. */
  oauth2?: ProbeOAuth2;
  /** Mailboxes with delivery loops or expect watches: the new messages read (TOP n 0). */
  scan?: ProbeScan;
  /** The protocol conversation, masked and bounded; only when the caller asked for it. */
  transcript?: Transcript;
}
