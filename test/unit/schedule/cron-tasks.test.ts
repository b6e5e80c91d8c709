import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import cron from 'node-cron';
import { CronTasks, nextMatches } from '../../../src/schedule/cron-tasks.js';
import { GlobalFakeTime } from '../../fixtures/global-fake-time.js';

/** 2026-01-05 08:00:00.000 UTC, a Monday. */
const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;

interface Logged {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function recordingLogger(into: Logged[]) {
  const at =
    (level: string) =>
    (fields: unknown, msg?: string): void => {
      into.push({ level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Match {
  members: string[];
  matchMs: number;
  nextMs: number;
}

let time: GlobalFakeTime | null = null;
afterEach(() => {
  time?.uninstall();
  time = null;
});

function setup(timezone = 'UTC', onMatch?: () => void) {
  time = new GlobalFakeTime(T0);
  const logged: Logged[] = [];
  const matches: Match[] = [];
  const tasks = new CronTasks<string>({
    timezone,
    logger: recordingLogger(logged),
    onMatch: (members, matchMs, nextMs) => {
      matches.push({ members: [...members].sort(), matchMs, nextMs });
      onMatch?.();
    },
  });
  return { time, tasks, logged, matches };
}

describe('nextMatches', () => {
  it('gives the next matches from now, as node-cron fires them', () => {
    time = new GlobalFakeTime(T0 + 10 * SECOND);
    assert.deepEqual(nextMatches('0 * * * * *', 3, 'UTC'), [
      T0 + MINUTE,
      T0 + 2 * MINUTE,
      T0 + 3 * MINUTE,
    ]);
  });

  it('reads the expression in the time zone given', () => {
    time = new GlobalFakeTime(T0);
    // Noon in Berlin is 11:00 UTC in January; noon in UTC is 12:00.
    assert.deepEqual(nextMatches('0 0 12 * * *', 1, 'Europe/Berlin'), [Date.UTC(2026, 0, 5, 11)]);
    assert.deepEqual(nextMatches('0 0 12 * * *', 1, 'UTC'), [Date.UTC(2026, 0, 5, 12)]);
  });

  it('leaves no task behind in node-cron (its registry keeps every task until destroyed)', () => {
    const before = cron.getTasks().size;
    assert.equal(nextMatches('*/5 * * * * *', 3).length, 3);
    assert.equal(cron.getTasks().size, before);
  });

  it('none for an expression node-cron cannot read', () => {
    time = new GlobalFakeTime(T0);
    assert.deepEqual(nextMatches('not a schedule', 2, 'UTC'), []);
  });
});

describe('CronTasks', () => {
  it('one task per expression: every match reaches all its members, with the next match', async () => {
    const { time, tasks, matches } = setup();
    tasks.join('0 * * * * *', 'a');
    tasks.join('0 * * * * *', 'b');
    tasks.join('30 * * * * *', 'c');
    tasks.start();
    await time.advance(MINUTE);
    assert.deepEqual(matches, [
      { members: ['c'], matchMs: T0 + 30 * SECOND, nextMs: T0 + 90 * SECOND },
      { members: ['a', 'b'], matchMs: T0 + MINUTE, nextMs: T0 + 2 * MINUTE },
    ]);
  });

  it('fires nothing before start; a task joined after start runs at once', async () => {
    const { time, tasks, matches } = setup();
    tasks.join('*/10 * * * * *', 'a');
    await time.advance(30 * SECOND);
    assert.equal(matches.length, 0);
    tasks.start();
    tasks.join('*/20 * * * * *', 'b');
    await time.advance(20 * SECOND);
    const seen = matches
      .map((m) => `${m.matchMs - T0} ${m.members.join()}`)
      .sort((x, y) => Number.parseInt(x, 10) - Number.parseInt(y, 10) || x.localeCompare(y));
    assert.deepEqual(seen, ['40000 a', '40000 b', '50000 a']);
  });

  it('leave: the task stays while a member uses it, and goes with the last', async () => {
    const { time, tasks, matches } = setup();
    tasks.join('0 * * * * *', 'a');
    tasks.join('0 * * * * *', 'b');
    tasks.start();
    tasks.leave('0 * * * * *', 'a');
    tasks.leave('0 * * * * *', 'nobody');
    tasks.leave('5 * * * * *', 'a');
    await time.advance(MINUTE);
    assert.deepEqual(
      matches.map((m) => m.members),
      [['b']],
    );
    tasks.leave('0 * * * * *', 'b');
    await time.advance(MINUTE);
    assert.equal(matches.length, 1);
    assert.equal(time.pending(), 0);
  });

  it('stop leaves no timer and fires nothing more', async () => {
    const { time, tasks, matches } = setup();
    tasks.join('* * * * * *', 'a');
    tasks.join('*/2 * * * * *', 'b');
    tasks.start();
    await time.advance(2 * SECOND);
    const before = matches.length;
    assert.ok(before >= 2);
    tasks.stop();
    assert.equal(time.pending(), 0);
    await time.advance(MINUTE);
    assert.equal(matches.length, before);
  });

  it('intervalMs: the time between the next two matches, joined or not; Infinity when none', () => {
    const { tasks } = setup();
    tasks.join('*/5 * * * * *', 'a');
    assert.equal(tasks.intervalMs('*/5 * * * * *'), 5 * SECOND);
    assert.equal(tasks.intervalMs('0 */15 * * * *'), 15 * MINUTE);
    assert.equal(tasks.intervalMs('not a schedule'), Number.POSITIVE_INFINITY);
  });

  it('matches passed over by a clock jump are counted and logged with the next that fires', async () => {
    const { time, tasks, logged, matches } = setup();
    tasks.join('0 * * * * *', 'a');
    tasks.start();
    await time.advance(MINUTE);
    assert.equal(matches.length, 1);
    time.setWallClock(time.now() + 5 * MINUTE);
    await time.advance(2 * MINUTE);
    const missed = logged.filter((l) => l.fields.event === 'schedule_slots_missed');
    assert.equal(missed.length, 1);
    assert.ok((missed[0]?.fields.missed as number) >= 1, JSON.stringify(missed[0]?.fields));
    assert.equal(missed[0]?.fields.schedule, '0 * * * * *');
    assert.equal(
      missed[0]?.msg,
      'schedule matches passed while the clock jumped ahead or the process stalled',
    );
    assert.ok(matches.length >= 2);
  });

  it('fires in the time zone given', async () => {
    const { time, tasks, matches } = setup('Europe/Berlin');
    tasks.join('0 0 12 * * *', 'noon');
    tasks.start();
    await time.advance(4 * 60 * MINUTE);
    assert.deepEqual(
      matches.map((m) => m.matchMs),
      [Date.UTC(2026, 0, 5, 11)],
    );
    tasks.stop();
  });

  it('a task joined after stop() does not fire', async () => {
    const { time, tasks, matches } = setup();
    tasks.join('* * * * * *', 'a');
    tasks.start();
    tasks.stop();
    tasks.join('* * * * * *', 'b');
    await time.advance(5 * SECOND);
    assert.deepEqual(matches, []);
    tasks.stop();
  });

  it('what node-cron reports (a match handler that threw) goes to our log', async () => {
    const { time, tasks, logged, matches } = setup('UTC', () => {
      throw new Error('handler bug');
    });
    tasks.join('* * * * * *', 'a');
    tasks.start();
    await time.advance(2 * SECOND);
    assert.ok(matches.length >= 1);
    const reports = logged.filter((l) => l.fields.event === 'node_cron');
    assert.ok(reports.length >= 1, JSON.stringify(logged));
    assert.equal(reports[0]?.level, 'warn');
    assert.equal((reports[0]?.fields.err as Error | undefined)?.message, 'handler bug');
    assert.match(reports[0]?.msg ?? '', /handler bug/);
    tasks.stop();
  });
});
