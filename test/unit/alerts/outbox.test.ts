import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  type NotifierLogger,
  Outbox,
  type OutboxOptions,
  SendError,
  type Sender,
} from '../../../src/alerts/outbox.js';
import { outboxItemId, parseItemFile } from '../../../src/alerts/outbox-file.js';
import type { Channel, Notification } from '../../../src/alerts/types.js';
import { FakeClock } from '../../fixtures/fake-clock.js';
import { notification, T0 } from '../../fixtures/sample-notifications.js';

type Outcome = 'ok' | 'temporary' | 'permanent' | 'plain-error' | 'hang';

/** A sender that records every call and answers from a script (then with `fallback`). */
class ScriptedSender implements Sender {
  readonly calls: { id: string; at: number }[] = [];
  readonly script: Outcome[];
  fallback: Outcome;

  constructor(
    readonly channel: Channel,
    readonly clock: FakeClock,
    script: Outcome[] = [],
    fallback: Outcome = 'ok',
  ) {
    this.script = [...script];
    this.fallback = fallback;
  }

  send(n: Notification): Promise<void> {
    this.calls.push({ id: n.id, at: this.clock.now() });
    const outcome = this.script.shift() ?? this.fallback;
    switch (outcome) {
      case 'ok':
        return Promise.resolve();
      case 'hang':
        return new Promise<void>(() => {});
      case 'plain-error':
        return Promise.reject(new Error('socket hang up'));
      default:
        return Promise.reject(new SendError(outcome, `${outcome} failure of ${n.id}`));
    }
  }

  ids(): string[] {
    return this.calls.map((c) => c.id);
  }
}

interface LogEntry {
  level: string;
  obj: Record<string, unknown>;
}

function recordingLogger(): NotifierLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: string) => (obj: Record<string, unknown>) => {
    entries.push({ level, obj });
  };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Waits for file-system work started by the outbox (not for a schedule: time is the FakeClock's). */
async function until(what: string, predicate: () => boolean | Promise<boolean>): Promise<void> {
  const giveUp = Date.now() + 5000;
  while (!(await predicate())) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for: ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

let dir: string;
let clock: FakeClock;
const opened: Outbox[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outbox-test-'));
  clock = new FakeClock(T0);
});

afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
  await rm(dir, { recursive: true, force: true });
});

async function openOutbox(senders: Sender[], extra: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = new Outbox({ dir, clock, senders, random: () => 0.5, ...extra });
  opened.push(outbox);
  await outbox.open();
  return outbox;
}

async function files(sub = ''): Promise<string[]> {
  return (await readdir(join(dir, sub))).sort();
}

const fileOf = (channel: Channel, id: string): string => `${outboxItemId(channel, id)}.json`;

describe('backoffDelay', () => {
  test('doubles from initialMs up to maxMs, with random() = 0.5 meaning no jitter', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) =>
      backoffDelay(n, false, DEFAULT_BACKOFF, () => 0.5),
    );
    assert.deepEqual(
      delays,
      [5000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000],
    );
  });

  test('jitter scales the delay within ±jitter', () => {
    assert.equal(
      backoffDelay(1, false, DEFAULT_BACKOFF, () => 0),
      4000,
    );
    assert.equal(
      backoffDelay(2, false, DEFAULT_BACKOFF, () => 0.75),
      11_000,
    );
    assert.equal(
      backoffDelay(9, false, DEFAULT_BACKOFF, () => 0.999),
      719_760,
    );
  });

  test('a permanent failure waits the maximum whatever the attempt count', () => {
    assert.equal(
      backoffDelay(1, true, DEFAULT_BACKOFF, () => 0.5),
      600_000,
    );
    assert.equal(
      backoffDelay(1, true, DEFAULT_BACKOFF, () => 0),
      480_000,
    );
  });
});

describe('Outbox', () => {
  test('enqueue has the item on disk, fsynced and renamed, when it resolves', async () => {
    const sender = new ScriptedSender('email', clock, [], 'hang');
    const outbox = await openOutbox([sender]);
    await outbox.enqueue(notification('n1'));
    assert.deepEqual(await files(), [fileOf('email', 'n1')]);
    const parsed = parseItemFile(await readFile(join(dir, fileOf('email', 'n1')), 'utf8'));
    assert.ok(parsed);
    assert.deepEqual(parsed.item, {
      id: outboxItemId('email', 'n1'),
      channel: 'email',
      notification: notification('n1'),
      created_at: T0,
      attempts: 0,
      next_attempt_at: T0,
      last_error: null,
    });
    assert.equal(outbox.pending(), 1);
    assert.deepEqual(sender.ids(), ['n1']);
  });

  test('a delivered item is removed from disk and reported', async () => {
    const sender = new ScriptedSender('email', clock);
    const changes: number[] = [];
    const results: string[] = [];
    const outbox = await openOutbox([sender], {
      onChange: (p) => changes.push(p),
      onResult: (ch, r) => results.push(`${ch}:${r}`),
    });
    await outbox.enqueue(notification('n1'));
    await until('sent', async () => results.length === 1 && (await files()).length === 0);
    assert.deepEqual(results, ['email:sent']);
    assert.deepEqual(changes, [0, 1, 0]);
    assert.equal(outbox.pending(), 0);
  });

  test('a failing item is retried on the exact backoff schedule and stays on disk', async () => {
    const sender = new ScriptedSender('email', clock, [], 'plain-error');
    const results: string[] = [];
    const outbox = await openOutbox([sender], { onResult: (_c, r) => results.push(r) });
    await outbox.enqueue(notification('n1'));
    const expected = [5000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000];
    for (const [i, delay] of expected.entries()) {
      await until(
        `failure ${i + 1} recorded and retry armed`,
        () => results.length === i + 1 && clock.pending() === 1,
      );
      await clock.advance(delay - 1);
      assert.equal(sender.calls.length, i + 1, `no attempt 1 ms before retry ${i + 1}`);
      await clock.advance(1);
      assert.equal(sender.calls.length, i + 2, `retry ${i + 1} after ${delay} ms`);
    }
    const gaps = sender.calls.slice(1).map((c, i) => c.at - (sender.calls[i] as { at: number }).at);
    assert.deepEqual(gaps, expected);
    await until('last failure written', async () => {
      const parsed = parseItemFile(await readFile(join(dir, fileOf('email', 'n1')), 'utf8'));
      return parsed?.item.attempts === 10;
    });
    const parsed = parseItemFile(await readFile(join(dir, fileOf('email', 'n1')), 'utf8'));
    assert.equal(parsed?.item.last_error, 'socket hang up');
    assert.equal(parsed?.item.next_attempt_at, clock.now() + 600_000);
    assert.equal(outbox.pending(), 1);
  });

  test('items written before a crash are sent after a restart on the same directory', async () => {
    const dying = new ScriptedSender('email', clock, [], 'hang');
    const first = new Outbox({ dir, clock, senders: [dying] });
    await first.open();
    await first.enqueue(notification('n1', undefined, { created_at: T0 }));
    await first.enqueue(notification('n2', undefined, { created_at: T0 + 1 }));
    // The process dies here: no close(), the first send never returns.
    const sender = new ScriptedSender('email', clock);
    const changes: number[] = [];
    await openOutbox([sender], { onChange: (p) => changes.push(p) });
    await until('both sent and removed', async () => (await files()).length === 0);
    assert.deepEqual(sender.ids(), ['n1', 'n2']);
    assert.deepEqual(changes, [2, 1, 0]);
  });

  test('a process SIGKILLed right after enqueue resolved leaves the item for the next start', async () => {
    const outboxModule = new URL('../../../src/alerts/outbox.ts', import.meta.url).href;
    const script = [
      `import { Outbox } from ${JSON.stringify(outboxModule)};`,
      'const clock = { now: () => Date.now(), setTimeout: () => ({ unref() {} }), clearTimeout: () => {} };',
      "const hang = { channel: 'email', send: () => new Promise(() => {}) };",
      'const outbox = new Outbox({ dir: process.argv[1], clock, senders: [hang] });',
      'await outbox.open();',
      "await outbox.enqueue({ id: 'killed', created_at: 1, status: 'firing', cause: 'change', alerts: [] });",
      "process.stdout.write('enqueued\\n');",
      'setInterval(() => {}, 60_000);',
    ].join('\n');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, dir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('enqueued')) child.kill('SIGKILL');
    });
    const [code, signal] = await once(child, 'exit');
    assert.deepEqual([code, signal, out], [null, 'SIGKILL', 'enqueued\n']);
    const sender = new ScriptedSender('email', clock);
    await openOutbox([sender]);
    await until('sent after restart', async () => (await files()).length === 0);
    assert.deepEqual(sender.ids(), ['killed']);
  });

  test('the same notification id enqueued twice is one item, and none after delivery', async () => {
    const sender = new ScriptedSender('email', clock, ['hang']);
    const outbox = await openOutbox([sender]);
    await Promise.all([outbox.enqueue(notification('n1')), outbox.enqueue(notification('n1'))]);
    await outbox.enqueue(notification('n1'));
    assert.deepEqual(await files(), [fileOf('email', 'n1')]);
    assert.equal(outbox.pending(), 1);
    assert.deepEqual(sender.ids(), ['n1']);

    const results: string[] = [];
    const second = await openOutbox([new ScriptedSender('email', clock)], {
      onResult: (_c, r) => results.push(r),
    });
    await until('delivered by the second outbox', () => results.length === 1);
    await second.enqueue(notification('n1'));
    assert.equal(second.pending(), 0);
    assert.deepEqual(await files(), []);
  });

  test('a temporary failure holds back the later items of its channel: they go in order', async () => {
    const sender = new ScriptedSender('email', clock, ['temporary']);
    const results: string[] = [];
    const outbox = await openOutbox([sender], { onResult: (_c, r) => results.push(r) });
    await outbox.enqueue(notification('n1'));
    await outbox.enqueue(notification('n2'));
    await outbox.enqueue(notification('n3'));
    await until('first failure', () => results.length === 1 && clock.pending() === 1);
    assert.deepEqual(sender.ids(), ['n1']);
    await clock.advance(5000);
    await until('all sent', () => results.length === 4);
    assert.deepEqual(sender.ids(), ['n1', 'n1', 'n2', 'n3']);
    assert.deepEqual(results, ['failed', 'sent', 'sent', 'sent']);
  });

  test('a permanent failure is parked at the maximum backoff, logged at error, and lets later items pass', async () => {
    const sender = new ScriptedSender('email', clock, ['permanent', 'ok', 'permanent']);
    const logger = recordingLogger();
    const results: string[] = [];
    const outbox = await openOutbox([sender], { logger, onResult: (_c, r) => results.push(r) });
    await outbox.enqueue(notification('n1'));
    await outbox.enqueue(notification('n2'));
    await until('n1 failed, n2 sent', () => results.length === 2 && clock.pending() === 1);
    assert.deepEqual(sender.ids(), ['n1', 'n2']);
    await clock.advance(599_999);
    assert.equal(sender.calls.length, 2);
    await clock.advance(1);
    await until('second failure', () => results.length === 3 && clock.pending() === 1);
    assert.deepEqual(
      sender.calls.map((c) => [c.id, c.at - T0]),
      [
        ['n1', 0],
        ['n2', 0],
        ['n1', 600_000],
      ],
    );
    const errors = logger.entries.filter((e) => e.level === 'error');
    assert.deepEqual(
      errors.map((e) => [e.obj.event, e.obj.attempts, e.obj.failure, e.obj.retry_in_ms]),
      [
        ['alert_notification_failed', 1, 'permanent', 600_000],
        ['alert_notification_failed', 2, 'permanent', 600_000],
      ],
    );
    assert.deepEqual(await files(), [fileOf('email', 'n1')]);
  });

  test('each configured channel gets its own item', async () => {
    const email = new ScriptedSender('email', clock, [], 'hang');
    const am = new ScriptedSender('alertmanager', clock, [], 'hang');
    const outbox = await openOutbox([email, am]);
    await outbox.enqueue(notification('n1'));
    assert.deepEqual(await files(), [fileOf('alertmanager', 'n1'), fileOf('email', 'n1')].sort());
    assert.equal(outbox.pending(), 2);
    assert.deepEqual([email.ids(), am.ids()], [['n1'], ['n1']]);
  });

  test('open quarantines an unreadable item, removes leftover tmp files and sends the rest', async () => {
    const first = new Outbox({
      dir,
      clock,
      senders: [new ScriptedSender('email', clock, [], 'hang')],
    });
    await first.open();
    await first.enqueue(notification('good'));
    await first.close();
    const corrupt = fileOf('email', 'bad');
    await writeFile(join(dir, corrupt), '{"format":1,"seq":2,"item":{"id":');
    // What writeFileAtomic leaves when the process dies between its write and its rename.
    await writeFile(join(dir, `.${fileOf('email', 'half')}.tmp-4242-7`), '{"format":1');
    const logger = recordingLogger();
    const sender = new ScriptedSender('email', clock);
    await openOutbox([sender], { logger });
    await until('good sent', async () => (await files()).length === 1);
    assert.deepEqual(await files(), ['corrupt']);
    assert.deepEqual(await files('corrupt'), [corrupt]);
    assert.deepEqual(sender.ids(), ['good']);
    assert.deepEqual(
      logger.entries.filter((e) => e.level === 'error').map((e) => [e.obj.event, e.obj.file]),
      [['outbox_corrupt_file', corrupt]],
    );
  });

  test('items of a channel that is no longer configured stay on disk untouched', async () => {
    const first = new Outbox({
      dir,
      clock,
      senders: [new ScriptedSender('alertmanager', clock, [], 'hang')],
    });
    await first.open();
    await first.enqueue(notification('n1'));
    await first.close();
    const logger = recordingLogger();
    const outbox = await openOutbox([new ScriptedSender('email', clock)], { logger });
    assert.equal(outbox.pending(), 0);
    assert.deepEqual(await files(), [fileOf('alertmanager', 'n1')]);
    assert.deepEqual(
      logger.entries.filter((e) => e.level === 'warn').map((e) => [e.obj.event, e.obj.count]),
      [['outbox_orphans', 1]],
    );
  });

  test('drain tries pending items at once, ignoring backoff; failures stay on disk', async () => {
    const email = new ScriptedSender('email', clock, ['temporary', 'ok']);
    const am = new ScriptedSender('alertmanager', clock, [], 'temporary');
    const results: string[] = [];
    const outbox = await openOutbox([email, am], { onResult: (c, r) => results.push(`${c}:${r}`) });
    await outbox.enqueue(notification('n1'));
    await until('both failed once', () => results.length === 2 && clock.pending() === 2);
    await outbox.drain(10_000);
    assert.deepEqual(
      email.calls.map((c) => c.at - T0),
      [0, 0],
    );
    assert.deepEqual(
      am.calls.map((c) => c.at - T0),
      [0, 0],
    );
    assert.deepEqual(await files(), [fileOf('alertmanager', 'n1')]);
    assert.equal(outbox.pending(), 1);
  });

  test('drain gives up after its timeout while a send hangs', async () => {
    const sender = new ScriptedSender('email', clock, ['temporary', 'hang']);
    const results: string[] = [];
    const outbox = await openOutbox([sender], { onResult: (_c, r) => results.push(r) });
    await outbox.enqueue(notification('n1'));
    await until('failed once', () => results.length === 1 && clock.pending() === 1);
    let drained = false;
    const draining = outbox.drain(3000).then(() => {
      drained = true;
    });
    await until('drain attempt started', () => sender.calls.length === 2);
    await clock.advance(2999);
    assert.equal(drained, false);
    await clock.advance(1);
    await draining;
    assert.equal(drained, true);
    assert.deepEqual(await files(), [fileOf('email', 'n1')]);
  });

  test('close clears the retry timer and leaves items on disk', async () => {
    const sender = new ScriptedSender('email', clock, [], 'temporary');
    const results: string[] = [];
    const outbox = await openOutbox([sender], { onResult: (_c, r) => results.push(r) });
    await outbox.enqueue(notification('n1'));
    await until('failed once', () => results.length === 1 && clock.pending() === 1);
    await outbox.close();
    assert.equal(clock.pending(), 0);
    await clock.advance(3_600_000);
    assert.equal(sender.calls.length, 1);
    assert.deepEqual(await files(), [fileOf('email', 'n1')]);
    await assert.rejects(outbox.enqueue(notification('n2')), /after close/);
  });

  test('above maxItems enqueue warns and still writes every item', async () => {
    const logger = recordingLogger();
    const outbox = await openOutbox([new ScriptedSender('email', clock, [], 'hang')], {
      logger,
      maxItems: 1,
    });
    await outbox.enqueue(notification('n1'));
    await outbox.enqueue(notification('n2'));
    await outbox.enqueue(notification('n3'));
    assert.equal(outbox.pending(), 3);
    assert.equal((await files()).length, 3);
    assert.deepEqual(
      logger.entries.filter((e) => e.level === 'warn').map((e) => [e.obj.event, e.obj.pending]),
      [
        ['outbox_over_limit', 2],
        ['outbox_over_limit', 3],
      ],
    );
  });
});

describe('Outbox.close(waitMs)', () => {
  test('waits for a send under way, so a new outbox on the directory cannot send it again', async () => {
    let finish: () => void = () => {};
    const slow: Sender = {
      channel: 'email',
      send: () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
    };
    const outbox = await openOutbox([slow]);
    await outbox.enqueue(notification('n1'));
    await until('the send started', () => finish.toString() !== '() => {}');
    let closed = false;
    const closing = outbox.close(60_000).then(() => {
      closed = true;
    });
    await clock.advance(59_999);
    assert.equal(closed, false, 'close() returned while the send was still under way');
    finish();
    await closing;
    assert.equal(closed, true);
    await until('the delivered item is gone', async () => (await files()).length === 0);
  });

  test('gives up waiting after waitMs', async () => {
    const outbox = await openOutbox([new ScriptedSender('email', clock, [], 'hang')]);
    await outbox.enqueue(notification('n2'));
    let closed = false;
    const closing = outbox.close(100).then(() => {
      closed = true;
    });
    await clock.advance(99);
    assert.equal(closed, false, 'close() gave up before waitMs');
    await clock.advance(1);
    await closing;
    assert.equal(closed, true);
    assert.deepEqual(await files(), [fileOf('email', 'n2')]);
  });
});
