import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory } from '../atomic-file.js';
import { type Clock, type TimerHandle, timerDelay } from '../clock.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import {
  FILE_FORMAT,
  itemFileName,
  loadItemFiles,
  type OutboxItem,
  outboxItemId,
  writeItemFile,
} from './outbox-file.js';
import { isSendError, type NotifierLogger, type SendErrorCode, type Sender } from './sender.js';
import type { Channel, Notification } from './types.js';

export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export type { OutboxItem } from './outbox-file.js';
export {
  isSendError,
  type NotifierLogger,
  SEND_ERROR_CODES,
  SendError,
  type SendErrorCode,
  type Sender,
} from './sender.js';

/**
 * The durable queue between "an alert changed state" and "a notifier delivered it".
 *
 * One JSON file per (notification, channel) in `dir`. A file is written with
 * write-tmp / fsync / rename / fsync-dir before `enqueue` resolves, and removed only after
 * the sender resolved, so a crash at any point leaves the item on disk or delivered
 * (at-least-once; the stable Message-ID lets a reader recognise a duplicate).
 *
 * Per channel the items are sent one at a time in enqueue order (a persisted sequence
 * number, so the order survives restarts and wall-clock steps; it is created_at order
 * while the clock runs forward). So at most one send per channel is in flight, which
 * bounds concurrency at the number of senders. A temporarily failing item holds back the
 * later ones of its channel (they would fail the same way, and a resolved notice must not
 * overtake its firing notice); a permanently failing one is parked at the maximum backoff,
 * logged at error on every attempt, and does not block the others.
 *
 * Nothing is ever dropped: beyond `maxItems` each enqueue logs a warning and still writes.
 * A sender must bound its own time (SMTP and HTTP timeouts): a send that never settles
 * holds its channel. One Outbox per directory: two processes on one state_dir would both
 * send every item.
 */

export interface OutboxOptions {
  /** Usually `${state_dir}/outbox`. */
  dir: string;
  clock: Clock;
  senders: Sender[];
  random?: () => number;
  backoff?: BackoffOptions;
  /** Called with the number of pending items whenever it changes (the outbox gauge). */
  onChange?(pending: number): void;
  /** Called after every attempt (the notifications counter). */
  onResult?(channel: Channel, result: 'sent' | 'failed'): void;
  logger?: NotifierLogger;
  /** Above this many pending items a warning is logged on each enqueue; nothing is dropped. */
  maxItems?: number;
}

const MAX_ERROR_LENGTH = 1000;
/** Delivered ids remembered so a repeated enqueue of the same notification is a no-op. */
const DELIVERED_MEMORY = 1024;

interface Entry {
  item: OutboxItem;
  /** Enqueue order, persisted: it survives restarts and wall-clock steps. */
  seq: number;
  lastFailure: SendErrorCode | null;
}

interface ChannelQueue {
  sender: Sender;
  /** Sorted by seq. */
  entries: Entry[];
  inFlight: Promise<void> | null;
  timer: TimerHandle | null;
  /** Enqueue writes in progress: sending waits for them so a later item never overtakes an earlier one. */
  writes: number;
}

export class Outbox {
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #backoff: BackoffOptions;
  readonly #onChange: ((pending: number) => void) | undefined;
  readonly #onResult: ((channel: Channel, result: 'sent' | 'failed') => void) | undefined;
  readonly #logger: NotifierLogger | undefined;
  readonly #maxItems: number;
  readonly #queues = new Map<Channel, ChannelQueue>();
  /** Every queued entry by item id. */
  readonly #index = new Map<string, Entry>();
  /** Items being written by enqueue, so a concurrent enqueue of the same id waits for the same write. */
  readonly #writing = new Map<string, Promise<void>>();
  readonly #delivered = new Set<string>();
  #nextSeq = 1;
  #state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  #draining = false;

  constructor(opts: OutboxOptions) {
    this.#dir = opts.dir;
    this.#clock = opts.clock;
    this.#random = opts.random ?? Math.random;
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.#onChange = opts.onChange;
    this.#onResult = opts.onResult;
    this.#logger = opts.logger;
    this.#maxItems = opts.maxItems ?? 10_000;
    for (const sender of opts.senders) {
      if (this.#queues.has(sender.channel)) {
        throw new Error(`outbox: two senders for channel ${sender.channel}`);
      }
      this.#queues.set(sender.channel, {
        sender,
        entries: [],
        inFlight: null,
        timer: null,
        writes: 0,
      });
    }
  }

  /** Creates the directory, loads what a previous run left and starts delivering it. */
  async open(): Promise<void> {
    if (this.#state !== 'new') throw new Error('outbox: open() called twice');
    this.#state = 'opening';
    const { items } = await loadItemFiles(this.#dir, this.#logger);
    const loaded: Entry[] = [];
    const orphans: string[] = [];
    for (const file of items) {
      // A channel no longer configured: its files stay for a run that has it again.
      if (this.#queues.has(file.item.channel)) {
        loaded.push({ item: file.item, seq: file.seq, lastFailure: null });
      } else {
        orphans.push(file.item.id);
      }
    }
    if (orphans.length > 0) {
      this.#logger?.warn(
        { event: 'outbox_orphans', count: orphans.length },
        'outbox: items for a channel that is not configured stay on disk',
      );
    }
    const now = this.#clock.now();
    for (const entry of loaded) {
      // A restart is a good moment to retry (often it follows a config fix): all due now.
      entry.item.next_attempt_at = now;
      this.#queues.get(entry.item.channel)?.entries.push(entry);
      this.#index.set(entry.item.id, entry);
      this.#nextSeq = Math.max(this.#nextSeq, entry.seq + 1);
    }
    this.#state = 'open';
    this.#logger?.info({ event: 'outbox_opened', pending: this.pending() }, 'outbox opened');
    this.#changed();
    for (const queue of this.#queues.values()) this.#pump(queue);
  }

  /**
   * Queues the notification once per configured channel. Resolves only when every item is
   * durably on disk. The same notification id twice makes one item per channel.
   */
  async enqueue(n: Notification): Promise<void> {
    if (this.#state !== 'open') throw new Error('outbox: enqueue() before open() or after close()');
    if (typeof n.id !== 'string' || n.id.length === 0) {
      throw new Error('outbox: a notification needs a non-empty id');
    }
    const writes: Promise<void>[] = [];
    for (const queue of this.#queues.values()) {
      const id = outboxItemId(queue.sender.channel, n.id);
      const writing = this.#writing.get(id);
      if (writing !== undefined) {
        writes.push(writing);
        continue;
      }
      if (this.#index.has(id) || this.#delivered.has(id)) continue;
      const now = this.#clock.now();
      const entry: Entry = {
        item: {
          id,
          channel: queue.sender.channel,
          // A copy: what is sent must be what was written, whatever the caller does next.
          notification: structuredClone(n),
          created_at: now,
          attempts: 0,
          next_attempt_at: now,
          last_error: null,
        },
        seq: this.#nextSeq++,
        lastFailure: null,
      };
      queue.writes += 1;
      const write = this.#writeEntry(entry).then(
        () => {
          queue.writes -= 1;
          this.#writing.delete(id);
          if (this.#state === 'closed') return;
          insertBySeq(queue.entries, entry);
          this.#index.set(id, entry);
          this.#changed();
          this.#pump(queue);
        },
        (err: unknown) => {
          queue.writes -= 1;
          this.#writing.delete(id);
          this.#pump(queue);
          throw err;
        },
      );
      this.#writing.set(id, write);
      writes.push(write);
    }
    await Promise.all(writes);
    const pending = this.pending();
    if (pending > this.#maxItems) {
      this.#logger?.warn(
        { event: 'outbox_over_limit', pending, max_items: this.#maxItems },
        'outbox: more pending items than max_items; nothing is dropped, is a notifier down?',
      );
    }
  }

  pending(): number {
    return this.#index.size;
  }

  /**
   * For shutdown: tries every pending item once now, in order per channel, ignoring
   * backoff. A channel stops at its first temporary failure. Whatever fails stays on disk.
   * Resolves when done or after timeoutMs (an attempt still running then may yet finish).
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#state !== 'open' || this.#draining) return;
    this.#draining = true;
    for (const queue of this.#queues.values()) this.#clearTimer(queue);
    let timedOut = false;
    let timer: TimerHandle | null = null;
    const deadline = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(() => {
        timedOut = true;
        resolve();
      }, timerDelay(timeoutMs));
    });
    const work = Promise.all(
      [...this.#queues.values()].map(async (queue) => {
        if (queue.inFlight !== null) await queue.inFlight;
        for (const entry of [...queue.entries]) {
          if (timedOut || this.#state !== 'open') break;
          if (!this.#index.has(entry.item.id)) continue;
          queue.inFlight = this.#attempt(queue, entry);
          await queue.inFlight;
          queue.inFlight = null;
          if (this.#index.has(entry.item.id) && entry.lastFailure === 'temporary') break;
        }
        if (!this.#draining) this.#pump(queue);
      }),
    );
    await Promise.race([work, deadline]);
    if (timer !== null) this.#clock.clearTimeout(timer);
    timedOut = true;
    this.#draining = false;
    const left = this.pending();
    this.#logger?.info({ event: 'outbox_drained', pending: left }, 'outbox drained');
    for (const queue of this.#queues.values()) this.#pump(queue);
  }

  /** Stops scheduling. Pending items stay on disk for the next open(). */
  /**
   * Stops sending; items stay on disk. With `waitMs`, also waits (at most that long) for
   * sends already under way, so that a new Outbox on the same directory (a reload) does
   * not pick up an item that is still being delivered and send it twice.
   */
  async close(waitMs = 0): Promise<void> {
    this.#state = 'closed';
    for (const queue of this.#queues.values()) this.#clearTimer(queue);
    const sending = [...this.#queues.values()].flatMap((q) => (q.inFlight ? [q.inFlight] : []));
    if (waitMs <= 0 || sending.length === 0) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      Promise.all(sending.map((p) => p.catch(() => undefined))),
      new Promise<void>((resolve) => {
        timer = this.#clock.setTimeout(resolve, waitMs);
      }),
    ]);
    if (timer !== undefined) this.#clock.clearTimeout(timer);
  }

  /** Starts the next due item of the channel, or arms a timer for the earliest one. */
  #pump(queue: ChannelQueue): void {
    if (this.#state !== 'open' || this.#draining || queue.inFlight !== null || queue.writes > 0) {
      return;
    }
    this.#clearTimer(queue);
    const now = this.#clock.now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of queue.entries) {
      if (entry.item.next_attempt_at <= now) {
        queue.inFlight = this.#attempt(queue, entry).finally(() => {
          queue.inFlight = null;
          this.#pump(queue);
        });
        return;
      }
      earliest = Math.min(earliest, entry.item.next_attempt_at);
      // In-order delivery: only a parked (permanently failing) item lets later ones pass.
      if (entry.lastFailure !== 'permanent') break;
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    // No wait is ever longer than the longest backoff, even if the wall clock stepped back.
    const longest = this.#backoff.maxMs * (1 + this.#backoff.jitter);
    const timer = this.#clock.setTimeout(
      () => {
        queue.timer = null;
        this.#pump(queue);
      },
      timerDelay(Math.min(earliest - now, longest)),
    );
    timer.unref();
    queue.timer = timer;
  }

  /** One delivery attempt; never throws. */
  async #attempt(queue: ChannelQueue, entry: Entry): Promise<void> {
    const { item } = entry;
    item.attempts += 1;
    let failure: unknown;
    let sent = false;
    try {
      await queue.sender.send(item.notification);
      sent = true;
    } catch (err) {
      failure = err;
    }
    if (sent) {
      await this.#remove(queue, entry);
      this.#logger?.info(
        {
          event: 'alert_notification_sent',
          channel: item.channel,
          notification: item.notification.id,
          attempts: item.attempts,
        },
        'alert notification sent',
      );
      this.#reported(item.channel, 'sent');
      return;
    }
    const code: SendErrorCode = isSendError(failure) ? failure.code : 'temporary';
    const delay = backoffDelay(item.attempts, code === 'permanent', this.#backoff, this.#random);
    entry.lastFailure = code;
    item.last_error = errorText(failure);
    item.next_attempt_at = this.#clock.now() + delay;
    const fields = {
      event: 'alert_notification_failed',
      channel: item.channel,
      notification: item.notification.id,
      attempts: item.attempts,
      failure: code,
      err: item.last_error,
      retry_in_ms: delay,
    };
    // A permanent failure is never dropped, but it needs a human: error, every time.
    if (code === 'permanent') {
      this.#logger?.error(fields, 'alert notification failed permanently; will retry');
    } else {
      this.#logger?.warn(fields, 'alert notification failed; will retry');
    }
    this.#reported(item.channel, 'failed');
    if (this.#index.has(item.id)) {
      // Keeps attempts and last_error visible on disk; losing this write loses nothing else.
      await this.#writeEntry(entry).catch((err: unknown) => {
        this.#logger?.error(
          { event: 'outbox_write_failed', item: item.id, err },
          'outbox: could not record a failed attempt',
        );
      });
    }
  }

  async #remove(queue: ChannelQueue, entry: Entry): Promise<void> {
    const at = queue.entries.indexOf(entry);
    if (at >= 0) queue.entries.splice(at, 1);
    this.#index.delete(entry.item.id);
    this.#delivered.add(entry.item.id);
    if (this.#delivered.size > DELIVERED_MEMORY) {
      const oldest = this.#delivered.values().next().value;
      if (oldest !== undefined) this.#delivered.delete(oldest);
    }
    this.#changed();
    try {
      await unlink(this.#path(entry.item.id));
      await syncDirectory(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // The item was delivered; if its file survives, the next start sends it again.
      this.#logger?.error(
        { event: 'outbox_remove_failed', item: entry.item.id, err },
        'outbox: could not remove a delivered item; it may be sent twice',
      );
    }
  }

  #writeEntry(entry: Entry): Promise<void> {
    return writeItemFile(this.#dir, { format: FILE_FORMAT, seq: entry.seq, item: entry.item });
  }

  /** The metric hooks must not break delivery: a throwing hook is logged and ignored. */
  #changed(): void {
    try {
      this.#onChange?.(this.pending());
    } catch (err) {
      this.#logger?.error({ event: 'outbox_hook_failed', err }, 'outbox: onChange threw');
    }
  }

  #reported(channel: Channel, result: 'sent' | 'failed'): void {
    try {
      this.#onResult?.(channel, result);
    } catch (err) {
      this.#logger?.error({ event: 'outbox_hook_failed', err }, 'outbox: onResult threw');
    }
  }

  #path(id: string): string {
    return join(this.#dir, itemFileName(id));
  }

  #clearTimer(queue: ChannelQueue): void {
    if (queue.timer !== null) {
      this.#clock.clearTimeout(queue.timer);
      queue.timer = null;
    }
  }
}

function insertBySeq(entries: Entry[], entry: Entry): void {
  let at = entries.length;
  while (at > 0 && (entries[at - 1] as Entry).seq > entry.seq) at -= 1;
  entries.splice(at, 0, entry);
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}...` : text;
}
