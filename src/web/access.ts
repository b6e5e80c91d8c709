import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpRefusalReason } from '../metrics/metrics.js';
import type { Secret } from '../secret.js';
import { answerHeaders, originVerdict } from './browser-safety.js';
import { PasswordChecker } from './password-check.js';
import { TokenBucket } from './token-bucket.js';
import type { WebSettings } from './web-config-load.js';

/**
 * Who may ask what, and the headers every answer carries: the one place of the HTTP
 * server's access rules (routes.ts asks it before any handler runs). In order, for every
 * path but /healthz and /readyz (what a kubelet or a container runtime probes, answered to
 * anyone): a browser request from another site is refused (403), the rate limit of the web
 * configuration applies (429), then the credentials: a web configuration user (bcrypt), the
 * config's server.basic_auth, or its bearer token (401 with a challenge when none fits).
 * Secrets are compared in constant time; a refusal is counted by reason, never by user.
 */

const REALM = 'pop3-monitor';

/** Answered without credentials, rate limit or origin check. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** The config's own credentials: server.basic_auth and server.bearer_token_file. */
export interface WebAuth {
  basic?: { username: string; password: Secret } | undefined;
  bearer?: Secret | undefined;
}

export type RefusalReason = HttpRefusalReason;

export type GuardDecision =
  | { allowed: true }
  | {
      allowed: false;
      status: 401 | 403 | 429;
      reason: RefusalReason;
      body: string;
      headers: Record<string, string | string[]>;
    };

export interface RequestGuardOptions {
  auth?: WebAuth | undefined;
  web?: WebSettings | undefined;
  now?: () => number;
  /** How long a successful bcrypt check is remembered (PasswordChecker's default when absent). */
  passwordCacheTtlMs?: number | undefined;
  /** Each refused request, by reason (a metric). */
  onRefused?: (reason: RefusalReason) => void;
}

/** Equal-time comparison: both sides hashed first so their lengths leak nothing either. */
function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export class RequestGuard {
  readonly #auth: WebAuth;
  readonly #now: () => number;
  readonly #cacheTtlMs: number | undefined;
  readonly #onRefused: (reason: RefusalReason) => void;
  #users: PasswordChecker | undefined;
  #bucket: TokenBucket | undefined;
  /** Ours with http_server_config.headers of the web configuration in use, by kind. */
  #headers: Record<'page' | 'other', Record<string, string | string[]>> = {
    page: {},
    other: {},
  };

  constructor(options: RequestGuardOptions) {
    this.#auth = options.auth ?? {};
    this.#now = options.now ?? Date.now;
    this.#cacheTtlMs = options.passwordCacheTtlMs;
    this.#onRefused = options.onRefused ?? (() => {});
    this.update(options.web);
  }

  /**
   * New web configuration settings: new users (their cache starts empty), a new rate limit,
   * new headers.
   */
  update(web: WebSettings | undefined): void {
    const configured = web?.headers ?? {};
    this.#headers = {
      page: answerHeaders('page', configured),
      other: answerHeaders('other', configured),
    };
    this.#users =
      web !== undefined && web.users.size > 0
        ? new PasswordChecker({
            users: web.users,
            now: this.#now,
            ...(this.#cacheTtlMs === undefined ? {} : { cacheTtlMs: this.#cacheTtlMs }),
          })
        : undefined;
    const limit = web?.rateLimit;
    const same =
      this.#bucket !== undefined &&
      limit !== undefined &&
      this.#bucket.intervalMs === limit.intervalMs &&
      this.#bucket.burst === limit.burst;
    if (!same)
      this.#bucket =
        limit === undefined ? undefined : new TokenBucket({ ...limit, nowMs: this.#now() });
  }

  /** The headers of an answer of this kind: ours and http_server_config.headers. */
  headers(kind: 'page' | 'other'): Readonly<Record<string, string | string[]>> {
    return this.#headers[kind];
  }

  /** Whether any credentials are asked for at all. */
  get authenticates(): boolean {
    return (
      this.#users !== undefined || this.#auth.basic !== undefined || this.#auth.bearer !== undefined
    );
  }

  async decide(request: {
    method: string;
    path: string;
    headers: IncomingHttpHeaders;
  }): Promise<GuardDecision> {
    if (OPEN_PATHS.has(request.path)) return { allowed: true };
    const origin = originVerdict(request);
    if (!origin.allowed) return this.#refuse(403, 'cross_site', 'cross-site request refused\n');
    const now = this.#now();
    if (this.#bucket !== undefined && !this.#bucket.take(now)) {
      return this.#refuse(429, 'rate_limited', 'too many requests\n', {
        'Retry-After': String(this.#bucket.retryAfterSeconds(now)),
      });
    }
    if (!this.authenticates) return { allowed: true };
    const verdict = await this.#credentials(request.headers.authorization);
    if (verdict === 'ok') return { allowed: true };
    if (verdict === 'busy')
      return this.#refuse(429, 'rate_limited', 'too many authentication attempts\n', {
        'Retry-After': '1',
      });
    return this.#refuse(401, 'unauthorized', 'unauthorized\n', {
      'WWW-Authenticate': this.#challenges(),
    });
  }

  async #credentials(header: string | undefined): Promise<'ok' | 'wrong' | 'busy'> {
    if (header === undefined) return 'wrong';
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space === -1 ? header.length : space).toLowerCase();
    const credentials = space === -1 ? '' : header.slice(space + 1).trim();
    // RFC 7617 section 2: base64 of "user-id:password", the user-id has no colon.
    if (scheme === 'basic' && (this.#auth.basic !== undefined || this.#users !== undefined)) {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) return 'wrong';
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const basic = this.#auth.basic;
      if (basic !== undefined) {
        const userOk = safeEqual(user, basic.username);
        const passwordOk = safeEqual(password, basic.password.reveal());
        if (userOk && passwordOk) return 'ok';
      }
      return this.#users === undefined ? 'wrong' : this.#users.check(user, password);
    }
    // RFC 6750 section 2.1.
    if (scheme === 'bearer' && this.#auth.bearer !== undefined)
      return safeEqual(credentials, this.#auth.bearer.reveal()) ? 'ok' : 'wrong';
    return 'wrong';
  }

  #challenges(): string[] {
    const out: string[] = [];
    if (this.#auth.basic !== undefined || this.#users !== undefined)
      out.push(`Basic realm="${REALM}", charset="UTF-8"`);
    if (this.#auth.bearer !== undefined) out.push(`Bearer realm="${REALM}"`);
    return out;
  }

  #refuse(
    status: 401 | 403 | 429,
    reason: RefusalReason,
    body: string,
    headers: Record<string, string | string[]> = {},
  ): GuardDecision {
    this.#onRefused(reason);
    return { allowed: false, status, reason, body, headers };
  }
}
