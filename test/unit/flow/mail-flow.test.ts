import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowObservation } from '../../../src/alerts/rules.js';
import type { Clock } from '../../../src/clock.js';
import type { LoopConfig } from '../../../src/config/schema.js';
import type { FlowState, SeenUids } from '../../../src/flow/flow-store.js';
import { MailFlow } from '../../../src/flow/mail-flow.js';
import { probeHeaderValue } from '../../../src/flow/probe-header.js';
import { SubmitError } from '../../../src/flow/smtp-submit.js';
import type { StateStore } from '../../../src/json-file-store.js';
import type { FlowMetrics } from '../../../src/metrics/flow-metrics.js';
import type { ScannedMessage } from '../../../src/probe/new-messages.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import { Secret } from '../../../src/secret.js';
import { FakeClock } from '../../fixtures/fake-clock.js';
import { GlobalFakeTime } from '../../fixtures/global-fake-time.js';
import { exampleMailboxConfig } from '../../fixtures/mailbox-config.js';

const T0 = Date.UTC(2026, 2, 2, 10);
const KEY = new Secret('a-loop-key-of-32-characters-here');
const MAILBOX = exampleMailboxConfig('support');
const LOOP = {
  name: 'l',
  schedule: '0 */5 * * * *',
  from: 'monitor@example.com',
  to: 'support@example.com',
  mailbox: 'support',
  deadline: 600_000,
  cleanup: true,
  hmac_key: KEY,
  hmac_key_file: '/k',
} as LoopConfig;

class MemoryStore<T> implements StateStore<T> {
  value: T | null = null;
  async load() {
    return this.value === null ? null : (structuredClone(this.value) as T);
  }
  async save(value: T) {
    this.value = structuredClone(value);
  }
}

const silent = { info() {}, warn() {}, debug() {}, error() {} };

function setup(
  state = new MemoryStore<FlowState>(),
  seen = new Map<string, MemoryStore<SeenUids>>(),
  /** The flow's clock; FakeClock by default (returned as `clock`). */
  given?: Clock,
) {
  const fake = new FakeClock(T0);
  const clock = given ?? fake;
  const calls: string[] = [];
  const observations: FlowObservation[] = [];
  const submitted: { seq: number; sent: number; pendingSaved: boolean }[] = [];
  let fail: SubmitError | null = null;
  const metrics: FlowMetrics = {
    setTargets: () => undefined,
    recordSent: (l) => void calls.push(`sent ${l}`),
    recordSendFailure: (l, r) => void calls.push(`failed ${l} ${r}`),
    recordDelivered: (l, s) => void calls.push(`delivered ${l} ${s}`),
    recordLost: (l) => void calls.push(`lost ${l}`),
    recordLate: (l) => void calls.push(`late ${l}`),
    recordForged: (l) => void calls.push(`forged ${l}`),
    setExpectLastSeen: () => undefined,
  };
  const flow = new MailFlow({
    clock,
    logger: silent,
    metrics,
    observe: (o) => void observations.push(o),
    stateStore: state,
    seenStore: (mailbox) => {
      const store = seen.get(mailbox) ?? new MemoryStore<SeenUids>();
      seen.set(mailbox, store);
      return store;
    },
    submit: async (_loop, stamp) => {
      const pending = state.value?.loops.l?.pending.find((p) => p.seq === stamp.seq);
      submitted.push({
        seq: stamp.seq,
        sent: stamp.sent,
        pendingSaved: pending?.confirmed === false,
      });
      if (fail) throw fail;
    },
  });
  return {
    clock: fake,
    flow,
    calls,
    observations,
    submitted,
    state,
    seen,
    failNext: (e: SubmitError | null) => {
      fail = e;
    },
  };
}

function message(uid: string, probe: string | null): ScannedMessage {
  return {
    uid,
    number: 1,
    from: null,
    subject: null,
    message_id: null,
    probe,
    date: null,
    received_at: null,
    action: 'keep',
    deleted: false,
  };
}

function scanResult(startedAt: number, messages: ScannedMessage[]): ProbeResult {
  return {
    mailbox: 'support',
    success: true,
    messages: messages.length,
    size_bytes: 0,
    phases: { total: 0.5 },
    capabilities: [],
    error: null,
    started_at: startedAt / 1000,
    uidl_count: messages.length,
    oldest_message_timestamp: null,
    tls: null,
    auth_method: 'plain',
    login_delay_seconds: null,
    pipelined: true,
    scan: {
      listed: messages.length,
      new: messages.length,
      read: messages.length,
      deleted: 0,
      first: false,
      messages,
    },
  };
}

describe('MailFlow: the shell around the loop decisions', () => {
  it('saves the probe message as pending before it leaves, times it when seen, and counts it once', async () => {
    const s = setup();
    await s.flow.load([LOOP], [MAILBOX]);
    await s.flow.sendNow('l');
    assert.deepEqual(s.submitted, [{ seq: 1, sent: T0, pendingSaved: true }]);
    const header = probeHeaderValue({ loop: 'l', seq: 1, sent: T0 }, KEY);
    await s.clock.advance(3000);
    s.flow.observe(scanResult(T0 + 3000, [message('u1', header)]));
    s.flow.observe(scanResult(T0 + 4000, [message('u1', header)]));
    await s.flow.idle();
    assert.deepEqual(s.calls, ['sent l', 'delivered l 3.5']);
    assert.deepEqual(s.observations.at(-1)?.values, { delivery_lost: 0, delivery_seconds: 3.5 });
  });

  it("decides delete only for a cleanup loop's own verified message; a forged one is kept and counted", async () => {
    const s = setup();
    await s.flow.load([LOOP], [MAILBOX]);
    const plan = s.flow.planFor(MAILBOX);
    assert.ok(plan);
    const mine = probeHeaderValue({ loop: 'l', seq: 7, sent: T0 }, KEY);
    const forged = probeHeaderValue(
      { loop: 'l', seq: 8, sent: T0 },
      new Secret('not-the-key-0123456789abcdef'),
    );
    const decide = (value: string) =>
      plan.decide({ number: 1, uid: 'x', headers: [{ name: 'x-pop3-monitor-probe', value }] });
    assert.equal(decide(mine), 'delete');
    assert.equal(decide(forged), 'keep');
    assert.equal(
      plan.decide({ number: 1, uid: 'y', headers: [{ name: 'Subject', value: 'hi' }] }),
      'keep',
    );
    assert.equal(s.flow.planFor(exampleMailboxConfig('other')), null);
    s.flow.observe(scanResult(T0, [message('f', forged)]));
    assert.deepEqual(s.calls, ['forged l']);
    // With cleanup off nothing is ever deleted.
    const keep = setup();
    await keep.flow.load([{ ...LOOP, cleanup: false }], [MAILBOX]);
    assert.equal(
      keep.flow
        .planFor(MAILBOX)
        ?.decide({ number: 1, uid: 'x', headers: [{ name: 'X-Pop3-Monitor-Probe', value: mine }] }),
      'keep',
    );
  });

  it('a restart with a probe message in flight: the new instance counts it delivered, once', async () => {
    const first = setup();
    await first.flow.load([LOOP], [MAILBOX]);
    await first.flow.sendNow('l');
    await first.flow.stop();
    const second = setup(first.state, first.seen);
    await second.flow.load([LOOP], [MAILBOX]);
    const header = probeHeaderValue({ loop: 'l', seq: 1, sent: T0 }, KEY);
    second.flow.observe(scanResult(T0 + 60_000, [message('u1', header)]));
    await second.flow.sendNow('l');
    assert.deepEqual(second.calls, ['delivered l 60.5', 'sent l']);
    assert.deepEqual(
      second.submitted.map((x) => x.seq),
      [2],
    );
  });

  it('a failed send: counted by reason, delivery_lost 1 with the error for the alert', async () => {
    const s = setup();
    await s.flow.load([LOOP], [MAILBOX]);
    s.failNext(new SubmitError('auth', 'smtp: 535 authentication failed'));
    await s.flow.sendNow('l');
    assert.deepEqual(s.calls, ['failed l auth']);
    assert.deepEqual(s.observations.at(-1), {
      target: { mailbox: 'support', loop: 'l' },
      values: { delivery_lost: 1, delivery_seconds: null },
      last_error: { code: 'auth', message: 'smtp: 535 authentication failed' },
    });
    assert.deepEqual(s.state.value?.loops.l?.pending, []);
  });

  it('remembers the UIDLs a scan read once its result is observed, and saves them', async () => {
    const s = setup();
    await s.flow.load([LOOP], [MAILBOX]);
    assert.equal(s.flow.planFor(MAILBOX)?.known, null);
    s.flow.planFor(MAILBOX)?.remember(new Set(['a', 'b']));
    s.flow.observe(scanResult(T0, []));
    await s.flow.idle();
    assert.deepEqual([...(s.flow.planFor(MAILBOX)?.known ?? [])], ['a', 'b']);
    assert.deepEqual(s.seen.get('support')?.value, { version: 1, uids: ['a', 'b'] });
  });

  it("sends on its schedule (node-cron, through the scheduler's cron tasks); a reload moves it; stop() leaves no timer", async (t) => {
    const time = new GlobalFakeTime(T0);
    t.after(() => time.uninstall());
    const s = setup(undefined, undefined, time.clock);
    await s.flow.load([{ ...LOOP, schedule: '*/20 * * * * *' }], [MAILBOX]);
    s.flow.start();
    await time.advance(60_000);
    const sent = () => s.submitted.map((x) => (x.sent - T0) / 1000);
    assert.deepEqual(sent(), [20, 40, 60]);
    s.flow.configure([{ ...LOOP, schedule: '*/30 * * * * *' }], [MAILBOX]);
    await time.advance(60_000);
    assert.deepEqual(sent(), [20, 40, 60, 90, 120]);
    await s.flow.stop();
    assert.equal(time.pending(), 0);
    await time.advance(60_000);
    assert.deepEqual(sent(), [20, 40, 60, 90, 120]);
  });
});
