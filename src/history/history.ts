import type { ProbeResult } from '../probe/result.js';
import { packTranscript, unpackTranscript } from './packed-transcript.js';

/**
 * The last probes of every mailbox, with their transcripts: what the status pages read.
 * Nothing else keeps probe history. Each mailbox has a ring of `perMailbox` results; their
 * transcripts are kept deflated (packed-transcript.ts), the newest first within a budget
 * of octets per mailbox, so memory stays bounded whatever the servers say; the
 * capabilities of a result are not kept (its transcript shows them). A mailbox removed by
 * a reload loses its history.
 */

export const DEFAULT_PROBES_KEPT = 20;
/** Deflated transcript octets kept per mailbox: twenty ordinary probes take about 12 KiB. */
export const DEFAULT_TRANSCRIPT_BUDGET = 32 * 1024;

/** A result as kept: no capabilities, the transcript packed (or dropped past the budget). */
interface Kept {
  result: ProbeResult;
  transcript: Buffer | null;
}

/** `up`, or `down:<reason>`: a change of either is a transition worth logging. */
export type MailboxStatus = 'up' | `down:${string}`;

export function statusOf(result: ProbeResult): MailboxStatus {
  return result.success ? 'up' : `down:${result.error?.code ?? 'unknown'}`;
}

export interface Transition {
  /** The status before this result; null for the mailbox's first result. */
  previous: MailboxStatus | null;
  current: MailboxStatus;
}

interface Ring {
  /** Oldest first once full: `slots[next]` is the oldest. */
  readonly slots: Kept[];
  next: number;
  status: MailboxStatus;
  /** When the mailbox last went up or down (started_at of that probe, seconds). */
  since: number;
}

function keep(result: ProbeResult): Kept {
  const { transcript, capabilities: _capabilities, ...rest } = result;
  return {
    result: { ...rest, capabilities: [] },
    transcript: transcript === undefined ? null : packTranscript(transcript),
  };
}

function shown(kept: Kept): ProbeResult {
  return kept.transcript === null
    ? kept.result
    : { ...kept.result, transcript: unpackTranscript(kept.transcript) };
}

export class ProbeHistory {
  readonly perMailbox: number;
  readonly transcriptBudget: number;
  readonly #rings = new Map<string, Ring>();

  constructor(
    perMailbox: number = DEFAULT_PROBES_KEPT,
    transcriptBudget: number = DEFAULT_TRANSCRIPT_BUDGET,
  ) {
    this.perMailbox = Math.max(1, Math.floor(perMailbox));
    this.transcriptBudget = transcriptBudget;
  }

  /** Keeps the result; tells whether the mailbox's status changed. */
  record(result: ProbeResult): Transition {
    const current = statusOf(result);
    const kept = keep(result);
    const ring = this.#rings.get(result.mailbox);
    if (ring === undefined) {
      this.#rings.set(result.mailbox, {
        slots: [kept],
        next: 0,
        status: current,
        since: result.started_at,
      });
      return { previous: null, current };
    }
    if (ring.slots.length < this.perMailbox) ring.slots.push(kept);
    else {
      ring.slots[ring.next] = kept;
      ring.next = (ring.next + 1) % this.perMailbox;
    }
    this.#trim(ring);
    const previous = ring.status;
    // Since when it is up, or down: a new reason while down is not a new outage.
    if (previous.startsWith('down') !== current.startsWith('down')) ring.since = result.started_at;
    ring.status = current;
    return { previous, current };
  }

  /** Drops the transcripts of the oldest results until the rest fit the budget. */
  #trim(ring: Ring): void {
    let octets = 0;
    for (const kept of this.#ordered(ring).reverse()) {
      if (kept.transcript === null) continue;
      octets += kept.transcript.length;
      if (octets > this.transcriptBudget) kept.transcript = null;
    }
  }

  /** Oldest first. */
  #ordered(ring: Ring): Kept[] {
    return [...ring.slots.slice(ring.next), ...ring.slots.slice(0, ring.next)];
  }

  /** Drops the history of every mailbox not named (after a reload). */
  keepOnly(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const name of this.#rings.keys()) if (!keep.has(name)) this.#rings.delete(name);
  }

  /** The newest result of the mailbox, without its transcript or capabilities. */
  latest(name: string): ProbeResult | undefined {
    const ring = this.#rings.get(name);
    if (ring === undefined) return undefined;
    const { slots, next } = ring;
    const newest =
      slots.length < this.perMailbox
        ? slots.at(-1)
        : slots[(next + this.perMailbox - 1) % this.perMailbox];
    return newest?.result;
  }

  /** The mailbox's results, newest first, with the transcripts still kept (no capabilities). */
  recent(name: string): ProbeResult[] {
    const ring = this.#rings.get(name);
    if (ring === undefined) return [];
    return this.#ordered(ring).reverse().map(shown);
  }

  /** When the mailbox went up or down (seconds since the epoch); undefined before its first probe. */
  since(name: string): number | undefined {
    return this.#rings.get(name)?.since;
  }
}
