import { type CronOptions, intervalOf, nextFireTime } from './cron-next.js';

/*
 * When a mailbox's ticks fall (pure; `now` comes from the scheduler's Clock):
 *
 * - Slots. For each cron match m (cron-next.ts; UTC unless a time zone is set), the tick
 *   is at m + offset, offset = floor(fraction × window), fraction = spreadFraction(name),
 *   window = min(gap to the next match, maxSpreadMs). The offset is below the gap, so a
 *   tick never passes the next match, and a name keeps its place across restarts.
 *   Without spread the offset is 0.
 * - Start-up tick. When a mailbox starts being scheduled (start(), or a reload that adds
 *   or changes it) it also ticks once at now + floor(fraction × min(window, 10 s)), so
 *   metrics and /readyz come within seconds. Slots earlier than that tick + window / 2
 *   are dropped, so the first two probes are half to one and a half intervals apart
 *   rather than a few seconds.
 * - Missed slots are not replayed: after a tick, a next slot that is long overdue (the
 *   clock jumped ahead, the process stalled) gives way to the first slot after now.
 */

export const STARTUP_SPREAD_MS = 10_000;
export const DEFAULT_MAX_SPREAD_MS = 5 * 60_000;
/** A slot overdue by at most this is late and still runs; beyond it, it is missed. */
export const LATE_TOLERANCE_MS = 1000;

export interface SlotPlan {
  spread: boolean;
  maxSpreadMs: number;
  cron: CronOptions;
}

export interface Slot {
  /** When the tick is due. */
  at: number;
  /** The cron match it belongs to. */
  base: number;
  /** The match after it (null: none within the search horizon). */
  following: number | null;
}

function offset(fraction: number, gapMs: number, plan: SlotPlan): number {
  return plan.spread ? Math.floor(fraction * Math.min(gapMs, plan.maxSpreadMs)) : 0;
}

/** The first slot at or after `notBefore`, trying the matches from `base` on. */
export function slotFrom(
  schedule: string,
  fraction: number,
  base: number | null,
  notBefore: number,
  plan: SlotPlan,
): Slot | null {
  let match = base;
  while (match !== null) {
    const following = nextFireTime(schedule, match, plan.cron);
    const gap = following === null ? Number.POSITIVE_INFINITY : following - match;
    const at = match + offset(fraction, gap, plan);
    if (at >= notBefore) return { at, base: match, following };
    match = following;
  }
  return null;
}

/** The start-up tick and the first regular slot of a mailbox scheduled from `now`. */
export function startupPlan(
  schedule: string,
  fraction: number,
  now: number,
  plan: SlotPlan,
): { startupAt: number; first: Slot | null } {
  const window = Math.min(intervalOf(schedule, now, plan.cron), plan.maxSpreadMs);
  const startupAt =
    now + (plan.spread ? Math.floor(fraction * Math.min(window, STARTUP_SPREAD_MS)) : 0);
  const first = slotFrom(
    schedule,
    fraction,
    nextFireTime(schedule, now, plan.cron),
    startupAt + window / 2,
    plan,
  );
  return { startupAt, first };
}

/** The slot after `slot`, ticked at `now`; `missed` when slots were skipped to catch up. */
export function slotAfter(
  schedule: string,
  fraction: number,
  slot: Slot,
  now: number,
  plan: SlotPlan,
): { next: Slot | null; missed: boolean } {
  const base = slot.following;
  // Even with the largest offset the next match's slot is long past: resume from now.
  if (base !== null && base + plan.maxSpreadMs < now - LATE_TOLERANCE_MS) {
    return {
      next: slotFrom(schedule, fraction, nextFireTime(schedule, now, plan.cron), now, plan),
      missed: true,
    };
  }
  return { next: slotFrom(schedule, fraction, base, now - LATE_TOLERANCE_MS, plan), missed: false };
}

/** The first slot after `now`, for rescheduling when the clock was set back. */
export function slotAfterNow(
  schedule: string,
  fraction: number,
  now: number,
  plan: SlotPlan,
): Slot | null {
  return slotFrom(schedule, fraction, nextFireTime(schedule, now, plan.cron), now, plan);
}
