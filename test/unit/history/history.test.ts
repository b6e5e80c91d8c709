import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { limitsFor, ProbeHistory } from '../../../src/history/history.js';
import { packTranscript } from '../../../src/history/packed-transcript.js';
import type { Transcript } from '../../../src/probe/transcript.js';
import { failed, ok } from '../../fixtures/probe-results.js';

const at = (seconds: number) => ({ started_at: 1_800_000_000 + seconds });

describe('ProbeHistory', () => {
  it('keeps the last N results of each mailbox, newest first', () => {
    const history = new ProbeHistory({ probes: 3, transcriptOctets: 1e6 });
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
    const history = new ProbeHistory({ probes: 20, transcriptOctets: 1e6 });
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

  it('setMailboxes drops the history of removed mailboxes and applies the new limits', () => {
    const history = new ProbeHistory();
    history.record(ok('a'));
    for (let i = 1; i <= 5; i++) history.record(ok('b', { messages: i }));
    history.setMailboxes(['b'], { probes: 2, transcriptOctets: 1e6 });
    assert.equal(history.latest('a'), undefined);
    assert.equal(history.since('a'), undefined);
    assert.deepEqual(
      history.recent('b').map((r) => r.messages),
      [5, 4],
    );
  });

  it('limitsFor: 20 probes each up to 2,500 mailboxes, fewer beyond, never under 3', () => {
    assert.deepEqual(limitsFor(1), { probes: 20, transcriptOctets: 32 * 1024 });
    assert.deepEqual(limitsFor(1000), { probes: 20, transcriptOctets: 32 * 1024 });
    assert.deepEqual(limitsFor(2500), { probes: 20, transcriptOctets: 13_421 });
    assert.deepEqual(limitsFor(10_000), { probes: 5, transcriptOctets: 4096 });
    assert.deepEqual(limitsFor(100_000), { probes: 3, transcriptOctets: 4096 });
  });
});

describe('ProbeHistory: transcripts', () => {
  const transcript = (n: number): Transcript => ({
    lines: [
      { at_ms: 0.4, dir: '*', text: 'connected to 127.0.0.1:995' },
      { at_ms: 1.2, dir: 'S', text: `+OK ready <${n}@host> déjà vu…` },
      { at_ms: 1.5, dir: 'C', text: 'AUTH PLAIN ***' },
      { at_ms: 12345.6, dir: 'S', text: '' },
    ],
    omitted: n,
  });

  it('keeps them packed and gives them back as they were; latest() leaves them out', () => {
    const history = new ProbeHistory();
    history.record(ok('a', { transcript: transcript(1), capabilities: ['TOP', 'UIDL'] }));
    history.record(ok('a', { transcript: transcript(2) }));
    assert.deepEqual(
      history.recent('a').map((r) => r.transcript),
      [transcript(2), transcript(1)],
    );
    assert.equal(history.latest('a')?.transcript, undefined);
    assert.deepEqual(history.latest('a')?.capabilities, []);
  });

  it('past the budget the oldest lose their transcripts, not their results', () => {
    const size = packTranscript(transcript(1)).length;
    const history = new ProbeHistory({ probes: 20, transcriptOctets: size * 3 + 1 });
    for (let i = 1; i <= 5; i++)
      history.record(ok('a', { transcript: transcript(i), messages: i }));
    const recent = history.recent('a');
    assert.deepEqual(
      recent.map((r) => r.messages),
      [5, 4, 3, 2, 1],
    );
    assert.deepEqual(
      recent.map((r) => r.transcript?.omitted),
      [5, 4, 3, undefined, undefined],
    );
  });

  it('a transcript of forty lines packs into well under a kilobyte', () => {
    const lines = Array.from({ length: 40 }, (_, i) => ({
      at_ms: i * 1.3,
      dir: (i % 2 === 0 ? 'C' : 'S') as 'C' | 'S',
      text: ['CAPA', '+OK', 'TOP', 'UIDL', 'STAT', '+OK 3 1208'][i % 6] as string,
    }));
    assert.ok(packTranscript({ lines, omitted: 0 }).length < 400);
  });

  it('a packed transcript holds only its own octets, not the 16 KiB output buffer of deflate', () => {
    const packed = packTranscript(transcript(1));
    // What stays alive with it is its backing store: exactly its octets.
    assert.equal(
      packed.buffer.byteLength,
      packed.length,
      `backing store of ${packed.buffer.byteLength} octets for ${packed.length}`,
    );
  });
});
