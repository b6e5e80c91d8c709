import type { FlowObservation } from '../alerts/rules.js';
import type { Clock } from '../clock.js';
import type { LoopConfig, MailboxConfig } from '../config/schema.js';
import type { StateStore } from '../json-file-store.js';
import type { Logger } from '../log.js';
import type { FlowMetrics } from '../metrics/flow-metrics.js';
import type { ScanPlan } from '../probe/new-messages.js';
import type { ProbeResult } from '../probe/result.js';
import { CronTasks } from '../schedule/cron-tasks.js';
import {
  type CompiledWatch,
  compileWatch,
  observeWatch,
  type WatchState,
  watchAgeSeconds,
} from './expect-watch.js';
import { type FlowState, type SeenUids, watchKey } from './flow-store.js';
import {
  beginSend,
  emptyLoopState,
  type LoopState,
  observeScan,
  sendAccepted,
  sendFailed,
} from './loop-state.js';
import { cleanupDecision, loopSightings, reportLoopEvent } from './probe-messages.js';
import { SubmitError, submitProbe } from './smtp-submit.js';

/**
 * The I/O shell of mail flow: runs each delivery loop on its schedule (sign, save as
 * pending, submit), hands the probes of the loops' and watches' mailboxes a scan plan
 * (which new messages to read, which to delete: only a cleanup loop's own verified probe
 * messages), and turns their results into loop and watch state, metrics, logs and alert
 * observations. The decisions are the pure functions of loop-state.ts and expect-watch.ts.
 */

export interface MailFlowOptions {
  clock: Clock;
  logger: Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;
  metrics: FlowMetrics;
  /** The alert engine's observeFlow. */
  observe(observation: FlowObservation): void;
  stateStore: StateStore<FlowState>;
  seenStore(mailbox: string): StateStore<SeenUids>;
  /** Replaces the SMTP submission (tests). */
  submit?: (loop: LoopConfig, stamp: { loop: string; seq: number; sent: number }) => Promise<void>;
}

interface Watch {
  mailbox: string;
  compiled: CompiledWatch;
}

/** A delivery loop and an expect watch as they stand (times in ms since the epoch). */
export interface FlowSnapshot {
  loops: {
    name: string;
    mailbox: string;
    schedule: string;
    deadline_ms: number;
    state: LoopState;
  }[];
  watches: {
    mailbox: string;
    name: string;
    within_ms: number;
    last_match_at: number | null;
    since: number;
  }[];
}

export class MailFlow {
  readonly #o: MailFlowOptions;
  #loops = new Map<string, LoopConfig>();
  #watches = new Map<string, Watch[]>();
  #state: FlowState = { version: 1, loops: {}, watches: {} };
  /** Per scanned mailbox: the UIDLs already read; null until a first scan. */
  readonly #seen = new Map<string, Set<string> | null>();
  /** Set by a plan's remember(), applied when the probe's result is observed. */
  readonly #remembered = new Map<string, Set<string>>();
  /** The loops' schedules, by loop name: node-cron fires them as it fires the mailboxes'. */
  readonly #cron: CronTasks<string>;
  readonly #sending = new Map<string, Promise<void>>();
  #saving: Promise<void> = Promise.resolve();
  #running = false;

  constructor(options: MailFlowOptions) {
    this.#o = options;
    this.#cron = new CronTasks({
      logger: options.logger,
      onMatch: (names) => {
        for (const name of names) void this.sendNow(name);
      },
    });
  }

  /** Loads the saved state, then declares the loops and watches. */
  async load(loops: readonly LoopConfig[], mailboxes: readonly MailboxConfig[]): Promise<void> {
    this.#state = (await this.#o.stateStore.load().catch(() => null)) ?? this.#state;
    this.configure(loops, mailboxes);
    for (const mailbox of this.#scannedMailboxes()) {
      const saved = await this.#o
        .seenStore(mailbox)
        .load()
        .catch(() => null);
      this.#seen.set(mailbox, saved === null ? null : new Set(saved.uids));
    }
  }

  /** Loops and watches of this config (a reload); state of removed ones is dropped. */
  configure(loops: readonly LoopConfig[], mailboxes: readonly MailboxConfig[]): void {
    this.#loops = new Map(loops.map((l) => [l.name, l]));
    this.#watches = new Map(
      mailboxes
        .filter((m) => m.expect.length > 0)
        .map((m) => [
          m.name,
          m.expect.map((e) => ({ mailbox: m.name, compiled: compileWatch(e) })),
        ]),
    );
    const now = this.#o.clock.now();
    const loopStates: Record<string, LoopState> = {};
    for (const name of this.#loops.keys())
      loopStates[name] = this.#state.loops[name] ?? emptyLoopState();
    const watchStates: Record<string, WatchState> = {};
    for (const watch of this.#allWatches()) {
      const key = watchKey(watch.mailbox, watch.compiled.name);
      watchStates[key] = this.#state.watches[key] ?? { last_match_at: null, since: now };
    }
    this.#state = { version: 1, loops: loopStates, watches: watchStates };
    for (const mailbox of [...this.#seen.keys()]) {
      if (!this.#scannedMailboxes().has(mailbox)) this.#seen.delete(mailbox);
    }
    for (const mailbox of this.#scannedMailboxes()) {
      if (!this.#seen.has(mailbox)) this.#seen.set(mailbox, null);
    }
    this.#o.metrics.setTargets(
      [...this.#loops.keys()],
      this.#allWatches().map((w) => ({ mailbox: w.mailbox, expect: w.compiled.name })),
    );
    for (const watch of this.#allWatches()) {
      const state = this.#state.watches[watchKey(watch.mailbox, watch.compiled.name)];
      this.#o.metrics.setExpectLastSeen(
        { mailbox: watch.mailbox, expect: watch.compiled.name },
        state?.last_match_at ?? null,
      );
    }
    if (this.#running) this.#schedule();
    this.#save();
  }

  start(): void {
    this.#running = true;
    this.#schedule();
  }

  /** Stops the schedules, waits for sends in flight, and for the state on disk. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#cron.stop();
    await Promise.all(this.#sending.values());
    await this.#saving;
  }

  /** Resolves once every save queued so far is on disk. */
  async idle(): Promise<void> {
    await this.#saving;
  }

  /** The loops and watches as they stand, for the status page. */
  snapshot(): FlowSnapshot {
    return {
      loops: [...this.#loops.values()].map((loop) => ({
        name: loop.name,
        mailbox: loop.mailbox,
        schedule: loop.schedule,
        deadline_ms: loop.deadline,
        state: this.#loopState(loop.name),
      })),
      watches: this.#allWatches().map((w) => {
        const state = this.#state.watches[watchKey(w.mailbox, w.compiled.name)];
        return {
          mailbox: w.mailbox,
          name: w.compiled.name,
          within_ms: w.compiled.within,
          last_match_at: state?.last_match_at ?? null,
          since: state?.since ?? this.#o.clock.now(),
        };
      }),
    };
  }

  /** The scan of a mailbox with loops or watches; null for any other. */
  planFor(mailbox: MailboxConfig): ScanPlan | null {
    if (!this.#scannedMailboxes().has(mailbox.name)) return null;
    return {
      known: this.#seen.get(mailbox.name) ?? null,
      maxNew: mailbox.max_new_messages,
      decide: (message) => cleanupDecision(this.#loops, mailbox.name, message),
      remember: (seen) => {
        this.#remembered.set(mailbox.name, seen);
      },
    };
  }

  /** Sends one probe message of `loop` now (its schedule calls this). */
  sendNow(name: string): Promise<void> {
    const running = this.#sending.get(name);
    if (running) return running;
    const send = this.#send(name).finally(() => this.#sending.delete(name));
    this.#sending.set(name, send);
    return send;
  }

  /** A probe result of any mailbox; only those of scanned mailboxes change anything. */
  observe(result: ProbeResult): void {
    const mailbox = result.mailbox;
    if (!this.#scannedMailboxes().has(mailbox)) return;
    const seenAt = Math.round((result.started_at + (result.phases.total ?? 0)) * 1000);
    const startedAt = Math.round(result.started_at * 1000);
    const messages = result.success ? (result.scan?.messages ?? []) : [];
    if (result.success && result.scan) {
      const sightings = loopSightings(this.#loops, mailbox, messages, this.#o);
      for (const loop of this.#loops.values()) {
        if (loop.mailbox !== mailbox) continue;
        const out = observeScan(
          this.#loopState(loop.name),
          sightings.get(loop.name) ?? [],
          startedAt,
          seenAt,
        );
        this.#state.loops[loop.name] = out.state;
        for (const event of out.events) reportLoopEvent(loop, event, seenAt, this.#o);
        this.#observeLoop(loop);
      }
    }
    for (const watch of this.#watches.get(mailbox) ?? []) {
      const key = watchKey(mailbox, watch.compiled.name);
      const before = this.#state.watches[key] ?? { last_match_at: null, since: startedAt };
      const after = observeWatch(before, watch.compiled, messages, seenAt);
      this.#state.watches[key] = after;
      if (after.last_match_at !== before.last_match_at) {
        this.#o.metrics.setExpectLastSeen(
          { mailbox, expect: watch.compiled.name },
          after.last_match_at,
        );
        this.#o.logger.info(
          {
            event: 'expect_matched',
            mailbox,
            expect: watch.compiled.name,
            arrived_at: new Date(after.last_match_at ?? 0).toISOString(),
          },
          'expected mail arrived',
        );
      }
      this.#o.observe({
        target: { mailbox, expect: watch.compiled.name },
        values: { expect_age_seconds: watchAgeSeconds(after, this.#o.clock.now()) },
        thresholds: { expect_overdue: watch.compiled.within / 1000 },
        last_error: result.error
          ? { code: result.error.code, message: result.error.message }
          : null,
      });
    }
    const remembered = this.#remembered.get(mailbox);
    this.#remembered.delete(mailbox);
    if (remembered !== undefined) this.#seen.set(mailbox, remembered);
    // The loop state first: after a crash between the two writes, a message is read again
    // (and found no longer pending) rather than skipped while still pending.
    this.#save(remembered === undefined ? undefined : mailbox);
  }

  async #send(name: string): Promise<void> {
    const loop = this.#loops.get(name);
    if (loop === undefined) return;
    const clock = this.#o.clock;
    const begun = beginSend(this.#loopState(name), clock.now(), loop.deadline);
    this.#state.loops[name] = begun.state;
    // Saved before it leaves: a restart then knows it may be on its way.
    await this.#save();
    const stamp = { loop: name, seq: begun.probe.seq, sent: begun.probe.sent_at };
    try {
      await (this.#o.submit ?? submitProbe)(loop, stamp);
      this.#state.loops[name] = sendAccepted(
        this.#loopState(name),
        stamp.seq,
        clock.now(),
        loop.deadline,
      );
      this.#o.metrics.recordSent(name);
      this.#o.logger.info(
        { event: 'loop_sent', loop: name, seq: stamp.seq, to: loop.to },
        'probe message accepted by the SMTP server',
      );
    } catch (error) {
      const failure =
        error instanceof SubmitError
          ? { code: error.code, message: error.message }
          : { code: 'protocol' as const, message: `internal error: ${String(error)}` };
      this.#state.loops[name] = sendFailed(this.#loopState(name), stamp.seq, failure);
      this.#o.metrics.recordSendFailure(name, failure.code);
      this.#o.logger.warn(
        {
          event: 'loop_send_failed',
          loop: name,
          seq: stamp.seq,
          reason: failure.code,
          error: failure.message,
        },
        'probe message not sent',
      );
      this.#observeLoop(loop);
    }
    await this.#save();
  }

  #observeLoop(loop: LoopConfig): void {
    const state = this.#loopState(loop.name);
    this.#o.observe({
      target: { mailbox: loop.mailbox, loop: loop.name },
      values: { delivery_lost: state.lost_in_a_row, delivery_seconds: state.last_delivery_seconds },
      last_error: state.last_error,
    });
  }

  #loopState(name: string): LoopState {
    return this.#state.loops[name] ?? emptyLoopState();
  }

  #allWatches(): Watch[] {
    return [...this.#watches.values()].flat();
  }

  #scannedMailboxes(): Set<string> {
    return new Set([...[...this.#loops.values()].map((l) => l.mailbox), ...this.#watches.keys()]);
  }

  #schedule(): void {
    this.#cron.stop();
    for (const loop of this.#loops.values()) this.#cron.join(loop.schedule, loop.name);
    this.#cron.start();
  }

  /** Queues a save of the flow state, then of `mailbox`'s read UIDLs; resolves when done. */
  #save(mailbox?: string): Promise<void> {
    const state = structuredClone(this.#state);
    const seen = mailbox === undefined ? null : this.#seen.get(mailbox);
    const run = this.#saving.then(async () => {
      try {
        await this.#o.stateStore.save(state);
        if (mailbox !== undefined && seen) {
          await this.#o.seenStore(mailbox).save({ version: 1, uids: [...seen] });
        }
      } catch (error) {
        this.#o.logger.error(
          { event: 'flow_state_save_failed', err: error },
          'mail flow state not saved',
        );
      }
    });
    this.#saving = run;
    return run;
  }
}
