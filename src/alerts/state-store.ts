/**
 * Alert state on disk: one JSON file under state_dir, replaced atomically (write a
 * temporary file, fsync it, rename it over the old one, fsync the directory), so a crash
 * leaves either the old or the new state, never half of one. A file that does not parse
 * or does not match the schema is logged and moved aside (`<file>.corrupt-<ms>`); the
 * engine then starts empty instead of refusing to start.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { RULE_METRICS, RULE_OPS, SEVERITIES } from '../config/schema.js';
import type { Logger } from '../log.js';
import { REASONS } from '../pop3/errors.js';
import type { BatchData } from './batch.js';
import type { MailboxAlertState } from './rules.js';
import type { Notification } from './types.js';

export interface StateStore<T> {
  /** The stored value, or null when there is none (or it was corrupt and moved aside). */
  load(): Promise<T | null>;
  save(value: T): Promise<void>;
}

export type StoreLogger = Pick<Logger, 'warn'>;

export interface JsonFileStoreOptions<T> {
  path: string;
  /** Validates the parsed JSON; throws when it is not a T. */
  parse(raw: unknown): T;
  logger?: StoreLogger;
  /** For the name of a moved-aside file. */
  now?: () => number;
}

export class JsonFileStore<T> implements StateStore<T> {
  readonly path: string;
  readonly #parse: (raw: unknown) => T;
  readonly #logger: StoreLogger | undefined;
  readonly #now: () => number;
  #seq = 0;
  #saving: Promise<void> = Promise.resolve();

  constructor(opts: JsonFileStoreOptions<T>) {
    this.path = opts.path;
    this.#parse = opts.parse;
    this.#logger = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /** Rejects only when the file exists but cannot be read (permissions, I/O). */
  async load(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return this.#parse(JSON.parse(text));
    } catch (err) {
      const movedTo = `${this.path}.corrupt-${this.#now()}`;
      try {
        await rename(this.path, movedTo);
        this.#logger?.warn(
          { event: 'state_file_corrupt', path: this.path, moved_to: movedTo, error: describe(err) },
          'state file is corrupt; moved aside, starting empty',
        );
      } catch (renameErr) {
        this.#logger?.warn(
          {
            event: 'state_file_corrupt',
            path: this.path,
            moved_to: null,
            error: describe(renameErr),
          },
          'state file is corrupt and could not be moved aside; it will be overwritten',
        );
      }
      return null;
    }
  }

  /** Saves run one after another, so the last call's value is what stays on disk. */
  save(value: T): Promise<void> {
    const text = `${JSON.stringify(value)}\n`;
    const run = this.#saving.then(() => this.#write(text));
    this.#saving = run.catch(() => undefined);
    return run;
  }

  async #write(text: string): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    this.#seq += 1;
    const tmp = join(dir, `.${basename(this.path)}.tmp-${process.pid}-${this.#seq}`);
    try {
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await syncDirectory(dir);
  }
}

/** Makes the rename itself durable; some platforms cannot fsync a directory, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms without directory fsync.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- the alert engine's file ----

/** What the alert engine keeps across restarts. */
export interface PersistedAlertState {
  version: 1;
  /** Mailboxes with something to remember (counters above 0 or pending/firing instances). */
  mailboxes: MailboxAlertState[];
  /** The open group_wait batch, if any. */
  batch: BatchData | null;
  /** Notifications made but not yet handed to `emit`. */
  outgoing: Notification[];
}

export const ALERT_STATE_FILE = 'alerts-state.json';

const time = z.number().finite();
const count = z.number().int().min(0);
const labels = z.record(z.string(), z.string());
const lastError = z.object({ code: z.enum(REASONS), message: z.string() }).nullable();

/** A loop's or a watch's name, beside the mailbox (rules.ts MailboxAlertState). */
const flowIdentity = { loop: z.string().min(1).optional(), expect: z.string().min(1).optional() };

const instanceSchema = z.object({
  rule: z.string().min(1),
  mailbox: z.string().min(1),
  ...flowIdentity,
  state: z.enum(['inactive', 'pending', 'firing']),
  active_since: time.nullable(),
  fired_at: time.nullable(),
  last_notified_at: time.nullable(),
  value: z.number().nullable(),
  severity: z.enum(SEVERITIES),
  metric: z.enum(RULE_METRICS),
  op: z.enum(RULE_OPS),
  threshold: z.number(),
  description: z.string().nullable(),
});

const mailboxSchema = z.object({
  mailbox: z.string().min(1),
  ...flowIdentity,
  consecutive_failures: count,
  consecutive_login_failures: count,
  last_error: lastError,
  labels,
  instances: z.array(instanceSchema),
});

const snapshotSchema = z.object({
  rule: z.string().min(1),
  mailbox: z.string().min(1),
  ...flowIdentity,
  severity: z.enum(SEVERITIES),
  status: z.enum(['firing', 'resolved']),
  metric: z.enum(RULE_METRICS),
  op: z.enum(RULE_OPS),
  threshold: z.number(),
  value: z.number().nullable(),
  active_since: time,
  fired_at: time,
  resolved_at: time.nullable(),
  last_error: lastError,
  description: z.string().nullable(),
  labels,
});

const notificationSchema = z.object({
  id: z.string().min(1),
  created_at: time,
  status: z.enum(['firing', 'resolved']),
  cause: z.enum(['change', 'repeat']),
  alerts: z.array(snapshotSchema),
});

const persistedSchema = z.object({
  version: z.literal(1),
  mailboxes: z.array(mailboxSchema),
  batch: z
    .object({
      opened_at: time,
      entries: z.array(
        z.object({
          kind: z.enum(['firing', 'resolved', 'repeat']),
          snapshot: snapshotSchema,
          notified_firing: z.boolean(),
        }),
      ),
    })
    .nullable(),
  outgoing: z.array(notificationSchema),
});

export function parseAlertState(raw: unknown): PersistedAlertState {
  return persistedSchema.parse(raw);
}

export function createAlertStateStore(
  stateDir: string,
  opts: { logger?: StoreLogger; now?: () => number } = {},
): JsonFileStore<PersistedAlertState> {
  return new JsonFileStore({
    path: join(stateDir, ALERT_STATE_FILE),
    parse: parseAlertState,
    ...opts,
  });
}
