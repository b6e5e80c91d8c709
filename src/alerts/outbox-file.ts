import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isAtomicTemp, writeFileAtomic } from '../atomic-file.js';
import type { NotifierLogger } from './sender.js';
import type { Channel, Notification } from './types.js';

/** The on-disk form of one outbox item: what is in it, how it is written and read back. */

export const FILE_FORMAT = 1;
/** Where unreadable item files are moved, inside the outbox directory. */
export const QUARANTINE_DIR = 'corrupt';

export interface OutboxItem {
  /** `${channel}-${sha256(notification.id) prefix}`; also the file name. */
  id: string;
  channel: Channel;
  notification: Notification;
  /** When it was enqueued (ms since the epoch). */
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

export interface ItemFile {
  format: number;
  /** Enqueue order, persisted: it survives restarts and wall-clock steps. */
  seq: number;
  item: OutboxItem;
}

const CHANNELS: readonly Channel[] = ['email', 'alertmanager'];

/** Item id and file stem: the channel and a hash of the notification id (ids may hold any character). */
export function outboxItemId(channel: Channel, notificationId: string): string {
  return `${channel}-${createHash('sha256').update(notificationId).digest('hex').slice(0, 40)}`;
}

export function itemFileName(id: string): string {
  return `${id}.json`;
}

/** After a crash the file is either the old version, the new one, or a temp file to delete. */
export function writeItemFile(dir: string, body: ItemFile): Promise<void> {
  return writeFileAtomic(join(dir, itemFileName(body.item.id)), JSON.stringify(body));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Returns null for anything this code did not write (truncated, edited, other format). */
export function parseItemFile(text: string): ItemFile | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(data) || data.format !== FILE_FORMAT || !isFiniteNumber(data.seq)) return null;
  const item = data.item;
  if (!isRecord(item)) return null;
  const n = item.notification;
  const valid =
    typeof item.id === 'string' &&
    CHANNELS.includes(item.channel as Channel) &&
    isFiniteNumber(item.created_at) &&
    isFiniteNumber(item.attempts) &&
    isFiniteNumber(item.next_attempt_at) &&
    (item.last_error === null || typeof item.last_error === 'string') &&
    isRecord(n) &&
    typeof n.id === 'string' &&
    isFiniteNumber(n.created_at) &&
    (n.status === 'firing' || n.status === 'resolved') &&
    Array.isArray(n.alerts) &&
    n.alerts.every(isRecord);
  if (!valid) return null;
  if (item.id !== outboxItemId(item.channel as Channel, n.id as string)) return null;
  return { format: FILE_FORMAT, seq: data.seq, item: item as unknown as OutboxItem };
}

/**
 * Creates the directory and reads every item file in it, sorted by seq. Leftover temp
 * files are deleted: a crash interrupted their write before the rename, so either enqueue
 * never resolved or the previous version of the item is still in place. Unreadable files
 * are moved to QUARANTINE_DIR (never deleted: a human may want them).
 */
export async function loadItemFiles(
  dir: string,
  logger: NotifierLogger | undefined,
): Promise<{ items: ItemFile[] }> {
  await mkdir(dir, { recursive: true });
  const items: ItemFile[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    if (isAtomicTemp(name)) {
      await unlink(path).catch(() => undefined);
      logger?.info(
        { event: 'outbox_tmp_removed', file: name },
        'outbox: leftover tmp file removed',
      );
      continue;
    }
    if (!name.endsWith('.json')) continue;
    const parsed = await readFile(path, 'utf8')
      .then(parseItemFile)
      .catch(() => null);
    if (parsed === null || itemFileName(parsed.item.id) !== name) {
      await quarantine(dir, name, logger);
      continue;
    }
    items.push(parsed);
  }
  items.sort((a, b) => a.seq - b.seq);
  return { items };
}

async function quarantine(
  dir: string,
  name: string,
  logger: NotifierLogger | undefined,
): Promise<void> {
  const target = join(dir, QUARANTINE_DIR);
  try {
    await mkdir(target, { recursive: true });
    await rename(join(dir, name), join(target, name));
    logger?.error(
      { event: 'outbox_corrupt_file', file: name, moved_to: join(QUARANTINE_DIR, name) },
      'outbox: unreadable item quarantined',
    );
  } catch (err) {
    logger?.error(
      {
        event: 'outbox_corrupt_file',
        file: name,
        err,
      },
      'outbox: unreadable item could not be quarantined; ignored',
    );
  }
}
