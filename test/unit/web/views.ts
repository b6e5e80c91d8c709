// Mailbox views and snapshots for the page tests: a view with only the fields a test
// cares about, the rest fixed.
import type { ProbeResult } from '../../../src/probe/result.js';
import type { MailboxView, StatusSnapshot } from '../../../src/web/status.js';

/** 2026-01-01T12:00:00Z: `now` of every snapshot here. */
export const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

export function view(
  name: string,
  latest?: ProbeResult,
  fields: Partial<MailboxView> = {},
): MailboxView {
  return {
    name,
    labels: {},
    server: 'pop.example.com:995',
    tls: 'implicit',
    auth: 'auto',
    schedule: '*/60 * * * * *',
    latest,
    since: latest?.started_at,
    alerts: [],
    ...fields,
  };
}

export function snapshot(
  mailboxes: MailboxView[],
  fields: Partial<StatusSnapshot> = {},
): StatusSnapshot {
  return {
    now: NOW,
    version: '9.9.9',
    ready: true,
    mailboxes,
    loops: [],
    watches: [],
    outbox: { pending: 0 },
    reload: { ok: null, at: NOW - 3_600_000, error: null },
    ...fields,
  };
}
