import { type Clock, type TimerHandle, timerDelay } from '../clock.js';

export interface Due<T> {
  readonly at: number;
  readonly item: T;
}

export interface Sweep {
  readonly done: boolean;
  cancel(): void;
}

/**
 * Many due times behind ONE timer: the ticks of one schedule match (or of one start-up),
 * sorted by time and walked in order, the timer armed for the next only: 10,000 mailboxes
 * on one expression are one timer, not 10,000. What is due already runs at once. A timer
 * that fires early (a capped delay, a wall clock set back) runs only what is due by now.
 */
export function startSweep<T>(clock: Clock, items: Due<T>[], onDue: (item: T) => void): Sweep {
  items.sort((a, b) => a.at - b.at);
  let next = 0;
  let timer: TimerHandle | null = null;
  const walk = (): void => {
    timer = null;
    const now = clock.now();
    for (let due = items[next]; due !== undefined; due = items[next]) {
      if (due.at > now) {
        timer = clock.setTimeout(walk, timerDelay(due.at - now));
        timer.unref();
        return;
      }
      next += 1;
      onDue(due.item);
    }
  };
  walk();
  return {
    get done() {
      return next >= items.length;
    },
    cancel() {
      if (timer !== null) clock.clearTimeout(timer);
      next = items.length;
    },
  };
}
