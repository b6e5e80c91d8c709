import pino from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import type { MailboxConfig } from '../config/schema.js';
import type { ProbeResult } from '../probe/result.js';
import { type CronOptions, intervalOf, nextFireTime } from './cron-next.js';
import { DispatchQueue, type Ticket } from './dispatch-queue.js';
import { SchedulerError } from './errors.js';
import { sameConfig } from './same-config.js';
import {
  DEFAULT_MAX_SPREAD_MS,
  type Slot,
  type SlotPlan,
  slotAfter,
  slotAfterNow,
  startupPlan,
} from './slots.js';
import { spreadFraction } from './spread.js';
import { TimerWheel } from './timer-wheel.js';
import {
  DEFAULT_WATCHDOG_GRACE_MS,
  type ScheduledMailbox,
  type SchedulerLogger,
  type SchedulerOptions,
  type SkipReason,
} from './types.js';

export { type CronOptions, intervalOf, nextFireTime } from './cron-next.js';
export { SCHEDULER_ERROR_CODES, SchedulerError, type SchedulerErrorCode } from './errors.js';
export { DEFAULT_MAX_SPREAD_MS, STARTUP_SPREAD_MS } from './slots.js';
export { spreadFraction, spreadOffsetMs } from './spread.js';
export {
  DEFAULT_WATCHDOG_GRACE_MS,
  type ScheduledMailbox,
  type SchedulerLogger,
  type SchedulerOptions,
  type SkipReason,
} from './types.js';

/*
 * The scheduler (slot times: slots.ts):
 *
 * - Overlap. A tick that finds the mailbox's previous probe still queued or running is
 *   skipped: onSkip(mailbox, 'overlap').
 * - Auth backoff. After a result with error.code 'auth', ticks are skipped
 *   (onSkip 'auth_backoff') until auth_failure_backoff ms have passed since that result;
 *   then the next tick probes. A success, or a changed config of the mailbox, clears it.
 * - Limits. At most maxConcurrent probes run, at most maxPerHost per host (host name
 *   lower-cased, port ignored: the limit protects the server). The others wait, oldest
 *   first (dispatch-queue.ts). A mailbox has at most one probe queued or running, so the
 *   queue never holds more entries than there are mailboxes. Waiting does not eat into a
 *   probe's deadline: probe() starts its own clock when called.
 * - Watchdog. probe() must settle by its own deadline; if it has not settled
 *   `watchdogGraceMs` after `timeout`, its slot is released and its late result ignored.
 * - Clock set back by more than a second: every mailbox's slots are recomputed from the
 *   new now (a start-up tick not yet made is dropped; the next slot comes instead).
 * - Timers: one unref'd clock timer for all mailboxes (timer-wheel.ts), plus one watchdog
 *   per running probe; stop() leaves none.
 */

interface Job<M> {
  readonly config: M;
  readonly generation: number;
  ticket: Ticket | null;
  watchdog: TimerHandle | null;
  settled: boolean;
  readonly done: Promise<ProbeResult | undefined>;
  readonly resolve: (result: ProbeResult | undefined) => void;
}

interface MailboxState<M> {
  readonly name: string;
  readonly fraction: number;
  config: M;
  hostKey: string;
  /** Bumped on every config change; an older generation's result leaves the backoff alone. */
  generation: number;
  /** Bumped when the mailbox's timer entries become stale (change, removal). */
  epoch: number;
  removed: boolean;
  job: Job<M> | null;
  authFailedAt: number | null;
  loginDelayWarned: boolean;
}

interface TimerItem<M> {
  state: MailboxState<M>;
  epoch: number;
  /** null: the start-up probe. */
  slot: Slot | null;
}

export function hostKeyOf(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

export class Scheduler<M extends ScheduledMailbox = MailboxConfig> {
  readonly #options: SchedulerOptions<M>;
  readonly #clock: Clock;
  readonly #log: SchedulerLogger;
  readonly #cron: CronOptions;
  readonly #plan: SlotPlan;
  readonly #graceMs: number;
  readonly #queue: DispatchQueue;
  readonly #wheel: TimerWheel<TimerItem<M>>;
  readonly #states = new Map<string, MailboxState<M>>();
  /** Names not yet attempted since start(), while the first round is open. */
  readonly #awaiting = new Set<string>();
  #idleWaiters: Array<() => void> = [];
  #started = false;
  #stopped = false;
  #roundDone = false;

  constructor(options: SchedulerOptions<M>) {
    this.#options = options;
    this.#clock = options.clock;
    this.#log = options.logger ?? pino({ level: 'silent' });
    this.#cron = { timezone: options.timezone };
    this.#plan = {
      spread: options.spread ?? true,
      maxSpreadMs: options.maxSpreadMs ?? DEFAULT_MAX_SPREAD_MS,
      cron: this.#cron,
    };
    this.#graceMs = options.watchdogGraceMs ?? DEFAULT_WATCHDOG_GRACE_MS;
    nextFireTime('* * * * * *', 0, this.#cron); // throws now for an unknown time zone
    this.#queue = new DispatchQueue(options.maxConcurrent, options.maxPerHost);
    this.#wheel = new TimerWheel<TimerItem<M>>(
      this.#clock,
      (item, now) => this.#onDue(item, now),
      (item) => !item.state.removed && item.epoch === item.state.epoch,
      (now) => this.#onClockBack(now),
    );
  }

  /** Probes running now. */
  get inFlight(): number {
    return this.#queue.running;
  }

  /** Probes waiting for a slot (at most one per mailbox). */
  get queued(): number {
    return this.#queue.waiting;
  }

  /**
   * Sets the mailbox list (first call or reload), keyed by name. New ones are added (and
   * get a start-up probe once started); missing ones are removed: their ticks and queued
   * probe are cancelled, a running probe completes but its result is not reported.
   * A changed one is rescheduled, gets a start-up probe, and loses its auth backoff.
   * Identical ones keep their timers and state.
   */
  setMailboxes(mailboxes: readonly M[]): void {
    const incoming = new Map<string, M>();
    for (const mailbox of mailboxes) {
      if (incoming.has(mailbox.name)) {
        throw new SchedulerError(
          'duplicate_mailbox',
          `mailbox ${JSON.stringify(mailbox.name)} is listed twice`,
        );
      }
      // Fail before changing anything: a bad expression must not half-apply a reload.
      nextFireTime(mailbox.schedule, 0, this.#cron);
      incoming.set(mailbox.name, mailbox);
    }
    for (const state of [...this.#states.values()]) {
      if (!incoming.has(state.name)) this.#remove(state);
    }
    const armNow = this.#started && !this.#stopped;
    const now = this.#clock.now();
    for (const mailbox of incoming.values()) {
      const state = this.#states.get(mailbox.name);
      if (state === undefined) {
        const added = this.#createState(mailbox);
        this.#states.set(added.name, added);
        if (this.#started && !this.#roundDone) this.#awaiting.add(added.name);
        if (armNow) this.#armStartup(added, now);
      } else if (sameConfig(state.config, mailbox)) {
        state.config = mailbox;
      } else {
        this.#change(state, mailbox);
        if (armNow) this.#armStartup(state, now);
      }
    }
    if (this.#wheel.size > 4 * this.#states.size + 64) this.#wheel.compact();
    this.#checkRound();
  }

  /** Arms the timers; see the comment at the top for when probes happen. */
  start(): void {
    if (this.#stopped) throw new SchedulerError('stopped', 'start() after stop()');
    if (this.#started) return;
    this.#started = true;
    const now = this.#clock.now();
    for (const state of this.#states.values()) {
      this.#awaiting.add(state.name);
      this.#armStartup(state, now);
    }
    this.#wheel.start();
    this.#checkRound();
  }

  /**
   * Probes the named mailboxes (default all) now, through the same limits, ignoring their
   * schedule and auth backoff; a mailbox whose probe is already queued or running joins it.
   * Results are also reported through onResult. Resolves with the results in the order of
   * the names; a probe that threw, or was cancelled by a reload or stop(), has none.
   */
  async runNow(names?: readonly string[]): Promise<ProbeResult[]> {
    if (this.#stopped) throw new SchedulerError('stopped', 'runNow() after stop()');
    const states = (names ?? [...this.#states.keys()]).map((name) => {
      const state = this.#states.get(name);
      if (state === undefined) {
        throw new SchedulerError('unknown_mailbox', `no mailbox named ${JSON.stringify(name)}`);
      }
      return state;
    });
    const jobs = states.map((state) => state.job ?? this.#enqueue(state));
    const results = await Promise.all(jobs.map((job) => job.done));
    return results.filter((result): result is ProbeResult => result !== undefined);
  }

  /**
   * No new ticks; queued probes are dropped; resolves when the running ones have finished
   * (each has its own deadline). Leaves no timer behind.
   */
  stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#wheel.stop();
      for (const state of this.#states.values()) {
        if (state.job !== null) this.#cancelQueued(state);
      }
    }
    if (this.#queue.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #createState(mailbox: M): MailboxState<M> {
    return {
      name: mailbox.name,
      fraction: spreadFraction(mailbox.name),
      config: mailbox,
      hostKey: hostKeyOf(mailbox.host),
      generation: 0,
      epoch: 0,
      removed: false,
      job: null,
      authFailedAt: null,
      loginDelayWarned: false,
    };
  }

  #remove(state: MailboxState<M>): void {
    this.#states.delete(state.name);
    state.removed = true;
    state.epoch += 1;
    this.#cancelQueued(state);
    this.#awaiting.delete(state.name);
  }

  #change(state: MailboxState<M>, mailbox: M): void {
    state.config = mailbox;
    state.hostKey = hostKeyOf(mailbox.host);
    state.generation += 1;
    state.epoch += 1;
    state.authFailedAt = null;
    state.loginDelayWarned = false;
    // A queued probe would use the old config (and count against the old host).
    this.#cancelQueued(state);
    this.#log.info({
      event: 'mailbox_rescheduled',
      mailbox: state.name,
      schedule: mailbox.schedule,
    });
  }

  /** Drops the mailbox's probe if it is still waiting for a slot. */
  #cancelQueued(state: MailboxState<M>): void {
    const job = state.job;
    if (job?.ticket == null || !this.#queue.cancel(job.ticket)) return;
    job.settled = true;
    state.job = null;
    job.resolve(undefined);
  }

  #armStartup(state: MailboxState<M>, now: number): void {
    const { startupAt, first } = startupPlan(
      state.config.schedule,
      state.fraction,
      now,
      this.#plan,
    );
    this.#wheel.add(startupAt, { state, epoch: state.epoch, slot: null });
    this.#armSlot(state, first);
  }

  #armSlot(state: MailboxState<M>, slot: Slot | null): void {
    if (slot !== null) {
      this.#wheel.add(slot.at, { state, epoch: state.epoch, slot });
      return;
    }
    this.#log.warn({
      event: 'schedule_never_fires',
      mailbox: state.name,
      schedule: state.config.schedule,
    });
  }

  #onDue(item: TimerItem<M>, now: number): void {
    const { state, slot } = item;
    try {
      if (slot !== null) {
        const { next, missed } = slotAfter(
          state.config.schedule,
          state.fraction,
          slot,
          now,
          this.#plan,
        );
        if (missed) this.#log.info({ event: 'schedule_slots_missed', mailbox: state.name });
        this.#armSlot(state, next);
      }
      this.#tick(state);
    } catch (err) {
      this.#log.error({ event: 'scheduler_tick_failed', mailbox: state.name, err });
    }
  }

  /** The wall clock was set back: slots computed before would wait out the difference. */
  #onClockBack(now: number): void {
    this.#log.warn({ event: 'clock_went_back', now: new Date(now).toISOString() });
    for (const state of this.#states.values()) {
      state.epoch += 1;
      this.#armSlot(state, slotAfterNow(state.config.schedule, state.fraction, now, this.#plan));
    }
  }

  #tick(state: MailboxState<M>): void {
    if (state.job !== null) {
      this.#skip(state, 'overlap');
      return;
    }
    const backoff = state.config.auth_failure_backoff;
    if (state.authFailedAt !== null && this.#clock.now() - state.authFailedAt < backoff) {
      this.#skip(state, 'auth_backoff');
      return;
    }
    this.#enqueue(state);
  }

  #skip(state: MailboxState<M>, reason: SkipReason): void {
    this.#log.debug({ event: 'probe_skipped', mailbox: state.name, reason });
    try {
      this.#options.onSkip(state.config, reason);
    } catch (err) {
      this.#log.error({ event: 'on_skip_failed', mailbox: state.name, err });
    }
  }

  #enqueue(state: MailboxState<M>): Job<M> {
    let resolve: (result: ProbeResult | undefined) => void = () => {};
    const done = new Promise<ProbeResult | undefined>((r) => {
      resolve = r;
    });
    const job: Job<M> = {
      config: state.config,
      generation: state.generation,
      ticket: null,
      watchdog: null,
      settled: false,
      done,
      resolve,
    };
    state.job = job;
    const ticket = this.#queue.ticket(state.hostKey, () => this.#run(state, job));
    job.ticket = ticket;
    this.#queue.submit(ticket);
    return job;
  }

  #run(state: MailboxState<M>, job: Job<M>): void {
    job.watchdog = this.#clock.setTimeout(
      () => this.#abandon(state, job),
      job.config.timeout + this.#graceMs,
    );
    job.watchdog.unref?.();
    let pending: Promise<ProbeResult>;
    try {
      pending = Promise.resolve(this.#options.probe(job.config));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (result) => {
        if (typeof result === 'object' && result !== null) {
          this.#complete(state, job, result);
          return;
        }
        this.#log.error({ event: 'probe_bad_result', mailbox: state.name });
        this.#complete(state, job, undefined);
      },
      (err: unknown) => {
        this.#log.error({ event: 'probe_threw', mailbox: state.name, err });
        this.#complete(state, job, undefined);
      },
    );
  }

  #abandon(state: MailboxState<M>, job: Job<M>): void {
    job.watchdog = null;
    if (job.settled) return;
    this.#log.error({
      event: 'probe_watchdog',
      mailbox: state.name,
      timeout_ms: job.config.timeout,
    });
    this.#complete(state, job, undefined);
  }

  #complete(state: MailboxState<M>, job: Job<M>, result: ProbeResult | undefined): void {
    if (job.settled) {
      this.#log.warn({ event: 'probe_settled_after_watchdog', mailbox: state.name });
      return;
    }
    job.settled = true;
    if (job.watchdog !== null) this.#clock.clearTimeout(job.watchdog);
    job.watchdog = null;
    if (state.job === job) state.job = null;
    if (job.ticket !== null) this.#queue.finish(job.ticket);
    if (!state.removed) {
      if (result !== undefined) this.#report(state, job, result);
      if (this.#awaiting.delete(state.name)) this.#checkRound();
    }
    job.resolve(result);
    if (this.#queue.running === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #report(state: MailboxState<M>, job: Job<M>, result: ProbeResult): void {
    if (job.generation === state.generation) {
      if (result.error?.code === 'auth') {
        state.authFailedAt = this.#clock.now();
        if (state.config.auth_failure_backoff > 0) {
          this.#log.warn({
            event: 'auth_backoff',
            mailbox: state.name,
            backoff_ms: state.config.auth_failure_backoff,
          });
        }
      } else if (result.success) {
        state.authFailedAt = null;
      }
      this.#checkLoginDelay(state, result);
    }
    try {
      this.#options.onResult(result, job.config);
    } catch (err) {
      this.#log.error({ event: 'on_result_failed', mailbox: state.name, err });
    }
  }

  /** RFC 2449 LOGIN-DELAY: a schedule faster than the server allows cannot succeed. */
  #checkLoginDelay(state: MailboxState<M>, result: ProbeResult): void {
    const delay = result.login_delay_seconds;
    if (delay === null || delay === undefined || state.loginDelayWarned) return;
    const intervalMs = intervalOf(state.config.schedule, this.#clock.now(), this.#cron);
    if (delay * 1000 <= intervalMs) return;
    state.loginDelayWarned = true;
    this.#log.warn({
      event: 'login_delay_exceeds_interval',
      mailbox: state.name,
      login_delay_seconds: delay,
      interval_seconds: intervalMs / 1000,
    });
  }

  #checkRound(): void {
    if (!this.#started || this.#roundDone || this.#awaiting.size > 0) return;
    this.#roundDone = true;
    try {
      this.#options.onRoundComplete?.();
    } catch (err) {
      this.#log.error({ event: 'on_round_complete_failed', err });
    }
  }
}
