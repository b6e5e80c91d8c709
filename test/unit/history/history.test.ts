import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProbeHistory } from '../../../src/history/history.js';
import { failed, ok } from '../../fixtures/probe-results.js';

const at = (seconds: number) => ({ started_at: 1_800_000_000 + seconds });

describe('ProbeHistory', () => {
  it('keeps the last N results of each mailbox, newest first', () => {
    const history = new ProbeHistory(3);
    for (let i = 1; i <= 5; i++) history.record(ok('a', { messages: i, ...at(i) }));
    history.record(ok('b', { messages: 100 }));
    assert.deepEqual(
      history.recent('a').map((r) => r.messages),
      [5, 4, 3],
    );
    assert.equal(history.latest('a')?.messages, 5);
    assert.equal(history.latest('b')?.messages, 100);
    assert.deepEqual(history.recent('nobody'), []);
    assert.equal(history.latest('nobody'), undefined);
  });

  it('before the ring is full, the order is the order of arrival', () => {
    const history = new ProbeHistory(20);
    for (let i = 1; i <= 4; i++) history.record(ok('a', { messages: i }));
    assert.deepEqual(
      history.recent('a').map((r) => r.messages),
      [4, 3, 2, 1],
    );
    assert.equal(history.latest('a')?.messages, 4);
  });

  it('reports status transitions: first, up to down, a new reason while down, back up', () => {
    const history = new ProbeHistory();
    assert.deepEqual(history.record(ok('a', at(0))), { previous: null, current: 'up' });
    assert.deepEqual(history.record(ok('a', at(60))), { previous: 'up', current: 'up' });
    assert.deepEqual(history.record(failed('a', 'auth', 'auth', at(120))), {
      previous: 'up',
      current: 'down:auth',
    });
    assert.deepEqual(history.record(failed('a', 'timeout', 'greeting', at(180))), {
      previous: 'down:auth',
      current: 'down:timeout',
    });
    assert.deepEqual(history.record(ok('a', at(240))), { previous: 'down:timeout', current: 'up' });
  });

  it('since: when the mailbox went up or down, not when the reason changed', () => {
    const history = new ProbeHistory();
    history.record(ok('a', at(0)));
    history.record(ok('a', at(60)));
    assert.equal(history.since('a'), 1_800_000_000);
    history.record(failed('a', 'auth', 'auth', at(120)));
    history.record(failed('a', 'timeout', 'greeting', at(180)));
    assert.equal(history.since('a'), 1_800_000_120);
    history.record(ok('a', at(240)));
    assert.equal(history.since('a'), 1_800_000_240);
    assert.equal(history.since('nobody'), undefined);
  });

  it('keepOnly drops the history of removed mailboxes', () => {
    const history = new ProbeHistory();
    history.record(ok('a'));
    history.record(ok('b'));
    history.keepOnly(['b']);
    assert.equal(history.latest('a'), undefined);
    assert.equal(history.since('a'), undefined);
    assert.notEqual(history.latest('b'), undefined);
  });
});
