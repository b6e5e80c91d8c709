/**
 * A JSON value kept in one file (alert state, delivery-loop state): replaced with
 * writeFileAtomic, so a crash leaves either the old or the new value, never half of one. A
 * file that does not parse or does not match its schema is logged and moved aside
 * (`<file>.corrupt-<ms>`); the owner then starts empty instead of refusing to start.
 */
import { readFile, rename } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.js';
import type { Logger } from './log.js';

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
          { event: 'state_file_corrupt', path: this.path, moved_to: movedTo, err },
          'state file is corrupt; moved aside, starting empty',
        );
      } catch (renameErr) {
        this.#logger?.warn(
          {
            event: 'state_file_corrupt',
            path: this.path,
            moved_to: null,
            err: renameErr,
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
    const run = this.#saving.then(() => writeFileAtomic(this.path, text));
    this.#saving = run.catch(() => undefined);
    return run;
  }
}
