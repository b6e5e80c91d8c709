import type { RuleMetric, RuleOp, Severity } from '../config/schema.js';
import type { Reason } from '../pop3/errors.js';

/**
 * One alert as a notification shows it: a (rule, mailbox) instance at one moment, or for
 * mail flow a (rule, loop) or (rule, mailbox, expect) instance.
 */
export interface AlertSnapshot {
  rule: string;
  /** For a loop: the mailbox its probe messages go to. */
  mailbox: string;
  /** A delivery loop's alert: the loop's name. */
  loop?: string;
  /** An expect watch's alert: the watch's name (on `mailbox`). */
  expect?: string;
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

/** What an alert is about, as subjects and titles name it: `support`, `loop support-loop`, `support (expect backup)`. */
export function alertTarget(a: Pick<AlertSnapshot, 'mailbox' | 'loop' | 'expect'>): string {
  if (a.loop !== undefined) return `loop ${a.loop}`;
  if (a.expect !== undefined) return `${a.mailbox} (expect ${a.expect})`;
  return a.mailbox;
}

/** One key per (rule, target): a loop's and a watch's never collide with a mailbox's. */
export function alertKey(a: Pick<AlertSnapshot, 'rule' | 'mailbox' | 'loop' | 'expect'>): string {
  return `${a.rule}\u0000${targetKey(a)}`;
}

/** The key of an alert target in the engine's state; mailbox names stay their own key. */
export function targetKey(a: Pick<AlertSnapshot, 'mailbox' | 'loop' | 'expect'>): string {
  if (a.loop !== undefined) return `\u0000loop\u0000${a.loop}`;
  if (a.expect !== undefined) return `\u0000expect\u0000${a.mailbox}\u0000${a.expect}`;
  return a.mailbox;
}
