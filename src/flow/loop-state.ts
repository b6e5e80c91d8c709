import type { Reason } from '../pop3/errors.js';

/**
 * PURE: what a delivery loop remembers and how sends and scans change it. Times are ms
 * since the epoch and come in as arguments (the shell reads the injected clock).
 *
 * - A probe message is pending from before its send until it is seen or lost. The state is
 *   saved before the send, so a restart knows every message that may be on its way; a
 *   send the process did not live to see confirmed is `confirmed: false`: seen, it counts
 *   as delivered; never seen, it is dropped quietly (it may never have left).
 * - Seen by a scan that started by its deadline: delivered, timed from SMTP acceptance to
 *   the end of that probe. Not seen by a successful scan that started after its deadline:
 *   lost. So a message is never called lost before a probe of its mailbox could look for
 *   it after the deadline (a restart, an unreachable POP3 server), and never twice.
 * - Seen after it was counted lost: late (counted once, not as delivered).
 * - A send that fails counts toward lost_in_a_row at once: the probe message is lost
 *   before it left.
 */

export interface PendingProbe {
  seq: number;
  /** The `sent=` of its header: when it was made. */
  sent_at: number;
  /** When the SMTP server accepted it; null until then. */
  accepted_at: number | null;
  deadline_at: number;
  /** The SMTP server accepted it (false while sending, or when a crash cut the send short). */
  confirmed: boolean;
}

export interface LoopError {
  code: Reason;
  message: string;
}

export interface LoopState {
  next_seq: number;
  pending: PendingProbe[];
  /** Lost or unsent probe messages since the last delivery: the rule metric delivery_lost. */
  lost_in_a_row: number;
  /** The last delivery's time, seconds: the rule metric delivery_seconds. */
  last_delivery_seconds: number | null;
  /** When the last delivery was seen, ms. */
  last_success_at: number | null;
  last_error: LoopError | null;
  /** Recently lost probe messages (seq, ms timed from), so a late arrival is told apart from a duplicate (bounded). */
  lost_recently: { seq: number; from: number }[];
}

export type LoopEvent =
  | { kind: 'delivered'; seq: number; seconds: number; server_seconds: number | null }
  | { kind: 'lost'; seq: number; deadline_at: number }
  | { kind: 'late'; seq: number; seconds: number }
  | { kind: 'dropped'; seq: number }
  | { kind: 'duplicate'; seq: number };

/** A verified probe message of this loop, as a scan found it. */
export interface Sighting {
  seq: number;
  /** The newest Received: field's time, seconds since the epoch. */
  received_at: number | null;
}

const LOST_MEMORY = 64;

export function emptyLoopState(): LoopState {
  return {
    next_seq: 1,
    pending: [],
    lost_in_a_row: 0,
    last_delivery_seconds: null,
    last_success_at: null,
    last_error: null,
    lost_recently: [],
  };
}

/** A new pending probe message (unconfirmed), to save before the send. */
export function beginSend(
  state: LoopState,
  nowMs: number,
  deadlineMs: number,
): { state: LoopState; probe: PendingProbe } {
  const probe: PendingProbe = {
    seq: state.next_seq,
    sent_at: nowMs,
    accepted_at: null,
    deadline_at: nowMs + deadlineMs,
    confirmed: false,
  };
  return {
    state: { ...state, next_seq: state.next_seq + 1, pending: [...state.pending, probe] },
    probe,
  };
}

/** The SMTP server accepted it: the deadline counts from now. */
export function sendAccepted(
  state: LoopState,
  seq: number,
  nowMs: number,
  deadlineMs: number,
): LoopState {
  return {
    ...state,
    pending: state.pending.map((p) =>
      p.seq === seq
        ? { ...p, accepted_at: nowMs, deadline_at: nowMs + deadlineMs, confirmed: true }
        : p,
    ),
  };
}

export function sendFailed(state: LoopState, seq: number, error: LoopError): LoopState {
  return {
    ...state,
    pending: state.pending.filter((p) => p.seq !== seq),
    lost_in_a_row: state.lost_in_a_row + 1,
    last_error: error,
  };
}

function lostError(probe: PendingProbe): LoopError {
  return {
    code: 'timeout',
    message: `probe message #${probe.seq} was not seen by its deadline (${new Date(probe.deadline_at).toISOString()})`,
  };
}

/**
 * A successful scan of the loop's mailbox that started at `scanStartedAt` and ended at
 * `seenAt` found `sightings` (this loop's verified probe messages among the new ones).
 */
export function observeScan(
  state: LoopState,
  sightings: readonly Sighting[],
  scanStartedAt: number,
  seenAt: number,
): { state: LoopState; events: LoopEvent[] } {
  const events: LoopEvent[] = [];
  let pending = state.pending;
  let lostRecently = state.lost_recently;
  let lostInARow = state.lost_in_a_row;
  let next: LoopState = state;
  for (const sighting of sightings) {
    const probe = pending.find((p) => p.seq === sighting.seq);
    if (probe === undefined) {
      const lost = lostRecently.find((l) => l.seq === sighting.seq);
      if (lost !== undefined) {
        lostRecently = lostRecently.filter((l) => l !== lost);
        const seconds = Math.max(0, seenAt - lost.from) / 1000;
        events.push({ kind: 'late', seq: sighting.seq, seconds });
      } else {
        events.push({ kind: 'duplicate', seq: sighting.seq });
      }
      continue;
    }
    pending = pending.filter((p) => p !== probe);
    const from = probe.accepted_at ?? probe.sent_at;
    const seconds = Math.max(0, seenAt - from) / 1000;
    if (scanStartedAt > probe.deadline_at) {
      events.push({ kind: 'lost', seq: probe.seq, deadline_at: probe.deadline_at });
      events.push({ kind: 'late', seq: probe.seq, seconds });
      lostInARow += 1;
      next = { ...next, last_error: lostError(probe) };
      continue;
    }
    const server =
      sighting.received_at === null ? null : Math.max(0, sighting.received_at * 1000 - from) / 1000;
    events.push({ kind: 'delivered', seq: probe.seq, seconds, server_seconds: server });
    lostInARow = 0;
    next = { ...next, last_delivery_seconds: seconds, last_success_at: seenAt, last_error: null };
  }
  const overdue = pending.filter((p) => p.deadline_at < scanStartedAt);
  for (const probe of overdue) {
    if (probe.confirmed) {
      events.push({ kind: 'lost', seq: probe.seq, deadline_at: probe.deadline_at });
      const from = probe.accepted_at ?? probe.sent_at;
      lostRecently = [...lostRecently, { seq: probe.seq, from }].slice(-LOST_MEMORY);
      lostInARow += 1;
      next = { ...next, last_error: lostError(probe) };
    } else {
      events.push({ kind: 'dropped', seq: probe.seq });
    }
  }
  pending = pending.filter((p) => !overdue.includes(p));
  return {
    state: { ...next, pending, lost_in_a_row: lostInARow, lost_recently: lostRecently },
    events,
  };
}
