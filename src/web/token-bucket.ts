/**
 * `rate_limit` of the web configuration: a token bucket like Go's rate.Limiter that the
 * exporter toolkit uses. One token comes back every `intervalMs`, at most `burst` are held,
 * and a request without a token is refused (429). Pure: time is passed in.
 */
export class TokenBucket {
  readonly intervalMs: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(options: { intervalMs: number; burst: number; nowMs: number }) {
    if (!(options.intervalMs > 0) || !(options.burst >= 1))
      throw new RangeError('a token bucket needs an interval above 0 and a burst of 1 or more');
    this.intervalMs = options.intervalMs;
    this.burst = options.burst;
    this.#tokens = options.burst;
    this.#at = options.nowMs;
  }

  /** Takes a token when one is there. */
  take(nowMs: number): boolean {
    this.#refill(nowMs);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Seconds until the next token (for Retry-After), at least 1. */
  retryAfterSeconds(nowMs: number): number {
    this.#refill(nowMs);
    const missing = Math.max(0, 1 - this.#tokens);
    return Math.max(1, Math.ceil((missing * this.intervalMs) / 1000));
  }

  #refill(nowMs: number): void {
    // A clock that steps back adds nothing (and takes nothing away).
    const elapsed = Math.max(0, nowMs - this.#at);
    this.#at = Math.max(this.#at, nowMs);
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed / this.intervalMs);
  }
}
