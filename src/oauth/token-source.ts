/**
 * Access tokens for every mailbox with an `oauth2:` block: one cache entry per (token
 * endpoint, client, scope, user), shared by all mailboxes with that key; refreshed ahead of
 * expiry; one request in flight per key however many probes ask at once; a refresh token
 * the server rotates is written back to its file before the new access token is handed out.
 * Knows nothing of POP3: the probe asks it for a token and reports a refused one.
 */
import type { Clock } from '../clock.js';
import { describeReadError } from '../config/files.js';
import type { OAuth2Config } from '../config/oauth2.js';
import type { Logger } from '../log.js';
import type { Secret } from '../secret.js';
import { type WriteRefreshToken, writeRefreshTokenFile } from './refresh-token-file.js';
import { type CachedToken, cacheEntry, isFresh, tokenKey } from './token-cache.js';
import { type RequestToken, requestToken } from './token-endpoint.js';
import { displayEndpoint, TokenError } from './token-error.js';

export interface TokenLease {
  token: Secret;
  /** True when it came from the cache (no request was made for this probe). */
  cached: boolean;
}

/** What the probe needs: a token, and a way to say the mail server refused it. */
export interface TokenProvider {
  getToken(config: OAuth2Config, timeoutMs: number): Promise<TokenLease>;
  /** Drops `token` from the cache (when it is still the cached one): the next get fetches. */
  invalidate(config: OAuth2Config, token: Secret): void;
  /** Every token held now, so what a server says can be scrubbed of them. */
  secrets(): Secret[];
}

export interface TokenSourceOptions {
  clock: Clock;
  logger?: Logger;
  /** Replaces the HTTP request (unit tests). */
  request?: RequestToken;
  /** Replaces the refresh token file writer (unit tests). */
  writeRefreshToken?: WriteRefreshToken;
}

/**
 * After a failed request, later probes of the same key get the same error for this long
 * instead of asking again: a broken client shared by many mailboxes costs one request per
 * interval, not one per mailbox.
 */
export const FAILURE_HOLD_MS = 15_000;

interface RefreshState {
  /**
   * The refresh token as the config has it (the file's content when it was loaded). Only a
   * different value there (a reload after the user replaced the file) replaces `current`;
   * a reload that reads back the rotated token we wrote is the same as `current`.
   */
  fromConfig: string;
  /** The one to use: a rotated one replaces fromConfig until the config changes. */
  current: Secret;
}

export class TokenSource implements TokenProvider {
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #request: RequestToken;
  readonly #write: WriteRefreshToken;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<Secret>>();
  readonly #failures = new Map<string, { error: TokenError; until: number }>();
  readonly #refresh = new Map<string, RefreshState>();
  /** Token requests sent, for logs and tests. */
  requests = 0;

  constructor(options: TokenSourceOptions) {
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#request = options.request ?? requestToken;
    this.#write = options.writeRefreshToken ?? writeRefreshTokenFile;
  }

  async getToken(config: OAuth2Config, timeoutMs: number): Promise<TokenLease> {
    const key = tokenKey(config);
    const now = this.#clock.now();
    const entry = this.#tokens.get(key);
    if (entry && isFresh(entry, now)) return { token: entry.token, cached: true };
    const failure = this.#failures.get(key);
    if (failure && now < failure.until) throw failure.error;
    let flight = this.#inFlight.get(key);
    if (flight === undefined) {
      flight = this.#fetch(key, config, timeoutMs).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, flight);
    }
    return { token: await this.#within(flight, timeoutMs, config), cached: false };
  }

  invalidate(config: OAuth2Config, token: Secret): void {
    const key = tokenKey(config);
    if (this.#tokens.get(key)?.token.reveal() === token.reveal()) this.#tokens.delete(key);
  }

  secrets(): Secret[] {
    return [
      ...[...this.#tokens.values()].map((t) => t.token),
      ...[...this.#refresh.values()].map((r) => r.current),
    ];
  }

  /** Forgets everything (a reload that changed the oauth2 settings). */
  clear(): void {
    this.#tokens.clear();
    this.#failures.clear();
  }

  /** A probe that joined another's request waits no longer than its own budget. */
  #within(flight: Promise<Secret>, timeoutMs: number, config: OAuth2Config): Promise<Secret> {
    return new Promise<Secret>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        const endpoint = displayEndpoint(config.token_url);
        const seconds = Math.round(timeoutMs / 100) / 10;
        reject(
          new TokenError(
            'timeout',
            endpoint,
            `token endpoint ${endpoint} did not answer within ${seconds}s`,
          ),
        );
      }, timeoutMs);
      flight.then(
        (token) => {
          this.#clock.clearTimeout(timer);
          resolve(token);
        },
        (error: unknown) => {
          this.#clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #refreshTokenOf(key: string, config: OAuth2Config): Secret | undefined {
    const configured = config.refresh_token;
    if (configured === undefined) return undefined;
    const state = this.#refresh.get(key);
    // A new value in the config (the user put a fresh token in the file and reloaded) wins.
    if (state === undefined || state.fromConfig !== configured.reveal()) {
      this.#refresh.set(key, { fromConfig: configured.reveal(), current: configured });
      return configured;
    }
    return state.current;
  }

  async #fetch(key: string, config: OAuth2Config, timeoutMs: number): Promise<Secret> {
    const requestedAt = this.#clock.now();
    const refreshToken =
      config.grant === 'refresh_token' ? this.#refreshTokenOf(key, config) : undefined;
    this.requests += 1;
    try {
      const response = await this.#request(config, refreshToken, timeoutMs);
      if (
        refreshToken &&
        response.refreshToken &&
        response.refreshToken.reveal() !== refreshToken.reveal()
      ) {
        await this.#rotate(key, config, response.refreshToken);
      }
      this.#tokens.set(key, cacheEntry(response.accessToken, requestedAt, response.expiresIn));
      this.#failures.delete(key);
      this.#log?.debug(
        {
          event: 'oauth_token_obtained',
          endpoint: displayEndpoint(config.token_url),
          grant: config.grant,
          expires_in: response.expiresIn ?? null,
        },
        'access token obtained',
      );
      return response.accessToken;
    } catch (error) {
      const failure =
        error instanceof TokenError
          ? error
          : new TokenError('unreachable', displayEndpoint(config.token_url), String(error));
      this.#failures.set(key, { error: failure, until: this.#clock.now() + FAILURE_HOLD_MS });
      throw failure;
    }
  }

  /**
   * The server rotated the refresh token: the old one may already be dead, so the new one
   * is kept in memory at once and written to its file before the access token is used.
   */
  async #rotate(key: string, config: OAuth2Config, next: Secret): Promise<void> {
    const state = this.#refresh.get(key);
    if (state) state.current = next;
    const file = config.refresh_token_file;
    if (file === undefined) return;
    try {
      await this.#write(file, next);
    } catch (error) {
      throw new TokenError(
        'store',
        displayEndpoint(config.token_url),
        `the rotated refresh token could not be written to ${file}: ${describeReadError(error)}`,
      );
    }
    this.#log?.info(
      { event: 'oauth_refresh_token_rotated', file },
      'rotated refresh token written back',
    );
  }
}
