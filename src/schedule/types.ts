import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { MailboxConfig } from '../config/schema.js';
import { CodedError } from '../errors.js';
import type { ProbeResult, SkipReason } from '../probe/result.js';

/** What the scheduler reads of a mailbox; MailboxConfig has all of it. */
export interface ScheduledMailbox {
  name: string;
  host: string;
  port: number;
  /** A node-cron expression. */
  schedule: string;
  /** The probe's own deadline, ms (the watchdog waits this plus a grace). */
  timeout: number;
}

export type SchedulerLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface SchedulerOptions<M extends ScheduledMailbox = MailboxConfig> {
  /**
   * Timers of the spread and the watchdogs. node-cron reads the process clock (Date,
   * setTimeout) itself, so this must be that clock: systemClock, or fake timers installed
   * on the globals in tests.
   */
  clock: Clock;
  /** config.scheduler.max_concurrent_probes and max_concurrent_per_host */
  maxConcurrent: number;
  maxPerHost: number;
  /** Never throws by contract (probeMailbox); a breach is caught, logged, not reported. */
  probe(mailbox: M): Promise<ProbeResult>;
  /** `mailbox` is the config the probe ran with. */
  onResult(result: ProbeResult, mailbox: M): void;
  onSkip(mailbox: M, reason: SkipReason): void;
  /** Asked before a scheduled probe (not runNow): a reason skips it (the probe gate). */
  admit?(mailbox: M): SkipReason | null;
  /** Once, when every mailbox has been attempted since start(): drives /readyz. */
  onRoundComplete?(): void;
  logger?: SchedulerLogger;
  /** Default true. */
  spread?: boolean;
  /** IANA zone node-cron reads the fields in; default the process's local time zone. */
  timezone?: string;
  /** Upper bound of the spread window, so a daily 09:00 probe stays near 09:00. Default 5 min. */
  maxSpreadMs?: number;
  /** Default 30 s. */
  watchdogGraceMs?: number;
}

export const DEFAULT_WATCHDOG_GRACE_MS = 30_000;
export const DEFAULT_MAX_SPREAD_MS = 5 * 60_000;
/** The start-up probe of a mailbox comes within this (or its window when shorter). */
export const STARTUP_SPREAD_MS = 10_000;

export type SchedulerErrorCode =
  | 'invalid_schedule'
  | 'duplicate_mailbox'
  | 'unknown_mailbox'
  | 'stopped';

/** Misuse of the scheduler (a bad expression, an unknown name, a call after stop()). */
export class SchedulerError extends CodedError<SchedulerErrorCode> {}

/**
 * A stable position in [0, 1) for a mailbox name: the first 48 bits of its SHA-1. Pure, so
 * the same name keeps its slot across restarts and instances; SHA-1 (not FNV) because
 * names are often sequential (`box-1`, `box-2`) and FNV clusters those.
 */
export function spreadFraction(name: string): number {
  return createHash('sha1').update(name, 'utf8').digest().readUIntBE(0, 6) / 2 ** 48;
}
