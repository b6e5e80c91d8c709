import type { ProbeResult } from '../probe/result.js';

/**
 * The last probes of every mailbox, with their transcripts: what the status pages read.
 * Nothing else keeps probe history. Each mailbox has a ring of `perMailbox` results, so
 * memory stays bounded by mailboxes × perMailbox × the transcript limit; a mailbox removed
 * by a reload loses its history.
 */

export const DEFAULT_PROBES_KEPT = 20;

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
  readonly slots: ProbeResult[];
  next: number;
  status: MailboxStatus;
  /** When the mailbox last went up or down (started_at of that probe, seconds). */
  since: number;
}

export class ProbeHistory {
  readonly perMailbox: number;
  readonly #rings = new Map<string, Ring>();

  constructor(perMailbox: number = DEFAULT_PROBES_KEPT) {
    this.perMailbox = Math.max(1, Math.floor(perMailbox));
  }

  /** Keeps the result; tells whether the mailbox's status changed. */
  record(result: ProbeResult): Transition {
    const current = statusOf(result);
    const ring = this.#rings.get(result.mailbox);
    if (ring === undefined) {
      this.#rings.set(result.mailbox, {
        slots: [result],
        next: 0,
        status: current,
        since: result.started_at,
      });
      return { previous: null, current };
    }
    if (ring.slots.length < this.perMailbox) ring.slots.push(result);
    else {
      ring.slots[ring.next] = result;
      ring.next = (ring.next + 1) % this.perMailbox;
    }
    const previous = ring.status;
    // Since when it is up, or down: a new reason while down is not a new outage.
    if (previous.startsWith('down') !== current.startsWith('down')) ring.since = result.started_at;
    ring.status = current;
    return { previous, current };
  }

  /** Drops the history of every mailbox not named (after a reload). */
  keepOnly(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const name of this.#rings.keys()) if (!keep.has(name)) this.#rings.delete(name);
  }

  /** The newest result of the mailbox. */
  latest(name: string): ProbeResult | undefined {
    const ring = this.#rings.get(name);
    if (ring === undefined) return undefined;
    const { slots, next } = ring;
    return slots.length < this.perMailbox
      ? slots.at(-1)
      : slots[(next + this.perMailbox - 1) % this.perMailbox];
  }

  /** The mailbox's results, newest first. */
  recent(name: string): ProbeResult[] {
    const ring = this.#rings.get(name);
    if (ring === undefined) return [];
    const ordered = [...ring.slots.slice(ring.next), ...ring.slots.slice(0, ring.next)];
    return ordered.reverse();
  }

  /** When the mailbox went up or down (seconds since the epoch); undefined before its first probe. */
  since(name: string): number | undefined {
    return this.#rings.get(name)?.since;
  }
}
