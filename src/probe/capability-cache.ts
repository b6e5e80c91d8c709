import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-file.js';
import { type Capabilities, parseCapa } from '../pop3/responses.js';
import { setNewest } from './bounded-map.js';

/**
 * What a server announced in CAPA (RFC 2449), remembered between probes so a probe
 * spends no round trip asking again. `before` is the CAPA of the plaintext session (for
 * STLS: the one that lists STLS); `after` the CAPA after the TLS upgrade.
 */
export interface CachedCapabilities {
  before: Capabilities;
  after: Capabilities | null;
}

interface Entry {
  before: string[];
  after: string[] | null;
  /** ms since the epoch when it was learned. */
  at: number;
}

export interface CapabilityCacheOptions {
  /** Entries older than this are asked again (default 1 h). */
  ttlMs?: number;
  /** JSON file to persist to (in the state directory), so a restart keeps them. */
  file?: string;
  now?: () => number;
  /** At most this many servers are remembered (oldest dropped first). */
  maxEntries?: number;
}

/**
 * Keyed by server and transport (`host:port/tls`), since CAPA differs before and after
 * TLS and per listener. An entry is dropped after any failed probe of that server and
 * when the config is reloaded, so a changed server is re-learned at once.
 */
export class CapabilityCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttl: number;
  readonly #file: string | undefined;
  readonly #now: () => number;
  readonly #max: number;
  #dirty = false;
  #saving: Promise<void> = Promise.resolve();

  constructor(options: CapabilityCacheOptions = {}) {
    this.#ttl = options.ttlMs ?? 3_600_000;
    this.#file = options.file;
    this.#now = options.now ?? Date.now;
    this.#max = options.maxEntries ?? 10_000;
    if (this.#file) this.#load(this.#file);
  }

  static key(host: string, port: number, tls: string): string {
    return `${host.toLowerCase()}:${port}/${tls}`;
  }

  get(key: string): CachedCapabilities | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (this.#now() - entry.at > this.#ttl) {
      this.delete(key);
      return undefined;
    }
    return { before: parseCapa(entry.before), after: entry.after ? parseCapa(entry.after) : null };
  }

  set(key: string, before: Capabilities, after: Capabilities | null): void {
    const existing = this.#entries.get(key);
    const same =
      existing &&
      existing.before.join('\n') === before.lines.join('\n') &&
      (existing.after?.join('\n') ?? null) === (after?.lines.join('\n') ?? null);
    if (same && this.#now() - existing.at < this.#ttl / 2) return;
    const entry = { before: before.lines, after: after?.lines ?? null, at: this.#now() };
    setNewest(this.#entries, key, entry, this.#max);
    this.#dirty = true;
  }

  delete(key: string): void {
    if (this.#entries.delete(key)) this.#dirty = true;
  }

  clear(): void {
    if (this.#entries.size > 0) this.#dirty = true;
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Writes the cache if it changed (writeFileAtomic); saves run one after another. */
  save(): Promise<void> {
    const file = this.#file;
    if (file === undefined || !this.#dirty) return this.#saving;
    const text = JSON.stringify(Object.fromEntries(this.#entries));
    this.#dirty = false;
    const run = this.#saving.then(() => writeFileAtomic(file, text));
    this.#saving = run.catch(() => {
      this.#dirty = true; // try again at the next save
    });
    return run;
  }

  #load(file: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return; // missing or unreadable: start empty, it is only a cache
    }
    if (typeof raw !== 'object' || raw === null) return;
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      // A hand-edited or truncated file may hold null or a string here: skip, never throw.
      if (typeof value !== 'object' || value === null) continue;
      const entry = value as Partial<Entry>;
      const lines = (v: unknown) => Array.isArray(v) && v.every((l) => typeof l === 'string');
      if (
        !lines(entry.before) ||
        !(entry.after === null || lines(entry.after)) ||
        typeof entry.at !== 'number'
      )
        continue;
      this.#entries.set(key, entry as Entry);
    }
  }
}
