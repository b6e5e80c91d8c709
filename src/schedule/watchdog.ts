import { nextMatches } from './cron-tasks.js';

/**
 * Whether the scheduler still makes progress, for /healthz: a process whose timer loop
 * died, or whose probe slots leaked so that nothing starts, still answers HTTP but watches
 * nothing; unhealthy, it gets restarted by its supervisor (a Kubernetes liveness probe).
 *
 * Progress is a probe starting or finishing, or a tick that the probe gate held back (an
 * auth backoff: the timer loop works). A tick skipped because the mailbox's previous probe
 * is still queued or running is not progress. With mailboxes whose shortest schedule
 * interval is `expectedGapMs`, some progress is due at least that often; the watchdog
 * allows twice that plus `slackMs` (a probe's deadline and the probe watchdog's grace).
 */

export interface ProgressCheck {
  now: number;
  /** When watching began (the scheduler started). */
  startedAt: number;
  /** The last progress, or null for none yet. */
  lastProgressAt: number | null;
  /** The shortest time between two runs of any mailbox's schedule; Infinity with none. */
  expectedGapMs: number;
  slackMs: number;
}

/** Why the scheduler looks stuck, or null while it progresses. */
export function progressProblem(check: ProgressCheck): string | null {
  if (!Number.isFinite(check.expectedGapMs)) return null;
  const since = check.lastProgressAt ?? check.startedAt;
  const limit = 2 * check.expectedGapMs + check.slackMs;
  const idle = check.now - since;
  if (idle <= limit) return null;
  const what = check.lastProgressAt === null ? 'since the start' : 'since the last one';
  return `no probe started or finished for ${Math.round(idle / 1000)}s ${what} (expected within ${Math.round(limit / 1000)}s)`;
}

/** Remembers the last progress; the app reports it from the scheduler's callbacks. */
export class ProgressWatchdog {
  #startedAt: number | null = null;
  #last: number | null = null;

  start(now: number): void {
    this.#startedAt = now;
  }

  progress(now: number): void {
    this.#last = now;
  }

  /** Null before start(): a process still starting is not stuck. */
  problem(now: number, expectedGapMs: number, slackMs: number): string | null {
    if (this.#startedAt === null) return null;
    return progressProblem({
      now,
      startedAt: this.#startedAt,
      lastProgressAt: this.#last,
      expectedGapMs,
      slackMs,
    });
  }
}

/** How many runs of a schedule are looked at for its longest gap. */
const RUNS_LOOKED_AT = 10;

/**
 * The longest time between two of a schedule's next runs: a weekday-only schedule has a
 * gap of three days over a weekend, and the watchdog must not call that a stall.
 * Infinity when node-cron finds fewer than two runs (or cannot read the expression).
 */
export function longestGapMs(schedule: string, timezone?: string): number {
  const runs = nextMatches(schedule, RUNS_LOOKED_AT, timezone);
  let longest = Number.NEGATIVE_INFINITY;
  for (let i = 1; i < runs.length; i++)
    longest = Math.max(longest, (runs[i] as number) - (runs[i - 1] as number));
  return runs.length < 2 ? Number.POSITIVE_INFINITY : longest;
}

/** The gap within which some mailbox of `schedules` runs: the shortest of their longest gaps. */
export function expectedGapMs(schedules: Iterable<string>, timezone?: string): number {
  let gap = Number.POSITIVE_INFINITY;
  for (const schedule of new Set(schedules)) gap = Math.min(gap, longestGapMs(schedule, timezone));
  return gap;
}
