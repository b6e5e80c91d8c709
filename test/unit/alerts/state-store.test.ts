import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import {
  ALERT_STATE_FILE,
  createAlertStateStore,
  type PersistedAlertState,
  parseAlertState,
} from '../../../src/alerts/state-store.js';
import { JsonFileStore } from '../../../src/json-file-store.js';
import { T0 } from './helpers.js';

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pop3-monitor-state-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  n += 1;
  return join(root, `case-${n}`);
}

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const STATE: PersistedAlertState = {
  version: 1,
  mailboxes: [
    {
      mailbox: 'support',
      consecutive_failures: 0,
      consecutive_login_failures: 0,
      last_error: null,
      labels: { team: 'support' },
      instances: [
        {
          rule: 'backlog',
          mailbox: 'support',
          state: 'firing',
          active_since: T0,
          fired_at: T0 + 300_000,
          last_notified_at: T0 + 300_000,
          value: 150,
          severity: 'warning',
          metric: 'messages',
          op: '>',
          threshold: 100,
          description: null,
        },
      ],
    },
  ],
  batch: null,
  outgoing: [],
};

describe('JsonFileStore / alert state file', () => {
  test('saves and loads the same value, leaving no temporary file behind', async () => {
    const dir = await freshDir();
    const store = createAlertStateStore(dir);
    await store.save(STATE);
    assert.deepEqual(await readdir(dir), [ALERT_STATE_FILE]);
    assert.deepEqual(JSON.parse(await readFile(join(dir, ALERT_STATE_FILE), 'utf8')), STATE);
    assert.deepEqual(await createAlertStateStore(dir).load(), STATE);
  });

  test('a missing file loads as null', async () => {
    assert.equal(await createAlertStateStore(await freshDir()).load(), null);
  });

  test('saves issued together land in order: the last one stays', async () => {
    const dir = await freshDir();
    const store = createAlertStateStore(dir);
    const values = [1, 2, 3, 4, 5].map((i) => ({
      ...STATE,
      mailboxes: [],
      batch: { opened_at: i, entries: [] },
    }));
    await Promise.all(values.map((v) => store.save(v)));
    assert.equal((await store.load())?.batch?.opened_at, 5);
    assert.deepEqual(await readdir(dir), [ALERT_STATE_FILE]);
  });

  test('a file that is not JSON is moved aside and logged, and loads as null', async () => {
    const dir = await freshDir();
    const { logger, lines } = capturingLogger();
    const store = createAlertStateStore(dir, { logger, now: () => 1234 });
    await store.save(STATE);
    await writeFile(join(dir, ALERT_STATE_FILE), '{"version":1,"mailb');
    assert.equal(await store.load(), null);
    assert.deepEqual((await readdir(dir)).sort(), [`${ALERT_STATE_FILE}.corrupt-1234`]);
    assert.equal(
      await readFile(join(dir, `${ALERT_STATE_FILE}.corrupt-1234`), 'utf8'),
      '{"version":1,"mailb',
    );
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.event, 'state_file_corrupt');
    assert.equal(lines[0]?.level, 40);
    assert.equal(lines[0]?.moved_to, join(dir, `${ALERT_STATE_FILE}.corrupt-1234`));
    // The next save starts a new file.
    await store.save(STATE);
    assert.deepEqual(await store.load(), STATE);
  });

  test('JSON of the wrong shape (another version) counts as corrupt', async () => {
    const dir = await freshDir();
    const store = createAlertStateStore(dir, { now: () => 99 });
    await store.save(STATE);
    await writeFile(join(dir, ALERT_STATE_FILE), JSON.stringify({ ...STATE, version: 2 }));
    assert.equal(await store.load(), null);
    assert.deepEqual(await readdir(dir), [`${ALERT_STATE_FILE}.corrupt-99`]);
  });

  test('parseAlertState rejects an unknown instance state and a non-numeric time', () => {
    const bad = structuredClone(STATE) as unknown as {
      mailboxes: { instances: Record<string, unknown>[] }[];
    };
    const instance = bad.mailboxes[0]?.instances[0] as Record<string, unknown>;
    instance.state = 'exploded';
    assert.throws(() => parseAlertState(bad));
    instance.state = 'firing';
    instance.fired_at = 'yesterday';
    assert.throws(() => parseAlertState(bad));
    instance.fired_at = T0;
    assert.equal(parseAlertState(bad).mailboxes[0]?.instances[0]?.fired_at, T0);
  });

  test('a generic store validates with the parse function it was given', async () => {
    const dir = await freshDir();
    const path = join(dir, 'n.json');
    const store = new JsonFileStore<number>({
      path,
      parse: (raw) => {
        if (typeof raw !== 'number') throw new Error('not a number');
        return raw;
      },
      now: () => 7,
    });
    await store.save(42);
    assert.equal(await store.load(), 42);
    await writeFile(path, '"text"');
    assert.equal(await store.load(), null);
    assert.deepEqual(await readdir(dir), ['n.json.corrupt-7']);
  });
});
