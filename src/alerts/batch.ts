/**
 * Grouping of alert transitions into notifications, like Alertmanager's group_wait: the
 * first transition opens a batch, later ones join it, and when it closes every alert that
 * changed goes out in one Notification.
 *
 * Each (rule, mailbox) appears at most once, with its latest state:
 * - firing then resolved inside one batch, when the firing was never notified: the alert
 *   is dropped (as Alertmanager does: nothing is sent for an alert nobody was told about,
 *   and certainly no notification claiming it still fires);
 * - resolved after a notified firing: a resolved entry (every notifier gets resolves;
 *   the email notifier leaves them out when send_resolved is off);
 * - resolved then firing again: a firing entry (cause change);
 * - a repeat never downgrades a firing entry.
 */
import { createHash } from 'node:crypto';
import type { Transition } from './rules.js';
import { type AlertSnapshot, alertKey, type Notification, targetKey } from './types.js';

export interface BatchEntry {
  kind: Transition['kind'];
  snapshot: AlertSnapshot;
  /** Whether, before this batch, the recipients were last told that this alert fires. */
  notified_firing: boolean;
}

/** The persisted form of an open batch. */
export interface BatchData {
  opened_at: number;
  entries: BatchEntry[];
}

/** Bounds one notification; a larger batch is split (an outage of every mailbox stays readable). */
export const DEFAULT_MAX_ALERTS_PER_NOTIFICATION = 500;

const SEVERITY_ORDER: Record<AlertSnapshot['severity'], number> = { critical: 0, warning: 1 };

function keyOf(s: Pick<AlertSnapshot, 'rule' | 'mailbox' | 'loop' | 'expect'>): string {
  return alertKey(s);
}

export class NotificationBatch {
  readonly opened_at: number;
  readonly #entries = new Map<string, BatchEntry>();

  constructor(openedAt: number, entries: readonly BatchEntry[] = []) {
    this.opened_at = openedAt;
    for (const entry of entries) this.#entries.set(keyOf(entry.snapshot), entry);
  }

  static from(data: BatchData): NotificationBatch {
    return new NotificationBatch(data.opened_at, data.entries);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Adds one transition. */
  add(transition: Transition): void {
    const key = keyOf(transition.snapshot);
    const existing = this.#entries.get(key);
    switch (transition.kind) {
      case 'firing':
        this.#entries.set(key, {
          kind: 'firing',
          snapshot: transition.snapshot,
          notified_firing: existing?.notified_firing ?? false,
        });
        return;
      case 'repeat':
        if (existing === undefined) {
          this.#entries.set(key, {
            kind: 'repeat',
            snapshot: transition.snapshot,
            notified_firing: true,
          });
        } else if (existing.kind === 'repeat') {
          existing.snapshot = transition.snapshot;
        }
        return;
      case 'resolved': {
        // No entry: its firing went out in an earlier batch.
        const notified = existing?.notified_firing ?? true;
        if (notified) {
          this.#entries.set(key, {
            kind: 'resolved',
            snapshot: transition.snapshot,
            notified_firing: true,
          });
        } else {
          this.#entries.delete(key);
        }
        return;
      }
    }
  }

  toJSON(): BatchData {
    return { opened_at: this.opened_at, entries: [...this.#entries.values()] };
  }

  /**
   * The notifications this batch closes into (none when it ended up empty). Alerts are
   * sorted (firing first, critical first, then rule and mailbox), so the same content at
   * the same `createdAt` always gives the same id.
   */
  build(createdAt: number, maxAlerts = DEFAULT_MAX_ALERTS_PER_NOTIFICATION): Notification[] {
    const entries = [...this.#entries.values()].sort((a, b) =>
      compareSnapshots(a.snapshot, b.snapshot),
    );
    const out: Notification[] = [];
    for (let i = 0; i < entries.length; i += maxAlerts) {
      const chunk = entries.slice(i, i + maxAlerts);
      const alerts = chunk.map((e) => e.snapshot);
      const status = alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
      const cause = chunk.some((e) => e.kind !== 'repeat') ? 'change' : 'repeat';
      out.push({
        id: notificationId(createdAt, status, cause, alerts),
        created_at: createdAt,
        status,
        cause,
        alerts,
      });
    }
    return out;
  }
}

function compareSnapshots(a: AlertSnapshot, b: AlertSnapshot): number {
  if (a.status !== b.status) return a.status === 'firing' ? -1 : 1;
  if (a.severity !== b.severity) return SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity];
  if (a.rule !== b.rule) return a.rule < b.rule ? -1 : 1;
  if (a.mailbox !== b.mailbox) return a.mailbox < b.mailbox ? -1 : 1;
  const [ka, kb] = [targetKey(a), targetKey(b)];
  if (ka !== kb) return ka < kb ? -1 : 1;
  return 0;
}

/** `${created_at}-${16 hex of sha256(content)}`: stable, so re-enqueueing the same notification is idempotent. */
export function notificationId(
  createdAt: number,
  status: Notification['status'],
  cause: Notification['cause'],
  alerts: readonly AlertSnapshot[],
): string {
  // A fixed field order, so a snapshot that went through the state file hashes the same.
  const canonical = alerts.map((a) => [
    a.rule,
    a.mailbox,
    a.severity,
    a.status,
    a.metric,
    a.op,
    a.threshold,
    a.value,
    a.active_since,
    a.fired_at,
    a.resolved_at,
    a.last_error?.code ?? null,
    a.last_error?.message ?? null,
    a.description,
    Object.entries(a.labels).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
  ]);
  const digest = createHash('sha256')
    .update(JSON.stringify([status, cause, canonical]))
    .digest('hex');
  return `${createdAt}-${digest.slice(0, 16)}`;
}
