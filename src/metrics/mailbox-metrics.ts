import { Counter, Gauge, type Registry } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';

/**
 * Buckets of `pop3_probe_duration_seconds`: a loopback phase takes a few ms, a slow
 * server's login seconds, and the probe deadline caps everything near 30 s.
 */
export const PROBE_DURATION_BUCKETS = [
  0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30,
] as const;

/**
 * Label names of our own (plus `le` and `quantile`, which Prometheus gives meaning to).
 * A mailbox's extra label with one of these names would clash with a series' own label,
 * so it is left off every series.
 */
export const CLASHING_LABEL_NAMES: readonly string[] = [
  'mailbox',
  'loop',
  'expect',
  'phase',
  'reason',
  'rule',
  'severity',
  'result',
  'version',
  'host',
  'port',
  'tls',
  'auth',
  'le',
  'quantile',
];

/** The per-mailbox gauges that hold one value per mailbox (and no other label). */
export type FactGauge =
  | 'up'
  | 'messages'
  | 'sizeBytes'
  | 'lastSuccess'
  | 'oldestMessage'
  | 'certExpiry'
  | 'uidlMessages'
  | 'loginDelay'
  | 'tlsInsecure';
export const FACT_GAUGES: readonly FactGauge[] = [
  'up',
  'messages',
  'sizeBytes',
  'lastSuccess',
  'oldestMessage',
  'certExpiry',
  'uidlMessages',
  'loginDelay',
  'tlsInsecure',
];

/** The metrics that carry a `mailbox` label, and therefore the mailboxes' extra labels. */
export interface MailboxMetrics {
  up: Gauge;
  messages: Gauge;
  sizeBytes: Gauge;
  /** Rendered by createMetrics next to the registry's text (see fast-histogram.ts). */
  duration: FastHistogram;
  probes: Counter;
  failures: Counter;
  loginFailures: Counter;
  skipped: Counter;
  lastSuccess: Gauge;
  oldestMessage: Gauge;
  certExpiry: Gauge;
  uidlMessages: Gauge;
  loginDelay: Gauge;
  tlsInsecure: Gauge;
  info: Gauge;
  alertsFiring: Gauge;
}

/** Creates the per-mailbox metrics on `registry`, each with `extra` appended to its labels. */
export function createMailboxMetrics(registry: Registry, extra: readonly string[]): MailboxMetrics {
  const registers = [registry];
  const labels = (...own: string[]): string[] => ['mailbox', ...own, ...extra];
  const gauge = (name: string, help: string, ...own: string[]): Gauge =>
    new Gauge({ name, help, labelNames: labels(...own), registers });
  const counter = (name: string, help: string, ...own: string[]): Counter =>
    new Counter({ name, help, labelNames: labels(...own), registers });

  return {
    up: gauge('pop3_up', 'Whether the last probe of the mailbox succeeded (1) or failed (0).'),
    messages: gauge('pop3_messages', 'Messages in the maildrop, from STAT.'),
    sizeBytes: gauge('pop3_size_bytes', 'Size of the maildrop in octets, from STAT.'),
    duration: new FastHistogram({
      name: 'pop3_probe_duration_seconds',
      help: 'Duration of each phase of a probe; phase="total" is the whole probe.',
      buckets: PROBE_DURATION_BUCKETS,
    }),
    probes: counter('pop3_probes_total', 'Probes run, successful or not.'),
    failures: counter('pop3_probe_failures_total', 'Failed probes by reason.', 'reason'),
    loginFailures: counter(
      'pop3_login_failures_total',
      'Failed logins by reason: failures in the auth phase and credential refusals.',
      'reason',
    ),
    skipped: counter(
      'pop3_probe_skipped_total',
      'Scheduled probes not run: the previous one still ran (overlap) or login failures back off (auth_backoff).',
      'reason',
    ),
    lastSuccess: gauge(
      'pop3_last_success_timestamp_seconds',
      'When the last successful probe ended, seconds since the epoch.',
    ),
    oldestMessage: gauge(
      'pop3_oldest_message_timestamp_seconds',
      'Date of message 1 (via TOP), seconds since the epoch; absent when the maildrop is empty.',
    ),
    certExpiry: gauge(
      'pop3_tls_cert_expiry_timestamp_seconds',
      'notAfter of the server certificate, seconds since the epoch.',
    ),
    uidlMessages: gauge('pop3_uidl_messages', 'Entries in the UIDL listing.'),
    loginDelay: gauge(
      'pop3_login_delay_seconds',
      'Minimum seconds between logins the server announces (CAPA LOGIN-DELAY).',
    ),
    tlsInsecure: gauge(
      'pop3_tls_insecure',
      'Whether certificate verification is turned off for the mailbox (tls_insecure).',
    ),
    info: gauge(
      'pop3_mailbox_info',
      'Configuration facts of the mailbox; the value is always 1.',
      'host',
      'port',
      'tls',
      'auth',
    ),
    alertsFiring: gauge(
      'pop3_alerts_firing',
      'Alert instances firing now (1); the series disappears when the alert resolves.',
      'rule',
      'severity',
      // A delivery loop's alerts carry `loop` (and no mailbox), a watch's `expect`.
      'loop',
      'expect',
    ),
  };
}

/** Unregisters the per-mailbox metrics from `registry` (before re-creating them). */
export function removeMailboxMetrics(registry: Registry, metrics: MailboxMetrics): void {
  for (const metric of Object.values(metrics)) {
    registry.removeSingleMetric((metric as { name: string }).name);
  }
}
