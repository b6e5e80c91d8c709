/**
 * Alert state on disk: one JSON file under state_dir (a JsonFileStore: atomic replace, a
 * corrupt file moved aside and the engine started empty).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { RULE_METRICS, RULE_OPS, SEVERITIES } from '../config/schema.js';
import { JsonFileStore, type StoreLogger } from '../json-file-store.js';
import { REASONS } from '../pop3/errors.js';
import type { BatchData } from './batch.js';
import type { MailboxAlertState } from './rules.js';
import type { Notification } from './types.js';

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
