import type { ProbeResult } from '../probe/result.js';
import { packTranscript, unpackTranscript } from './packed-transcript.js';

/**
 * The last probes of every mailbox, with their transcripts: what the status pages read.
 * Nothing else keeps probe history. Memory is bounded for the whole fleet, not only per
 * mailbox: each mailbox keeps its last 20 results while the fleet's total stays within
 * TOTAL_PROBES_KEPT (fewer each, but at least 3, in a fleet of thousands), and their
 * transcripts are kept deflated (packed-transcript.ts), the newest first, within a share
 * of TOTAL_TRANSCRIPT_OCTETS. A result's capabilities are not kept (its transcript shows
 * them). A mailbox removed by a reload loses its history.
 */

export const MAX_PROBES_KEPT = 20;
export const MIN_PROBES_KEPT = 3;
/** Results kept in all: a kept result takes about 400 octets. */
export const TOTAL_PROBES_KEPT = 50_000;
/** Deflated transcript octets in all: an ordinary transcript takes about 600. */
export const TOTAL_TRANSCRIPT_OCTETS = 32 * 1024 * 1024;
const MIN_TRANSCRIPT_OCTETS = 4 * 1024;
const MAX_TRANSCRIPT_OCTETS = 32 * 1024;

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
  /** Oldest first. */
  readonly slots: Kept[];
  status: MailboxStatus;
  /** When the mailbox last went up or down (started_at of that probe, seconds). */
  since: number;
}

const NO_CAPABILITIES: string[] = [];

/**
 * The result as kept: a literal of fixed shape (V8 keeps it compact; a spread copy of a
 * result took twice the memory), its capabilities left out.
 */
function keep(r: ProbeResult): Kept {
  const result: ProbeResult = {
    mailbox: r.mailbox,
    success: r.success,
    messages: r.messages,
    size_bytes: r.size_bytes,
    phases: r.phases,
    capabilities: NO_CAPABILITIES,
    error: r.error,
    started_at: r.started_at,
    uidl_count: r.uidl_count,
    oldest_message_timestamp: r.oldest_message_timestamp,
    tls: r.tls,
    auth_method: r.auth_method,
    login_delay_seconds: r.login_delay_seconds,
    pipelined: r.pipelined,
  };
  if (r.oauth2 !== undefined) result.oauth2 = r.oauth2;
  return {
    result,
    transcript: r.transcript === undefined ? null : packTranscript(r.transcript),
  };
}

function shown(kept: Kept): ProbeResult {
  return kept.transcript === null
    ? kept.result
    : { ...kept.result, transcript: unpackTranscript(kept.transcript) };
}

export interface HistoryLimits {
  probes: number;
  /** Deflated transcript octets per mailbox. */
  transcriptOctets: number;
}

/** What each of `mailboxes` may keep within the fleet's totals. */
export function limitsFor(mailboxes: number): HistoryLimits {
  const n = Math.max(1, mailboxes);
  return {
    probes: Math.max(MIN_PROBES_KEPT, Math.min(MAX_PROBES_KEPT, Math.floor(TOTAL_PROBES_KEPT / n))),
    transcriptOctets: Math.max(
      MIN_TRANSCRIPT_OCTETS,
      Math.min(MAX_TRANSCRIPT_OCTETS, Math.floor(TOTAL_TRANSCRIPT_OCTETS / n)),
    ),
  };
}

export class ProbeHistory {
  #limits: HistoryLimits;
  readonly #rings = new Map<string, Ring>();

  constructor(limits: HistoryLimits = limitsFor(1)) {
    this.#limits = limits;
  }

  get limits(): HistoryLimits {
    return this.#limits;
  }

  /** Keeps the result; tells whether the mailbox's status changed. */
  record(result: ProbeResult): Transition {
    const current = statusOf(result);
    const kept = keep(result);
    const ring = this.#rings.get(result.mailbox);
    if (ring === undefined) {
      this.#rings.set(result.mailbox, {
        slots: [kept],
        status: current,
        since: result.started_at,
      });
      return { previous: null, current };
    }
    ring.slots.push(kept);
    this.#trim(ring);
    const previous = ring.status;
    // Since when it is up, or down: a new reason while down is not a new outage.
    if (previous.startsWith('down') !== current.startsWith('down')) ring.since = result.started_at;
    ring.status = current;
    return { previous, current };
  }

  /** Drops the oldest results past the limit, then the oldest transcripts past the budget. */
  #trim(ring: Ring): void {
    const { slots } = ring;
    if (slots.length > this.#limits.probes) slots.splice(0, slots.length - this.#limits.probes);
    let octets = 0;
    for (let i = slots.length - 1; i >= 0; i--) {
      const kept = slots[i] as Kept;
      if (kept.transcript === null) continue;
      octets += kept.transcript.length;
      if (octets > this.#limits.transcriptOctets) kept.transcript = null;
    }
  }

  /**
   * The mailboxes now configured (start, reload): the history of the others goes, and
   * each keeps what its share of the fleet's totals allows (`limitsFor` by default).
   */
  setMailboxes(names: readonly string[], limits: HistoryLimits = limitsFor(names.length)): void {
    const keep = new Set(names);
    for (const name of this.#rings.keys()) if (!keep.has(name)) this.#rings.delete(name);
    this.#limits = limits;
    for (const ring of this.#rings.values()) this.#trim(ring);
  }

  /** The newest result of the mailbox, without its transcript or capabilities. */
  latest(name: string): ProbeResult | undefined {
    return this.#rings.get(name)?.slots.at(-1)?.result;
  }

  /** The mailbox's results, newest first, with the transcripts still kept (no capabilities). */
  recent(name: string): ProbeResult[] {
    const ring = this.#rings.get(name);
    if (ring === undefined) return [];
    return ring.slots.map(shown).reverse();
  }

  /** When the mailbox went up or down (seconds since the epoch); undefined before its first probe. */
  since(name: string): number | undefined {
    return this.#rings.get(name)?.since;
  }
}
