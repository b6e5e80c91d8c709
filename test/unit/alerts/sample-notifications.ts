// Notifications and alert snapshots for the outbox and notifier tests: only the fields a test
// cares about are given, the rest are fixed.
import type { AlertSnapshot, Notification } from '../../../src/alerts/types.js';

export const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
export const MINUTE = 60_000;
export const HOUR = 3_600_000;

export function snapshot(fields: Partial<AlertSnapshot> = {}): AlertSnapshot {
  return {
    rule: 'backlog',
    mailbox: 'support',
    severity: 'warning',
    status: 'firing',
    metric: 'messages',
    op: '>',
    threshold: 100,
    value: 153,
    active_since: T0 - 17 * MINUTE,
    fired_at: T0 - 12 * MINUTE,
    resolved_at: null,
    last_error: null,
    description: null,
    labels: {},
    ...fields,
  };
}

export function notification(
  id: string,
  alerts: AlertSnapshot[] = [snapshot()],
  fields: Partial<Notification> = {},
): Notification {
  return {
    id,
    created_at: T0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    cause: 'change',
    alerts,
    ...fields,
  };
}
