/** Retry delays of the outbox: exponential with jitter, capped. */

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0.2 = each delay is scaled by a random factor in [0.8, 1.2). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 5000,
  maxMs: 600_000,
  factor: 2,
  jitter: 0.2,
};

/**
 * The delay before the next attempt after `attempts` failed ones: initial * factor^(n-1),
 * capped at max; a permanent failure waits the max. Jitter scales it by
 * 1 - jitter + 2 * jitter * random(), so random() = 0.5 gives the exact base.
 */
export function backoffDelay(
  attempts: number,
  permanent: boolean,
  backoff: BackoffOptions,
  random: () => number,
): number {
  const exponent = Math.max(0, attempts - 1);
  const base = permanent
    ? backoff.maxMs
    : Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** exponent);
  const scale = 1 - backoff.jitter + 2 * backoff.jitter * random();
  return Math.max(0, Math.round(base * scale));
}
