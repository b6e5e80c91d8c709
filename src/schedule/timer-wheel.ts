import type { Clock, TimerHandle } from '../clock.js';
import { MinHeap } from './min-heap.js';

/** setTimeout's limit: a longer delay fires at once (Node's TimeoutOverflowWarning). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
/** A timer that finds the clock this far short of its due time saw the clock go back. */
const CLOCK_BACK_TOLERANCE_MS = 1000;

interface Entry<T> {
  at: number;
  seq: number;
  item: T;
}

/**
 * Many due times behind ONE clock timer: a min-heap of (time, item) and a single unref'd
 * timer armed for the earliest. Why not one timer per mailbox: with 10,000 mailboxes that
 * is 10,000 live timers re-created every interval; here adding an item is O(log n), the
 * process holds one timer whatever the count, and stop() has exactly one timer to clear.
 *
 * Items can go stale (a mailbox removed or rescheduled); `isLive` tells, and stale
 * entries are dropped when they surface or when `compact()` runs.
 */
export class TimerWheel<T> {
  readonly #clock: Clock;
  readonly #onDue: (item: T, now: number) => void;
  readonly #isLive: (item: T) => boolean;
  readonly #onClockBack: (now: number) => void;
  readonly #heap = new MinHeap<Entry<T>>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  #seq = 0;
  #timer: TimerHandle | null = null;
  #armedAt: number | null = null;
  /** The clock's now() at which the armed timer should fire; null when the delay was capped. */
  #expectedAt: number | null = null;
  #running = false;
  #firing = false;

  /**
   * `onClockBack` runs when a timer finds the wall clock well behind the time it was armed
   * for: the clock was set back, and due times computed before are now too far away.
   */
  constructor(
    clock: Clock,
    onDue: (item: T, now: number) => void,
    isLive: (item: T) => boolean,
    onClockBack: (now: number) => void = () => {},
  ) {
    this.#clock = clock;
    this.#onDue = onDue;
    this.#isLive = isLive;
    this.#onClockBack = onClockBack;
  }

  /** Entries held, stale ones included. */
  get size(): number {
    return this.#heap.size;
  }

  /** Items due at the same time come out in the order they were added. */
  add(at: number, item: T): void {
    this.#heap.push({ at, seq: this.#seq++, item });
    if (this.#running && !this.#firing && (this.#armedAt === null || at < this.#armedAt))
      this.#arm();
  }

  start(): void {
    this.#running = true;
    this.#arm();
  }

  /** Clears the timer and forgets every entry. */
  stop(): void {
    this.#running = false;
    this.#disarm();
    this.#heap.clear();
  }

  /** Drops stale entries now (after a reload removed or rescheduled many items). */
  compact(): void {
    this.#heap.retain((entry) => this.#isLive(entry.item));
  }

  #disarm(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedAt = null;
    this.#expectedAt = null;
  }

  #arm(): void {
    let top = this.#heap.peek();
    while (top !== undefined && !this.#isLive(top.item)) {
      this.#heap.pop();
      top = this.#heap.peek();
    }
    if (top === undefined) {
      this.#disarm();
      return;
    }
    if (this.#timer !== null && this.#armedAt === top.at) return;
    this.#disarm();
    const now = this.#clock.now();
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, top.at - now));
    this.#armedAt = top.at;
    this.#expectedAt = delay === MAX_TIMER_DELAY_MS ? null : now + delay;
    this.#timer = this.#clock.setTimeout(this.#fire, delay);
    this.#timer.unref?.();
  }

  readonly #fire = (): void => {
    const expectedAt = this.#expectedAt;
    this.#timer = null;
    this.#armedAt = null;
    this.#expectedAt = null;
    if (!this.#running) return;
    // A timer may fire early (a capped delay) or the wall clock may have gone back:
    // only what is due by the clock's own now() runs; the rest waits for a new timer.
    const now = this.#clock.now();
    this.#firing = true;
    try {
      if (expectedAt !== null && now < expectedAt - CLOCK_BACK_TOLERANCE_MS) this.#onClockBack(now);
      let top = this.#heap.peek();
      while (this.#running && top !== undefined && top.at <= now) {
        this.#heap.pop();
        if (this.#isLive(top.item)) this.#onDue(top.item, now);
        top = this.#heap.peek();
      }
    } finally {
      this.#firing = false;
      if (this.#running) this.#arm();
    }
  };
}
