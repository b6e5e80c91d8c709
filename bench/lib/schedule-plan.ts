import { STARTUP_SPREAD_MS, spreadFraction } from '../../src/schedule/scheduler.js';

/** The benchmarks' schedule: every mailbox once a minute. */
export const SCHEDULE = '*/60 * * * * *';
const INTERVAL_MS = 60_000;

// The scheduler's plan (src/schedule/scheduler.ts) for `*/60`, written out as the
// oracle the run is measured against: a tick at each whole minute m (node-cron, the
// machine's time zone, whole minutes in every zone this runs in) + floor(fraction × 60 s);
// the start-up tick at start + floor(fraction × 10 s); ticks earlier than the start-up
// tick + 30 s dropped.

/** The start-up tick of a mailbox whose scheduler started at `startNow`. */
export function startupTick(name: string, startNow: number): number {
  return startNow + Math.floor(spreadFraction(name) * Math.min(INTERVAL_MS, STARTUP_SPREAD_MS));
}

/** The fire time the scheduler planned for a regular slot that started at `startedAt`. */
export function plannedSlot(name: string, startedAt: number): number {
  const offset = Math.floor(spreadFraction(name) * INTERVAL_MS);
  return offset + INTERVAL_MS * Math.floor((startedAt - offset) / INTERVAL_MS);
}

/** The regular slots of a mailbox due in [from, to). */
export function slotsDue(name: string, startNow: number, from: number, to: number): number {
  const offset = Math.floor(spreadFraction(name) * INTERVAL_MS);
  const notBefore = startupTick(name, startNow) + INTERVAL_MS / 2;
  let due = 0;
  for (let match = (Math.floor(startNow / INTERVAL_MS) + 1) * INTERVAL_MS; ; match += INTERVAL_MS) {
    const at = match + offset;
    if (at >= to) return due;
    if (at >= from && at >= notBefore) due += 1;
  }
}
