import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { Clock } from '../../../src/clock.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import {
  type ScheduledMailbox,
  Scheduler,
  SchedulerError,
  type SkipReason,
  spreadOffsetMs,
} from '../../../src/schedule/scheduler.js';
import { Secret } from '../../../src/secret.js';
import { FakeClock } from '../../fixtures/fake-clock.js';

/** 2026-01-01T00:00:00Z: a minute boundary, so slot times read as plain offsets. */
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

interface TestMailbox extends ScheduledMailbox {
  password?: Secret;
}

function box(name: string, extra: Partial<TestMailbox> = {}): TestMailbox {
  return {
    name,
    host: 'pop.example.com',
    port: 995,
    schedule: '*/60 * * * * *',
    timeout: 10_000,
    auth_failure_backoff: 15 * MINUTE,
    ...extra,
  };
}

function ok(mailbox: string, extra: Partial<ProbeResult> = {}): ProbeResult {
  return {
    mailbox,
    success: true,
    messages: 0,
    size_bytes: 0,
    phases: { total: 0.01 },
    capabilities: [],
    error: null,
    started_at: 0,
    uidl_count: null,
    oldest_message_timestamp: null,
    tls: null,
    auth_method: 'USER',
    login_delay_seconds: null,
    pipelined: false,
    ...extra,
  };
}

function authFailure(mailbox: string): ProbeResult {
  return ok(mailbox, {
    success: false,
    error: {
      code: 'auth',
      message: 'credentials refused',
      response: '-ERR [AUTH] no',
      command: 'PASS',
      phase: 'auth',
    },
  });
}

type ProbeFn = (mailbox: TestMailbox, clock: FakeClock) => Promise<ProbeResult>;

const sleep = (clock: FakeClock, ms: number) =>
  new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

function setup(
  options: {
    start?: number;
    spread?: boolean;
    maxConcurrent?: number;
    maxPerHost?: number;
    probe?: ProbeFn;
  } = {},
) {
  const clock = new FakeClock(options.start ?? T0);
  // What the scheduler sees: the fake clock, plus a skew a test may set to jump wall time.
  let skew = 0;
  const view: Clock = {
    now: () => clock.now() + skew,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  };
  const setSkew = (ms: number) => {
    skew = ms;
  };
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const probes: Array<{ name: string; at: number; mailbox: TestMailbox }> = [];
  const results: Array<{ name: string; at: number; result: ProbeResult }> = [];
  const skips: Array<{ name: string; at: number; reason: SkipReason }> = [];
  const rounds: number[] = [];
  const probe = options.probe ?? (async (m: TestMailbox) => ok(m.name));
  const scheduler = new Scheduler<TestMailbox>({
    clock: view,
    maxConcurrent: options.maxConcurrent ?? 1000,
    maxPerHost: options.maxPerHost ?? 1000,
    spread: options.spread ?? false,
    logger,
    probe: (mailbox) => {
      probes.push({ name: mailbox.name, at: view.now() - T0, mailbox });
      return probe(mailbox, clock);
    },
    onResult: (result, mailbox) =>
      results.push({ name: mailbox.name, at: view.now() - T0, result }),
    onSkip: (mailbox, reason) => skips.push({ name: mailbox.name, at: view.now() - T0, reason }),
    onRoundComplete: () => rounds.push(view.now() - T0),
  });
  const events = (event: string) => logs.filter((line) => line['event'] === event);
  const probeTimes = (name: string) => probes.filter((p) => p.name === name).map((p) => p.at);
  return { clock, setSkew, scheduler, logs, events, probes, probeTimes, results, skips, rounds };
}

/** Stops the scheduler while time runs on, then checks that no timer is left. */
async function shutdown(h: ReturnType<typeof setup>, runFor = 10 * MINUTE): Promise<void> {
  const stopped = h.scheduler.stop();
  await h.clock.advance(runFor);
  await stopped;
  assert.equal(h.scheduler.inFlight, 0);
  assert.equal(h.clock.pending(), 0, 'timers left after stop()');
}

describe('Scheduler timing', () => {
  it('probes once at start, then at each slot, with no timer per mailbox', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a'), box('b')]);
    h.scheduler.start();
    assert.equal(h.clock.pending(), 1, 'one timer for all mailboxes');
    await h.clock.advance(150_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000, 120_000]);
    assert.deepEqual(h.probeTimes('b'), [0, 60_000, 120_000]);
    assert.equal(h.results.length, 6);
    await shutdown(h);
  });

  it('drops a slot that comes less than half an interval after the start-up probe', async () => {
    const h = setup({ start: T0 + 45_000 });
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.clock.advance(200_000 - 45_000);
    assert.deepEqual(h.probeTimes('a'), [45_000, 120_000, 180_000]);
    await shutdown(h);
  });

  it('spreads the start-up probe over 10 s and the slots over the interval by the name', async () => {
    const h = setup({ spread: true });
    const names = ['support', 'billing', 'sales'];
    h.scheduler.setMailboxes(names.map((n) => box(n)));
    h.scheduler.start();
    await h.clock.advance(150_000);
    for (const name of names) {
      const offset = spreadOffsetMs(name, 60_000);
      const expected = [spreadOffsetMs(name, 10_000), 60_000 + offset];
      if (120_000 + offset <= 150_000) expected.push(120_000 + offset);
      assert.deepEqual(h.probeTimes(name), expected, name);
    }
    await shutdown(h);
  });

  it('spreads 1,000 mailboxes on */60 evenly over the minute (10 buckets of 6 s, each 100 ± 40%)', async () => {
    const h = setup({ spread: true });
    h.scheduler.setMailboxes(Array.from({ length: 1000 }, (_, i) => box(`mailbox-${i}`)));
    h.scheduler.start();
    await h.clock.advance(120_000 - 1);
    const startup = h.probes.filter((p) => p.at < 10_000);
    const slots = h.probes.filter((p) => p.at >= 10_000);
    assert.equal(startup.length, 1000);
    assert.equal(slots.length, 1000);
    const buckets = new Array<number>(10).fill(0);
    for (const p of slots) {
      assert.ok(p.at >= 60_000 && p.at < 120_000, `slot at ${p.at}`);
      const i = Math.floor((p.at - 60_000) / 6_000);
      buckets[i] = (buckets[i] ?? 0) + 1;
    }
    for (const count of buckets) assert.ok(count >= 60 && count <= 140, buckets.join(' '));
    await shutdown(h);
  });

  it('keeps a name on the same second of the minute whenever it is started', async () => {
    const seen: number[] = [];
    for (const start of [T0, T0 + 17_000, T0 + 3_600_000 + 42_500]) {
      const h = setup({ spread: true, start });
      h.scheduler.setMailboxes([box('support')]);
      h.scheduler.start();
      await h.clock.advance(3 * MINUTE);
      const slot = h.probes.map((p) => p.at + T0).filter((at) => at - start >= 10_000);
      seen.push(...slot.map((at) => at % MINUTE));
      await shutdown(h);
    }
    assert.ok(seen.length >= 6);
    assert.deepEqual(new Set(seen), new Set([spreadOffsetMs('support', 60_000)]));
  });

  it('follows a changed schedule after a reload', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.clock.advance(90_000);
    h.scheduler.setMailboxes([box('a', { schedule: '0 */5 * * * *' })]);
    await h.clock.advance(600_000 - 90_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000, 90_000, 300_000, 600_000]);
    await shutdown(h);
  });

  it('gives a mailbox added by a reload a start-up probe and its slots', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.clock.advance(70_000);
    h.scheduler.setMailboxes([box('a'), box('b')]);
    await h.clock.advance(180_000 - 70_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000, 120_000, 180_000]);
    assert.deepEqual(h.probeTimes('b'), [70_000, 120_000, 180_000]);
    await shutdown(h);
  });
});

describe('Scheduler overlap guard', () => {
  it('skips exactly 2 ticks of a probe that takes 2.5 intervals', async () => {
    const h = setup({
      probe: async (m, clock) => {
        await sleep(clock, 150_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('slow', { timeout: 200_000 })]);
    h.scheduler.start();
    await h.clock.advance(200_000);
    assert.deepEqual(h.skips, [
      { name: 'slow', at: 60_000, reason: 'overlap' },
      { name: 'slow', at: 120_000, reason: 'overlap' },
    ]);
    assert.deepEqual(h.probeTimes('slow'), [0, 180_000]);
    assert.deepEqual(
      h.results.map((r) => r.at),
      [150_000],
    );
    await shutdown(h);
  });
});

describe('Scheduler limits', () => {
  it('starts queued probes oldest first, a full host not blocking others (runNow order)', async () => {
    const h = setup({
      maxConcurrent: 2,
      maxPerHost: 1,
      probe: async (m, clock) => {
        await sleep(clock, 1_000);
        return ok(m.name);
      },
    });
    const host = { a1: 'a', a2: 'A', b1: 'b', b2: 'b', c1: 'c' } as const;
    h.scheduler.setMailboxes(
      Object.entries(host).map(([name, hostName]) => box(name, { host: `${hostName}.example` })),
    );
    const run = h.scheduler.runNow(['a1', 'a2', 'b1', 'b2', 'c1']);
    assert.equal(h.scheduler.inFlight, 2);
    assert.equal(h.scheduler.queued, 3);
    await h.clock.advance(3_000);
    const results = await run;
    assert.deepEqual(
      results.map((r) => r.mailbox),
      ['a1', 'a2', 'b1', 'b2', 'c1'],
    );
    assert.deepEqual(
      h.probes.map((p) => [p.name, p.at]),
      [
        ['a1', 0],
        ['b1', 0],
        ['a2', 1_000],
        ['b2', 1_000],
        ['c1', 2_000],
      ],
    );
    await shutdown(h);
  });

  it('never runs more than maxConcurrent overall or maxPerHost per host (host name case-insensitive)', async () => {
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    let total = 0;
    let peakTotal = 0;
    const h = setup({
      spread: true,
      maxConcurrent: 5,
      maxPerHost: 2,
      probe: async (m, clock) => {
        const key = m.host.toLowerCase();
        running.set(key, (running.get(key) ?? 0) + 1);
        peak.set(key, Math.max(peak.get(key) ?? 0, running.get(key) ?? 0));
        total += 1;
        peakTotal = Math.max(peakTotal, total);
        await sleep(clock, 1_000 + spreadOffsetMs(m.name, 20_000));
        running.set(key, (running.get(key) ?? 0) - 1);
        total -= 1;
        return ok(m.name);
      },
    });
    const hosts = [
      'pop.a.example',
      'POP.A.example',
      'pop.b.example',
      'Pop.C.Example',
      'pop.d.example',
    ];
    h.scheduler.setMailboxes(
      Array.from({ length: 30 }, (_, i) => box(`m${i}`, { host: hosts[i % 5] as string })),
    );
    h.scheduler.start();
    await h.clock.advance(5 * MINUTE);
    assert.equal(peakTotal, 5);
    assert.deepEqual(Object.fromEntries(peak), {
      'pop.a.example': 2,
      'pop.b.example': 2,
      'pop.c.example': 2,
      'pop.d.example': 2,
    });
    assert.ok(h.results.length > 60, `${h.results.length} results`);
    await shutdown(h);
  });
});

describe('Scheduler auth backoff', () => {
  it('skips for 15 minutes after an auth failure, then allows one probe; a failure restarts it', async () => {
    const h = setup({ probe: async (m) => authFailure(m.name) });
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.clock.advance(30 * MINUTE + 30_000);
    assert.deepEqual(h.probeTimes('a'), [0, 15 * MINUTE, 30 * MINUTE]);
    assert.equal(h.skips.length, 28);
    assert.ok(h.skips.every((s) => s.reason === 'auth_backoff'));
    assert.equal(h.events('auth_backoff').length, 3);
    await shutdown(h);
  });

  it('is cleared by a success', async () => {
    let calls = 0;
    const h = setup({ probe: async (m) => (calls++ === 0 ? authFailure(m.name) : ok(m.name)) });
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.clock.advance(17 * MINUTE);
    assert.deepEqual(h.probeTimes('a'), [0, 15 * MINUTE, 16 * MINUTE, 17 * MINUTE]);
    assert.equal(h.skips.length, 14);
    await shutdown(h);
  });

  it('is cleared by a changed config, and kept by an identical one', async () => {
    const h = setup({
      probe: async (m) => (m.password?.reveal() === 'new' ? ok(m.name) : authFailure(m.name)),
    });
    h.scheduler.setMailboxes([box('a', { password: new Secret('old') })]);
    h.scheduler.start();
    await h.clock.advance(90_000);
    h.scheduler.setMailboxes([box('a', { password: new Secret('old') })]);
    await h.clock.advance(30_000);
    assert.deepEqual(h.probeTimes('a'), [0], 'an identical config keeps the backoff');
    assert.deepEqual(
      h.skips.map((s) => s.at),
      [60_000, 120_000],
    );
    await h.clock.advance(10_000);
    h.scheduler.setMailboxes([box('a', { password: new Secret('new') })]);
    await h.clock.advance(0);
    assert.deepEqual(h.probeTimes('a'), [0, 130_000]);
    assert.equal(h.probes[1]?.mailbox.password?.reveal(), 'new');
    await h.clock.advance(180_000 - 130_000);
    assert.deepEqual(h.probeTimes('a'), [0, 130_000, 180_000]);
    await shutdown(h);
  });

  it('ignores an auth failure of a probe started before the config changed', async () => {
    const h = setup({
      probe: async (m, clock) => {
        await sleep(clock, 5_000);
        return m.password?.reveal() === 'new' ? ok(m.name) : authFailure(m.name);
      },
    });
    h.scheduler.setMailboxes([box('a', { password: new Secret('old') })]);
    h.scheduler.start();
    await h.clock.advance(1_000);
    h.scheduler.setMailboxes([box('a', { password: new Secret('new') })]);
    await h.clock.advance(60_000);
    assert.deepEqual(h.skips, [{ name: 'a', at: 1_000, reason: 'overlap' }]);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000]);
    assert.equal(h.results[0]?.result.error?.code, 'auth', 'the old result is still reported');
    await shutdown(h);
  });
});

describe('Scheduler reload and shutdown', () => {
  it('does not report the in-flight result of a removed mailbox, and never starts its queued probe', async () => {
    const h = setup({
      maxConcurrent: 1,
      probe: async (m, clock) => {
        await sleep(clock, 5_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('a'), box('b'), box('c')]);
    h.scheduler.start();
    await h.clock.advance(1_000);
    assert.equal(h.scheduler.inFlight, 1);
    assert.equal(h.scheduler.queued, 2);
    h.scheduler.setMailboxes([box('c')]);
    assert.equal(h.scheduler.queued, 1);
    await h.clock.advance(3 * MINUTE);
    assert.deepEqual(h.probeTimes('a'), [0]);
    assert.deepEqual(h.probeTimes('b'), []);
    assert.deepEqual([...new Set(h.results.map((r) => r.name))], ['c']);
    await assert.rejects(
      h.scheduler.runNow(['a']),
      (err: unknown) => err instanceof SchedulerError && err.code === 'unknown_mailbox',
    );
    await shutdown(h);
  });

  it('stop() waits for the running probe, drops queued ones and leaves no timer', async () => {
    const h = setup({
      maxConcurrent: 1,
      probe: async (m, clock) => {
        await sleep(clock, 5_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('a'), box('b')]);
    h.scheduler.start();
    await h.clock.advance(1_000);
    let stopped = false;
    const stopping = h.scheduler.stop().then(() => {
      stopped = true;
    });
    assert.equal(h.scheduler.queued, 0);
    await h.clock.advance(3_999);
    assert.equal(stopped, false);
    assert.equal(h.scheduler.inFlight, 1);
    await h.clock.advance(1);
    await stopping;
    assert.equal(stopped, true);
    assert.equal(h.clock.pending(), 0);
    await h.clock.advance(10 * MINUTE);
    assert.deepEqual(
      h.probes.map((p) => p.name),
      ['a'],
    );
    assert.deepEqual(
      h.results.map((r) => r.name),
      ['a'],
    );
    assert.throws(
      () => h.scheduler.start(),
      (err: unknown) => err instanceof SchedulerError && err.code === 'stopped',
    );
    await assert.rejects(h.scheduler.runNow(), (err: unknown) => err instanceof SchedulerError);
  });

  it('rejects a duplicate name or a bad schedule without changing anything', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    assert.throws(
      () => h.scheduler.setMailboxes([box('b'), box('b')]),
      (err: unknown) => err instanceof SchedulerError && err.code === 'duplicate_mailbox',
    );
    assert.throws(
      () => h.scheduler.setMailboxes([box('b', { schedule: 'every minute' })]),
      (err: unknown) => err instanceof SchedulerError && err.code === 'invalid_schedule',
    );
    await h.clock.advance(60_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000]);
    assert.deepEqual(h.probeTimes('b'), []);
    await shutdown(h);
  });
});

describe('Scheduler reporting', () => {
  it('calls onRoundComplete once, after every mailbox was attempted, a thrown probe included', async () => {
    const h = setup({
      probe: async (m, clock) => {
        if (m.name === 'broken') throw new Error('contract breach');
        if (m.name === 'slow') await sleep(clock, 20_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('fast'), box('broken'), box('slow', { timeout: 30_000 })]);
    h.scheduler.start();
    await h.clock.advance(19_999);
    assert.deepEqual(h.rounds, []);
    await h.clock.advance(1);
    assert.deepEqual(h.rounds, [20_000]);
    await h.clock.advance(5 * MINUTE);
    h.scheduler.setMailboxes([
      box('fast'),
      box('broken'),
      box('slow', { timeout: 30_000 }),
      box('new'),
    ]);
    await h.clock.advance(5 * MINUTE);
    assert.ok(h.probeTimes('new').length > 0);
    assert.deepEqual(h.rounds, [20_000]);
    await shutdown(h);
  });

  it('completes the round at once when there is nothing to probe, or when the last one is removed', async () => {
    const empty = setup();
    empty.scheduler.setMailboxes([]);
    empty.scheduler.start();
    assert.deepEqual(empty.rounds, [0]);
    await shutdown(empty);

    const h = setup({
      maxConcurrent: 1,
      probe: async (m, clock) => {
        await sleep(clock, 5_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('a'), box('b')]);
    h.scheduler.start();
    await h.clock.advance(1_000);
    h.scheduler.setMailboxes([box('a')]);
    assert.deepEqual(h.rounds, []);
    await h.clock.advance(4_000);
    assert.deepEqual(h.rounds, [5_000]);
    await shutdown(h);
  });

  it('survives a probe that throws, rejects or returns nothing, and keeps scheduling it', async () => {
    const h = setup({
      probe: (m) => {
        if (m.name === 'sync') throw new Error('sync breach');
        if (m.name === 'async') return Promise.reject(new Error('async breach'));
        return Promise.resolve(undefined as unknown as ProbeResult);
      },
    });
    h.scheduler.setMailboxes([box('sync'), box('async'), box('garbage')]);
    h.scheduler.start();
    await h.clock.advance(70_000);
    for (const name of ['sync', 'async', 'garbage'])
      assert.deepEqual(h.probeTimes(name), [0, 60_000], name);
    assert.deepEqual(h.results, []);
    assert.equal(h.events('probe_threw').length, 4);
    assert.equal(h.events('probe_bad_result').length, 2);
    assert.equal(h.scheduler.inFlight, 0);
    await shutdown(h);
  });

  it('releases the slot of a probe that never settles after timeout + grace', async () => {
    const h = setup({ probe: () => new Promise<ProbeResult>(() => {}) });
    h.scheduler.setMailboxes([box('hung', { timeout: 10_000 })]);
    h.scheduler.start();
    await h.clock.advance(39_999);
    assert.equal(h.scheduler.inFlight, 1);
    await h.clock.advance(1);
    assert.equal(h.scheduler.inFlight, 0);
    assert.deepEqual(
      h.events('probe_watchdog').map((e) => e['mailbox']),
      ['hung'],
    );
    await h.clock.advance(20_000);
    assert.deepEqual(h.probeTimes('hung'), [0, 60_000]);
    assert.deepEqual(h.skips, []);
    await shutdown(h, 40_000);
  });

  it('warns once per mailbox when LOGIN-DELAY exceeds the interval', async () => {
    const h = setup({
      probe: async (m) => ok(m.name, { login_delay_seconds: m.name === 'strict' ? 120 : 60 }),
    });
    h.scheduler.setMailboxes([box('strict'), box('relaxed')]);
    h.scheduler.start();
    await h.clock.advance(150_000);
    assert.equal(h.probeTimes('strict').length, 3);
    const warnings = h.events('login_delay_exceeds_interval');
    assert.deepEqual(
      warnings.map((w) => [
        w['mailbox'],
        w['login_delay_seconds'],
        w['interval_seconds'],
        w['level'],
      ]),
      [['strict', 120, 60, 40]],
    );
    await shutdown(h);
  });

  it('runNow joins a running probe and ignores the auth backoff', async () => {
    let calls = 0;
    const h = setup({
      probe: async (m, clock) => {
        calls += 1;
        await sleep(clock, 1_000);
        return calls === 1 ? authFailure(m.name) : ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('a')]);
    const first = h.scheduler.runNow(['a']);
    const joined = h.scheduler.runNow(['a']);
    await h.clock.advance(1_000);
    const [a, b] = [await first, await joined];
    assert.equal(calls, 1);
    assert.deepEqual(a, b);
    assert.equal(a[0]?.error?.code, 'auth');
    const again = h.scheduler.runNow();
    await h.clock.advance(1_000);
    assert.equal((await again)[0]?.success, true);
    assert.equal(h.results.length, 2);
    await shutdown(h);
  });
});

describe('Scheduler and wall-clock jumps', () => {
  it('does not replay slots missed while the clock jumped ahead', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.clock.advance(30_000);
    h.setSkew(60 * MINUTE);
    await h.clock.advance(95_000);
    assert.deepEqual(h.probeTimes('a'), [0, 61 * MINUTE, 62 * MINUTE]);
    assert.deepEqual(h.skips, []);
    assert.equal(h.events('schedule_slots_missed').length, 1);
    await shutdown(h);
  });

  it('reschedules from the new now when the clock is set back', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.clock.advance(30_000);
    h.setSkew(-60 * MINUTE);
    await h.clock.advance(95_000);
    assert.deepEqual(h.probeTimes('a'), [0, -58 * MINUTE]);
    assert.equal(h.events('clock_went_back').length, 1);
    await shutdown(h);
  });
});

describe('Scheduler at scale', () => {
  it('arms 10,000 mailboxes and fires a full minute of them', async () => {
    const h = setup({ spread: true, maxConcurrent: 64, maxPerHost: 4 });
    h.scheduler.setMailboxes(
      Array.from({ length: 10_000 }, (_, i) =>
        box(`mbx-${i}`, { host: `pop${i % 500}.example.com` }),
      ),
    );
    h.scheduler.start();
    assert.equal(h.clock.pending(), 1);
    await h.clock.advance(120_000 - 1);
    assert.equal(h.results.length, 20_000);
    assert.equal(new Set(h.results.map((r) => r.name)).size, 10_000);
    assert.deepEqual(h.skips, []);
    await shutdown(h, 0);
  });
});
