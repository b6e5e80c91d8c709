import type { AuthMethod, TlsMode } from '../config/modes.js';
import type { MailboxConfig } from '../config/schema.js';
import type { FlowSnapshot } from '../flow/mail-flow.js';
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

/** A delivery loop: its last delivery, what is lost, what is on its way. Times in ms. */
export interface LoopView {
  name: string;
  mailbox: string;
  schedule: string;
  deadlineMs: number;
  lastSuccessAt: number | null;
  lastDeliverySeconds: number | null;
  lostInARow: number;
  pending: number;
  lastError: { code: string; message: string } | null;
  alerts: readonly AlertBadge[];
}

/** An expect watch: when its mail last came. Times in ms. */
export interface WatchView {
  mailbox: string;
  name: string;
  withinMs: number;
  lastMatchAt: number | null;
  /** When watching began: the age counts from here before a first match. */
  since: number;
  alerts: readonly AlertBadge[];
}

export interface StatusSnapshot {
  /** ms since the epoch. */
  now: number;
  version: string;
  /** Every mailbox probed once (what /readyz says). */
  ready: boolean;
  mailboxes: readonly MailboxView[];
  loops: readonly LoopView[];
  watches: readonly WatchView[];
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

/** A firing alert as the engine gives it: a mailbox's, a loop's or a watch's. */
export interface FiringAlert {
  rule: string;
  mailbox: string;
  loop?: string | undefined;
  expect?: string | undefined;
  severity: string;
}

/** The alerts by what they are about: `m:NAME`, `l:LOOP`, `w:MAILBOX\0WATCH`. */
function alertsByTarget(firing: readonly FiringAlert[]): Map<string, AlertBadge[]> {
  const alerts = new Map<string, AlertBadge[]>();
  for (const a of firing) {
    const key =
      a.loop !== undefined
        ? `l:${a.loop}`
        : a.expect !== undefined
          ? `w:${a.mailbox}\0${a.expect}`
          : `m:${a.mailbox}`;
    const list = alerts.get(key) ?? [];
    list.push({ rule: a.rule, severity: a.severity });
    alerts.set(key, list);
  }
  return alerts;
}

/** The loops and watches with their alerts. */
export function flowViews(
  flow: FlowSnapshot,
  firing: readonly FiringAlert[],
): { loops: LoopView[]; watches: WatchView[] } {
  const alerts = alertsByTarget(firing);
  return {
    loops: flow.loops.map((l) => ({
      name: l.name,
      mailbox: l.mailbox,
      schedule: l.schedule,
      deadlineMs: l.deadline_ms,
      lastSuccessAt: l.state.last_success_at,
      lastDeliverySeconds: l.state.last_delivery_seconds,
      lostInARow: l.state.lost_in_a_row,
      pending: l.state.pending.length,
      lastError: l.state.last_error,
      alerts: alerts.get(`l:${l.name}`) ?? [],
    })),
    watches: flow.watches.map((w) => ({
      mailbox: w.mailbox,
      name: w.name,
      withinMs: w.within_ms,
      lastMatchAt: w.last_match_at,
      since: w.since,
      alerts: alerts.get(`w:${w.mailbox}\0${w.name}`) ?? [],
    })),
  };
}

/** The view of each mailbox: its config, its newest probe and since when, its alerts. */
export function mailboxViews(
  mailboxes: readonly MailboxConfig[],
  history: ProbeHistory,
  firing: readonly FiringAlert[],
): MailboxView[] {
  const byTarget = alertsByTarget(firing);
  const alerts = new Map<string, AlertBadge[]>();
  for (const [key, list] of byTarget) if (key.startsWith('m:')) alerts.set(key.slice(2), list);
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
