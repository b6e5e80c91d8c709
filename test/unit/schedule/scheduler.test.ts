import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { systemClock } from '../../../src/clock.js';
import type { ProbeResult, SkipReason } from '../../../src/probe/result.js';
import { type ScheduledMailbox, Scheduler } from '../../../src/schedule/scheduler.js';
import { Secret } from '../../../src/secret.js';
import { GlobalFakeTime } from '../../fixtures/global-fake-time.js';
import { ok } from '../../fixtures/probe-results.js';

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
    ...extra,
  };
}

type ProbeFn = (mailbox: TestMailbox, time: GlobalFakeTime) => Promise<ProbeResult>;

const sleep = (time: GlobalFakeTime, ms: number) =>
  new Promise<void>((resolve) => time.clock.setTimeout(resolve, ms));

/** A probe that takes `ms`, then succeeds. */
const sleeping =
  (ms: number): ProbeFn =>
  async (m, time) => {
    await sleep(time, ms);
    return ok(m.name);
  };

let installed: GlobalFakeTime | null = null;
afterEach(() => {
  installed?.uninstall();
  installed = null;
});

function setup(
  options: {
    start?: number;
    /** Default false here; 'default' leaves it to the scheduler. */
    spread?: boolean | 'default';
    maxSpreadMs?: number;
    maxConcurrent?: number;
    maxPerHost?: number;
    probe?: ProbeFn;
    admit?: (mailbox: TestMailbox) => SkipReason | null;
    /** Every callback records its call, then throws (a bug in the caller). */
    throwing?: boolean;
  } = {},
) {
  const time = new GlobalFakeTime(options.start ?? T0);
  installed = time;
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const probes: Array<{ name: string; at: number; mailbox: TestMailbox }> = [];
  const results: Array<{ name: string; at: number; result: ProbeResult; mailbox: TestMailbox }> =
    [];
  const skips: Array<{ name: string; at: number; reason: SkipReason }> = [];
  const rounds: number[] = [];
  const probe = options.probe ?? (async (m: TestMailbox) => ok(m.name));
  const bug = () => {
    if (options.throwing) throw new Error('callback bug');
  };
  const scheduler = new Scheduler<TestMailbox>({
    clock: time.clock,
    maxConcurrent: options.maxConcurrent ?? 1000,
    maxPerHost: options.maxPerHost ?? 1000,
    ...(options.spread === 'default' ? {} : { spread: options.spread ?? false }),
    ...(options.maxSpreadMs === undefined ? {} : { maxSpreadMs: options.maxSpreadMs }),
    timezone: 'UTC',
    logger,
    probe: (mailbox) => {
      probes.push({ name: mailbox.name, at: time.now() - T0, mailbox });
      return probe(mailbox, time);
    },
    onResult: (result, mailbox) => {
      results.push({ name: mailbox.name, at: time.now() - T0, result, mailbox });
      bug();
    },
    onSkip: (mailbox, reason) => {
      skips.push({ name: mailbox.name, at: time.now() - T0, reason });
      bug();
    },
    ...(options.admit === undefined ? {} : { admit: options.admit }),
    onRoundComplete: () => {
      rounds.push(time.now() - T0);
      bug();
    },
  });
  const events = (event: string) => logs.filter((line) => line['event'] === event);
  const probeTimes = (name: string) => probes.filter((p) => p.name === name).map((p) => p.at);
  return { time, scheduler, logs, events, probes, probeTimes, results, skips, rounds };
}

/** Watches a promise without awaiting it: a test that awaits one that never settles hangs. */
function watch<T>(promise: Promise<T>): { settled: boolean; value?: T } {
  const state: { settled: boolean; value?: T } = { settled: false };
  void promise.then((value) => {
    state.settled = true;
    state.value = value;
  });
  return state;
}

/** Stops the scheduler while time runs on, then checks that no timer is left. */
async function shutdown(h: ReturnType<typeof setup>, runFor = 10 * MINUTE): Promise<void> {
  const stopped = h.scheduler.stop();
  await h.time.advance(runFor);
  await stopped;
  assert.equal(h.scheduler.inFlight, 0);
  assert.equal(h.time.pending(), 0, 'timers left after stop()');
  h.time.uninstall();
  installed = null;
}

describe('Scheduler timing', () => {
  it('probes once at start, then at each match', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a'), box('b')]);
    h.scheduler.start();
    await h.time.advance(150_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000, 120_000]);
    assert.deepEqual(h.probeTimes('b'), [0, 60_000, 120_000]);
    assert.equal(h.results.length, 6);
    await shutdown(h);
  });

  it('drops a slot that comes less than half an interval after the start-up probe', async () => {
    const h = setup({ start: T0 + 45_000 });
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.time.advance(200_000 - 45_000);
    assert.deepEqual(h.probeTimes('a'), [45_000, 120_000, 180_000]);
    await shutdown(h);
  });

  it('uses one node-cron timer per distinct expression and one for all the offsets', async () => {
    const h = setup({ spread: true });
    const minutely = Array.from({ length: 100 }, (_, i) => box(`m${i}`));
    const hourly = Array.from({ length: 100 }, (_, i) => box(`h${i}`, { schedule: '0 0 * * * *' }));
    h.scheduler.setMailboxes([...minutely, ...hourly]);
    h.scheduler.start();
    assert.equal(h.time.pending(), 3, 'two node-cron timers, one for the start-up offsets');
    await h.time.advance(120_000 - 1);
    assert.equal(h.probes.length, 300);
    assert.equal(h.time.pending(), 2, 'no offset due before the next match');
    h.scheduler.setMailboxes(minutely);
    await h.time.advance(MINUTE);
    assert.equal(h.time.pending(), 1, 'the hourly task went with its last mailbox');
    await shutdown(h);
  });

  it('spreads the start-up probe over 10 s and the ticks over the interval by the name', async () => {
    const h = setup({ spread: true });
    h.scheduler.setMailboxes(['support', 'billing', 'sales'].map((n) => box(n)));
    h.scheduler.start();
    await h.time.advance(150_000);
    // spreadFraction: support 0.3588, billing 0.6751, sales 0.3482 (spread.test.ts).
    assert.deepEqual(h.probeTimes('support'), [3_588, 81_530, 141_530]);
    assert.deepEqual(h.probeTimes('billing'), [6_750, 100_504]);
    assert.deepEqual(h.probeTimes('sales'), [3_482, 80_892, 140_892]);
    await shutdown(h);
  });

  it('caps the spread window at maxSpreadMs, so an hourly probe stays near its hour', async () => {
    const h = setup({ spread: true });
    h.scheduler.setMailboxes([box('support', { schedule: '0 0 * * * *' })]);
    h.scheduler.start();
    await h.time.advance(122 * MINUTE);
    // 0.3588 × 5 min (the default cap), not × 60 min; the start-up tick within 10 s.
    assert.deepEqual(h.probeTimes('support'), [
      3_588,
      60 * MINUTE + 107_651,
      120 * MINUTE + 107_651,
    ]);
    await shutdown(h);

    const narrow = setup({ spread: true, maxSpreadMs: MINUTE });
    narrow.scheduler.setMailboxes([box('support', { schedule: '0 0 * * * *' })]);
    narrow.scheduler.start();
    await narrow.time.advance(61 * MINUTE);
    assert.deepEqual(narrow.probeTimes('support'), [3_588, 60 * MINUTE + 21_530]);
    await shutdown(narrow);
  });

  it('spreads 1,000 mailboxes on */60 evenly over the minute (10 buckets of 6 s, each 100 ± 40%)', async () => {
    const h = setup({ spread: true });
    h.scheduler.setMailboxes(Array.from({ length: 1000 }, (_, i) => box(`mailbox-${i}`)));
    h.scheduler.start();
    await h.time.advance(120_000 - 1);
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
      await h.time.advance(3 * MINUTE);
      const slot = h.probes.map((p) => p.at + T0).filter((at) => at - start >= 10_000);
      seen.push(...slot.map((at) => at % MINUTE));
      await shutdown(h);
    }
    assert.ok(seen.length >= 6);
    assert.deepEqual(new Set(seen), new Set([21_530]));
  });

  it('spreads by default', async () => {
    const h = setup({ spread: 'default' });
    h.scheduler.setMailboxes([box('support')]);
    h.scheduler.start();
    await h.time.advance(90_000);
    assert.deepEqual(h.probeTimes('support'), [3_588, 81_530]);
    await shutdown(h);
  });

  it('keeps a match exactly half an interval after the start-up probe', async () => {
    const h = setup({ start: T0 + 30_000 });
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.time.advance(40_000);
    assert.deepEqual(h.probeTimes('a'), [30_000, 60_000]);
    await shutdown(h);
  });

  it('start() twice starts once', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    h.scheduler.start();
    await h.time.advance(70_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000]);
    assert.deepEqual(h.skips, [], 'no second start-up tick');
    assert.deepEqual(h.rounds, [0]);
    await shutdown(h);
  });

  it('drops the spread tick of a mailbox removed, or changed, between its match and its offset', async () => {
    const h = setup({ spread: true });
    // spreadFraction: support 0.3588 (21.5 s into the minute), billing 0.6751 (40.5 s).
    h.scheduler.setMailboxes([box('support'), box('billing')]);
    h.scheduler.start();
    await h.time.advance(MINUTE + 10_000);
    h.scheduler.setMailboxes([box('billing', { port: 110 })]);
    await h.time.advance(50_000);
    assert.deepEqual(h.probeTimes('support'), [3_588]);
    assert.deepEqual(
      h.probes.filter((p) => p.name === 'billing').map((p) => [p.at, p.mailbox.port]),
      [
        [6_750, 995],
        [70_000 + 6_750, 110],
      ],
    );
    await shutdown(h);
  });

  it('stop() cancels every pending spread, start-up and match alike', async () => {
    const h = setup({ spread: true });
    // Started 55 s into a minute: the start-up ticks (within 10 s) and the next match's
    // ticks (from 60 s) wait at the same time.
    h.time.setWallClock(T0 + 55_000);
    h.scheduler.setMailboxes(Array.from({ length: 50 }, (_, i) => box(`m${i}`)));
    h.scheduler.start();
    await h.time.advance(5_500);
    const probed = h.probes.length;
    assert.ok(probed > 0 && probed < 100, String(probed));
    const stopped = h.scheduler.stop();
    assert.equal(h.time.pending(), 0, 'no sweep left armed');
    await h.time.advance(10 * MINUTE);
    await stopped;
    assert.equal(h.probes.length, probed);
    h.time.uninstall();
    installed = null;
  });

  it('follows a changed schedule after a reload', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.time.advance(90_000);
    h.scheduler.setMailboxes([box('a', { schedule: '0 */5 * * * *' })]);
    await h.time.advance(600_000 - 90_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000, 90_000, 300_000, 600_000]);
    await shutdown(h);
  });

  it('gives a mailbox added by a reload a start-up probe and its slots', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.time.advance(70_000);
    h.scheduler.setMailboxes([box('a'), box('b')]);
    await h.time.advance(180_000 - 70_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000, 120_000, 180_000]);
    assert.deepEqual(h.probeTimes('b'), [70_000, 120_000, 180_000]);
    await shutdown(h);
  });
});

describe('Scheduler overlap guard', () => {
  it('skips exactly 2 ticks of a probe that takes 2.5 intervals', async () => {
    const h = setup({
      probe: sleeping(150_000),
    });
    h.scheduler.setMailboxes([box('slow', { timeout: 200_000 })]);
    h.scheduler.start();
    await h.time.advance(200_000);
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
      probe: sleeping(1_000),
    });
    const host = { a1: 'a', a2: 'A', b1: 'b', b2: 'b', c1: 'c' } as const;
    h.scheduler.setMailboxes(
      Object.entries(host).map(([name, hostName]) => box(name, { host: `${hostName}.example` })),
    );
    const run = Promise.all(['a1', 'a2', 'b1', 'b2', 'c1'].map((n) => h.scheduler.runNow(n)));
    assert.equal(h.scheduler.inFlight, 2);
    assert.equal(h.scheduler.queued, 3);
    await h.time.advance(3_000);
    const results = await run;
    assert.deepEqual(
      results.map((r) => r?.mailbox),
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

  it('one host to the per-host limit whatever its case, blanks or final dot', async () => {
    const h = setup({
      maxPerHost: 1,
      probe: sleeping(1_000),
    });
    const hosts = ['pop.example.com', 'POP.Example.COM', ' pop.example.com ', 'pop.example.com.'];
    h.scheduler.setMailboxes(hosts.map((host, i) => box(`m${i}`, { host })));
    await Promise.all([...hosts.map((_, i) => h.scheduler.runNow(`m${i}`)), h.time.advance(5_000)]);
    assert.deepEqual(
      h.probes.map((p) => p.at),
      [0, 1_000, 2_000, 3_000],
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
      probe: async (m, time) => {
        const key = m.host.toLowerCase();
        running.set(key, (running.get(key) ?? 0) + 1);
        peak.set(key, Math.max(peak.get(key) ?? 0, running.get(key) ?? 0));
        total += 1;
        peakTotal = Math.max(peakTotal, total);
        await sleep(time, 1_000 + 700 * Number(m.name.slice(1)));
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
    await h.time.advance(5 * MINUTE);
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

describe('Scheduler and the probe gate', () => {
  it('asks admit before each scheduled probe and skips with its reason; runNow does not ask', async () => {
    const asked: string[] = [];
    const h = setup({
      admit: (m) => {
        asked.push(m.name);
        return m.name === 'held' ? 'auth_backoff' : null;
      },
    });
    h.scheduler.setMailboxes([box('held'), box('free')]);
    h.scheduler.start();
    await h.time.advance(70_000);
    assert.deepEqual(h.probeTimes('free'), [0, 60_000]);
    assert.deepEqual(h.probeTimes('held'), []);
    assert.deepEqual(h.skips, [
      { name: 'held', at: 0, reason: 'auth_backoff' },
      { name: 'held', at: 60_000, reason: 'auth_backoff' },
    ]);
    assert.equal(asked.length, 4);
    const result = await h.scheduler.runNow('held');
    assert.equal(result?.mailbox, 'held');
    assert.equal(asked.length, 4);
    await shutdown(h);
  });

  it('keeps the config object of an unchanged mailbox and hands a changed one over as a new object', async () => {
    const admitted: TestMailbox[] = [];
    const h = setup({
      admit: (m) => {
        admitted.push(m);
        return null;
      },
      probe: sleeping(5_000),
    });
    const first = box('a', { password: new Secret('old') });
    h.scheduler.setMailboxes([first]);
    h.scheduler.start();
    await h.time.advance(1_000);
    h.scheduler.setMailboxes([box('a', { password: new Secret('old') })]);
    await h.time.advance(60_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000]);
    assert.ok(admitted.length === 2 && admitted.every((m) => m === first));
    const changed = box('a', { password: new Secret('new') });
    h.scheduler.setMailboxes([changed]);
    await h.time.advance(65_000);
    // The probe that ran with the old config reports the old object; the change got a
    // start-up tick (an overlap: the old probe still ran) and the next match probed.
    assert.deepEqual(
      h.results.map((r) => [r.at, r.mailbox === first, r.mailbox === changed]),
      [
        [5_000, true, false],
        [65_000, true, false],
        [125_000, false, true],
      ],
    );
    assert.deepEqual(h.skips, [{ name: 'a', at: 61_000, reason: 'overlap' }]);
    await shutdown(h);
  });
});

describe('Scheduler reload and shutdown', () => {
  it('does not report the in-flight result of a removed mailbox, and never starts its queued probe', async () => {
    const h = setup({
      maxConcurrent: 1,
      probe: sleeping(5_000),
    });
    h.scheduler.setMailboxes([box('a'), box('b'), box('c')]);
    h.scheduler.start();
    await h.time.advance(1_000);
    assert.equal(h.scheduler.inFlight, 1);
    assert.equal(h.scheduler.queued, 2);
    h.scheduler.setMailboxes([box('c')]);
    assert.equal(h.scheduler.queued, 1);
    await h.time.advance(3 * MINUTE);
    assert.deepEqual(h.probeTimes('a'), [0]);
    assert.deepEqual(h.probeTimes('b'), []);
    assert.deepEqual([...new Set(h.results.map((r) => r.name))], ['c']);
    await assert.rejects(h.scheduler.runNow('a'), {
      name: 'SchedulerError',
      code: 'unknown_mailbox',
      message: 'no mailbox named "a"',
    });
    await shutdown(h);
  });

  it('stop() waits for the running probe, drops queued ones and leaves no timer', async () => {
    const h = setup({
      maxConcurrent: 1,
      probe: sleeping(5_000),
    });
    h.scheduler.setMailboxes([box('a'), box('b')]);
    h.scheduler.start();
    await h.time.advance(1_000);
    const queued = watch(h.scheduler.runNow('b'));
    let stopped = false;
    const stopping = h.scheduler.stop().then(() => {
      stopped = true;
    });
    assert.equal(h.scheduler.queued, 0);
    await h.time.advance(1);
    assert.deepEqual(
      queued,
      { settled: true, value: undefined },
      'the dropped probe has no result',
    );
    await h.time.advance(3_998);
    assert.equal(stopped, false);
    assert.equal(h.scheduler.inFlight, 1);
    await h.time.advance(1);
    await stopping;
    assert.equal(stopped, true);
    assert.equal(h.time.pending(), 0);
    await h.time.advance(10 * MINUTE);
    assert.deepEqual(
      h.probes.map((p) => p.name),
      ['a'],
    );
    assert.deepEqual(
      h.results.map((r) => r.name),
      ['a'],
    );
    assert.throws(() => h.scheduler.start(), {
      name: 'SchedulerError',
      code: 'stopped',
      message: 'start() after stop()',
    });
    await assert.rejects(h.scheduler.runNow('a'), {
      name: 'SchedulerError',
      code: 'stopped',
      message: 'runNow() after stop()',
    });
  });

  it('drops the queued probe of a changed mailbox (runNow gets none) and probes it with the new config', async () => {
    const h = setup({
      maxConcurrent: 1,
      probe: sleeping(5_000),
    });
    h.scheduler.setMailboxes([box('a'), box('b')]);
    h.scheduler.start();
    const queued = watch(h.scheduler.runNow('b'));
    assert.equal(h.scheduler.queued, 1);
    h.scheduler.setMailboxes([box('a'), box('b', { host: 'other.example' })]);
    await h.time.advance(1);
    assert.deepEqual(queued, { settled: true, value: undefined });
    await h.time.advance(20_000);
    assert.deepEqual(
      h.probes.map((p) => [p.name, p.mailbox.host, p.at]),
      [
        ['a', 'pop.example.com', 0],
        ['b', 'other.example', 5_000],
      ],
    );
    assert.deepEqual(
      h.results.map((r) => [r.name, r.mailbox.host]),
      [
        ['a', 'pop.example.com'],
        ['b', 'other.example'],
      ],
    );
    await shutdown(h);
  });

  it('a name removed and added again starts clean: the old probe is not reported as the new one', async () => {
    const h = setup({
      probe: async (m, time) => {
        await sleep(time, 5_000);
        return ok(m.name, { messages: m.port });
      },
    });
    h.scheduler.setMailboxes([box('a', { port: 1 })]);
    h.scheduler.start();
    await h.time.advance(1_000);
    h.scheduler.setMailboxes([]);
    h.scheduler.setMailboxes([box('a', { port: 2 })]);
    await h.time.advance(10_000);
    assert.deepEqual(
      h.results.map((r) => [r.at, r.result.messages]),
      [[6_000, 2]],
    );
    await shutdown(h);
  });
  it('stop() resolves when the last running probe has finished, not the first', async () => {
    const h = setup({
      probe: async (m, time) => {
        await sleep(time, m.name === 'long' ? 8_000 : 2_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('short'), box('long')]);
    h.scheduler.start();
    const stopping = watch(h.scheduler.stop());
    await h.time.advance(2_000);
    assert.equal(stopping.settled, false);
    assert.equal(h.scheduler.inFlight, 1);
    await h.time.advance(6_000);
    assert.equal(stopping.settled, true);
    h.time.uninstall();
    installed = null;
  });

  it('mailbox() gives the config object a mailbox runs with; intervalMs() the interval of a schedule', () => {
    const h = setup();
    const a = box('a', { schedule: '0 */5 * * * *' });
    h.scheduler.setMailboxes([a]);
    assert.equal(h.scheduler.mailbox('a'), a);
    assert.equal(h.scheduler.mailbox('b'), undefined);
    assert.equal(h.scheduler.intervalMs('0 */5 * * * *'), 5 * MINUTE);
    assert.equal(h.scheduler.intervalMs('0 0 * * * *'), 60 * MINUTE);
  });
});

describe('Scheduler reporting', () => {
  it('calls onRoundComplete once, after every mailbox was attempted, a thrown probe included', async () => {
    const h = setup({
      probe: async (m, time) => {
        if (m.name === 'broken') throw new Error('contract breach');
        if (m.name === 'slow') await sleep(time, 20_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('fast'), box('broken'), box('slow', { timeout: 30_000 })]);
    h.scheduler.start();
    await h.time.advance(19_999);
    assert.deepEqual(h.rounds, []);
    await h.time.advance(1);
    assert.deepEqual(h.rounds, [20_000]);
    await h.time.advance(5 * MINUTE);
    h.scheduler.setMailboxes([
      box('fast'),
      box('broken'),
      box('slow', { timeout: 30_000 }),
      box('new'),
    ]);
    await h.time.advance(5 * MINUTE);
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
      probe: sleeping(5_000),
    });
    h.scheduler.setMailboxes([box('a'), box('b')]);
    h.scheduler.start();
    await h.time.advance(1_000);
    h.scheduler.setMailboxes([box('a')]);
    assert.deepEqual(h.rounds, []);
    await h.time.advance(4_000);
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
    await h.time.advance(70_000);
    for (const name of ['sync', 'async', 'garbage'])
      assert.deepEqual(h.probeTimes(name), [0, 60_000], name);
    assert.deepEqual(h.results, []);
    assert.equal(h.events('probe_threw').length, 4);
    assert.deepEqual(
      h
        .events('probe_threw')
        .map((e) => [e['mailbox'], e['msg'], (e['err'] as { message: string }).message]),
      [
        ['sync', 'probe threw', 'sync breach'],
        ['async', 'probe threw', 'async breach'],
        ['sync', 'probe threw', 'sync breach'],
        ['async', 'probe threw', 'async breach'],
      ],
    );
    assert.equal(h.scheduler.inFlight, 0);
    await shutdown(h);
  });

  it('in the first round, waits for a mailbox a reload adds before the round is done', async () => {
    const h = setup({
      probe: async (m, time) => {
        await sleep(time, m.name === 'late' ? 8_000 : 5_000);
        return ok(m.name);
      },
    });
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.time.advance(1_000);
    h.scheduler.setMailboxes([box('a'), box('late')]);
    await h.time.advance(4_000);
    assert.deepEqual(h.probeTimes('late'), [1_000]);
    assert.deepEqual(h.rounds, [], 'a is done, late is not');
    await h.time.advance(4_000);
    assert.deepEqual(h.rounds, [9_000]);
    await shutdown(h);
  });

  it('logs a callback that throws and carries on scheduling', async () => {
    // 'held' is probed at the start, then held back by the gate.
    let asked = 0;
    const h = setup({
      throwing: true,
      admit: (m) => (m.name === 'held' && asked++ > 0 ? 'auth_backoff' : null),
    });
    h.scheduler.setMailboxes([box('a'), box('held')]);
    h.scheduler.start();
    await h.time.advance(130_000);
    assert.deepEqual(h.probeTimes('a'), [0, 60_000, 120_000]);
    assert.deepEqual(
      h.results.map((r) => [r.name, r.at]),
      [
        ['a', 0],
        ['held', 0],
        ['a', 60_000],
        ['a', 120_000],
      ],
    );
    assert.deepEqual(
      h.skips.map((k) => k.at),
      [60_000, 120_000],
    );
    assert.deepEqual(h.rounds, [0]);
    const threw = h.events('callback_threw');
    assert.deepEqual(
      threw.map((e) => [e['callback'], e['mailbox'] ?? null]),
      [
        ['onResult', 'a'],
        ['onResult', 'held'],
        ['onRoundComplete', null],
        ['onSkip', 'held'],
        ['onResult', 'a'],
        ['onSkip', 'held'],
        ['onResult', 'a'],
      ],
    );
    assert.equal((threw[0]?.['err'] as { message: string } | undefined)?.message, 'callback bug');
    assert.equal(threw[0]?.['msg'], 'onResult threw');
    assert.equal(threw[0]?.['level'], 50);
    await shutdown(h);
  });

  it('ignores the result of a probe the watchdog abandoned, and counts its slot once', async () => {
    let release = (_result: ProbeResult): void => {};
    let calls = 0;
    const h = setup({
      maxConcurrent: 1,
      probe: (m) => {
        calls += 1;
        if (calls === 1) return new Promise<ProbeResult>((resolve) => (release = resolve));
        return Promise.resolve(ok(m.name));
      },
    });
    h.scheduler.setMailboxes([box('slow', { timeout: 10_000 })]);
    h.scheduler.start();
    await h.time.advance(40_000);
    assert.equal(h.scheduler.inFlight, 0);
    assert.equal(h.events('probe_watchdog')[0]?.['timeout_ms'], 10_000);
    assert.equal(
      h.events('probe_watchdog')[0]?.['msg'],
      'probe did not settle by its deadline: abandoned',
    );
    release(ok('slow', { messages: 99 }));
    await h.time.advance(1);
    assert.equal(h.results.length, 0);
    assert.equal(h.scheduler.inFlight, 0);
    await h.time.advance(20_000);
    assert.deepEqual(
      h.results.map((r) => [r.at, r.result.messages]),
      [[60_000, ok('slow').messages]],
    );
    assert.equal(h.scheduler.inFlight, 0);
    await shutdown(h);
  });

  it('releases the slot of a probe that never settles after timeout + grace', async () => {
    const h = setup({ probe: () => new Promise<ProbeResult>(() => {}) });
    h.scheduler.setMailboxes([box('hung', { timeout: 10_000 })]);
    h.scheduler.start();
    await h.time.advance(39_999);
    assert.equal(h.scheduler.inFlight, 1);
    await h.time.advance(1);
    assert.equal(h.scheduler.inFlight, 0);
    assert.deepEqual(
      h.events('probe_watchdog').map((e) => e['mailbox']),
      ['hung'],
    );
    await h.time.advance(20_000);
    assert.deepEqual(h.probeTimes('hung'), [0, 60_000]);
    assert.deepEqual(h.skips, []);
    await shutdown(h, 40_000);
  });

  it('runNow joins a running probe', async () => {
    let calls = 0;
    const h = setup({
      probe: async (m, time) => {
        calls += 1;
        await sleep(time, 1_000);
        return ok(m.name, { messages: calls });
      },
    });
    h.scheduler.setMailboxes([box('a')]);
    const first = h.scheduler.runNow('a');
    const joined = h.scheduler.runNow('a');
    await h.time.advance(1_000);
    const [a, b] = [await first, await joined];
    assert.equal(calls, 1);
    assert.deepEqual(a, b);
    assert.equal(a?.messages, 1);
    const again = h.scheduler.runNow('a');
    await h.time.advance(1_000);
    assert.equal((await again)?.messages, 2);
    assert.equal(h.results.length, 2);
    await shutdown(h);
  });
});

describe('Scheduler and wall-clock jumps', () => {
  it('does not replay the matches the wall clock jumped over, and logs them once', async () => {
    const h = setup();
    h.scheduler.setMailboxes([box('a')]);
    h.scheduler.start();
    await h.time.advance(30_000);
    h.time.setWallClock(T0 + 60 * MINUTE + 30_000);
    await h.time.advance(95_000);
    assert.deepEqual(h.probeTimes('a'), [0, 61 * MINUTE, 62 * MINUTE]);
    assert.deepEqual(h.skips, []);
    assert.deepEqual(
      h.events('schedule_slots_missed').map((e) => [e['schedule'], e['missed']]),
      [['*/60 * * * * *', 60]],
    );
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
    assert.equal(h.time.pending(), 2, 'one node-cron timer, one for the offsets');
    await h.time.advance(120_000 - 1);
    assert.equal(h.results.length, 20_000);
    assert.equal(new Set(h.results.map((r) => r.name)).size, 10_000);
    assert.deepEqual(h.skips, []);
    await shutdown(h, 0);
  });
});

describe('Scheduler and the process', () => {
  it('holds the process open with none of its timers (node-cron, spread, watchdog)', async () => {
    const refTimers = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    // This test's own timer keeps the process alive until the watchdog ends the probe.
    const alive = setInterval(() => {}, 1_000);
    const before = refTimers();
    const scheduler = new Scheduler<TestMailbox>({
      clock: systemClock,
      maxConcurrent: 10,
      maxPerHost: 10,
      logger: pino({ level: 'silent' }),
      probe: () => new Promise<ProbeResult>(() => {}),
      onResult: () => {},
      onSkip: () => {},
      onRoundComplete: () => {},
      watchdogGraceMs: 1,
    });
    // Spread start-up ticks wait on a timer; runNow starts a probe and its watchdog.
    scheduler.setMailboxes(['support', 'billing'].map((n) => box(n, { timeout: 1 })));
    scheduler.start();
    void scheduler.runNow('support');
    try {
      assert.equal(scheduler.inFlight, 1);
      assert.equal(refTimers(), before);
    } finally {
      await scheduler.stop();
      clearInterval(alive);
    }
  });
});
