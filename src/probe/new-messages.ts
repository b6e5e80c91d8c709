import type { Command, Pop3Client } from '../pop3/client.js';
import type { BlockOptions, Reply } from '../pop3/framing.js';
import { parseMailDate } from '../pop3/mail-date.js';
import {
  type Header,
  parseHeaderBlock,
  parseStat,
  parseUidlLine,
  receivedTimestamp,
} from '../pop3/responses.js';

/**
 * The new-message scan: the UIDL listing is read as it streams (never kept as a block),
 * diffed against the UIDLs an earlier probe already read, and the headers of the newest
 * new messages are read with `TOP n 0` (never RETR), at most `maxNew` per probe. An
 * injected decision may mark a message for deletion (a delivery loop's own verified probe
 * message); only those get DELE, and only QUIT's +OK makes the deletion real (RFC 1939 §6).
 * This module knows nothing of loops or watches: the flow code decides.
 */

export type MessageAction = 'keep' | 'delete';

/** A new message as the decision sees it. */
export interface NewMessage {
  /** Its number in this session. */
  number: number;
  uid: string;
  headers: readonly Header[];
}

/** What the flow code hands a probe of a mailbox that has loops or watches. */
export interface ScanPlan {
  /** UIDLs whose headers were read before; null when there is no state yet (first scan). */
  known: ReadonlySet<string> | null;
  /** At most this many new messages get TOP per probe, newest first. */
  maxNew: number;
  /** keep or delete; a throw counts as keep. Called during the session. */
  decide(message: NewMessage): MessageAction;
  /**
   * Called once the session ended with QUIT: the UIDLs the next scan treats as known.
   * New messages left unread (past maxNew), unreadable ones and those marked for deletion
   * are not among them, so a later probe reads them (again).
   */
  remember(seen: Set<string>): void;
}

/** A new message whose headers were read. Header values as sent (unfolded, not decoded). */
export interface ScannedMessage {
  uid: string;
  number: number;
  from: string | null;
  subject: string | null;
  message_id: string | null;
  /** The X-Pop3-Monitor-Probe header of a delivery loop's probe message, if any. */
  probe: string | null;
  /** Date:, seconds since the epoch. */
  date: number | null;
  /** The first (newest) Received: field's time, seconds since the epoch. */
  received_at: number | null;
  action: MessageAction;
  /** DELE was accepted and QUIT's +OK removed it. */
  deleted: boolean;
}

/** The scan part of a ProbeResult. */
export interface ProbeScan {
  /** UIDL entries listed. */
  listed: number;
  /** Entries not read before (on the first scan: all). */
  new: number;
  /** New messages whose headers were read (newest first, at most maxNew). */
  read: number;
  deleted: number;
  /** True when there was no earlier state: the newest were read, the rest taken as known. */
  first: boolean;
  messages: ScannedMessage[];
}

/**
 * A header section beyond this is no header section: Exchange Online refuses messages
 * whose header is over 256 KB, and Postfix keeps at most 100 KB per header field.
 */
export const TOP_HEADER_MAX_BYTES = 256 * 1024;
/** Per body line of `TOP n lines`: RFC 5322 §2.1.1 allows 998 octets, some mail exceeds it. */
const TOP_BODY_LINE_BYTES = 4096;
/**
 * One UIDL line is at most 16 digits, a space, a 70-octet id and CRLF (RFC 1939 §7): 89
 * octets. The listing may take this much per message STAT counted, plus some slack.
 */
export const UIDL_OCTETS_PER_MESSAGE = 96;
const UIDL_SLACK_BYTES = 1024;

/** The cap of a `TOP n lines` reply. */
export function topBlock(lines: number): BlockOptions {
  return {
    maxBytes: TOP_HEADER_MAX_BYTES + lines * TOP_BODY_LINE_BYTES,
    what: 'TOP reply',
  };
}

/** The cap of the UIDL listing, from the count STAT answered in the same exchange. */
export function uidlMaxBytes(earlier: ReadonlyMap<string, Reply>): number | undefined {
  const stat = earlier.get('STAT');
  if (stat?.kind !== 'ok') return undefined;
  try {
    return UIDL_SLACK_BYTES + UIDL_OCTETS_PER_MESSAGE * parseStat(stat.text).count;
  } catch {
    return undefined;
  }
}

interface Candidate {
  n: number;
  uid: string;
}

/**
 * The sink of one UIDL listing: it counts the entries, and with a plan builds the set of
 * known UIDLs and keeps only the newest `maxNew` new ones. Memory: nothing per entry
 * without a plan; with one, the set of UIDLs the next probe needs to tell new from known.
 */
export class UidlListing {
  count = 0;
  newCount = 0;
  readonly seen = new Set<string>();
  readonly #plan: ScanPlan | null;
  #candidates: Candidate[] = [];

  constructor(plan: ScanPlan | null) {
    this.#plan = plan;
  }

  /** The UIDL command with this listing as its sink and the cap STAT allows. */
  command(): Command {
    return {
      line: 'UIDL',
      name: 'UIDL',
      multiline: true,
      phase: 'uidl',
      block: (earlier) => {
        const maxBytes = uidlMaxBytes(earlier);
        return {
          ...(maxBytes === undefined ? {} : { maxBytes }),
          onLine: this.line,
          what: 'UIDL listing',
        };
      },
    };
  }

  readonly line = (text: string): void => {
    const { n, uid } = parseUidlLine(text);
    this.count++;
    const plan = this.#plan;
    if (plan === null) return;
    const known = plan.known;
    if (known?.has(uid)) {
      this.seen.add(uid);
      return;
    }
    this.newCount++;
    // First scan: what is there counts as known, except what is read below.
    if (known === null) this.seen.add(uid);
    const candidates = this.#candidates;
    candidates.push({ n, uid });
    if (candidates.length > plan.maxNew) {
      // Listings come in message order, so the oldest candidate is nearly always first.
      let oldest = 0;
      for (let i = 1; i < candidates.length; i++) {
        if ((candidates[i] as Candidate).n < (candidates[oldest] as Candidate).n) oldest = i;
      }
      candidates.splice(oldest, 1);
    }
  };

  /** The new messages to read, newest first. */
  newest(): Candidate[] {
    return [...this.#candidates].sort((a, b) => b.n - a.n);
  }
}

function header(headers: readonly Header[], name: string): string | null {
  return headers.find((h) => h.name.toLowerCase() === name)?.value ?? null;
}

function scanned(candidate: Candidate, headers: Header[], action: MessageAction): ScannedMessage {
  const date = header(headers, 'date');
  return {
    uid: candidate.uid,
    number: candidate.n,
    from: header(headers, 'from'),
    subject: header(headers, 'subject'),
    message_id: header(headers, 'message-id'),
    probe: header(headers, 'x-pop3-monitor-probe'),
    date: date === null ? null : parseMailDate(date),
    received_at: receivedTimestamp(headers),
    action,
    deleted: false,
  };
}

function decideSafely(plan: ScanPlan, message: NewMessage): MessageAction {
  try {
    return plan.decide(message) === 'delete' ? 'delete' : 'keep';
  } catch {
    return 'keep';
  }
}

/**
 * Reads the headers of the newest new messages, deletes what the plan marked, and ends the
 * session with QUIT. Called once STAT..UIDL were answered; the session is in TRANSACTION.
 */
export async function scanNewMessages(
  client: Pop3Client,
  plan: ScanPlan,
  listing: UidlListing,
): Promise<ProbeScan> {
  const candidates = listing.newest();
  const scan: ProbeScan = {
    listed: listing.count,
    new: listing.newCount,
    read: 0,
    deleted: 0,
    first: plan.known === null,
    messages: [],
  };
  const seen = listing.seen;
  if (candidates.length > 0) {
    const tops: Command[] = candidates.map((c) => ({
      line: `TOP ${c.n} 0`,
      name: 'TOP',
      multiline: true,
      phase: 'top',
      block: topBlock(0),
    }));
    const replies = await client.exchange(tops, client.canPipeline);
    candidates.forEach((candidate, i) => {
      const reply = replies[i];
      // A message another session deleted meanwhile: -ERR, read again if still listed.
      if (reply?.kind !== 'ok') {
        seen.delete(candidate.uid);
        return;
      }
      const headers = parseHeaderBlock(reply.lines ?? []);
      const action = decideSafely(plan, { number: candidate.n, uid: candidate.uid, headers });
      scan.messages.push(scanned(candidate, headers, action));
      if (action === 'keep') seen.add(candidate.uid);
      else seen.delete(candidate.uid);
    });
    scan.read = scan.messages.length;
  }
  const doomed = scan.messages.filter((m) => m.action === 'delete');
  const marked = new Set<ScannedMessage>();
  if (doomed.length > 0) {
    const replies = await client.dele(doomed.map((m) => m.number));
    doomed.forEach((m, i) => {
      if (replies[i]?.kind === 'ok') marked.add(m);
    });
  }
  const quit = await client.quit();
  if (quit?.kind === 'ok') {
    for (const m of marked) m.deleted = true;
    scan.deleted = marked.size;
    plan.remember(seen);
  }
  return scan;
}
