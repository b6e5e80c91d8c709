import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  beginSend,
  emptyLoopState,
  type LoopState,
  observeScan,
  sendAccepted,
  sendFailed,
} from '../../../src/flow/loop-state.js';

const T0 = Date.UTC(2026, 2, 2, 10);
const DEADLINE = 60_000;

/** One probe message sent at T0 and accepted 200 ms later. */
function sentOne(): LoopState {
  const begun = beginSend(emptyLoopState(), T0, DEADLINE);
  return sendAccepted(begun.state, begun.probe.seq, T0 + 200, DEADLINE);
}

describe("a delivery loop's state", () => {
  it('seen by a scan before the deadline: delivered, timed from SMTP acceptance to the end of that probe', () => {
    const out = observeScan(
      sentOne(),
      [{ seq: 1, received_at: (T0 + 1000) / 1000 }],
      T0 + 4000,
      T0 + 4500,
    );
    assert.deepEqual(out.events, [
      { kind: 'delivered', seq: 1, seconds: 4.3, server_seconds: 0.8 },
    ]);
    assert.deepEqual(out.state.pending, []);
    assert.equal(out.state.last_delivery_seconds, 4.3);
    assert.equal(out.state.last_success_at, T0 + 4500);
    assert.equal(out.state.next_seq, 2);
  });

  it('not seen: pending until a scan that started after the deadline, then lost once', () => {
    let state = sentOne();
    // A scan that started just before the deadline says nothing yet.
    let out = observeScan(state, [], T0 + 200 + DEADLINE, T0 + 200 + DEADLINE + 900);
    assert.deepEqual(out.events, []);
    state = out.state;
    out = observeScan(state, [], T0 + 201 + DEADLINE, T0 + 300 + DEADLINE);
    assert.deepEqual(out.events, [{ kind: 'lost', seq: 1, deadline_at: T0 + 200 + DEADLINE }]);
    assert.equal(out.state.lost_in_a_row, 1);
    assert.equal(out.state.last_error?.code, 'timeout');
    out = observeScan(out.state, [], T0 + 10 * DEADLINE, T0 + 10 * DEADLINE);
    assert.deepEqual(out.events, []);
    assert.equal(out.state.lost_in_a_row, 1);
  });

  it('seen after it was counted lost: late, not delivered; seen again: a duplicate', () => {
    const lost = observeScan(sentOne(), [], T0 + 2 * DEADLINE, T0 + 2 * DEADLINE);
    const late = observeScan(
      lost.state,
      [{ seq: 1, received_at: null }],
      T0 + 3 * DEADLINE,
      T0 + 3 * DEADLINE + 200,
    );
    assert.deepEqual(late.events, [{ kind: 'late', seq: 1, seconds: 180 }]);
    assert.equal(late.state.last_delivery_seconds, null);
    const again = observeScan(
      late.state,
      [{ seq: 1, received_at: null }],
      T0 + 4 * DEADLINE,
      T0 + 4 * DEADLINE,
    );
    assert.deepEqual(again.events, [{ kind: 'duplicate', seq: 1 }]);
  });

  it('first seen by a scan that started after its deadline: lost and late at once', () => {
    const out = observeScan(
      sentOne(),
      [{ seq: 1, received_at: null }],
      T0 + 2 * DEADLINE,
      T0 + 2 * DEADLINE + 100,
    );
    assert.deepEqual(
      out.events.map((e) => e.kind),
      ['lost', 'late'],
    );
    assert.equal(out.state.lost_in_a_row, 1);
  });

  it('a failed send counts toward lost_in_a_row at once; a delivery resets it', () => {
    let state = emptyLoopState();
    for (let i = 0; i < 2; i++) {
      const begun = beginSend(state, T0 + i, DEADLINE);
      state = sendFailed(begun.state, begun.probe.seq, { code: 'connect', message: 'refused' });
    }
    assert.equal(state.lost_in_a_row, 2);
    assert.deepEqual(state.pending, []);
    assert.equal(state.next_seq, 3);
    const begun = beginSend(state, T0 + 10, DEADLINE);
    state = sendAccepted(begun.state, 3, T0 + 20, DEADLINE);
    const out = observeScan(state, [{ seq: 3, received_at: null }], T0 + 30, T0 + 40);
    assert.equal(out.state.lost_in_a_row, 0);
    assert.equal(out.state.last_error, null);
  });

  it('a send the process did not live to see confirmed: delivered if seen, dropped quietly if not', () => {
    const unconfirmed = beginSend(emptyLoopState(), T0, DEADLINE).state;
    const seen = observeScan(unconfirmed, [{ seq: 1, received_at: null }], T0 + 1000, T0 + 2000);
    assert.deepEqual(seen.events, [
      { kind: 'delivered', seq: 1, seconds: 2, server_seconds: null },
    ]);
    const never = observeScan(unconfirmed, [], T0 + 2 * DEADLINE, T0 + 2 * DEADLINE);
    assert.deepEqual(never.events, [{ kind: 'dropped', seq: 1 }]);
    assert.equal(never.state.lost_in_a_row, 0);
  });

  it('survives a restart: the saved JSON gives the same decisions', () => {
    const restored = JSON.parse(JSON.stringify(sentOne())) as LoopState;
    assert.deepEqual(
      observeScan(restored, [{ seq: 1, received_at: null }], T0 + 1000, T0 + 1500).events,
      observeScan(sentOne(), [{ seq: 1, received_at: null }], T0 + 1000, T0 + 1500).events,
    );
  });
});
