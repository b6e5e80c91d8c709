import { parseArgs } from 'node:util';
import { parseDuration } from '../config/duration.js';
import { AUTH_METHODS, type AuthMethod, TLS_MODES, type TlsMode } from '../config/modes.js';
import { CodedError } from '../errors.js';
import { QUANTITIES, QUANTITY_NAMES, type Thresholds } from './outcome.js';
import { parseRange, ThresholdError } from './range.js';

/**
 * PURE: the arguments of `pop3-monitor check` → what to probe and the thresholds. Every
 * mistake is a CheckUsageError, which the plugin reports as UNKNOWN (exit 3).
 */

export const CHECK_USAGE = `Usage: pop3-monitor check --config FILE --mailbox NAME [thresholds]
       pop3-monitor check --host HOST [--port N] [--tls implicit|starttls|none]
                          [--tls-ca-file FILE] --user NAME --password-file FILE [thresholds]

A Monitoring Plugins (Nagios, Icinga, Checkmk) check: one probe of one mailbox, one line
of output with performance data, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

Options:
  --config FILE, -c FILE     the monitor's config (default: $POP3_MONITOR_CONFIG)
  --mailbox NAME, -m NAME    the mailbox of that config
  --host HOST, -H HOST       the server, without a config
  --port N, -p N             default 995 with --tls implicit, 110 otherwise
  --tls MODE                 implicit (default), starttls or none
  --tls-ca-file FILE         an extra trusted CA (PEM)
  --user NAME, -u NAME       the login name
  --password-file FILE       a file holding the password (a trailing newline is ignored)
  --auth METHOD              auto (default), user, apop, plain, login, xoauth2, oauthbearer
  --timeout DURATION, -t     the whole probe's deadline (default 10s, or the config's)
  --verbose, -v              the masked protocol transcript after the first line

Thresholds (plugin range syntax: 10, 10:, ~:10, 10:20, @10:20; a number may carry a unit):
  --warning-messages R, --critical-messages R   messages waiting
  --warning-size R,     --critical-size R       octets waiting (B, KB, MB, GB, KiB, MiB, GiB)
  --warning-age R,      --critical-age R        age of the oldest message (s, m, h, d)
  --warning-time R,     --critical-time R       the probe's duration (s, ms)`;

/** A bad argument, threshold, config path or mailbox name: the plugin's UNKNOWN (exit 3). */
export class CheckUsageError extends CodedError<'usage'> {
  constructor(message: string) {
    super('usage', message);
  }
}

export type CheckTarget =
  | { kind: 'config'; path: string | undefined; mailbox: string }
  | {
      kind: 'server';
      host: string;
      port: number;
      tls: TlsMode;
      tlsCaFile: string | undefined;
      user: string;
      passwordFile: string;
      auth: AuthMethod;
    };

export type CheckRequest =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'check';
      target: CheckTarget;
      thresholds: Thresholds;
      /** ms; undefined: the config's (or 10 s). */
      timeoutMs: number | undefined;
      verbose: boolean;
    };

const THRESHOLD_OPTIONS = Object.fromEntries(
  QUANTITY_NAMES.flatMap((q) => [
    [`warning-${q}`, { type: 'string' as const }],
    [`critical-${q}`, { type: 'string' as const }],
  ]),
);

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  mailbox: { type: 'string', short: 'm' },
  host: { type: 'string', short: 'H' },
  port: { type: 'string', short: 'p' },
  tls: { type: 'string' },
  'tls-ca-file': { type: 'string' },
  user: { type: 'string', short: 'u' },
  'password-file': { type: 'string' },
  auth: { type: 'string' },
  timeout: { type: 'string', short: 't' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  ...THRESHOLD_OPTIONS,
} as const;

const SERVER_FLAGS = ['host', 'port', 'tls', 'tls-ca-file', 'user', 'password-file', 'auth'];

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CheckUsageError(`--${flag}: expected one of ${allowed.join(', ')}`);
}

function required(flag: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') {
    throw new CheckUsageError(`--${flag} is required with --host`);
  }
  return value;
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) throw new CheckUsageError('--port: expected 1-65535');
  return port;
}

function thresholdsOf(values: Record<string, string | boolean | undefined>): Thresholds {
  const thresholds: Thresholds = { warning: {}, critical: {} };
  for (const level of ['warning', 'critical'] as const) {
    for (const q of QUANTITY_NAMES) {
      const text = values[`${level}-${q}`];
      if (typeof text !== 'string') continue;
      try {
        thresholds[level][q] = parseRange(text, QUANTITIES[q].units);
      } catch (error) {
        if (error instanceof ThresholdError)
          throw new CheckUsageError(`--${level}-${q}: ${error.message}`);
        throw error;
      }
    }
  }
  return thresholds;
}

export function parseCheckArgs(argv: readonly string[]): CheckRequest {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CheckUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length > 0) {
    throw new CheckUsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  }
  const thresholds = thresholdsOf(values);
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const ms = parseDuration(values.timeout);
    if (ms === null || ms <= 0)
      throw new CheckUsageError('--timeout: expected a duration such as 10s');
    timeoutMs = ms;
  }
  const verbose = values.verbose ?? false;
  if (values.host === undefined) {
    const stray = SERVER_FLAGS.filter((f) => values[f as keyof typeof values] !== undefined);
    if (stray.length > 0) {
      throw new CheckUsageError(`--${stray[0]} needs --host (it does not apply to --config)`);
    }
    if (values.mailbox === undefined) {
      throw new CheckUsageError('either --config FILE --mailbox NAME or --host HOST is required');
    }
    return {
      kind: 'check',
      target: { kind: 'config', path: values.config, mailbox: values.mailbox },
      thresholds,
      timeoutMs,
      verbose,
    };
  }
  for (const flag of ['config', 'mailbox'] as const) {
    if (values[flag] !== undefined)
      throw new CheckUsageError(`--${flag} and --host exclude each other`);
  }
  const tls = oneOf('tls', values.tls ?? 'implicit', TLS_MODES);
  return {
    kind: 'check',
    target: {
      kind: 'server',
      host: required('host', values.host),
      port: values.port === undefined ? (tls === 'implicit' ? 995 : 110) : parsePort(values.port),
      tls,
      tlsCaFile: values['tls-ca-file'],
      user: required('user', values.user),
      passwordFile: required('password-file', values['password-file']),
      auth: oneOf('auth', values.auth ?? 'auto', AUTH_METHODS),
    },
    thresholds,
    timeoutMs,
    verbose,
  };
}
