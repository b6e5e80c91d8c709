import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

import { MASK } from './secret.js';

export type { Logger } from 'pino';

/**
 * Paths pino masks wherever they appear. Secrets are also `Secret` objects whose JSON is
 * a mask, so this is the second line of defence, not the first.
 */
export const REDACT_PATHS = [
  'password',
  'token',
  'secret',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.*.password',
  'headers.authorization',
  'req.headers.authorization',
  'config.mailboxes[*].password',
  'config.alerting.smtp.password',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;

export interface LogOptions {
  level?: string | undefined;
  /** `json` (default) or `pretty` (one readable line per event, for terminals). */
  format?: 'json' | 'pretty' | undefined;
  destination?: DestinationStream;
}

export function resolveLogLevel(value: string | undefined): LogLevel {
  const level = (value ?? 'info').toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : 'info';
}

/**
 * What an `err` field shows: type, message, code and stack. Not the rest of the object:
 * library errors carry more (nodemailer's `command` holds the AUTH payload, `response`
 * whatever the server echoed), and none of that belongs in a log.
 */
export function errorFields(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: err.message,
    ...(code === undefined ? {} : { code }),
    stack: err.stack,
  };
}

/**
 * The logger every component gets (children add `component`). One call shape:
 * `log.info({ event: 'probe_done', mailbox, ...fields, err }, 'short human text')`.
 */
export function createLogger(options: LogOptions = {}): Logger {
  const config: LoggerOptions = {
    level: resolveLogLevel(options.level ?? process.env.POP3_MONITOR_LOG_LEVEL),
    base: { service: 'pop3-monitor' },
    redact: { paths: REDACT_PATHS, censor: MASK },
    serializers: { err: errorFields },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.destination) return pino(config, options.destination);
  if ((options.format ?? process.env.POP3_MONITOR_LOG_FORMAT) === 'pretty') {
    return pino(config, prettyDestination());
  }
  return pino(config, pino.destination({ dest: 1, sync: false }));
}

/**
 * Server-provided text reaches log fields (error messages quote replies): in the pretty
 * form control characters are escaped, so a hostile server cannot put terminal escape
 * sequences on an operator's screen. JSON lines escape them already.
 */
export function printable(text: string): string {
  return /[\x00-\x1f\x7f-\x9f]/.test(text) ? JSON.stringify(text) : text;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/**
 * A small readable form without another dependency: `12:00:01 INFO  probe_failed mailbox=x reason=auth`.
 * It formats the JSON line pino produced, so redaction has already happened.
 */
function prettyDestination(): DestinationStream {
  return {
    write(line: string): void {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        const { time, level, event, msg, service: _s, ...rest } = entry;
        const levelName =
          typeof level === 'number'
            ? (LEVEL_NAMES[level] ?? String(level))
            : String(level).toUpperCase();
        const fields = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? printable(v) : JSON.stringify(v)}`)
          .join(' ');
        const when = typeof time === 'string' ? time.slice(11, 19) : '';
        process.stdout.write(
          `${when} ${levelName.padEnd(5)} ${printable(String(event ?? msg ?? ''))} ${fields}\n`,
        );
      } catch {
        process.stdout.write(line);
      }
    },
  };
}
