import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';

/*
 * node-cron fires the schedules: one task per distinct expression, shared by the mailboxes
 * that use it (10,000 mailboxes on `*\/60 * * * * *` are one node-cron timer). What a
 * match is (fields, day of month and day of week, time zone, daylight saving) is
 * node-cron's, the parser the config is validated with. A late match (a busy event loop)
 * still fires while the next has not come (node-cron never runs it later); matches a clock
 * jumping ahead passed over are not replayed, but counted and logged. Tasks are unref'd.
 */

/**
 * The next `count` matches of `expr` from now (ms), as node-cron fires them; none when
 * node-cron cannot read the expression or finds no match within 100 years.
 */
export function nextMatches(expr: string, count: number, timezone?: string): number[] {
  try {
    const task = cron.createTask(expr, () => undefined, { timezone });
    try {
      return task.getNextRuns(count).map((date) => date.getTime());
    } finally {
      void task.destroy();
    }
  } catch {
    return [];
  }
}

interface Group<T> {
  task: ScheduledTask;
  readonly members: Set<T>;
  /** Matches passed over since the last one fired (logged with the next that fires). */
  missed: number;
}

export interface CronTasksOptions<T> {
  /** IANA zone for node-cron; default: the process's local time zone. */
  timezone?: string | undefined;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** A match: `nextMs` is the match after it (Infinity when node-cron finds none). */
  onMatch(members: ReadonlySet<T>, matchMs: number, nextMs: number): void;
}

export class CronTasks<T> {
  readonly #options: CronTasksOptions<T>;
  readonly #groups = new Map<string, Group<T>>();
  readonly #cronLogger: CronLogger;
  #running = false;

  constructor(options: CronTasksOptions<T>) {
    this.#options = options;
    // What node-cron itself would print (a task that threw: ours never throw) goes to our log.
    const warn = (m: string | Error, err?: Error) =>
      options.logger.warn({ event: 'node_cron', err: err ?? m }, String(m));
    this.#cronLogger = { info: warn, warn, error: warn, debug: () => {} };
  }

  /** Adds a member to the task of `expr`, creating it (started when we are) if needed. */
  join(expr: string, member: T): void {
    let group = this.#groups.get(expr);
    if (group === undefined) {
      group = this.#create(expr);
      this.#groups.set(expr, group);
      if (this.#running) void group.task.start();
    }
    group.members.add(member);
  }

  /** Removes a member; the task of an expression nobody uses any more is destroyed. */
  leave(expr: string, member: T): void {
    const group = this.#groups.get(expr);
    if (group === undefined || !group.members.delete(member) || group.members.size > 0) return;
    this.#groups.delete(expr);
    void group.task.destroy();
  }

  start(): void {
    this.#running = true;
    for (const group of this.#groups.values()) void group.task.start();
  }

  /** Destroys every task: no timer is left. */
  stop(): void {
    this.#running = false;
    for (const group of this.#groups.values()) void group.task.destroy();
    this.#groups.clear();
  }

  /** The time between the next two matches of `expr` from now; Infinity when there are none. */
  intervalMs(expr: string): number {
    const [first, second] = nextMatches(expr, 2, this.#options.timezone);
    return second === undefined ? Number.POSITIVE_INFINITY : second - (first as number);
  }

  #create(expr: string): Group<T> {
    const group = { members: new Set<T>(), missed: 0 } as Group<T>;
    group.task = cron.createTask(expr, ({ date }) => this.#fire(expr, group, date.getTime()), {
      timezone: this.#options.timezone,
      logger: this.#cronLogger,
      unref: true,
      missedExecutionTolerance: Number.MAX_SAFE_INTEGER,
    });
    group.task.on('execution:missed', () => {
      group.missed += 1;
    });
    return group;
  }

  #fire(expr: string, group: Group<T>, matchMs: number): void {
    // node-cron runs a match asynchronously: one may come after leave() or stop() destroyed it.
    if (this.#groups.get(expr) !== group) return;
    if (group.missed > 0) {
      this.#options.logger.info(
        { event: 'schedule_slots_missed', schedule: expr, missed: group.missed },
        'schedule matches passed while the clock jumped ahead or the process stalled',
      );
      group.missed = 0;
    }
    const next = nextMatches(expr, 1, this.#options.timezone)[0] ?? Number.POSITIVE_INFINITY;
    this.#options.onMatch(group.members, matchMs, next);
  }
}
