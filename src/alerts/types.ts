import type { RuleMetric, RuleOp, Severity } from '../config/schema.js';
import type { Reason } from '../pop3/errors.js';

/** One alert as a notification shows it: a (rule, mailbox) instance at one moment. */
export interface AlertSnapshot {
  rule: string;
  mailbox: string;
  severity: Severity;
  /** firing, or resolved for a resolved notice. */
  status: 'firing' | 'resolved';
  metric: RuleMetric;
  op: RuleOp;
  threshold: number;
  /** The metric's value at the last evaluation (null when the probe gave no data). */
  value: number | null;
  /** When the condition started to hold, ms since the epoch. */
  active_since: number;
  /** When it started firing (after `for`), ms since the epoch. */
  fired_at: number;
  /** When it resolved, ms since the epoch, for resolved notices. */
  resolved_at: number | null;
  /** The last probe error of the mailbox, if its last probe failed. Never a secret. */
  last_error: { code: Reason; message: string } | null;
  description: string | null;
  /** The mailbox's extra labels from the config. */
  labels: Record<string, string>;
}

/** What the alert engine hands to the outbox: one email / one Alertmanager post. */
export interface Notification {
  /** Stable, unique id; the email's Message-ID is derived from it, so a retried send is recognisable. */
  id: string;
  /** ms since the epoch, when the notification was created. */
  created_at: number;
  /** firing when any alert in it fires; resolved when all are resolved. */
  status: 'firing' | 'resolved';
  /** Why it was made: a state change, or the repeat_interval of still-firing alerts. */
  cause: 'change' | 'repeat';
  alerts: AlertSnapshot[];
}

/** Delivery channels the outbox knows. */
export type Channel = 'email' | 'alertmanager';
