import { join } from 'node:path';
import { z } from 'zod';
import { JsonFileStore, type StateStore, type StoreLogger } from '../json-file-store.js';
import { REASONS } from '../pop3/errors.js';
import type { WatchState } from './expect-watch.js';
import type { LoopState } from './loop-state.js';

/**
 * Mail flow on disk, under state_dir: one file with every loop's pending probe messages
 * and every watch's last match (small, saved after each change), and one file per scanned
 * mailbox with the UIDLs whose headers were read (as large as the mailbox). Both are
 * replaced atomically by JsonFileStore; a corrupt file is moved aside and starts empty.
 */

export interface FlowState {
  version: 1;
  loops: Record<string, LoopState>;
  /** By watchKey(mailbox, name). */
  watches: Record<string, WatchState>;
}

export interface SeenUids {
  version: 1;
  uids: string[];
}

export const FLOW_STATE_FILE = 'flow-state.json';
const SEEN_DIR = 'flow-seen';

export function watchKey(mailbox: string, name: string): string {
  return `${mailbox}/${name}`;
}

const time = z.number().finite();
const count = z.number().int().min(0);

const loopStateSchema = z.object({
  next_seq: z.number().int().min(1),
  pending: z.array(
    z.object({
      seq: z.number().int().min(1),
      sent_at: time,
      accepted_at: time.nullable(),
      deadline_at: time,
      confirmed: z.boolean(),
    }),
  ),
  lost_in_a_row: count,
  last_delivery_seconds: z.number().min(0).nullable(),
  last_success_at: time.nullable(),
  last_error: z.object({ code: z.enum(REASONS), message: z.string() }).nullable(),
  lost_recently: z.array(z.object({ seq: z.number().int().min(1), from: time })),
});

const flowStateSchema = z.object({
  version: z.literal(1),
  loops: z.record(z.string(), loopStateSchema),
  watches: z.record(z.string(), z.object({ last_match_at: time.nullable(), since: time })),
});

const seenSchema = z.object({ version: z.literal(1), uids: z.array(z.string()) });

export function createFlowStateStore(
  stateDir: string,
  logger?: StoreLogger,
): StateStore<FlowState> {
  return new JsonFileStore({
    path: join(stateDir, FLOW_STATE_FILE),
    parse: (raw) => flowStateSchema.parse(raw),
    ...(logger === undefined ? {} : { logger }),
  });
}

/** The file of one mailbox's read UIDLs; its name is the mailbox name, percent-encoded. */
export function createSeenStore(
  stateDir: string,
  mailbox: string,
  logger?: StoreLogger,
): StateStore<SeenUids> {
  return new JsonFileStore({
    path: join(stateDir, SEEN_DIR, `${encodeURIComponent(mailbox)}.json`),
    parse: (raw) => seenSchema.parse(raw),
    ...(logger === undefined ? {} : { logger }),
  });
}
