import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { MailboxConfig } from '../config/schema.js';
import type { ProbeResult } from '../probe/result.js';

/** What the scheduler reads of a mailbox; MailboxConfig has all of it. */
export interface ScheduledMailbox {
  name: string;
  host: string;
  port: number;
  schedule: string;
  /** The probe's own deadline, ms (the watchdog waits this plus a grace). */
  timeout: number;
  /** ms to skip probes after an auth failure; 0 turns the backoff off. */
  auth_failure_backoff: number;
}

export type SkipReason = 'overlap' | 'auth_backoff';

export type SchedulerLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface SchedulerOptions<M extends ScheduledMailbox = MailboxConfig> {
  clock: Clock;
  /** config.scheduler.max_concurrent_probes */
  maxConcurrent: number;
  /** config.scheduler.max_concurrent_per_host */
  maxPerHost: number;
  /** Never throws by contract (probeMailbox); a breach is caught, logged, not reported. */
  probe(mailbox: M): Promise<ProbeResult>;
  onResult(result: ProbeResult, mailbox: M): void;
  onSkip(mailbox: M, reason: SkipReason): void;
  /** Once, when every mailbox has been attempted since start(): drives /readyz. */
  onRoundComplete?(): void;
  logger?: SchedulerLogger;
  /** Default true. */
  spread?: boolean;
  /** IANA zone the cron fields are read in; default UTC. */
  timezone?: string;
  /** Upper bound of the spread window, so a daily 09:00 probe stays near 09:00. Default 5 min. */
  maxSpreadMs?: number;
  /** Default 30 s. */
  watchdogGraceMs?: number;
}

export const DEFAULT_WATCHDOG_GRACE_MS = 30_000;
