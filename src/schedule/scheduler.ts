import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import { sameConfig } from '../config/same-config.js';
import type { MailboxConfig } from '../config/schema.js';
import { CodedError } from '../errors.js';
import type { ProbeResult, SkipReason } from '../probe/result.js';
import { CronTasks } from './cron-tasks.js';
import { DispatchQueue, type Ticket } from './dispatch-queue.js';
import { type Due, type Sweep, startSweep } from './sweep.js';

/*
 * The scheduler. node-cron decides when a schedule matches (cron-tasks.ts); this decides
 * when each mailbox's probe runs and how many run at once:
 *
 * - Spread. A mailbox ticks at match + floor(fraction × window), fraction =
 *   spreadFraction(name), window = min(time to the next match, maxSpreadMs): below the
 *   next match, and a name keeps its place across restarts. Without spread, at the match.
 *   The ticks of one match wait behind one timer (sweep.ts).
 * - Start-up tick. A mailbox that starts being scheduled (start(), or a reload that adds or
 *   changes it) also ticks once at now + floor(fraction × min(window, 10 s)), so metrics
 *   and /readyz come within seconds; ticks earlier than that + window / 2 are dropped, so
 *   the first two probes are not a few seconds apart.
 * - Overlap. A tick that finds the mailbox's previous probe still queued or running is
 *   skipped: onSkip(mailbox, 'overlap'). Then `admit` (the probe gate) may skip it too.
 * - Limits. At most maxConcurrent probes run, at most maxPerHost per host (host name
 *   lower-cased, port ignored: the limit protects the server). The others wait, oldest
 *   first (dispatch-queue.ts); a mailbox has at most one probe queued or running. Waiting
 *   does not eat into a probe's deadline: probe() starts its own clock when called.
 * - Watchdog. probe() must settle by its own deadline; if it has not settled
 *   `watchdogGraceMs` after `timeout`, its slot is released and its late result ignored.
 */

/** What the scheduler reads of a mailbox; MailboxConfig has all of it. */
export interface ScheduledMailbox {
  name: string;
  host: string;
  port: number;
  /** A node-cron expression. */
  schedule: string;
  /** The probe's own deadline, ms (the watchdog waits this plus a grace). */
  timeout: number;
}

export type SchedulerLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface SchedulerOptions<M extends ScheduledMailbox = MailboxConfig> {
  /**
   * Timers of the spread and the watchdogs. node-cron reads the process clock (Date,
   * setTimeout) itself, so this must be that clock: systemClock, or fake timers installed
   * on the globals in tests.
   */
  clock: Clock;
  /** config.scheduler.max_concurrent_probes and max_concurrent_per_host */
  maxConcurrent: number;
  maxPerHost: number;
  /** Never throws by contract (probeMailbox); a breach is caught, logged, not reported. */
  probe(mailbox: M): Promise<ProbeResult>;
  /** `mailbox` is the config the probe ran with. */
  onResult(result: ProbeResult, mailbox: M): void;
  onSkip(mailbox: M, reason: SkipReason): void;
  /** Asked before a scheduled probe (not runNow): a reason skips it (the probe gate). */
  admit?(mailbox: M): SkipReason | null;
  /** Once, when every mailbox has been attempted since start(): drives /readyz. */
  onRoundComplete(): void;
  logger: SchedulerLogger;
  /** Default true. */
  spread?: boolean;
  /** IANA zone node-cron reads the fields in; default the process's local time zone. */
  timezone?: string;
  /** Upper bound of the spread window, so a daily 09:00 probe stays near 09:00. Default 5 min. */
  maxSpreadMs?: number;
  /** Default 30 s. */
  watchdogGraceMs?: number;
}

export const DEFAULT_WATCHDOG_GRACE_MS = 30_000;
export const DEFAULT_MAX_SPREAD_MS = 5 * 60_000;
/** The start-up probe of a mailbox comes within this (or its window when shorter). */
export const STARTUP_SPREAD_MS = 10_000;

/** Misuse of the scheduler: an unknown name, a call after stop(). */
export class SchedulerError extends CodedError<'unknown_mailbox' | 'stopped'> {}

/**
 * A stable position in [0, 1) for a mailbox name: the first 48 bits of its SHA-1. Pure, so
 * the same name keeps its slot across restarts and instances; SHA-1 (not FNV) because
 * names are often sequential (`box-1`, `box-2`) and FNV clusters those.
 */
export function spreadFraction(name: string): number {
  return createHash('sha1').update(name).digest().readUIntBE(0, 6) / 2 ** 48;
}

interface Job<M> {
  readonly config: M;
  ticket: Ticket | null;
  watchdog: TimerHandle | null;
  settled: boolean;
  readonly done: Promise<ProbeResult | undefined>;
  readonly resolve: (result: ProbeResult | undefined) => void;
}

interface MailboxState<M> {
  readonly name: string;
  readonly fraction: number;
  /** A new object when the mailbox changed: ticks made for the old one are stale. */
  config: M;
  job: Job<M> | null;
  /** Ticks of matches before this are dropped: they would follow the start-up tick closely. */
  notBefore: number;
}

/** A tick made for the config it was made with. */
type Tick<M> = { readonly state: MailboxState<M>; readonly config: M };

const hostKeyOf = (host: string): string => host.trim().toLowerCase().replace(/\.$/, '');

export class Scheduler<M extends ScheduledMailbox = MailboxConfig> {
  readonly #options: SchedulerOptions<M>;
  readonly #clock: Clock;
  readonly #log: SchedulerLogger;
  readonly #spread: boolean;
  readonly #maxSpreadMs: number;
  readonly #cron: CronTasks<MailboxState<M>>;
  readonly #queue: DispatchQueue;
  #sweeps: Sweep[] = [];
  readonly #states = new Map<string, MailboxState<M>>();
  /** Names not yet attempted since start(); null before start() and once the round is done. */
  #awaiting: Set<string> | null = null;
  readonly #idleWaiters: Array<() => void> = [];
  #started = false;
  #stopped = false;

  constructor(options: SchedulerOptions<M>) {
    this.#options = options;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#spread = options.spread ?? true;
    this.#maxSpreadMs = options.maxSpreadMs ?? DEFAULT_MAX_SPREAD_MS;
    this.#cron = new CronTasks({
      timezone: options.timezone,
      logger: this.#log,
      onMatch: (members, matchMs, nextMs) => this.#onMatch(members, matchMs, nextMs),
    });
    this.#queue = new DispatchQueue(options.maxConcurrent, options.maxPerHost);
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
   * The config object the scheduler runs `name` with (kept across reloads that leave it
   * unchanged: state kept per config object belongs to this one), or undefined.
   */
  mailbox(name: string): M | undefined {
    return this.#states.get(name)?.config;
  }

  /** The time between the next two matches of a schedule (Infinity when it never fires). */
  intervalMs(schedule: string): number {
    return this.#cron.intervalMs(schedule);
  }

  /**
   * Sets the mailbox list (first call or reload), keyed by name. New ones are added (and
   * get a start-up probe once started); missing ones are removed: their ticks and queued
   * probe are cancelled, a running probe completes but its result is not reported.
   * A changed one is rescheduled and gets a start-up probe. An identical one (sameConfig)
   * keeps its timers, state and config object, so state kept per config object (the
   * probe gate's) carries over, and a changed one starts clean.
   */
  setMailboxes(mailboxes: readonly M[]): void {
    // The config has checked the names (unique) and the schedules (node-cron's validator).
    const incoming = new Map(mailboxes.map((mailbox) => [mailbox.name, mailbox]));
    for (const state of [...this.#states.values()]) {
      if (!incoming.has(state.name)) this.#remove(state);
    }
    const fresh: MailboxState<M>[] = [];
    for (const mailbox of incoming.values()) {
      const state = this.#states.get(mailbox.name);
      if (state === undefined) {
        const added = this.#createState(mailbox);
        this.#states.set(added.name, added);
        this.#awaiting?.add(added.name);
        fresh.push(added);
      } else if (!sameConfig(state.config, mailbox)) {
        this.#change(state, mailbox);
        fresh.push(state);
      }
    }
    if (this.#started && !this.#stopped) this.#startupTicks(fresh);
    this.#checkRound();
  }

  /** Starts node-cron and the start-up ticks; see the comment at the top. */
  start(): void {
    if (this.#stopped) throw new SchedulerError('stopped', 'start() after stop()');
    if (this.#started) return;
    this.#started = true;
    this.#awaiting = new Set(this.#states.keys());
    this.#cron.start();
    this.#startupTicks([...this.#states.values()]);
    this.#checkRound();
  }

  /**
   * Probes the mailbox now, through the same limits, ignoring its schedule and the gate; a
   * probe of it already queued or running is joined. The result is also reported through
   * onResult; none when the probe threw, or was cancelled by a reload or stop().
   */
  async runNow(name: string): Promise<ProbeResult | undefined> {
    if (this.#stopped) throw new SchedulerError('stopped', 'runNow() after stop()');
    const state = this.#states.get(name);
    if (state === undefined) {
      throw new SchedulerError('unknown_mailbox', `no mailbox named ${JSON.stringify(name)}`);
    }
    return (state.job ?? this.#enqueue(state)).done;
  }

  /**
   * No new ticks; queued probes are dropped; resolves when the running ones have finished
   * (each has its own deadline). Leaves no timer behind.
   */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#cron.stop();
    for (const sweep of this.#sweeps) sweep.cancel();
    for (const state of this.#states.values()) this.#cancelQueued(state);
    if (this.#queue.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #createState(mailbox: M): MailboxState<M> {
    const state: MailboxState<M> = {
      name: mailbox.name,
      fraction: spreadFraction(mailbox.name),
      config: mailbox,
      job: null,
      notBefore: Number.NEGATIVE_INFINITY,
    };
    this.#cron.join(mailbox.schedule, state);
    return state;
  }

  #remove(state: MailboxState<M>): void {
    this.#states.delete(state.name);
    this.#cron.leave(state.config.schedule, state);
    this.#cancelQueued(state);
    this.#awaiting?.delete(state.name);
  }

  #change(state: MailboxState<M>, mailbox: M): void {
    this.#cron.leave(state.config.schedule, state);
    this.#cron.join(mailbox.schedule, state);
    state.config = mailbox;
    // A queued probe would use the old config (and count against the old host).
    this.#cancelQueued(state);
  }

  /** Drops the mailbox's probe if it is still waiting for a slot. */
  #cancelQueued(state: MailboxState<M>): void {
    const job = state.job;
    if (job?.ticket == null || !this.#queue.cancel(job.ticket)) return;
    state.job = null;
    job.resolve(undefined);
  }

  #window(intervalMs: number): number {
    return Math.min(intervalMs, this.#maxSpreadMs);
  }

  #tickAt(state: MailboxState<M>, base: number, window: number): Due<Tick<M>> {
    const at = base + (this.#spread ? Math.floor(state.fraction * window) : 0);
    return { at, item: { state, config: state.config } };
  }

  #sweep(ticks: Due<Tick<M>>[]): void {
    const sweep = startSweep(this.#clock, ticks, ({ state, config }) => {
      if (this.#states.get(state.name) === state && config === state.config) this.#tick(state);
    });
    this.#sweeps = [...this.#sweeps.filter((s) => !s.done), sweep];
  }

  #startupTicks(states: readonly MailboxState<M>[]): void {
    const now = this.#clock.now();
    const windows = new Map<string, number>();
    const ticks = states.map((state) => {
      const expr = state.config.schedule;
      const window = windows.get(expr) ?? this.#window(this.#cron.intervalMs(expr));
      windows.set(expr, window);
      const tick = this.#tickAt(state, now, Math.min(window, STARTUP_SPREAD_MS));
      state.notBefore = tick.at + window / 2;
      return tick;
    });
    this.#sweep(ticks);
  }

  #onMatch(members: ReadonlySet<MailboxState<M>>, matchMs: number, nextMs: number): void {
    const window = this.#window(nextMs - matchMs);
    const ticks = [...members].map((state) => this.#tickAt(state, matchMs, window));
    this.#sweep(ticks.filter((tick) => tick.at >= tick.item.state.notBefore));
  }

  #tick(state: MailboxState<M>): void {
    const reason = state.job !== null ? 'overlap' : (this.#options.admit?.(state.config) ?? null);
    if (reason === null) this.#enqueue(state);
    else this.#safely('onSkip', state.name, () => this.#options.onSkip(state.config, reason));
  }

  /** A callback of the caller that throws is logged; the scheduler carries on. */
  #safely(callback: string, mailbox: string | undefined, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#log.error({ event: 'callback_threw', callback, mailbox, err }, `${callback} threw`);
    }
  }

  #enqueue(state: MailboxState<M>): Job<M> {
    let resolve: Job<M>['resolve'] = () => {};
    const done = new Promise<ProbeResult | undefined>((r) => {
      resolve = r;
    });
    const job: Job<M> = {
      config: state.config,
      ticket: null,
      watchdog: null,
      settled: false,
      done,
      resolve,
    };
    state.job = job;
    job.ticket = this.#queue.submit(hostKeyOf(state.config.host), () => this.#run(state, job));
    return job;
  }

  #run(state: MailboxState<M>, job: Job<M>): void {
    const mailbox = state.name;
    const graceMs = this.#options.watchdogGraceMs ?? DEFAULT_WATCHDOG_GRACE_MS;
    job.watchdog = this.#clock.setTimeout(() => {
      const fields = { event: 'probe_watchdog', mailbox, timeout_ms: job.config.timeout };
      this.#log.error(fields, 'probe did not settle by its deadline: abandoned');
      this.#complete(state, job, undefined);
    }, job.config.timeout + graceMs);
    job.watchdog.unref();
    // A synchronous throw becomes a rejection here.
    new Promise<ProbeResult>((resolve) => resolve(this.#options.probe(job.config))).then(
      (result) => this.#complete(state, job, result ?? undefined),
      (err: unknown) => {
        this.#log.error({ event: 'probe_threw', mailbox, err }, 'probe threw');
        this.#complete(state, job, undefined);
      },
    );
  }

  /** The probe settled, or was abandoned by the watchdog (then its late settling is ignored). */
  #complete(state: MailboxState<M>, job: Job<M>, result: ProbeResult | undefined): void {
    if (job.settled) return;
    job.settled = true;
    this.#clock.clearTimeout(job.watchdog as TimerHandle);
    state.job = null;
    this.#queue.finish(job.ticket as Ticket);
    if (this.#states.get(state.name) === state) {
      if (result !== undefined) {
        this.#safely('onResult', state.name, () => this.#options.onResult(result, job.config));
      }
      if (this.#awaiting?.delete(state.name)) this.#checkRound();
    }
    job.resolve(result);
    if (this.#queue.running === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  #checkRound(): void {
    if (this.#awaiting?.size !== 0) return;
    this.#awaiting = null;
    this.#safely('onRoundComplete', undefined, () => this.#options.onRoundComplete());
  }
}
