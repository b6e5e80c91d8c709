import type { Clock } from '../clock.js';
import type { MailboxConfig } from '../config/schema.js';
import type { FlowSnapshot } from '../flow/mail-flow.js';
import type { ProbeHistory } from '../history/history.js';
import type { Exposition } from '../metrics/metrics.js';
import type { ProbeResult } from '../probe/result.js';
import type { WebBackend } from './routes.js';
import { type FiringAlert, flowViews, mailboxViews, type ReloadState } from './status.js';

/** What the HTTP server's answers are made of; the app (app.ts) provides each part. */
export interface BackendSources {
  clock: Clock;
  version: string;
  history: ProbeHistory;
  /** The mailboxes of this replica (its shard). */
  mailboxes(): readonly MailboxConfig[];
  /** The alerts firing now. */
  firing(): readonly FiringAlert[];
  /** The delivery loops and expect watches as they stand. */
  flow(): FlowSnapshot;
  outboxPending(): number;
  reloadState(): ReloadState;
  ready(): boolean;
  exposition(): Exposition;
  health(): string | null;
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Why a login to the mailbox must wait now (its auth backoff), or null. */
  heldBack(name: string): string | null;
  /** A probe now through the scheduler's limits; undefined when none ran (a reload dropped it). */
  runNow(name: string): Promise<ProbeResult | undefined>;
}

/** The status pages' snapshots and /probe, from the app's parts. */
export function createWebBackend(s: BackendSources): WebBackend {
  const find = (name: string) => s.mailboxes().find((m) => m.name === name);
  return {
    exposition: () => s.exposition(),
    isReady: () => s.ready(),
    health: () => s.health(),
    reload: () => s.reload(),
    status: () => {
      const firing = s.firing();
      return {
        now: s.clock.now(),
        version: s.version,
        ready: s.ready(),
        mailboxes: mailboxViews(s.mailboxes(), s.history, firing),
        ...flowViews(s.flow(), firing),
        outbox: { pending: s.outboxPending() },
        reload: s.reloadState(),
      };
    },
    mailboxDetail(name) {
      const config = find(name);
      if (config === undefined) return undefined;
      const [view] = mailboxViews([config], s.history, s.firing());
      if (view === undefined) return undefined;
      return {
        now: s.clock.now(),
        version: s.version,
        mailbox: view,
        recent: s.history.recent(name),
      };
    },
    /**
     * One already queued or running is joined (the scheduler's doing). A mailbox backing
     * off after a refused login is not tried again (that is how accounts get locked): its
     * last result is the answer.
     */
    async probeNow(name) {
      const mailbox = find(name);
      if (mailbox === undefined) return undefined;
      const last = s.history.recent(name)[0];
      const held = last === undefined ? null : s.heldBack(name);
      if (held !== null && last !== undefined)
        return { result: last, labels: mailbox.labels, held };
      // None when a reload removed or changed the mailbox meanwhile: the newest one stands.
      const result = (await s.runNow(name)) ?? s.history.recent(name)[0];
      return result === undefined ? undefined : { result, labels: mailbox.labels, held: null };
    },
  };
}
