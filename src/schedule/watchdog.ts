import { nextMatches } from './cron-tasks.js';

/**
 * Whether the scheduler still makes progress, for /healthz: a process whose timer loop
 * died, or whose probe slots leaked so that nothing starts, still answers HTTP but watches
 * nothing; unhealthy, it gets restarted by its supervisor (a Kubernetes liveness probe).
 *
 * Progress is a probe starting or finishing, or a tick that the probe gate held back (an
 * auth backoff: the timer loop works); the app reports it from the scheduler's callbacks.
 * A tick skipped because the mailbox's previous probe is still queued or running is not
 * progress. With mailboxes whose schedules run at least every `expectedGapMs`, some
 * progress is due that often; the watchdog allows twice that plus `slackMs` (a probe's
 * deadline and the probe watchdog's grace).
 */
export class ProgressWatchdog {
  #startedAt: number | null = null;
  #last: number | null = null;

  start(now: number): void {
    this.#startedAt = now;
  }

  progress(now: number): void {
    this.#last = now;
  }

  /** Why the scheduler looks stuck, or null: while it progresses, before start(), without schedules. */
  problem(now: number, expectedGapMs: number, slackMs: number): string | null {
    if (this.#startedAt === null || !Number.isFinite(expectedGapMs)) return null;
    const limit = 2 * expectedGapMs + slackMs;
    const idle = now - (this.#last ?? this.#startedAt);
    if (idle <= limit) return null;
    const what = this.#last === null ? 'since the start' : 'since the last one';
    return `no probe started or finished for ${Math.round(idle / 1000)}s ${what} (expected within ${Math.round(limit / 1000)}s)`;
  }
}

/**
 * The longest time between two of a schedule's next 10 runs: a weekday-only schedule has a
 * gap of three days over a weekend, and the watchdog must not call that a stall.
 * Infinity when node-cron finds fewer than two runs (or cannot read the expression).
 */
export function longestGapMs(schedule: string, timezone?: string): number {
  const runs = nextMatches(schedule, 10, timezone);
  const gaps = runs.slice(1).map((run, i) => run - (runs[i] as number));
  return gaps.length > 0 ? Math.max(...gaps) : Number.POSITIVE_INFINITY;
}

/** The gap within which some mailbox of `schedules` runs: the shortest of their longest gaps. */
export function expectedGapMs(schedules: Iterable<string>, timezone?: string): number {
  return Math.min(...[...new Set(schedules)].map((s) => longestGapMs(s, timezone)));
}
