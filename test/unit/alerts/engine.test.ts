import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { notificationId } from '../../../src/alerts/batch.js';
import { AlertEngine, EMIT_RETRY_MS } from '../../../src/alerts/engine.js';
import { ALERT_STATE_FILE, createAlertStateStore } from '../../../src/alerts/state-store.js';
import type { Notification } from '../../../src/alerts/types.js';
import { FakeClock } from '../../fixtures/fake-clock.js';
import { failed, HOUR, MINUTE, ok, type Policy, policy, rule, SECOND, T0 } from './helpers.js';

const NO_BUILTINS = { login_failed: false, unreachable: false };
const anyMessages = rule({ name: 'mail', metric: 'messages', op: '>', value: 0 });
const backlog = rule({
  name: 'backlog',
  metric: 'messages',
  op: '>',
  value: 100,
  severity: 'critical',
});
const MAILBOXES = ['a', 'b', 'c'].map((name) => ({ name, labels: { box: name } }));

let root: string;
let dirs = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pop3-monitor-engine-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Setup {
  policy?: Partial<Policy>;
  mailboxes?: { name: string; labels: Record<string, string> }[];
  dir?: string;
  startMs?: number;
  emit?: (n: Notification) => void;
}

function setup(s: Setup = {}) {
  const clock = new FakeClock(s.startMs ?? T0);
  const sent: Notification[] = [];
  const gauge: string[] = [];
  const engine = new AlertEngine({
    clock,
    alerting: policy({ builtin_rules: NO_BUILTINS, rules: [anyMessages], ...s.policy }),
    mailboxes: s.mailboxes ?? MAILBOXES,
    ...(s.dir ? { store: createAlertStateStore(s.dir, { now: () => clock.now() }) } : {}),
    emit: s.emit ?? ((n) => void sent.push(n)),
    onFiringChange: (rule, mailbox, severity, firing) =>
      gauge.push(`${firing ? '+' : '-'}${rule}/${mailbox}/${severity}`),
  });
  /** Advances the fake clock and waits for the emits and writes it caused. */
  const advance = async (ms: number) => {
    await clock.advance(ms);
    await engine.idle();
  };
  return { clock, sent, gauge, engine, advance };
}

function summary(n: Notification | undefined) {
  if (!n) return undefined;
  return {
    created_at: n.created_at,
    status: n.status,
    cause: n.cause,
    alerts: n.alerts.map((a) => `${a.status}:${a.rule}/${a.mailbox}`),
  };
}

async function freshDir(): Promise<string> {
  dirs += 1;
  return join(root, `case-${dirs}`);
}

describe('AlertEngine grouping (group_wait)', () => {
  test('transitions of several mailboxes within group_wait become one notification when the batch closes', async () => {
    const { engine, sent, advance } = setup();
    engine.observe(ok('a', { messages: 1 }));
    await advance(3 * SECOND);
    engine.observe(ok('b', { messages: 2 }));
    await advance(7 * SECOND - 1);
    assert.equal(sent.length, 0);
    await advance(1);
    assert.equal(sent.length, 1);
    assert.deepEqual(summary(sent[0]), {
      created_at: T0 + 10 * SECOND,
      status: 'firing',
      cause: 'change',
      alerts: ['firing:mail/a', 'firing:mail/b'],
    });
    assert.match(sent[0]?.id ?? '', new RegExp(`^${T0 + 10 * SECOND}-[0-9a-f]{16}$`));
    assert.deepEqual(sent[0]?.alerts[1]?.labels, { box: 'b' });
    // A later transition opens a new batch.
    engine.observe(ok('c', { messages: 1 }));
    await advance(10 * SECOND);
    assert.deepEqual(summary(sent[1])?.alerts, ['firing:mail/c']);
    assert.equal(sent[1]?.created_at, T0 + 20 * SECOND);
    engine.stop();
  });

  test('the same batch content at the same time gives the same id; other content another id', async () => {
    const ids: string[] = [];
    for (const messages of [1, 1, 2]) {
      const { engine, sent, advance } = setup();
      engine.observe(ok('a', { messages }));
      await advance(10 * SECOND);
      ids.push(sent[0]?.id ?? '');
      engine.stop();
    }
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[0], ids[2]);
    assert.notEqual(
      notificationId(1, 'firing', 'change', []),
      notificationId(2, 'firing', 'change', []),
    );
  });

  test('firing then resolved inside one batch sends nothing, and nothing that says it fires', async () => {
    const { engine, sent, gauge, advance } = setup();
    engine.observe(ok('a', { messages: 1 }));
    await advance(2 * SECOND);
    engine.observe(ok('b', { messages: 1 }));
    engine.observe(ok('a', { messages: 0 }));
    await advance(10 * SECOND);
    assert.deepEqual(
      sent.map((n) => summary(n)?.alerts),
      [['firing:mail/b']],
    );
    assert.deepEqual(gauge, ['+mail/a/warning', '+mail/b/warning', '-mail/a/warning']);
    // Alone, a flap makes no notification at all.
    engine.observe(ok('c', { messages: 1 }));
    engine.observe(ok('c', { messages: 0 }));
    await advance(20 * SECOND);
    assert.equal(sent.length, 1);
    engine.stop();
  });

  test('resolved notices are sent after a notified firing; a batch of only resolved alerts has status resolved', async () => {
    const { engine, sent, advance } = setup();
    engine.observe(ok('a', { messages: 1 }));
    await advance(MINUTE);
    engine.observe(ok('a', { messages: 0 }));
    await advance(10 * SECOND);
    assert.deepEqual(summary(sent[1]), {
      created_at: T0 + MINUTE + 10 * SECOND,
      status: 'resolved',
      cause: 'change',
      alerts: ['resolved:mail/a'],
    });
    assert.equal(sent[1]?.alerts[0]?.resolved_at, T0 + MINUTE);
    engine.stop();
  });

  test('resolves are emitted whatever send_resolved says (Alertmanager needs them)', async () => {
    const { engine, sent, gauge, advance } = setup({ policy: { send_resolved: false } });
    engine.observe(ok('a', { messages: 1 }));
    await advance(MINUTE);
    engine.observe(ok('a', { messages: 0 }));
    await advance(MINUTE);
    assert.deepEqual(
      sent.map((n) => n.status),
      ['firing', 'resolved'],
    );
    assert.deepEqual(gauge, ['+mail/a/warning', '-mail/a/warning']);
    engine.stop();
  });

  test('group_wait 0 emits at once; flush() closes an open batch early', async () => {
    const zero = setup({ policy: { group_wait: 0 } });
    zero.engine.observe(ok('a', { messages: 1 }));
    await zero.engine.idle();
    assert.equal(zero.sent[0]?.created_at, T0);
    zero.engine.stop();

    const { engine, sent, clock } = setup();
    engine.observe(ok('a', { messages: 1 }));
    await engine.flush();
    assert.equal(sent[0]?.created_at, T0);
    engine.stop();
    assert.equal(clock.pending(), 0);
  });
});

describe('AlertEngine repeats and no data', () => {
  test('a still-firing alert repeats after repeat_interval from its own timer, without probes', async () => {
    const { engine, sent, advance } = setup({ policy: { repeat_interval: HOUR } });
    engine.observe(ok('a', { messages: 1 }));
    engine.observe(ok('b', { messages: 1 }));
    await advance(HOUR - 1);
    assert.equal(sent.length, 1);
    await advance(1 + 10 * SECOND - 1);
    assert.equal(sent.length, 1);
    await advance(1);
    assert.deepEqual(summary(sent[1]), {
      created_at: T0 + HOUR + 10 * SECOND,
      status: 'firing',
      cause: 'repeat',
      alerts: ['firing:mail/a', 'firing:mail/b'],
    });
    await advance(HOUR);
    assert.deepEqual(
      sent.map((n) => n.cause),
      ['change', 'repeat', 'repeat'],
    );
    engine.stop();
  });

  test('failed probes keep a firing backlog alert firing (no resolve) while unreachable fires', async () => {
    const { engine, sent, advance } = setup({
      policy: { rules: [backlog], builtin_rules: { login_failed: true, unreachable: true } },
    });
    engine.observe(ok('a', { messages: 500 }));
    await advance(MINUTE);
    for (let i = 0; i < 3; i++) {
      engine.observe(failed('a', 'connect', 'connect'));
      await advance(MINUTE);
    }
    assert.deepEqual(
      sent.map((n) => summary(n)?.alerts),
      [['firing:backlog/a'], ['firing:unreachable/a']],
    );
    assert.deepEqual(
      engine.snapshot().map((s) => [s.rule, s.value, s.last_error?.code]),
      [
        ['backlog', null, 'connect'],
        ['unreachable', 3, 'connect'],
      ],
    );
    engine.stop();
  });

  test('results of unknown mailboxes are ignored', async () => {
    const { engine, sent, advance } = setup();
    engine.observe(ok('zz', { messages: 9 }));
    await advance(MINUTE);
    assert.deepEqual([sent.length, engine.snapshot().length], [0, 0]);
    engine.stop();
  });

  test('a failing emit is retried after 30 s with the same id', async () => {
    const got: Notification[] = [];
    let failures = 1;
    const { engine, advance } = setup({
      emit: (n) => {
        if (failures-- > 0) throw new Error('outbox full');
        got.push(n);
      },
    });
    engine.observe(ok('a', { messages: 1 }));
    await advance(10 * SECOND + EMIT_RETRY_MS - 1);
    assert.equal(got.length, 0);
    await advance(1);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.created_at, T0 + 10 * SECOND);
    engine.stop();
  });
});

describe('AlertEngine reconfigure', () => {
  test('removing a rule resolves its firing instances with a notice and clears the gauge', async () => {
    const { engine, sent, gauge, advance } = setup();
    engine.observe(ok('a', { messages: 1 }));
    await advance(MINUTE);
    engine.reconfigure(policy({ builtin_rules: NO_BUILTINS, rules: [] }), MAILBOXES);
    await advance(10 * SECOND);
    assert.deepEqual(summary(sent[1])?.alerts, ['resolved:mail/a']);
    assert.deepEqual(gauge, ['+mail/a/warning', '-mail/a/warning']);
    assert.deepEqual(engine.snapshot(), []);
    engine.stop();
  });

  test('removing a mailbox resolves its alerts; a severity change moves the gauge series', async () => {
    const { engine, sent, gauge, advance } = setup();
    engine.observe(ok('a', { messages: 1 }));
    engine.observe(ok('b', { messages: 1 }));
    await advance(MINUTE);
    const critical = { ...anyMessages, severity: 'critical' as const };
    engine.reconfigure(
      policy({ builtin_rules: NO_BUILTINS, rules: [critical] }),
      MAILBOXES.slice(1),
    );
    await advance(10 * SECOND);
    assert.deepEqual(summary(sent[1])?.alerts, ['resolved:mail/a']);
    assert.deepEqual(gauge.slice(2), ['-mail/a/warning', '-mail/b/warning', '+mail/b/critical']);
    assert.deepEqual(
      engine.snapshot().map((s) => [s.mailbox, s.severity]),
      [['b', 'critical']],
    );
    engine.stop();
  });
});

describe('AlertEngine persistence', () => {
  test('after a restart a firing alert is remembered and not re-sent before repeat_interval', async () => {
    const dir = await freshDir();
    const first = setup({ dir, policy: { repeat_interval: HOUR } });
    await first.engine.load();
    first.engine.observe(ok('a', { messages: 1 }));
    await first.advance(10 * SECOND);
    assert.equal(first.sent.length, 1);
    first.engine.stop();

    const second = setup({ dir, policy: { repeat_interval: HOUR }, startMs: T0 + 30 * MINUTE });
    await second.engine.load();
    assert.deepEqual(second.gauge, ['+mail/a/warning']);
    assert.deepEqual(
      second.engine.snapshot().map((s) => [s.rule, s.mailbox, s.fired_at]),
      [['mail', 'a', T0]],
    );
    second.engine.observe(ok('a', { messages: 1 }));
    await second.advance(30 * MINUTE - 1);
    assert.equal(second.sent.length, 0);
    await second.advance(1 + 10 * SECOND);
    assert.deepEqual(
      second.sent.map((n) => [n.cause, n.created_at]),
      [['repeat', T0 + HOUR + 10 * SECOND]],
    );
    second.engine.stop();
  });

  test('a batch still open at a crash is sent after the restart, at its planned time', async () => {
    const dir = await freshDir();
    const first = setup({ dir });
    await first.engine.load();
    first.engine.observe(ok('a', { messages: 1 }));
    await first.engine.idle();
    first.engine.stop();
    assert.equal(first.sent.length, 0);

    const second = setup({ dir, startMs: T0 + 4 * SECOND });
    await second.engine.load();
    await second.advance(6 * SECOND - 1);
    assert.equal(second.sent.length, 0);
    await second.advance(1);
    assert.deepEqual(summary(second.sent[0]), {
      created_at: T0 + 10 * SECOND,
      status: 'firing',
      cause: 'change',
      alerts: ['firing:mail/a'],
    });
    second.engine.stop();
  });

  test('a notification not handed over before a restart is emitted again with the same id', async () => {
    const dir = await freshDir();
    const first = setup({
      dir,
      emit: () => {
        throw new Error('outbox unavailable');
      },
    });
    await first.engine.load();
    first.engine.observe(ok('a', { messages: 1 }));
    await first.engine.idle();
    await first.advance(10 * SECOND);
    first.engine.stop();
    const saved = JSON.parse(await readFile(join(dir, ALERT_STATE_FILE), 'utf8'));
    assert.equal(saved.outgoing.length, 1);

    const second = setup({ dir, startMs: T0 + MINUTE });
    await second.engine.load();
    await second.engine.idle();
    assert.deepEqual(
      second.sent.map((n) => n.id),
      [saved.outgoing[0].id],
    );
    const after = JSON.parse(await readFile(join(dir, ALERT_STATE_FILE), 'utf8'));
    assert.deepEqual(after.outgoing, []);
    second.engine.stop();
  });

  test('a corrupt state file is moved aside and the engine starts empty and keeps working', async () => {
    const dir = await freshDir();
    const first = setup({ dir });
    await first.engine.load();
    first.engine.observe(ok('a', { messages: 1 }));
    await first.engine.flush();
    first.engine.stop();
    await writeFile(join(dir, ALERT_STATE_FILE), 'not json at all');

    const second = setup({ dir, startMs: T0 + MINUTE });
    await second.engine.load();
    assert.deepEqual(second.engine.snapshot(), []);
    assert.deepEqual((await readdir(dir)).sort(), [`${ALERT_STATE_FILE}.corrupt-${T0 + MINUTE}`]);
    second.engine.observe(ok('b', { messages: 1 }));
    await second.advance(10 * SECOND);
    assert.deepEqual(summary(second.sent[0])?.alerts, ['firing:mail/b']);
    assert.deepEqual((await readdir(dir)).sort(), [
      ALERT_STATE_FILE,
      `${ALERT_STATE_FILE}.corrupt-${T0 + MINUTE}`,
    ]);
    second.engine.stop();
  });

  test('a reload while down is applied at load: a rule removed meanwhile resolves', async () => {
    const dir = await freshDir();
    const first = setup({ dir });
    await first.engine.load();
    first.engine.observe(ok('a', { messages: 1 }));
    await first.engine.flush();
    first.engine.stop();

    const second = setup({ dir, policy: { rules: [] }, startMs: T0 + MINUTE });
    await second.engine.load();
    await second.advance(10 * SECOND);
    assert.deepEqual(summary(second.sent[0])?.alerts, ['resolved:mail/a']);
    assert.deepEqual(second.gauge, ['+mail/a/warning', '-mail/a/warning']);
    second.engine.stop();
  });
});

describe('AlertEngine log lines', () => {
  test('an age in the alert_firing line reads as a duration', async () => {
    const lines: Record<string, unknown>[] = [];
    const clock = new FakeClock(T0);
    const keep = (fields: object) => void lines.push(fields as Record<string, unknown>);
    const engine = new AlertEngine({
      clock,
      alerting: policy({
        builtin_rules: NO_BUILTINS,
        rules: [
          rule({ name: 'stale', metric: 'oldest_message_age_seconds', op: '>', value: 3600 }),
        ],
      }),
      mailboxes: MAILBOXES,
      emit: () => undefined,
      logger: { info: keep, warn: keep, error: keep } as never,
    });
    engine.observe(
      ok('a', { messages: 1, oldest_message_timestamp: T0 / 1000 - 7204.56299996376 }),
    );
    await engine.idle();
    const firing = lines.find((l) => l.event === 'alert_firing');
    assert.equal(firing?.value, '2h 0m');
  });
});
