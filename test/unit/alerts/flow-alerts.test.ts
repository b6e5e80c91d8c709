import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderSubject } from '../../../src/alerts/email.js';
import { AlertEngine } from '../../../src/alerts/engine.js';
import { evaluateFlow } from '../../../src/alerts/rules.js';
import { createAlertStateStore } from '../../../src/alerts/state-store.js';
import type { Notification } from '../../../src/alerts/types.js';
import { FakeClock } from '../../fixtures/fake-clock.js';
import { exampleMailboxConfig } from '../../fixtures/mailbox-config.js';
import { failed, MINUTE, ok, policy, rule, T0 } from './helpers.js';

const LOOP = { mailbox: 'support', loop: 'support-loop' } as const;
const WATCH = { mailbox: 'support', expect: 'backup' } as const;

function engine(dir?: string) {
  const clock = new FakeClock(T0);
  const sent: Notification[] = [];
  const gauge: string[] = [];
  const e = new AlertEngine({
    clock,
    alerting: policy({
      builtin_rules: { login_failed: false, unreachable: false },
      rules: [rule({ name: 'slow_delivery', metric: 'delivery_seconds', op: '>', value: 60 })],
    }),
    mailboxes: [{ name: 'support', labels: { team: 'help' } }],
    flowTargets: [
      { ...LOOP, labels: { team: 'help' } },
      { ...WATCH, labels: { team: 'help' } },
    ],
    ...(dir ? { store: createAlertStateStore(dir, { now: () => clock.now() }) } : {}),
    emit: (n) => void sent.push(n),
    onFiringChange: (r, m, s, f) => gauge.push(`${f ? '+' : '-'}${r}/${m}/${s}`),
    onFlowFiringChange: (r, t, s, f) =>
      gauge.push(`${f ? '+' : '-'}${r}/${t.loop ?? `${t.mailbox}:${t.expect}`}/${s}`),
  });
  return { clock, sent, gauge, e };
}

describe('alerts on delivery loops and expect watches', () => {
  test('delivery_lost fires per loop and resolves; mailbox rules never see loop metrics', async () => {
    const { e, gauge, sent } = engine();
    await e.load();
    e.observe(ok('support', { messages: 3 }));
    e.observeFlow({
      target: LOOP,
      values: { delivery_lost: 1, delivery_seconds: null },
      last_error: { code: 'connect', message: 'refused' },
    });
    await e.flush();
    e.observeFlow({
      target: LOOP,
      values: { delivery_lost: 0, delivery_seconds: 2 },
      last_error: null,
    });
    await e.flush();
    assert.deepEqual(gauge, [
      '+delivery_lost/support-loop/critical',
      '-delivery_lost/support-loop/critical',
    ]);
    const alerts = sent.flatMap((n) =>
      n.alerts.map((a) => `${a.status}:${a.rule}/${a.loop}/${a.mailbox}`),
    );
    assert.deepEqual(alerts, [
      'firing:delivery_lost/support-loop/support',
      'resolved:delivery_lost/support-loop/support',
    ]);
    assert.equal(
      renderSubject(sent[0] as Notification),
      '[FIRING:1] pop3-monitor: delivery_lost on loop support-loop (critical)',
    );
  });

  test("expect_overdue takes each watch's within as its threshold", () => {
    const rules = [
      {
        name: 'expect_overdue',
        metric: 'expect_age_seconds' as const,
        op: '>' as const,
        value: 0,
        for: 0,
        severity: 'critical' as const,
      },
    ];
    const opts = { nowMs: T0, repeatIntervalMs: 4 * 60 * MINUTE };
    const observe = (age: number) =>
      evaluateFlow(
        undefined,
        {
          target: WATCH,
          values: { expect_age_seconds: age },
          thresholds: { expect_overdue: 3600 },
          last_error: null,
        },
        rules,
        opts,
      );
    assert.deepEqual(observe(3600).transitions, []);
    const fired = observe(3601).transitions[0];
    assert.equal(fired?.kind, 'firing');
    assert.equal(fired?.snapshot.threshold, 3600);
    assert.equal(fired?.snapshot.expect, 'backup');
    assert.equal(fired?.snapshot.loop, undefined);
  });

  test('evaluateFlow: persisted state changes with the first evaluation and with the last error, not with a value', () => {
    const rules = [
      rule({ name: 'lost', metric: 'delivery_lost', op: '>=', value: 1, for: 10 * MINUTE }),
    ];
    const opts = { nowMs: T0, repeatIntervalMs: 4 * 60 * MINUTE };
    const observe = (
      prev: Parameters<typeof evaluateFlow>[0],
      lost: number,
      error: { code: 'connect' | 'auth'; message: string } | null,
    ) =>
      evaluateFlow(
        prev,
        { target: LOOP, values: { delivery_lost: lost }, last_error: error },
        rules,
        opts,
      );
    const first = observe(undefined, 0, null);
    assert.equal(first.changed, true, 'a new target is saved');
    const same = observe(first.state, 0, null);
    assert.equal(same.changed, false);
    const refused = { code: 'connect' as const, message: 'refused' };
    const failing = observe(same.state, 1, refused);
    assert.equal(failing.changed, true, 'an instance starts pending');
    const again = observe(failing.state, 1, { ...refused, message: 'refused again' });
    assert.equal(again.changed, false, 'the same error code, still pending: nothing to save');
    const other = observe(again.state, 1, { code: 'auth', message: 'bad credentials' });
    assert.equal(other.changed, true, 'another error code is saved');
    assert.deepEqual(other.state.last_error, { code: 'auth', message: 'bad credentials' });
    const cleared = observe(other.state, 1, null);
    assert.equal(cleared.changed, true, 'an error cleared is saved');
  });

  test('evaluateFlow: a value that is absent, null or not finite is NO DATA (an instance neither starts nor resolves)', () => {
    const rules = [rule({ name: 'slow', metric: 'delivery_seconds', op: '>', value: 60 })];
    const opts = { nowMs: T0, repeatIntervalMs: 4 * 60 * MINUTE };
    const observe = (
      prev: Parameters<typeof evaluateFlow>[0],
      values: Record<string, number | null>,
    ) => evaluateFlow(prev, { target: LOOP, values, last_error: null }, rules, opts);
    const firing = observe(undefined, { delivery_seconds: 90 });
    assert.equal(firing.transitions[0]?.kind, 'firing');
    const noData: Record<string, number | null>[] = [
      {},
      { delivery_seconds: null },
      { delivery_seconds: Number.NaN },
      { delivery_seconds: Number.POSITIVE_INFINITY },
    ];
    for (const values of noData) {
      const next = observe(firing.state, values);
      assert.deepEqual(next.transitions, [], JSON.stringify(values));
      assert.equal(next.state.instances[0]?.state, 'firing', JSON.stringify(values));
      assert.deepEqual(observe(undefined, values).state.instances, [], JSON.stringify(values));
    }
    assert.equal(observe(firing.state, { delivery_seconds: 5 }).transitions[0]?.kind, 'resolved');
  });

  test('a user rule on delivery_seconds, and the state of loops and watches survives a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flow-alerts-'));
    try {
      const first = engine(dir);
      await first.e.load();
      first.e.observeFlow({
        target: LOOP,
        values: { delivery_lost: 0, delivery_seconds: 90 },
        last_error: null,
      });
      first.e.observeFlow({
        target: WATCH,
        values: { expect_age_seconds: 10 },
        thresholds: { expect_overdue: 5 },
        last_error: null,
      });
      await first.e.flush();
      assert.deepEqual(first.gauge, [
        '+slow_delivery/support-loop/warning',
        '+expect_overdue/support:backup/critical',
      ]);
      const second = engine(dir);
      await second.e.load();
      assert.deepEqual(second.gauge, [
        '+slow_delivery/support-loop/warning',
        '+expect_overdue/support:backup/critical',
      ]);
      assert.deepEqual(
        second.e.snapshot().map((a) => [a.rule, a.loop ?? null, a.expect ?? null]),
        [
          ['expect_overdue', null, 'backup'],
          ['slow_delivery', 'support-loop', null],
        ],
      );
      // The loop removed from the config: its alert resolves.
      second.e.reconfigure(
        policy({
          rules: [rule({ name: 'slow_delivery', metric: 'delivery_seconds', op: '>', value: 60 })],
        }),
        [{ name: 'support', labels: {} }],
        [{ ...WATCH, labels: {} }],
      );
      assert.ok(second.gauge.includes('-slow_delivery/support-loop/warning'));
      await second.e.flush();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a reload keeps the firing alert of a mailbox given as a whole MailboxConfig (its expect: list is no watch)', async () => {
    const clock = new FakeClock(T0);
    const gauge: string[] = [];
    const support = exampleMailboxConfig('support', {
      expect: [{ name: 'backup', from: 'x', subject: undefined, within: 60_000 }],
    });
    const e = new AlertEngine({
      clock,
      alerting: policy(),
      mailboxes: [support],
      emit: () => undefined,
      onFiringChange: (r, m, s, f) => gauge.push(`${f ? '+' : '-'}${r}/${m}/${s}`),
    });
    await e.load();
    e.observe(failed('support', 'auth', 'auth'));
    e.reconfigure(policy(), [support], [{ ...WATCH, labels: {} }]);
    assert.deepEqual(gauge, ['+login_failed/support/critical']);
    assert.deepEqual(
      e.snapshot().map((a) => a.rule),
      ['login_failed'],
    );
    await e.flush();
  });
});
