import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Secret } from '../secret.js';

/**
 * `basic_auth_users` of the web configuration: a user name and a password checked against
 * the user's bcrypt hash. bcrypt is slow on purpose (cost 10: ~70 ms of CPU here), so, as
 * the exporter toolkit does, a successful check is remembered for a while: a Prometheus
 * that scrapes every 15 s pays for one check per `cacheTtlMs`, not one per scrape. Only
 * successes are kept, under a SHA-256 of (user, hash, password), never the password
 * itself; a failure always costs a full check. Checks run one at a time (CPU-bound, like
 * the toolkit's mutex) and at most `maxWaiting` wait: beyond that the answer is `busy`.
 */
export interface PasswordCheckerOptions {
  users: ReadonlyMap<string, Secret>;
  now?: () => number;
  /** How long a successful check is remembered; default 5 minutes. */
  cacheTtlMs?: number;
  /** Successful checks remembered at most (oldest dropped first); default 100. */
  cacheSize?: number;
  /** Checks allowed to wait for the one running; default 32. */
  maxWaiting?: number;
  /** The bcrypt comparison; bcryptjs unless a test injects one. */
  compare?: (password: string, hash: string) => Promise<boolean>;
}

export type PasswordVerdict = 'ok' | 'wrong' | 'busy';

export const DEFAULT_CACHE_TTL_MS = 5 * 60_000;

export class PasswordChecker {
  readonly #users: ReadonlyMap<string, Secret>;
  readonly #now: () => number;
  readonly #ttl: number;
  readonly #size: number;
  readonly #maxWaiting: number;
  readonly #compare: (password: string, hash: string) => Promise<boolean>;
  /** A configured user's hash, checked for an unknown user so both take the same time. */
  readonly #decoy: string | undefined;
  readonly #cache = new Map<string, number>();
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  /** bcrypt comparisons made (the cache's misses), for tests and benchmarks. */
  comparisons = 0;

  constructor(options: PasswordCheckerOptions) {
    this.#users = options.users;
    this.#now = options.now ?? Date.now;
    this.#ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.#size = options.cacheSize ?? 100;
    this.#maxWaiting = options.maxWaiting ?? 32;
    this.#compare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));
    this.#decoy = options.users.values().next().value?.reveal();
  }

  get enabled(): boolean {
    return this.#users.size > 0;
  }

  async check(user: string, password: string): Promise<PasswordVerdict> {
    const known = this.#users.get(user);
    const hash = known?.reveal() ?? this.#decoy;
    if (hash === undefined) return 'wrong';
    const key = createHash('sha256')
      .update(`${user.length}:${user}\0${hash}\0`)
      .update(password)
      .digest('base64');
    const now = this.#now();
    const until = this.#cache.get(key);
    if (known !== undefined && until !== undefined && until > now) return 'ok';
    if (until !== undefined) this.#cache.delete(key);

    if (this.#waiting >= this.#maxWaiting) return 'busy';
    this.#waiting += 1;
    const run = this.#queue.then(async () => {
      this.comparisons += 1;
      return this.#compare(password, hash).catch(() => false);
    });
    this.#queue = run.catch(() => undefined);
    let matches: boolean;
    try {
      matches = await run;
    } finally {
      this.#waiting -= 1;
    }
    if (known === undefined || !matches) return 'wrong';
    this.#remember(key);
    return 'ok';
  }

  #remember(key: string): void {
    while (this.#cache.size >= this.#size) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, this.#now() + this.#ttl);
  }
}
