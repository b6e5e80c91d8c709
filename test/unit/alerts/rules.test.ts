import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUILTIN_RULES } from '../../../src/alerts/builtin-rules.js';
import {
  compare,
  dueRepeats,
  type EngineState,
  type EvaluateOptions,
  effectiveRules,
  emptyMailboxState,
  evaluateMailbox,
  type MailboxAlertState,
  metricValue,
  nextCounters,
  nextRepeatAt,
  reconcile,
} from '../../../src/alerts/rules.js';
import type { AlertSnapshot } from '../../../src/alerts/types.js';
import type { RuleConfig, RuleOp } from '../../../src/config/schema.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import { snapshot } from '../../fixtures/sample-notifications.js';
import { failed, HOUR, MINUTE, ok, policy, rule, SECOND, T0 } from './helpers.js';

const REPEAT = 4 * HOUR;
const backlog = rule({ name: 'backlog', metric: 'messages', op: '>', value: 100, for: 5 * MINUTE });

/** Feeds results one after another into one mailbox's state, like the engine does. */
class Run {
  state: MailboxAlertState | undefined;
  constructor(
    readonly rules: RuleConfig[],
    readonly opts: Partial<EvaluateOptions> = {},
  ) {}
  at(nowMs: number, result: ProbeResult) {
    const out = evaluateMailbox(this.state, result, this.rules, {
      nowMs,
      repeatIntervalMs: REPEAT,
      ...this.opts,
    });
    this.state = out.state;
    return out;
  }
  record(name: string) {
    return this.state?.instances.find((i) => i.rule === name);
  }
}

/** The backlog alert these tests fire: at T0 the condition holds, 5 minutes later it fires. */
function firingSnapshot(fields: Partial<AlertSnapshot>): AlertSnapshot {
  return snapshot({ value: 150, active_since: T0, fired_at: T0 + 5 * MINUTE, ...fields });
}

describe('effectiveRules', () => {
  test('adds the built-ins after the user rules by default', () => {
    const rules = effectiveRules(policy({ rules: [backlog] }));
    assert.deepEqual(
      rules.map((r) => r.name),
      ['backlog', 'login_failed', 'unreachable', 'delivery_lost', 'expect_overdue'],
    );
    assert.deepEqual(rules[1], {
      name: 'login_failed',
      metric: 'consecutive_login_failures',
      op: '>=',
      value: 1,
      for: 0,
      severity: 'critical',
      description: 'The server refused the credentials (authentication failed).',
    });
    assert.deepEqual(rules[2], {
      name: 'unreachable',
      metric: 'consecutive_failures',
      op: '>=',
      value: 3,
      for: 0,
      severity: 'critical',
      description: 'The last 3 or more probes of the mailbox failed.',
    });
  });

  test('the first user rule of a name wins', () => {
    const second = { ...backlog, value: 5 };
    assert.deepEqual(
      effectiveRules(
        policy({
          rules: [backlog, second],
          builtin_rules: {
            login_failed: false,
            unreachable: false,
            delivery_lost: false,
            expect_overdue: false,
          },
        }),
      ),
      [backlog],
    );
  });

  test('a built-in turned off is left out', () => {
    const rules = effectiveRules(
      policy({
        builtin_rules: {
          login_failed: false,
          unreachable: true,
          delivery_lost: false,
          expect_overdue: true,
        },
      }),
    );
    assert.deepEqual(
      rules.map((r) => r.name),
      ['unreachable', 'expect_overdue'],
    );
  });

  test('a user rule of the same name replaces the built-in', () => {
    const mine = rule({ name: 'unreachable', metric: 'consecutive_failures', op: '>=', value: 5 });
    const rules = effectiveRules(policy({ rules: [mine] }));
    assert.deepEqual(rules, [
      mine,
      BUILTIN_RULES.login_failed,
      BUILTIN_RULES.delivery_lost,
      BUILTIN_RULES.expect_overdue,
    ]);
  });
});

describe('metricValue', () => {
  const counters = { consecutive_failures: 4, consecutive_login_failures: 2 };
  const now = T0;

  test('reads STAT, the total phase and the counters of a successful probe', () => {
    const r = ok('support', { messages: 7, size_bytes: 8123, phases: { total: 0.25 } });
    assert.equal(metricValue('messages', r, counters, now), 7);
    assert.equal(metricValue('size_bytes', r, counters, now), 8123);
    assert.equal(metricValue('probe_duration_seconds', r, counters, now), 0.25);
    assert.equal(metricValue('consecutive_failures', r, counters, now), 4);
    assert.equal(metricValue('consecutive_login_failures', r, counters, now), 2);
  });

  test('oldest_message_age_seconds is now minus the oldest Date:, 0 for an empty mailbox or a future date', () => {
    const aged = ok('support', { messages: 3, oldest_message_timestamp: now / 1000 - 7200 });
    assert.equal(metricValue('oldest_message_age_seconds', aged, counters, now), 7200);
    const empty = ok('support', { messages: 0, oldest_message_timestamp: null });
    assert.equal(metricValue('oldest_message_age_seconds', empty, counters, now), 0);
    const future = ok('support', { messages: 1, oldest_message_timestamp: now / 1000 + 60 });
    assert.equal(metricValue('oldest_message_age_seconds', future, counters, now), 0);
    const undated = ok('support', { messages: 2, oldest_message_timestamp: null });
    assert.equal(metricValue('oldest_message_age_seconds', undated, counters, now), null);
  });

  test('cert_expiry_days counts days to notAfter, also on a probe that failed after the handshake', () => {
    const tls = {
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      cert_expiry_timestamp: now / 1000 + 10 * 86_400 + 43_200,
      cert_subject: 'CN=pop',
      cert_issuer: 'CN=ca',
      resumed: false,
    };
    assert.equal(metricValue('cert_expiry_days', ok('support', { tls }), counters, now), 10.5);
    const authFailed = failed('support', 'auth', 'auth', { tls });
    assert.equal(metricValue('cert_expiry_days', authFailed, counters, now), 10.5);
    assert.equal(
      metricValue('cert_expiry_days', ok('support', { tls: null }), counters, now),
      null,
    );
  });

  test('a failed probe gives no data for the metrics that need a session, but counters still count', () => {
    const r = failed('support', 'timeout', 'stat', { messages: 5, size_bytes: 10 });
    for (const metric of [
      'messages',
      'size_bytes',
      'probe_duration_seconds',
      'oldest_message_age_seconds',
      'cert_expiry_days',
    ] as const) {
      assert.equal(metricValue(metric, r, counters, now), null, metric);
    }
    assert.equal(metricValue('consecutive_failures', r, counters, now), 4);
  });
});

describe('compare', () => {
  const cases: [RuleOp, [boolean, boolean, boolean]][] = [
    // [op, [below, equal, above]] against a threshold of 10
    ['>', [false, false, true]],
    ['>=', [false, true, true]],
    ['<', [true, false, false]],
    ['<=', [true, true, false]],
    ['==', [false, true, false]],
    ['!=', [true, false, true]],
  ];
  for (const [op, expected] of cases) {
    test(`${op} against 10 for 9, 10, 11`, () => {
      assert.deepEqual([compare(9, op, 10), compare(10, op, 10), compare(11, op, 10)], expected);
    });
  }

  test('each op drives the state machine: a rule fires exactly when its comparison holds', () => {
    for (const [op, expected] of cases) {
      const fired = [9, 10, 11].map((messages) => {
        const run = new Run([rule({ name: 'r', metric: 'messages', op, value: 10 })]);
        return run.at(T0, ok('support', { messages })).transitions.length === 1;
      });
      assert.deepEqual(fired, expected, op);
    }
  });
});

describe('nextCounters', () => {
  const prev = { consecutive_failures: 2, consecutive_login_failures: 1 };

  test('an auth failure counts as a failure and a login failure', () => {
    assert.deepEqual(nextCounters(prev, failed('m', 'auth', 'auth')), {
      consecutive_failures: 3,
      consecutive_login_failures: 2,
    });
  });

  test('a token endpoint refusing the client or the grant is a login failure; other token failures are not', () => {
    const token = (credentials_refused: boolean | undefined) => {
      const result = failed('m', 'token', 'token');
      if (result.error && credentials_refused !== undefined)
        result.error = { ...result.error, oauth_error: 'invalid_grant', credentials_refused };
      return nextCounters(prev, result);
    };
    assert.deepEqual(token(true), { consecutive_failures: 3, consecutive_login_failures: 2 });
    assert.deepEqual(token(undefined), { consecutive_failures: 3, consecutive_login_failures: 1 });
  });

  test('a failure before login leaves the login count alone', () => {
    assert.deepEqual(nextCounters(prev, failed('m', 'timeout', 'connect')), {
      consecutive_failures: 3,
      consecutive_login_failures: 1,
    });
  });

  test('IN-USE and failures after login reset the login count (the credentials were accepted)', () => {
    assert.equal(nextCounters(prev, failed('m', 'in_use', 'auth')).consecutive_login_failures, 0);
    for (const phase of ['stat', 'noop', 'uidl', 'top', 'quit'] as const) {
      assert.equal(
        nextCounters(prev, failed('m', 'server_temp', phase)).consecutive_login_failures,
        0,
        phase,
      );
    }
  });

  test('a success resets both', () => {
    assert.deepEqual(nextCounters(prev, ok('m')), {
      consecutive_failures: 0,
      consecutive_login_failures: 0,
    });
  });
});

describe('state machine', () => {
  test('for: 5m holds: pending at once, still pending 1 ms before 5m, firing at exactly 5m', () => {
    const run = new Run([backlog]);
    assert.deepEqual(run.at(T0, ok('support', { messages: 150 })).transitions, []);
    assert.equal(run.record('backlog')?.state, 'pending');
    assert.equal(run.record('backlog')?.active_since, T0);
    const before = run.at(T0 + 5 * MINUTE - 1, ok('support', { messages: 150 }));
    assert.deepEqual(before.transitions, []);
    assert.equal(run.record('backlog')?.state, 'pending');
    const at = run.at(T0 + 5 * MINUTE, ok('support', { messages: 150 }));
    assert.deepEqual(at.transitions, [{ kind: 'firing', snapshot: firingSnapshot({}) }]);
    assert.equal(run.record('backlog')?.state, 'firing');
    assert.equal(run.record('backlog')?.last_notified_at, T0 + 5 * MINUTE);
  });

  test('a condition that breaks while pending goes back to inactive without a transition', () => {
    const run = new Run([backlog]);
    run.at(T0, ok('support', { messages: 150 }));
    const out = run.at(T0 + MINUTE, ok('support', { messages: 20 }));
    assert.deepEqual(out.transitions, []);
    assert.equal(out.changed, true);
    assert.deepEqual(run.state?.instances, []);
    // It starts over: the next breach waits the whole `for` again.
    run.at(T0 + 2 * MINUTE, ok('support', { messages: 150 }));
    assert.equal(run.record('backlog')?.active_since, T0 + 2 * MINUTE);
    assert.deepEqual(run.at(T0 + 6 * MINUTE, ok('support', { messages: 150 })).transitions, []);
  });

  test('a firing alert resolves with its value and the resolve time', () => {
    const run = new Run([backlog], { labels: { team: 'ops' } });
    run.at(T0, ok('support', { messages: 150 }));
    run.at(T0 + 5 * MINUTE, ok('support', { messages: 150 }));
    const out = run.at(T0 + 6 * MINUTE, ok('support', { messages: 99 }));
    assert.deepEqual(out.transitions, [
      {
        kind: 'resolved',
        snapshot: firingSnapshot({
          status: 'resolved',
          value: 99,
          resolved_at: T0 + 6 * MINUTE,
          labels: { team: 'ops' },
        }),
      },
    ]);
    assert.deepEqual(run.state?.instances, []);
  });

  test('repeat after repeat_interval exactly, not 1 ms before, then counted from the repeat', () => {
    const run = new Run([rule({ name: 'backlog', metric: 'messages', op: '>', value: 100 })]);
    run.at(T0, ok('support', { messages: 150 }));
    assert.deepEqual(run.at(T0 + REPEAT - 1, ok('support', { messages: 150 })).transitions, []);
    const due = run.at(T0 + REPEAT, ok('support', { messages: 151 }));
    assert.deepEqual(
      due.transitions.map((t) => [t.kind, t.snapshot.value, t.snapshot.fired_at]),
      [['repeat', 151, T0]],
    );
    assert.equal(run.record('backlog')?.last_notified_at, T0 + REPEAT);
    assert.deepEqual(run.at(T0 + 2 * REPEAT - 1, ok('support', { messages: 150 })).transitions, []);
  });

  test('no data on a failed probe keeps a firing backlog alert firing, then it resolves on real data', () => {
    const run = new Run([backlog]);
    run.at(T0, ok('support', { messages: 150 }));
    run.at(T0 + 5 * MINUTE, ok('support', { messages: 150 }));
    for (let i = 1; i <= 3; i++) {
      const out = run.at(T0 + (5 + i) * MINUTE, failed('support', 'timeout', 'connect'));
      assert.deepEqual(out.transitions, [], `failed probe ${i}`);
    }
    assert.equal(run.record('backlog')?.state, 'firing');
    assert.equal(run.record('backlog')?.value, null);
    assert.deepEqual(run.state?.last_error, { code: 'timeout', message: 'timeout failure' });
    const out = run.at(T0 + 10 * MINUTE, ok('support', { messages: 3 }));
    assert.deepEqual(
      out.transitions.map((t) => [t.kind, t.snapshot.rule, t.snapshot.value]),
      [['resolved', 'backlog', 3]],
    );
  });

  test('no data while pending neither advances to firing nor resets; the next data fires it', () => {
    const run = new Run([backlog]);
    run.at(T0, ok('support', { messages: 150 }));
    const out = run.at(T0 + 6 * MINUTE, failed('support', 'connect', 'connect'));
    assert.deepEqual(out.transitions, []);
    assert.equal(run.record('backlog')?.state, 'pending');
    assert.equal(run.record('backlog')?.active_since, T0);
    const fired = run.at(T0 + 7 * MINUTE, ok('support', { messages: 150 }));
    assert.deepEqual(
      fired.transitions.map((t) => [t.kind, t.snapshot.active_since, t.snapshot.fired_at]),
      [['firing', T0, T0 + 7 * MINUTE]],
    );
  });

  test('a still-firing alert with no data still repeats', () => {
    const run = new Run([rule({ name: 'big', metric: 'size_bytes', op: '>', value: 10 })]);
    run.at(T0, ok('support', { size_bytes: 100 }));
    const out = run.at(T0 + REPEAT, failed('support', 'dns', 'dns'));
    assert.deepEqual(
      out.transitions.map((t) => [t.kind, t.snapshot.value, t.snapshot.last_error?.code]),
      [['repeat', null, 'dns']],
    );
  });

  test('built-in login_failed fires on the first auth failure and resolves on the next success', () => {
    const run = new Run(effectiveRules(policy()));
    const first = run.at(T0, failed('support', 'auth', 'auth'));
    assert.deepEqual(
      first.transitions.map((t) => [
        t.kind,
        t.snapshot.rule,
        t.snapshot.severity,
        t.snapshot.value,
        t.snapshot.last_error,
      ]),
      [['firing', 'login_failed', 'critical', 1, { code: 'auth', message: 'auth failure' }]],
    );
    const next = run.at(T0 + MINUTE, ok('support'));
    assert.deepEqual(
      next.transitions.map((t) => [t.kind, t.snapshot.rule, t.snapshot.value]),
      [['resolved', 'login_failed', 0]],
    );
  });

  test('built-in unreachable fires after exactly 3 consecutive failures', () => {
    const run = new Run(effectiveRules(policy()));
    const kinds = [1, 2, 3, 4].map((i) =>
      run
        .at(T0 + i * MINUTE, failed('support', 'connect', 'connect'))
        .transitions.map((t) => [t.kind, t.snapshot.rule, t.snapshot.value]),
    );
    assert.deepEqual(kinds, [[], [], [['firing', 'unreachable', 3]], []]);
  });

  test('a success between failures starts the count again', () => {
    const run = new Run(effectiveRules(policy()));
    run.at(T0, failed('support', 'connect', 'connect'));
    run.at(T0 + MINUTE, failed('support', 'connect', 'connect'));
    run.at(T0 + 2 * MINUTE, ok('support'));
    assert.deepEqual(
      run.at(T0 + 3 * MINUTE, failed('support', 'connect', 'connect')).transitions,
      [],
    );
    assert.equal(run.state?.consecutive_failures, 1);
  });

  test('a disabled built-in never fires; an overriding user rule fires with its own threshold', () => {
    const rules = effectiveRules(
      policy({
        builtin_rules: { login_failed: false, unreachable: true },
        rules: [rule({ name: 'unreachable', metric: 'consecutive_failures', op: '>=', value: 2 })],
      }),
    );
    const run = new Run(rules);
    const first = run.at(T0, failed('support', 'auth', 'auth'));
    assert.deepEqual(first.transitions, []);
    const second = run.at(T0 + MINUTE, failed('support', 'auth', 'auth'));
    assert.deepEqual(
      second.transitions.map((t) => [t.kind, t.snapshot.rule, t.snapshot.severity]),
      [['firing', 'unreachable', 'warning']],
    );
  });

  test('a rule with mailboxes: applies only to those mailboxes', () => {
    const only = rule({ name: 'r', metric: 'messages', op: '>', value: 0, mailboxes: ['support'] });
    const sales = new Run([only]);
    assert.deepEqual(sales.at(T0, ok('sales', { messages: 5 })).transitions, []);
    assert.deepEqual(sales.state?.instances, []);
    const support = new Run([only]);
    assert.equal(support.at(T0, ok('support', { messages: 5 })).transitions.length, 1);
  });

  test('a success with nothing firing changes nothing worth saving', () => {
    const run = new Run(effectiveRules(policy({ rules: [backlog] })));
    run.at(T0, ok('support', { messages: 1 }));
    assert.equal(run.at(T0 + MINUTE, ok('support', { messages: 2 })).changed, false);
  });
});

describe('evaluateMailbox: when the state changed (the engine saves it only then)', () => {
  const pendingFor = rule({
    name: 'slow',
    metric: 'messages',
    op: '>',
    value: 0,
    for: 10 * MINUTE,
  });
  const oldest = rule({ name: 'old', metric: 'oldest_message_age_seconds', op: '>', value: 60 });

  test('a new mailbox is a change; the same success again with nothing active is not', () => {
    const run = new Run([]);
    assert.equal(run.at(T0, ok('a')).changed, true);
    assert.equal(run.at(T0 + MINUTE, ok('a')).changed, false);
  });

  test('every failure is a change (the failure counter moves), also the same one again', () => {
    const run = new Run([]);
    run.at(T0, ok('a'));
    assert.equal(run.at(T0 + MINUTE, failed('a', 'timeout', 'connect')).changed, true);
    assert.equal(run.at(T0 + 2 * MINUTE, failed('a', 'timeout', 'connect')).changed, true);
    assert.equal(run.at(T0 + 3 * MINUTE, ok('a')).changed, true);
  });

  test('an instance that starts, fires, stays pending or goes back quietly decides it alone', () => {
    const run = new Run([pendingFor]);
    run.at(T0, ok('a'));
    const started = run.at(T0 + MINUTE, ok('a', { messages: 1 }));
    assert.deepEqual([started.changed, run.record('slow')?.state], [true, 'pending']);
    assert.equal(run.at(T0 + 2 * MINUTE, ok('a', { messages: 1 })).changed, false, 'still pending');
    const fired = run.at(T0 + 11 * MINUTE, ok('a', { messages: 1 }));
    assert.deepEqual([fired.changed, fired.transitions.length], [true, 1]);
    const quiet = new Run([pendingFor]);
    quiet.at(T0, ok('a', { messages: 1 }));
    const back = quiet.at(T0 + MINUTE, ok('a', { messages: 0 }));
    assert.deepEqual([back.changed, back.transitions, quiet.record('slow')], [true, [], undefined]);
  });

  test('NO DATA for a rule never active creates no instance and changes nothing', () => {
    // Messages whose Date: could not be read: no age, so no data for the rule.
    const unread = ok('a', { messages: 3, oldest_message_timestamp: null });
    const run = new Run([oldest]);
    assert.deepEqual(run.at(T0, unread).state.instances, []);
    const out = run.at(T0 + MINUTE, unread);
    assert.deepEqual([out.changed, out.state.instances], [false, []]);
  });

  test('a repeat of a firing alert is a change (its last notice moved)', () => {
    const fires = rule({ name: 'r', metric: 'messages', op: '>', value: 0 });
    const run = new Run([fires]);
    run.at(T0, ok('a', { messages: 1 }));
    assert.equal(run.at(T0 + MINUTE, ok('a', { messages: 1 })).changed, false);
    const repeat = run.at(T0 + REPEAT, ok('a', { messages: 1 }));
    assert.deepEqual(
      [repeat.changed, repeat.transitions.map((t) => t.kind), run.record('r')?.last_notified_at],
      [true, ['repeat'], T0 + REPEAT],
    );
  });

  test('takes the labels it is given, and keeps instances of rules it was not given', () => {
    const run = new Run([pendingFor], { labels: { team: 'x' } });
    run.at(T0, ok('a', { messages: 1 }));
    assert.deepEqual(run.state?.labels, { team: 'x' });
    const other = evaluateMailbox(run.state, ok('a', { messages: 1 }), [], {
      nowMs: T0 + MINUTE,
      repeatIntervalMs: REPEAT,
      labels: { team: 'y' },
    });
    assert.deepEqual(other.state.labels, { team: 'y' });
    assert.deepEqual(
      other.state.instances.map((i) => [i.rule, i.state]),
      [['slow', 'pending']],
    );
  });
});

describe('dueRepeats, reconcile on the whole state', () => {
  const r = rule({ name: 'r', metric: 'messages', op: '>', value: 0 });
  const firing = (name: string, nowMs: number, rules = [r]) =>
    evaluateMailbox(undefined, ok(name, { messages: 1 }), rules, {
      nowMs,
      repeatIntervalMs: REPEAT,
    }).state;

  function firingState(): EngineState {
    return new Map([
      ['a', firing('a', T0)],
      ['b', firing('b', T0 + MINUTE)],
    ]);
  }

  test('dueRepeats repeats exactly the alerts whose interval has passed', () => {
    const state = firingState();
    assert.equal(nextRepeatAt(state, REPEAT), T0 + REPEAT);
    const none = dueRepeats(state, T0 + REPEAT - 1, REPEAT);
    assert.deepEqual(none.transitions, []);
    assert.equal(none.state, state);
    assert.equal(none.changed, false);
    const one = dueRepeats(state, T0 + REPEAT, REPEAT);
    assert.deepEqual(
      one.transitions.map((t) => [t.kind, t.snapshot.mailbox]),
      [['repeat', 'a']],
    );
    assert.equal(one.changed, true);
    assert.equal(one.state.get('a')?.instances[0]?.last_notified_at, T0 + REPEAT);
    assert.equal(state.get('a')?.instances[0]?.last_notified_at, T0);
    assert.equal(nextRepeatAt(one.state, REPEAT), T0 + MINUTE + REPEAT);
  });

  test('dueRepeats and nextRepeatAt leave a pending instance alone', () => {
    const slow = rule({ name: 'slow', metric: 'messages', op: '>', value: 0, for: 10 * SECOND });
    const both: EngineState = new Map([['a', firing('a', T0, [r, slow])]]);
    const out = dueRepeats(both, T0 + REPEAT, REPEAT);
    assert.deepEqual(
      out.transitions.map((t) => [t.kind, t.snapshot.rule]),
      [['repeat', 'r']],
    );
    assert.deepEqual(
      out.state.get('a')?.instances.map((i) => [i.rule, i.state, i.last_notified_at]),
      [
        ['r', 'firing', T0 + REPEAT],
        ['slow', 'pending', null],
      ],
    );
    const onlyPending: EngineState = new Map([['a', firing('a', T0, [slow])]]);
    assert.equal(nextRepeatAt(onlyPending, REPEAT), null);
  });

  test('reconcile with nothing to change changes nothing; the first rule of a name wins', () => {
    const state = firingState();
    const same = reconcile(
      state,
      [r],
      [
        { name: 'a', labels: {} },
        { name: 'b', labels: {} },
      ],
      T0,
    );
    assert.deepEqual([same.changed, same.transitions], [false, []]);
    const critical = { ...r, severity: 'critical' as const };
    const out = reconcile(state, [critical, r], [{ name: 'a', labels: {} }], T0);
    assert.equal(out.state.get('a')?.instances[0]?.severity, 'critical');
  });

  test('reconcile reports a removed instance, and a removed mailbox alone, as a change', () => {
    const state = firingState();
    const both = [
      { name: 'a', labels: {} },
      { name: 'b', labels: {} },
    ];
    assert.equal(reconcile(state, [], both, T0).changed, true, 'instances removed');
    const pendingOnly: EngineState = new Map([['a', emptyMailboxState('a')]]);
    assert.equal(reconcile(pendingOnly, [r], [], T0).changed, true, 'mailbox removed');
  });

  test('reconcile resolves firing instances of a removed rule and drops removed mailboxes', () => {
    const state = firingState();
    const out = reconcile(state, [], [{ name: 'a', labels: {} }], T0 + HOUR);
    assert.deepEqual(
      out.transitions.map((t) => [t.kind, t.snapshot.mailbox, t.snapshot.resolved_at]),
      [
        ['resolved', 'a', T0 + HOUR],
        ['resolved', 'b', T0 + HOUR],
      ],
    );
    assert.deepEqual([...out.state.keys()], ['a']);
    assert.deepEqual(out.state.get('a')?.instances, []);
  });

  test('reconcile drops a pending instance quietly and refreshes a kept rule definition', () => {
    const slow = rule({ name: 'slow', metric: 'messages', op: '>', value: 0, for: 10 * SECOND });
    const state: EngineState = new Map([['a', firing('a', T0, [r, slow])]]);
    const critical = { ...r, severity: 'critical' as const, value: 5 };
    const out = reconcile(state, [critical], [{ name: 'a', labels: { team: 'x' } }], T0 + 1);
    assert.deepEqual(out.transitions, []);
    const mailbox = out.state.get('a');
    assert.deepEqual(
      mailbox?.instances.map((i) => [i.rule, i.state, i.severity, i.threshold]),
      [['r', 'firing', 'critical', 5]],
    );
    assert.deepEqual(mailbox?.labels, { team: 'x' });
  });
});
