import { CodedError } from '../errors.js';

/**
 * The closed set of failure reasons. It is the `error.code` of a probe result and the
 * `reason` label of `pop3_probe_failures_total` / `pop3_login_failures_total`.
 */
export const REASONS = [
  'dns',
  'connect',
  'timeout',
  'tls',
  'protocol',
  'auth',
  'in_use',
  'login_delay',
  'server_temp',
  'server_perm',
  'closed',
  // No access token could be had from the OAuth2 token endpoint (src/oauth).
  'token',
] as const;

export type Reason = (typeof REASONS)[number];

export interface Pop3ErrorOptions {
  /** The command whose reply failed, without arguments that could carry a secret. */
  command?: string;
  /** The server's status line (never a client line, so never a secret). */
  response?: string;
  cause?: unknown;
}

/** Every failure of the POP3 layer is one of these; `code` is the probe's `reason`. */
export class Pop3Error extends CodedError<Reason> {
  readonly command: string | undefined;
  readonly response: string | undefined;

  constructor(code: Reason, message: string, options: Pop3ErrorOptions = {}) {
    super(code, message, options);
    this.command = options.command;
    this.response = options.response;
  }
}
