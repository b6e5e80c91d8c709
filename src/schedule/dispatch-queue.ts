import { MinHeap } from './min-heap.js';

export type TicketStatus = 'new' | 'waiting' | 'running' | 'done' | 'cancelled';

/** One unit of work waiting for, or holding, a slot. */
export interface Ticket {
  /** Submission order: lower runs first. */
  readonly seq: number;
  readonly hostKey: string;
  status: TicketStatus;
  readonly run: () => void;
}

/** The tickets of one host, in submission order. */
interface Lane {
  readonly key: string;
  running: number;
  queue: Ticket[];
  /** Index of the first ticket not yet taken from `queue`. */
  head: number;
  /** Tickets in `queue` still waiting (not cancelled). */
  live: number;
  /** The lane has an entry in the ready heap. */
  ready: boolean;
}

interface ReadyEntry {
  /** seq of the lane's first waiting ticket when the entry was made. */
  seq: number;
  lane: Lane;
}

/**
 * Concurrency limits with FIFO order: at most `maxConcurrent` tickets run overall and at
 * most `maxPerHost` per host. A waiting ticket whose host is at its limit does not hold up
 * tickets of other hosts behind it; among tickets that could start, the oldest starts
 * first. Each host has its own FIFO lane; a heap orders the lanes that have room by the
 * seq of their first ticket, so every start and finish costs O(log hosts).
 */
export class DispatchQueue {
  readonly maxConcurrent: number;
  readonly maxPerHost: number;
  #running = 0;
  #waiting = 0;
  #seq = 0;
  #pumping = false;
  readonly #lanes = new Map<string, Lane>();
  readonly #ready = new MinHeap<ReadyEntry>((a, b) => a.seq < b.seq);

  constructor(maxConcurrent: number, maxPerHost: number) {
    this.maxConcurrent = Math.max(1, Math.floor(maxConcurrent));
    this.maxPerHost = Math.max(1, Math.floor(maxPerHost));
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** Running tickets of one host. */
  runningOn(hostKey: string): number {
    return this.#lanes.get(hostKey)?.running ?? 0;
  }

  ticket(hostKey: string, run: () => void): Ticket {
    return { seq: this.#seq++, hostKey, status: 'new', run };
  }

  /** Queues the ticket; it may start (its `run` called) before this returns. */
  submit(ticket: Ticket): void {
    if (ticket.status !== 'new') return;
    let lane = this.#lanes.get(ticket.hostKey);
    if (lane === undefined) {
      lane = { key: ticket.hostKey, running: 0, queue: [], head: 0, live: 0, ready: false };
      this.#lanes.set(ticket.hostKey, lane);
    }
    ticket.status = 'waiting';
    lane.queue.push(ticket);
    lane.live += 1;
    this.#waiting += 1;
    this.#offer(lane);
    this.#pump();
  }

  /** A running ticket has finished: its slot goes to the next one. */
  finish(ticket: Ticket): void {
    if (ticket.status !== 'running') return;
    ticket.status = 'done';
    this.#running -= 1;
    const lane = this.#lanes.get(ticket.hostKey);
    if (lane !== undefined) {
      lane.running -= 1;
      this.#offer(lane);
      this.#dropIfIdle(lane);
    }
    this.#pump();
  }

  /** Withdraws a waiting ticket; false when it already runs or ended. */
  cancel(ticket: Ticket): boolean {
    if (ticket.status !== 'waiting') return false;
    ticket.status = 'cancelled';
    this.#waiting -= 1;
    const lane = this.#lanes.get(ticket.hostKey);
    if (lane !== undefined) {
      lane.live -= 1;
      // Cancelled tickets are skipped lazily; compact so they cannot pile up.
      if (lane.live === 0) {
        lane.queue = [];
        lane.head = 0;
      } else if (lane.queue.length - lane.head > 2 * lane.live + 32) {
        lane.queue = lane.queue.slice(lane.head).filter((t) => t.status === 'waiting');
        lane.head = 0;
      }
      this.#dropIfIdle(lane);
    }
    return true;
  }

  /** Withdraws every waiting ticket and returns them. */
  cancelAll(): Ticket[] {
    const cancelled: Ticket[] = [];
    for (const lane of [...this.#lanes.values()]) {
      for (let i = lane.head; i < lane.queue.length; i++) {
        const ticket = lane.queue[i] as Ticket;
        if (this.cancel(ticket)) cancelled.push(ticket);
      }
    }
    return cancelled;
  }

  #firstWaiting(lane: Lane): Ticket | undefined {
    while (lane.head < lane.queue.length) {
      const ticket = lane.queue[lane.head] as Ticket;
      if (ticket.status === 'waiting') return ticket;
      lane.head += 1;
    }
    lane.queue = [];
    lane.head = 0;
    return undefined;
  }

  /** Puts the lane in the ready heap when it has a waiting ticket and room. */
  #offer(lane: Lane): void {
    if (lane.ready || lane.live === 0 || lane.running >= this.maxPerHost) return;
    const first = this.#firstWaiting(lane);
    if (first === undefined) return;
    lane.ready = true;
    this.#ready.push({ seq: first.seq, lane });
  }

  #dropIfIdle(lane: Lane): void {
    if (
      lane.running === 0 &&
      lane.live === 0 &&
      !lane.ready &&
      this.#lanes.get(lane.key) === lane
    ) {
      this.#lanes.delete(lane.key);
    }
  }

  #pump(): void {
    // A ticket's run() must not start a nested pump: the loop below re-checks everything.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.maxConcurrent) {
        const entry = this.#ready.pop();
        if (entry === undefined) break;
        const lane = entry.lane;
        lane.ready = false;
        const first = this.#firstWaiting(lane);
        if (first === undefined || lane.running >= this.maxPerHost) {
          this.#dropIfIdle(lane);
          continue;
        }
        if (first.seq !== entry.seq) {
          // Its first ticket was cancelled: re-queue the lane under the new first seq.
          this.#offer(lane);
          continue;
        }
        lane.head += 1;
        lane.live -= 1;
        lane.running += 1;
        this.#waiting -= 1;
        this.#running += 1;
        first.status = 'running';
        this.#offer(lane);
        first.run();
      }
    } finally {
      this.#pumping = false;
    }
  }
}
