/**
 * The impure glue around rules.ts: keeps the state, batches transitions for group_wait,
 * emits notifications, arms its own timers on the injected clock, persists.
 *
 * - Timers: the engine arms its own repeat timer for the earliest due repeat (and a
 *   group_wait timer per open batch), so repeats go out on time even while probes are
 *   skipped. tick() does the same check on demand; calling it periodically is harmless.
 *   Timers are unref'd: the engine never keeps a process alive; call flush() at shutdown.
 * - Durability: the open batch and the notifications made but not yet emitted are
 *   persisted with the state, and a notification is persisted before it is handed to
 *   emit (its id is fixed by then), so a crash either re-emits the same id after restart
 *   (the outbox deduplicates) or never lost it. A failed emit is retried every 30 s.
 * - Reload: instances of removed rules/mailboxes resolve; a firing one gets a resolved
 *   notice (the recipients were told it fires; silence would leave that standing
 *   forever). Pending ones vanish quietly.
 * - Resolved alerts always go into notifications: Alertmanager needs every resolve, and
 *   the email notifier leaves them out itself when send_resolved is off.
 * - Call load() once, before the first observe().
 */
import { type Clock, type TimerHandle, timerDelay } from '../clock.js';
import type { AlertingConfig, MailboxConfig, RuleConfig, Severity } from '../config/schema.js';
import type { StateStore } from '../json-file-store.js';
import type { Logger } from '../log.js';
import type { ProbeResult } from '../probe/result.js';
import { DEFAULT_MAX_ALERTS_PER_NOTIFICATION, NotificationBatch } from './batch.js';
import {
  dueRepeats,
  type EngineState,
  type Evaluation,
  effectiveRules,
  evaluateFlow,
  evaluateMailbox,
  type FlowObservation,
  type FlowTarget,
  type MailboxAlertState,
  nextRepeatAt,
  type ReconcileTarget,
  reconcile,
  ruleApplies,
  snapshotOf,
  type Transition,
} from './rules.js';
import type { PersistedAlertState } from './state-store.js';
import { type AlertSnapshot, alertKey, type Notification, targetKey } from './types.js';
import { formatRuleValue } from './values.js';

export type AlertPolicy = Pick<
  AlertingConfig,
  'rules' | 'builtin_rules' | 'repeat_interval' | 'group_wait'
>;
export type AlertedMailbox = Pick<MailboxConfig, 'name' | 'labels'>;
/** A delivery loop or an expect watch the rules are evaluated for. */
export type AlertedFlowTarget = FlowTarget & { labels: Record<string, string> };
export type AlertLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface AlertEngineOptions {
  clock: Clock;
  alerting: AlertPolicy;
  mailboxes: readonly AlertedMailbox[];
  store?: StateStore<PersistedAlertState>;
  /** Hands a notification to the outbox; a throw or rejection is logged and retried later with the same id. */
  emit(notification: Notification): void | Promise<void>;
  /** For the pop3_alerts_firing gauge. */
  onFiringChange?(rule: string, mailbox: string, severity: Severity, firing: boolean): void;
  /** The same for a loop's or a watch's alerts (their series carry `loop` or `expect`). */
  onFlowFiringChange?(rule: string, target: FlowTarget, severity: Severity, firing: boolean): void;
  /** Loops and watches (mail flow); they are observed through observeFlow(). */
  flowTargets?: readonly AlertedFlowTarget[];
  logger?: AlertLogger;
  maxAlertsPerNotification?: number;
}

export const EMIT_RETRY_MS = 30_000;

export class AlertEngine {
  readonly #opts: AlertEngineOptions;
  readonly #clock: Clock;
  #alerting: AlertPolicy;
  #mailboxes = new Map<string, AlertedMailbox>();
  #flowTargets = new Map<string, AlertedFlowTarget>();
  #rulesByMailbox = new Map<string, RuleConfig[]>();
  #state = new Map<string, MailboxAlertState>();
  #batch: NotificationBatch | null = null;
  #outgoing: Notification[] = [];
  #batchTimer: TimerHandle | null = null;
  #repeatTimer: TimerHandle | null = null;
  #retryTimer: TimerHandle | null = null;
  #work: Promise<void> = Promise.resolve();
  #persistQueued = false;
  #draining = false;
  #stopped = false;

  constructor(opts: AlertEngineOptions) {
    this.#opts = opts;
    this.#clock = opts.clock;
    this.#alerting = opts.alerting;
    this.#configure(opts.alerting, opts.mailboxes, opts.flowTargets ?? []);
  }

  /** Restores persisted state (a missing, unreadable or corrupt file means starting empty). */
  async load(): Promise<void> {
    if (!this.#opts.store) return;
    let data: PersistedAlertState | null;
    try {
      data = await this.#opts.store.load();
    } catch (err) {
      this.#opts.logger?.error({ event: 'alert_state_load_failed', err }, 'alert state not loaded');
      return;
    }
    if (data === null) return;
    this.#state = new Map(data.mailboxes.map((m) => [targetKey(m), m]));
    this.#batch = data.batch ? NotificationBatch.from(data.batch) : null;
    this.#outgoing = [...data.outgoing];
    for (const [, record] of firingOf(this.#state)) this.#reportFiring(record, true);
    // The config may have changed while we were down.
    this.#reconcile();
    if (this.#batch) this.#armBatchTimer();
    this.#armRepeatTimer();
    if (this.#outgoing.length > 0) this.#drain();
  }

  /** Feeds one probe result (of a configured mailbox; others are ignored). */
  observe(result: ProbeResult): void {
    const mailbox = this.#mailboxes.get(result.mailbox);
    if (!mailbox) return;
    const out = evaluateMailbox(
      this.#state.get(mailbox.name),
      result,
      this.#rulesByMailbox.get(mailbox.name) ?? [],
      {
        nowMs: this.#clock.now(),
        repeatIntervalMs: this.#alerting.repeat_interval,
        labels: mailbox.labels,
      },
    );
    this.#state.set(mailbox.name, out.state);
    this.#apply(out.transitions, true);
    if (out.changed) this.#persist();
  }

  /**
   * Feeds one evaluation of a loop or watch (of a configured one; others are ignored): the
   * values of its rule metrics now.
   */
  observeFlow(observation: FlowObservation): void {
    const key = targetKey(observation.target);
    const target = this.#flowTargets.get(key);
    if (!target) return;
    const out = evaluateFlow(this.#state.get(key), observation, effectiveRules(this.#alerting), {
      nowMs: this.#clock.now(),
      repeatIntervalMs: this.#alerting.repeat_interval,
      labels: target.labels,
    });
    this.#state.set(key, out.state);
    this.#apply(out.transitions, true);
    if (out.changed) this.#persist();
  }

  reconfigure(
    alerting: AlertPolicy,
    mailboxes: readonly AlertedMailbox[],
    flowTargets: readonly AlertedFlowTarget[] = [],
  ): void {
    this.#alerting = alerting;
    this.#configure(alerting, mailboxes, flowTargets);
    this.#reconcile();
    if (this.#batch) this.#armBatchTimer();
    this.#armRepeatTimer();
  }

  /** Sends the repeats that are due (the engine's own timer calls this too). */
  tick(): void {
    this.#step(dueRepeats(this.#state, this.#clock.now(), this.#alerting.repeat_interval), true);
    this.#armRepeatTimer();
    if (this.#outgoing.length > 0) this.#drain();
  }

  /** Closes any open batch now and waits until everything is emitted and persisted (shutdown). */
  async flush(): Promise<void> {
    this.#closeBatch();
    await this.idle();
  }

  /** Resolves when queued emits and writes are done. */
  async idle(): Promise<void> {
    let seen: Promise<void> | null = null;
    while (seen !== this.#work) {
      seen = this.#work;
      await seen;
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of [this.#batchTimer, this.#repeatTimer, this.#retryTimer]) {
      if (timer) this.#clock.clearTimeout(timer);
    }
    this.#batchTimer = this.#repeatTimer = this.#retryTimer = null;
  }

  /** The alerts firing now. */
  snapshot(): AlertSnapshot[] {
    const out: AlertSnapshot[] = [];
    for (const [mailbox, record] of firingOf(this.#state))
      out.push(snapshotOf(record, mailbox, null));
    return out.sort((a, b) => (alertKey(a) < alertKey(b) ? -1 : 1));
  }

  #configure(
    alerting: AlertPolicy,
    mailboxes: readonly AlertedMailbox[],
    flowTargets: readonly AlertedFlowTarget[],
  ): void {
    const rules = effectiveRules(alerting);
    this.#mailboxes = new Map(mailboxes.map((m) => [m.name, m]));
    this.#flowTargets = new Map(flowTargets.map((t) => [targetKey(t), t]));
    this.#rulesByMailbox = new Map(
      mailboxes.map((m) => [m.name, rules.filter((r) => ruleApplies(r, m.name))]),
    );
  }

  #reconcile(): void {
    const before = firingSeverities(this.#state);
    // Only these fields: a MailboxConfig's own `expect` (its watches) is no watch identity.
    const targets: ReconcileTarget[] = [
      ...[...this.#mailboxes.values()].map((m) => ({ name: m.name, labels: m.labels })),
      ...[...this.#flowTargets.values()].map((t) =>
        t.loop !== undefined
          ? { name: t.mailbox, labels: t.labels, loop: t.loop }
          : { name: t.mailbox, labels: t.labels, expect: t.expect },
      ),
    ];
    const out = reconcile(this.#state, effectiveRules(this.#alerting), targets, this.#clock.now());
    this.#step(out, false);
    // A severity change moves the gauge series, so it is reported as off + on.
    const after = firingSeverities(this.#state);
    for (const [key, record] of before) {
      if (after.get(key)?.severity !== record.severity) this.#reportFiring(record, false);
    }
    for (const [key, record] of after) {
      if (before.get(key)?.severity !== record.severity) this.#reportFiring(record, true);
    }
    this.#persist();
  }

  #reportFiring(
    record: Pick<AlertSnapshot, 'rule' | 'mailbox' | 'loop' | 'expect' | 'severity'>,
    firing: boolean,
  ): void {
    const { rule, mailbox, severity } = record;
    if (record.loop !== undefined) {
      this.#opts.onFlowFiringChange?.(rule, { mailbox, loop: record.loop }, severity, firing);
    } else if (record.expect !== undefined) {
      this.#opts.onFlowFiringChange?.(rule, { mailbox, expect: record.expect }, severity, firing);
    } else {
      this.#opts.onFiringChange?.(rule, mailbox, severity, firing);
    }
  }

  #step(out: Evaluation<EngineState>, reportFiring: boolean): void {
    if (out.state !== this.#state) this.#state = new Map(out.state);
    this.#apply(out.transitions, reportFiring);
    if (out.changed) this.#persist();
  }

  #apply(transitions: readonly Transition[], reportFiring: boolean): void {
    if (transitions.length === 0) return;
    const now = this.#clock.now();
    for (const t of transitions) {
      const { rule, mailbox, loop, expect, severity, value, metric } = t.snapshot;
      // Ages read as durations (`2h 0m`), not as a float of seconds.
      const shown = value === null ? null : formatRuleValue(metric, value);
      this.#opts.logger?.info(
        { event: `alert_${t.kind}`, rule, mailbox, loop, expect, severity, value: shown },
        `alert ${t.kind}`,
      );
      if (reportFiring && t.kind !== 'repeat') this.#reportFiring(t.snapshot, t.kind === 'firing');
      if (!this.#batch) {
        this.#batch = new NotificationBatch(now);
        this.#armBatchTimer();
      }
      this.#batch.add(t);
    }
    this.#armRepeatTimer();
    this.#persist();
    if (this.#alerting.group_wait === 0) this.#closeBatch();
  }

  #armBatchTimer(): void {
    if (this.#batchTimer) this.#clock.clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    if (!this.#batch || this.#stopped) return;
    const closeAt = this.#batch.opened_at + this.#alerting.group_wait;
    this.#batchTimer = this.#arm(() => {
      this.#batchTimer = null;
      // A capped timer may fire early: arm again for the rest.
      if (this.#clock.now() >= closeAt) this.#closeBatch();
      else this.#armBatchTimer();
    }, closeAt - this.#clock.now());
  }

  #armRepeatTimer(): void {
    if (this.#repeatTimer) this.#clock.clearTimeout(this.#repeatTimer);
    this.#repeatTimer = null;
    const due = nextRepeatAt(this.#state, this.#alerting.repeat_interval);
    if (due === null || this.#stopped) return;
    this.#repeatTimer = this.#arm(() => {
      this.#repeatTimer = null;
      this.tick();
    }, due - this.#clock.now());
  }

  #arm(fn: () => void, delayMs: number): TimerHandle {
    // A capped delay fires early; tick() finds nothing due yet and arms again.
    const handle = this.#clock.setTimeout(fn, timerDelay(delayMs));
    handle.unref();
    return handle;
  }

  #closeBatch(): void {
    if (this.#batchTimer) this.#clock.clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = null;
    const max = this.#opts.maxAlertsPerNotification ?? DEFAULT_MAX_ALERTS_PER_NOTIFICATION;
    this.#outgoing.push(...batch.build(this.#clock.now(), max));
    // Persisted (ids fixed) before emit, so a crash in between re-emits the same ids.
    this.#persist();
    this.#drain();
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#enqueue(async () => {
      try {
        while (this.#outgoing.length > 0) {
          const notification = this.#outgoing[0] as Notification;
          try {
            await this.#opts.emit(notification);
          } catch (err) {
            this.#opts.logger?.error(
              { event: 'alert_emit_failed', id: notification.id, err },
              'notification not handed over; retrying',
            );
            if (!this.#retryTimer && !this.#stopped) {
              this.#retryTimer = this.#arm(() => {
                this.#retryTimer = null;
                this.#drain();
              }, EMIT_RETRY_MS);
            }
            return;
          }
          this.#outgoing.shift();
          this.#persist();
        }
      } finally {
        this.#draining = false;
      }
    });
  }

  /** Coalesced: one queued write saves whatever the state is when it runs. */
  #persist(): void {
    const store = this.#opts.store;
    if (!store || this.#persistQueued) return;
    this.#persistQueued = true;
    this.#enqueue(async () => {
      this.#persistQueued = false;
      try {
        await store.save(this.#serialize());
      } catch (err) {
        this.#opts.logger?.error(
          { event: 'alert_state_save_failed', err },
          'alert state not saved',
        );
      }
    });
  }

  #serialize(): PersistedAlertState {
    const mailboxes = [...this.#state.values()].filter(
      (m) =>
        m.instances.length > 0 || m.consecutive_failures > 0 || m.consecutive_login_failures > 0,
    );
    return {
      version: 1,
      mailboxes,
      batch: this.#batch?.toJSON() ?? null,
      outgoing: [...this.#outgoing],
    };
  }

  #enqueue(job: () => Promise<void>): void {
    this.#work = this.#work.then(job, job);
  }
}

function* firingOf(
  state: EngineState,
): Generator<[MailboxAlertState, MailboxAlertState['instances'][number]]> {
  for (const mailbox of state.values()) {
    for (const record of mailbox.instances) if (record.state === 'firing') yield [mailbox, record];
  }
}

function firingSeverities(state: EngineState): Map<string, MailboxAlertState['instances'][number]> {
  const out = new Map<string, MailboxAlertState['instances'][number]>();
  for (const [, r] of firingOf(state)) out.set(alertKey(r), r);
  return out;
}
