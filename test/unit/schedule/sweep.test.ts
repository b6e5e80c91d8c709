import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock, TimerHandle } from '../../../src/clock.js';
import { startSweep } from '../../../src/schedule/sweep.js';
import { FakeClock } from '../../fixtures/fake-clock.js';

const T0 = Date.UTC(2026, 0, 1);

/** A FakeClock that counts the timers armed, and can fire the pending one early. */
class CountingClock implements Clock {
  readonly fake = new FakeClock(T0);
  armed: number[] = [];
  #last: { fn: () => void; handle: TimerHandle } | null = null;

  now(): number {
    return this.fake.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.armed.push(ms);
    const handle = this.fake.setTimeout(fn, ms);
    this.#last = { fn, handle };
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.fake.clearTimeout(handle);
  }

  /** Runs the last armed timer now, before its time (as a capped delay or a clock step does). */
  fireEarly(): void {
    const last = this.#last;
    assert.ok(last !== null);
    this.fake.clearTimeout(last.handle);
    last.fn();
  }
}

describe('startSweep', () => {
  it('runs the items in time order behind one timer at a time, what is due at once', async () => {
    const clock = new CountingClock();
    const ran: Array<[string, number]> = [];
    const sweep = startSweep(
      clock,
      [
        { at: T0 + 3_000, item: 'c' },
        { at: T0 - 5, item: 'late' },
        { at: T0 + 1_000, item: 'a' },
        { at: T0 + 1_000, item: 'b' },
        { at: T0, item: 'now' },
      ],
      (item) => ran.push([item, clock.now() - T0]),
    );
    assert.deepEqual(ran, [
      ['late', 0],
      ['now', 0],
    ]);
    assert.deepEqual(clock.armed, [1_000]);
    assert.equal(clock.fake.pending(), 1);
    assert.equal(sweep.done, false);
    await clock.fake.advance(999);
    assert.equal(ran.length, 2);
    await clock.fake.advance(1);
    assert.deepEqual(ran.slice(2), [
      ['a', 1_000],
      ['b', 1_000],
    ]);
    assert.deepEqual(clock.armed, [1_000, 2_000]);
    await clock.fake.advance(2_000);
    assert.deepEqual(ran.at(-1), ['c', 3_000]);
    assert.equal(sweep.done, true);
    assert.equal(clock.fake.pending(), 0);
  });

  it('a timer that fires early runs only what is due, and arms again for the rest', async () => {
    const clock = new CountingClock();
    const ran: string[] = [];
    startSweep(clock, [{ at: T0 + 10_000, item: 'x' }], (item) => ran.push(item));
    await clock.fake.advance(4_000);
    clock.fireEarly();
    assert.deepEqual(ran, []);
    assert.deepEqual(clock.armed, [10_000, 6_000]);
    await clock.fake.advance(6_000);
    assert.deepEqual(ran, ['x']);
  });

  it('cancel clears the timer and runs nothing more; an empty sweep is done at once', async () => {
    const clock = new CountingClock();
    const ran: string[] = [];
    const sweep = startSweep(
      clock,
      [
        { at: T0 + 1_000, item: 'a' },
        { at: T0 + 2_000, item: 'b' },
      ],
      (item) => ran.push(item),
    );
    await clock.fake.advance(1_000);
    sweep.cancel();
    assert.equal(sweep.done, true);
    assert.equal(clock.fake.pending(), 0);
    await clock.fake.advance(5_000);
    assert.deepEqual(ran, ['a']);
    const empty = startSweep(clock, [], () => assert.fail('nothing to run'));
    assert.equal(empty.done, true);
    assert.equal(clock.fake.pending(), 0);
  });
});
