import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MailboxConfig } from '../config/schema.js';
import { REASONS } from '../pop3/errors.js';
import {
  isCredentialRefusal,
  type ProbeResult,
  SKIP_REASONS,
  type SkipReason,
} from '../probe/result.js';
import { CONTENT_TYPE, type Labels, labelText, sampleLine } from './exposition.js';
import { isOwnLabelName } from './label-names.js';
import { mailboxChunks } from './mailbox-families.js';
import { MailboxSeries } from './mailbox-series.js';
import { ServerPhases } from './server-phases.js';

export {
  PHASE_DURATION_BUCKETS,
  PROBE_DURATION_BUCKETS,
} from './mailbox-series.js';

/** Why the HTTP server refused a request (the `reason` of pop3_monitor_http_requests_refused_total). */
export const HTTP_REFUSAL_REASONS = ['unauthorized', 'rate_limited', 'cross_site'] as const;
export type HttpRefusalReason = (typeof HTTP_REFUSAL_REASONS)[number];

export interface MetricsOptions {
  /** Defaults to a new Registry; never the global one. */
  registry?: Registry;
  /** The `version` label of pop3_monitor_build_info. */
  version: string;
  /** prom-client's process and Node.js metrics; default true. */
  defaultMetrics?: boolean;
  /** Per-mailbox, per-phase histograms (config `metrics.mailbox_phases`); default false. */
  mailboxPhases?: boolean;
  /**
   * When the config in use was loaded, ms since the epoch: sets the last-reload gauges
   * (successful = 1) without counting a reload, as Prometheus does at start-up. Without
   * it both gauges are absent until the first recordReload.
   */
  configLoadedAtMs?: number;
  /**
   * A web configuration file is in use: its reload series start at 0 and 1 (without one
   * they stay absent until a reading is recorded).
   */
  webConfig?: boolean;
}

/** /metrics as a sequence of text chunks, rendered as they are asked for. */
export interface Exposition {
  contentType: string;
  chunks: AsyncIterable<string>;
}

export interface Metrics {
  /** The monitor's own metrics (and prom-client's defaults); the mailboxes' are apart. */
  readonly registry: Registry;
  /**
   * Declares the current mailboxes: sets their info series and removes every series of a
   * mailbox no longer present. Series of a mailbox still present carry on, unless its
   * label set changed (an extra label's value, or the union of extra label names): its
   * series are then replaced, with the gauges and firing alerts copied over and the
   * counters and histograms restarting from 0 (rate() treats that as a counter reset).
   * Extra label names must not be ours (the config refuses them): a clash throws.
   */
  setMailboxes(mailboxes: readonly MailboxConfig[]): void;
  /** Turns the per-mailbox phase histograms on or off (off drops their series). */
  setMailboxPhases(on: boolean): void;
  /**
   * Records one probe. A result for a mailbox not declared by setMailboxes is dropped, so
   * a probe that ends after a reload removed its mailbox cannot bring its series back.
   */
  recordProbe(result: ProbeResult): void;
  recordSkip(mailbox: string, reason: SkipReason): void;
  /** firing: pop3_alerts_firing = 1; resolved: the series is removed. */
  setAlertFiring(rule: string, mailbox: string, severity: string, firing: boolean): void;
  /**
   * The same for a delivery loop's alert (labels loop, rule, severity) or an expect watch's
   * (mailbox, expect, rule, severity).
   */
  setFlowAlertFiring(
    rule: string,
    target: { mailbox: string; loop?: string; expect?: string },
    severity: string,
    firing: boolean,
  ): void;
  recordNotification(result: 'sent' | 'failed'): void;
  setOutboxPending(n: number): void;
  recordReload(success: boolean, atMs: number): void;
  /** A reading of the web configuration file (and its certificates) after a change. */
  recordWebConfigReload(success: boolean): void;
  /** A request the HTTP server refused (401, 403, 429), by reason; never by user. */
  recordHttpRefusal(reason: HttpRefusalReason): void;
  /** A TLS connection that failed its handshake or whose client certificate was refused. */
  recordTlsRefusal(): void;
  /** The whole text in chunks (what /metrics streams). */
  exposition(): Exposition;
  /** The whole text as one string: for tests and small callers, not for /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

const REASON_SET: ReadonlySet<string> = new Set(REASONS);

/**
 * A failed login: anything that went wrong in the auth phase (credentials refused,
 * [IN-USE], [LOGIN-DELAY], a timeout while the server checks the password), plus a
 * credential refusal reported in another phase (a server that refuses a user at the
 * greeting or after STLS; a token endpoint that refuses the client or the refresh token).
 * A network failure before the login is not a login failure.
 */
function isLoginFailure(error: NonNullable<ProbeResult['error']>): boolean {
  return error.phase === 'auth' || isCredentialRefusal(error);
}

function extraLabelNames(mailboxes: readonly MailboxConfig[]): string[] {
  const names = [...new Set(mailboxes.flatMap((m) => Object.keys(m.labels)))].sort();
  const clash = names.find(isOwnLabelName);
  if (clash !== undefined)
    throw new RangeError(`extra label ${JSON.stringify(clash)} is a label of pop3-monitor itself`);
  return names;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The monitor's own metrics on the prom-client registry (a few series in all). */
function monitorMetrics(registry: Registry, options: MetricsOptions) {
  const registers = [registry];
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'pop3_monitor_build_info',
    help: 'Version of pop3-monitor; the value is always 1.',
    labelNames: ['version'],
    registers,
  }).set({ version: options.version }, 1);
  const m = {
    notifications: new Counter({
      name: 'pop3_alert_notifications_total',
      help: 'Alert notification delivery attempts, by result (sent or failed).',
      labelNames: ['result'],
      registers,
    }),
    outboxPending: new Gauge({
      name: 'pop3_alert_outbox_pending',
      help: 'Notifications waiting in the outbox for delivery.',
      registers,
    }),
    reloadSuccessful: new Gauge({
      name: 'pop3_monitor_config_last_reload_successful',
      help: 'Whether the last configuration reload succeeded (1) or failed (0).',
      registers,
    }),
    reloadSuccessTime: new Gauge({
      name: 'pop3_monitor_config_last_reload_success_timestamp_seconds',
      help: 'When the configuration was last loaded successfully, seconds since the epoch.',
      registers,
    }),
    reloads: new Counter({
      name: 'pop3_monitor_config_reloads_total',
      help: 'Configuration reloads by result.',
      labelNames: ['result'],
      registers,
    }),
    webConfigReloads: new Counter({
      name: 'pop3_monitor_web_config_reloads_total',
      help: 'Readings of the web configuration file and its certificates after a change, by result; a failure keeps the previous settings.',
      labelNames: ['result'],
      registers,
    }),
    webConfigReloadSuccessful: new Gauge({
      name: 'pop3_monitor_web_config_last_reload_successful',
      help: 'Whether the last reading of the web configuration file and its certificates succeeded (1) or failed (0).',
      registers,
    }),
    httpRefused: new Counter({
      name: 'pop3_monitor_http_requests_refused_total',
      help: 'HTTP requests refused: unauthorized (401), rate_limited (429), cross_site (403).',
      labelNames: ['reason'],
      registers,
    }),
    tlsRefused: new Counter({
      name: 'pop3_monitor_http_tls_refused_total',
      help: 'TLS connections to the HTTP server that failed their handshake or whose client certificate was refused.',
      registers,
    }),
  };
  if (options.webConfig === true) {
    m.webConfigReloads.inc({ result: 'success' }, 0);
    m.webConfigReloads.inc({ result: 'failure' }, 0);
    m.webConfigReloadSuccessful.set(1);
  } else m.webConfigReloadSuccessful.remove();
  for (const reason of HTTP_REFUSAL_REASONS) m.httpRefused.inc({ reason }, 0);
  m.notifications.inc({ result: 'sent' }, 0);
  m.notifications.inc({ result: 'failed' }, 0);
  m.reloads.inc({ result: 'success' }, 0);
  m.reloads.inc({ result: 'failure' }, 0);
  m.outboxPending.set(0);
  if (options.configLoadedAtMs !== undefined) {
    m.reloadSuccessful.set(1);
    m.reloadSuccessTime.set(options.configLoadedAtMs / 1000);
  } else {
    // prom-client shows an unlabelled gauge as 0 from the start; a 0 here would read as
    // "the last reload failed", so the series stays absent until something is known.
    m.reloadSuccessful.remove();
    m.reloadSuccessTime.remove();
  }
  return m;
}

/**
 * The metrics of pop3-monitor (version 2: at most a couple of dozen series per mailbox,
 * phases per server; docs/METRICS.md). No global state, so every test and every reload
 * can have a fresh one.
 *
 * Failure semantics: a failed probe sets pop3_up to 0 and counts its reason, but leaves
 * the last known pop3_messages, pop3_size_bytes and the other observed facts in place
 * (a value is only replaced by a newer observation); pop3_last_success_timestamp_seconds
 * shows how old they are. A *successful* probe that no longer observes an optional fact
 * (no messages, so no oldest date; no TLS; no UIDL; no LOGIN-DELAY) removes that series,
 * so no stale value survives. Durations are observed for failed probes too, as
 * blackbox_exporter's probe_duration_seconds is.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = options.registry ?? new Registry();
  const monitor = monitorMetrics(registry, options);
  const serverPhases = new ServerPhases();
  let mailboxPhases = options.mailboxPhases ?? false;
  let mailboxes = new Map<string, MailboxSeries>();
  /** Firing alerts of loops and watches: their label text by it. */
  const flowAlerts = new Map<string, string>();

  function flowAlertLines(): string {
    let out = '';
    for (const text of flowAlerts.values()) out += sampleLine('pop3_alerts_firing', text, 1);
    return out;
  }

  async function* chunks(): AsyncGenerator<string> {
    // A snapshot of the mailboxes: a reload during the scrape changes the next one.
    const list = [...mailboxes.values()];
    yield* mailboxChunks(list, mailboxPhases, { pop3_alerts_firing: flowAlertLines() });
    yield serverPhases.render();
    yield await registry.metrics();
  }

  return {
    registry,

    setMailboxes(list) {
      const extra = extraLabelNames(list);
      const next = new Map<string, MailboxSeries>();
      for (const mb of list) {
        const labels: Record<string, string> = { mailbox: mb.name };
        for (const name of extra) labels[name] = mb.labels[name] ?? '';
        const old = mailboxes.get(mb.name);
        let series: MailboxSeries;
        if (old === undefined) {
          series = new MailboxSeries(labels);
          series.setPhases(mailboxPhases);
        } else if (sameLabels(old.labelValues, labels)) series = old;
        else series = old.relabel(labels, mailboxPhases);
        series.configure(mb);
        next.set(mb.name, series);
      }
      mailboxes = next;
      serverPhases.keepOnly(new Set([...next.values()].map((s) => s.server)));
    },

    setMailboxPhases(on) {
      mailboxPhases = on;
      for (const series of mailboxes.values()) series.setPhases(on);
    },

    recordProbe(result) {
      const series = mailboxes.get(result.mailbox);
      if (series === undefined) return;
      series.recordFacts(result);
      serverPhases.record(series.server, result);
      const error = result.error;
      if (!result.success && error !== null && REASON_SET.has(error.code)) {
        series.count(series.failures, error.code);
        if (isLoginFailure(error)) series.count(series.loginFailures, error.code);
      }
    },

    recordSkip(mailbox, reason) {
      const series = mailboxes.get(mailbox);
      if (series !== undefined && SKIP_REASONS.includes(reason))
        series.count(series.skipped, reason);
    },

    setAlertFiring(rule, mailbox, severity, firing) {
      const series = mailboxes.get(mailbox);
      if (series === undefined) return;
      const key = `${rule}\0${severity}`;
      if (firing) series.alerts.set(key, { rule, severity, text: labelText({ rule, severity }) });
      else series.alerts.delete(key);
    },

    setFlowAlertFiring(rule, target, severity, firing) {
      const text = labelText(
        target.loop !== undefined
          ? { loop: target.loop, rule, severity }
          : { mailbox: target.mailbox, expect: target.expect ?? '', rule, severity },
      );
      if (firing) flowAlerts.set(text, text);
      else flowAlerts.delete(text);
    },

    recordNotification(result) {
      monitor.notifications.inc({ result });
    },

    setOutboxPending(n) {
      monitor.outboxPending.set(n);
    },

    recordReload(success, atMs) {
      monitor.reloads.inc({ result: success ? 'success' : 'failure' });
      monitor.reloadSuccessful.set(success ? 1 : 0);
      if (success) monitor.reloadSuccessTime.set(atMs / 1000);
    },

    recordWebConfigReload(success) {
      monitor.webConfigReloads.inc({ result: success ? 'success' : 'failure' });
      monitor.webConfigReloadSuccessful.set(success ? 1 : 0);
    },

    recordHttpRefusal(reason) {
      if (HTTP_REFUSAL_REASONS.includes(reason)) monitor.httpRefused.inc({ reason });
    },

    recordTlsRefusal() {
      monitor.tlsRefused.inc();
    },

    exposition() {
      return { contentType: CONTENT_TYPE, chunks: chunks() };
    },

    async render() {
      let body = '';
      for await (const chunk of chunks()) body += chunk;
      return { contentType: CONTENT_TYPE, body };
    },
  };
}
