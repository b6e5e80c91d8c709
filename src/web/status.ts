import type { AuthMethod, TlsMode } from '../config/modes.js';
import type { MailboxConfig } from '../config/schema.js';
import type { ProbeHistory } from '../history/history.js';
import type { ProbeResult } from '../probe/result.js';

/**
 * What the status pages show, gathered by the app at request time. The pages are pure
 * functions of it (and of `now`), so they are tested without a server.
 */

export interface AlertBadge {
  rule: string;
  severity: string;
}

export interface MailboxView {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** `host:port` as configured. */
  server: string;
  tls: TlsMode;
  auth: AuthMethod;
  schedule: string;
  /** The newest probe; undefined before the first. */
  latest: ProbeResult | undefined;
  /** When it went up or down, seconds since the epoch. */
  since: number | undefined;
  /** Alerts firing for it now. */
  alerts: readonly AlertBadge[];
}

export interface ReloadState {
  /** The last reload's outcome; null when the config was never reloaded. */
  ok: boolean | null;
  /** ms since the epoch of the last reload attempt (or of the start). */
  at: number;
  error: string | null;
}

export interface StatusSnapshot {
  /** ms since the epoch. */
  now: number;
  version: string;
  /** Every mailbox probed once (what /readyz says). */
  ready: boolean;
  mailboxes: readonly MailboxView[];
  outbox: { pending: number };
  reload: ReloadState;
}

/** One mailbox with its recent probes, newest first. */
export interface MailboxDetail {
  now: number;
  version: string;
  mailbox: MailboxView;
  recent: readonly ProbeResult[];
}

/** The view of each mailbox: its config, its newest probe and since when, its alerts. */
export function mailboxViews(
  mailboxes: readonly MailboxConfig[],
  history: ProbeHistory,
  firing: readonly { rule: string; mailbox: string; severity: string }[],
): MailboxView[] {
  const alerts = new Map<string, AlertBadge[]>();
  for (const a of firing) {
    const list = alerts.get(a.mailbox) ?? [];
    list.push({ rule: a.rule, severity: a.severity });
    alerts.set(a.mailbox, list);
  }
  return mailboxes.map((m) => ({
    name: m.name,
    labels: m.labels,
    server: m.host.includes(':') ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}`,
    tls: m.tls,
    auth: m.auth,
    schedule: m.schedule,
    latest: history.latest(m.name),
    since: history.since(m.name),
    alerts: alerts.get(m.name) ?? [],
  }));
}
