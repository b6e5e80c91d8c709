/** One unit of work waiting for, or holding, a slot. */
export interface Ticket {
  /** Submission order: lower runs first. */
  readonly seq: number;
  readonly hostKey: string;
  status: 'waiting' | 'running' | 'done' | 'cancelled';
  readonly run: () => void;
}

/** The tickets of one host: how many run, and the waiting ones in submission order. */
interface Lane {
  running: number;
  readonly waiting: Ticket[];
}

/**
 * Concurrency limits with FIFO order: at most `maxConcurrent` tickets run overall and at
 * most `maxPerHost` per host. A waiting ticket whose host is at its limit does not hold up
 * tickets of other hosts behind it; among tickets that could start, the oldest starts
 * first. Each host with work has a FIFO lane; a start compares the first tickets of the
 * lanes with room: O(busy hosts), a few hundred steps at most for real fleets, whose
 * mailboxes share a few servers (that is why the per-host limit exists).
 */
export class DispatchQueue {
  readonly maxConcurrent: number;
  readonly maxPerHost: number;
  #running = 0;
  #waiting = 0;
  #seq = 0;
  #pumping = false;
  readonly #lanes = new Map<string, Lane>();

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

  /** Hosts with a ticket running or waiting. */
  get hosts(): number {
    return this.#lanes.size;
  }

  /** Queues `run` for a slot; it may start (be called) before this returns. */
  submit(hostKey: string, run: () => void): Ticket {
    const ticket: Ticket = { seq: this.#seq++, hostKey, status: 'waiting', run };
    let lane = this.#lanes.get(hostKey);
    if (lane === undefined) {
      lane = { running: 0, waiting: [] };
      this.#lanes.set(hostKey, lane);
    }
    lane.waiting.push(ticket);
    this.#waiting += 1;
    this.#pump();
    return ticket;
  }

  /** A running ticket has finished: its slot goes to the next one. */
  finish(ticket: Ticket): void {
    if (ticket.status !== 'running') return;
    ticket.status = 'done';
    this.#running -= 1;
    const lane = this.#lanes.get(ticket.hostKey) as Lane;
    lane.running -= 1;
    this.#dropIfIdle(ticket.hostKey, lane);
    this.#pump();
  }

  /** Withdraws a waiting ticket; false when it already runs or ended. */
  cancel(ticket: Ticket): boolean {
    if (ticket.status !== 'waiting') return false;
    ticket.status = 'cancelled';
    this.#waiting -= 1;
    const lane = this.#lanes.get(ticket.hostKey) as Lane;
    lane.waiting.splice(lane.waiting.indexOf(ticket), 1);
    this.#dropIfIdle(ticket.hostKey, lane);
    return true;
  }

  #dropIfIdle(hostKey: string, lane: Lane): void {
    if (lane.running === 0 && lane.waiting.length === 0) this.#lanes.delete(hostKey);
  }

  #pump(): void {
    // A ticket's run() must not start a nested pump: the loop below re-checks everything.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.maxConcurrent) {
        let next: Lane | undefined;
        for (const lane of this.#lanes.values()) {
          const first = lane.waiting[0];
          if (first === undefined || lane.running >= this.maxPerHost) continue;
          if (next === undefined || first.seq < (next.waiting[0] as Ticket).seq) next = lane;
        }
        if (next === undefined) break;
        const ticket = next.waiting.shift() as Ticket;
        next.running += 1;
        this.#waiting -= 1;
        this.#running += 1;
        ticket.status = 'running';
        ticket.run();
      }
    } finally {
      this.#pumping = false;
    }
  }
}
