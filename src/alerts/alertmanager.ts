import { type NotifierLogger, SendError, type SendErrorCode, type Sender } from './sender.js';
import { type AlertSnapshot, alertTarget, type Notification } from './types.js';

/**
 * Posts notifications to Alertmanager's API v2 (`POST /api/v2/alerts`), one alert per
 * snapshot, to every configured URL: an Alertmanager cluster deduplicates, so one
 * accepting instance is a success.
 */

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertmanagerSenderOptions {
  externalUrl?: string;
  fetch?: typeof fetch;
  logger?: NotifierLogger;
  /** alerting.repeat_interval, ms: firing alerts are valid for 4 times this (see endsAt). */
  repeatIntervalMs?: number;
}

export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000;
/** Like Prometheus, which makes a firing alert valid for 4 resend intervals. */
export const ENDS_AT_INTERVALS = 4;
const MAX_BODY_EXCERPT = 512;
const MAX_BODY_BYTES = 4096;

/**
 * PURE: the API v2 alerts of a notification.
 *
 * endsAt of a firing alert: Prometheus sends `now + 4 × resend interval` and re-sends while
 * the alert fires, so Alertmanager resolves it on its own if Prometheus disappears. Our
 * resend interval is repeat_interval (a still-firing alert is notified again that often),
 * so a firing alert gets `created_at + 4 × repeat_interval`. Leaving endsAt unset would make
 * Alertmanager resolve it after its resolve_timeout (5m by default), long before our next
 * repeat. It is counted from the notification's creation, not from the send, so an alert
 * that waited out a long outage in the outbox does not claim to be current. A resolved
 * alert's endsAt is its resolved_at. endsAt is never before startsAt (fired_at).
 */
export function alertmanagerAlerts(
  n: Notification,
  opts: { externalUrl?: string; repeatIntervalMs?: number } = {},
): AlertmanagerAlert[] {
  const repeat = opts.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS;
  return n.alerts.map((a) => {
    const endsAt =
      a.status === 'resolved'
        ? (a.resolved_at ?? n.created_at)
        : n.created_at + ENDS_AT_INTERVALS * repeat;
    const alert: AlertmanagerAlert = {
      // Spread first: the identifying labels win over a mailbox label of the same name.
      labels: {
        ...a.labels,
        alertname: a.rule,
        mailbox: a.mailbox,
        ...(a.loop === undefined ? {} : { loop: a.loop }),
        ...(a.expect === undefined ? {} : { expect: a.expect }),
        severity: a.severity,
        service: 'pop3-monitor',
      },
      annotations: annotations(a),
      startsAt: new Date(a.fired_at).toISOString(),
      // Alertmanager refuses (HTTP 400) an alert that ends before it starts; after the clock
      // stepped back a resolve would be lost and the alert stay active until its endsAt.
      endsAt: new Date(Math.max(endsAt, a.fired_at)).toISOString(),
    };
    if (opts.externalUrl !== undefined && opts.externalUrl !== '') {
      alert.generatorURL = opts.externalUrl;
    }
    return alert;
  });
}

function annotations(a: AlertSnapshot): Record<string, string> {
  const condition = `${a.metric} ${a.op} ${a.threshold}`;
  const out: Record<string, string> = {
    summary: `${a.rule} on ${alertTarget(a)}: ${condition}`,
    description:
      a.description !== null && a.description !== ''
        ? a.description
        : `${condition} has held for ${a.loop === undefined ? 'mailbox ' : ''}${alertTarget(a)} since ${new Date(a.active_since).toISOString()}`,
  };
  if (a.value !== null) out.value = String(a.value);
  if (a.last_error !== null) out.last_error = `${a.last_error.code}: ${a.last_error.message}`;
  return out;
}

/** `http://am:9093` and `http://am:9093/prefix/` → `.../api/v2/alerts`. */
export function alertsEndpoint(base: string): string {
  return new URL('api/v2/alerts', base.endsWith('/') ? base : `${base}/`).href;
}

interface Endpoint {
  /** The URL without credentials: what is requested, logged and put in error messages. */
  url: string;
  authorization: string | undefined;
}

/**
 * fetch refuses a URL with credentials in it, and they must not reach a log line either:
 * `http://user:pass@am:9093` becomes the bare URL plus HTTP basic auth (RFC 7617).
 */
export function endpointOf(base: string): Endpoint {
  const url = new URL(alertsEndpoint(base));
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    authorization = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { url: url.href, authorization };
}

/** 4xx is our fault and will not change on a retry, except 408 (timeout) and 429 (rate limit). */
export function classifyHttpStatus(status: number): SendErrorCode {
  return status >= 400 && status < 500 && status !== 408 && status !== 429
    ? 'permanent'
    : 'temporary';
}

export function createAlertmanagerSender(
  cfg: { urls: string[]; timeout: number },
  opts: AlertmanagerSenderOptions = {},
): Sender {
  const doFetch = opts.fetch ?? fetch;
  const endpoints = cfg.urls.map(endpointOf);

  async function post({ url, authorization }: Endpoint, body: string): Promise<void> {
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization === undefined ? {} : { authorization }),
        },
        body,
        signal: AbortSignal.timeout(cfg.timeout),
      });
    } catch (err) {
      throw new SendError('temporary', `${url}: ${fetchErrorText(err)}`, { cause: err });
    }
    const excerpt = await bodyExcerpt(response);
    if (response.ok) return;
    const detail = excerpt === '' ? '' : `: ${excerpt}`;
    throw new SendError(
      classifyHttpStatus(response.status),
      `${url}: HTTP ${response.status}${detail}`,
    );
  }

  return {
    channel: 'alertmanager',
    async send(n: Notification): Promise<void> {
      if (n.alerts.length === 0) return;
      const body = JSON.stringify(alertmanagerAlerts(n, opts));
      const results = await Promise.allSettled(endpoints.map((endpoint) => post(endpoint, body)));
      const failures = results
        .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        .map((r) => asSendError(r.reason));
      if (failures.length < results.length) {
        for (const f of failures) {
          opts.logger?.warn(
            { event: 'alertmanager_post_failed', notification: n.id, err: f.message },
            'one Alertmanager refused an alert; another accepted it',
          );
        }
        return;
      }
      const code = failures.every((f) => f.code === 'permanent') ? 'permanent' : 'temporary';
      throw new SendError(code, `alertmanager: ${failures.map((f) => f.message).join('; ')}`);
    },
  };
}

function asSendError(err: unknown): SendError {
  return err instanceof SendError ? err : new SendError('temporary', String(err), { cause: err });
}

/** Reads at most MAX_BODY_BYTES of the reply (for the error message) and cancels the rest. */
async function bodyExcerpt(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A reply cut short still gave its status; the excerpt is only for the message.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_BODY_EXCERPT ? `${oneLine.slice(0, MAX_BODY_EXCERPT)}...` : oneLine;
}

/** fetch reports "fetch failed" and hides the reason in `cause` (ECONNREFUSED, ...). */
function fetchErrorText(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timed out';
    const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
    if (cause !== undefined && typeof cause.code === 'string')
      return `${err.message} (${cause.code})`;
    if (cause !== undefined && typeof cause.message === 'string')
      return `${err.message} (${cause.message})`;
    return err.message;
  }
  return String(err);
}
