import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MailboxConfig } from '../config/schema.js';
import { REASONS, type Reason } from '../pop3/errors.js';
import { isCredentialRefusal, PHASES, type ProbeResult } from '../probe/result.js';
import {
  CLASHING_LABEL_NAMES,
  createMailboxMetrics,
  FACT_GAUGES,
  type FactGauge,
  type MailboxMetrics,
  removeMailboxMetrics,
} from './mailbox-metrics.js';

export { PROBE_DURATION_BUCKETS } from './mailbox-metrics.js';

export const SKIP_REASONS = ['overlap', 'auth_backoff'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/**
 * Reasons `pop3_login_failures_total` starts at 0 with: those a login can end with.
 * dns, connect and tls failures happen before any login is tried.
 */
export const LOGIN_FAILURE_REASONS: readonly Reason[] = REASONS.filter(
  (r) => r !== 'dns' && r !== 'connect' && r !== 'tls',
);

export interface MetricsOptions {
  /** Defaults to a new Registry; never the global one. */
  registry?: Registry;
  /** The `version` label of pop3_monitor_build_info. */
  version: string;
  /** The union of the mailboxes' extra label keys (setMailboxes recomputes it). */
  labelNames?: string[];
  /** prom-client's process and Node.js metrics; default true. */
  defaultMetrics?: boolean;
  /**
   * When the config in use was loaded, ms since the epoch: sets the last-reload gauges
   * (successful = 1) without counting a reload, as Prometheus does at start-up. Without
   * it both gauges are absent until the first recordReload.
   */
  configLoadedAtMs?: number;
}

export interface Metrics {
  readonly registry: Registry;
  /**
   * Declares the current mailboxes: sets their info and tls_insecure series, starts their
   * counters at 0, and removes every series of a mailbox no longer present. Series of a
   * mailbox still present carry on, unless its extra label values changed: its series are
   * then replaced, with the gauges and firing alerts copied over and the counters and
   * histogram restarting from 0. When the set of extra label *names* changes, every
   * per-mailbox metric is re-created the same way, so all per-mailbox counters restart
   * (rate() and increase() treat that as a counter reset).
   */
  setMailboxes(mailboxes: readonly MailboxConfig[]): void;
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
  render(): Promise<{ contentType: string; body: string }>;
}

type Labels = Record<string, string>;

interface MailboxSeries {
  /** mailbox plus the extra labels, as every per-mailbox series carries them. */
  labels: Labels;
  /** The labels of its pop3_mailbox_info series. */
  info: Labels;
  /** The values of its fact gauges, to carry them over when its series are replaced. */
  facts: Map<FactGauge, number>;
  /** Firing alerts, keyed by rule and severity. */
  alerts: Map<string, { rule: string; severity: string }>;
}

/** Extra label names in a stable order, without names that clash with our own. */
function extraLabelNames(names: Iterable<string>): string[] {
  return [...new Set(names)].filter((n) => !CLASHING_LABEL_NAMES.includes(n)).sort();
}

function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
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

/**
 * The metrics of pop3-monitor on their own registry (no global state, so every test and
 * every reload can have a fresh one).
 *
 * Failure semantics: a failed probe sets pop3_up to 0 and counts its reason, but leaves
 * the last known pop3_messages, pop3_size_bytes and the other observed facts in place
 * (a value is only replaced by a newer observation); pop3_last_success_timestamp_seconds
 * shows how old they are. A *successful* probe that no longer observes an optional fact
 * (no messages, so no oldest date; no TLS; no UIDL; no LOGIN-DELAY) removes that series,
 * so no stale value survives. Phase durations are observed for failed probes too, as
 * blackbox_exporter's probe_duration_seconds is.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'pop3_monitor_build_info',
    help: 'Version of pop3-monitor; the value is always 1.',
    labelNames: ['version'],
    registers,
  }).set({ version: options.version }, 1);
  const notifications = new Counter({
    name: 'pop3_alert_notifications_total',
    help: 'Alert notification delivery attempts, by result (sent or failed).',
    labelNames: ['result'],
    registers,
  });
  const outboxPending = new Gauge({
    name: 'pop3_alert_outbox_pending',
    help: 'Notifications waiting in the outbox for delivery.',
    registers,
  });
  const reloadSuccessful = new Gauge({
    name: 'pop3_monitor_config_last_reload_successful',
    help: 'Whether the last configuration reload succeeded (1) or failed (0).',
    registers,
  });
  const reloadSuccessTime = new Gauge({
    name: 'pop3_monitor_config_last_reload_success_timestamp_seconds',
    help: 'When the configuration was last loaded successfully, seconds since the epoch.',
    registers,
  });
  const reloads = new Counter({
    name: 'pop3_monitor_config_reloads_total',
    help: 'Configuration reloads by result.',
    labelNames: ['result'],
    registers,
  });
  notifications.inc({ result: 'sent' }, 0);
  notifications.inc({ result: 'failed' }, 0);
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  outboxPending.set(0);
  if (options.configLoadedAtMs !== undefined) {
    reloadSuccessful.set(1);
    reloadSuccessTime.set(options.configLoadedAtMs / 1000);
  } else {
    // prom-client shows an unlabelled gauge as 0 from the start; a 0 here would read as
    // "the last reload failed", so the series stays absent until something is known.
    reloadSuccessful.remove();
    reloadSuccessTime.remove();
  }

  let extra = extraLabelNames(options.labelNames ?? []);
  let m: MailboxMetrics = createMailboxMetrics(registry, extra);
  let mailboxes = new Map<string, MailboxSeries>();
  /** Firing loop and watch alerts by their labels' JSON, to set again on re-created metrics. */
  const flowAlerts = new Map<string, Labels>();

  /** Starts the series that users alert on with absent() or rate() at 0. */
  function initialise(series: MailboxSeries): void {
    const l = series.labels;
    m.probes.inc(l, 0);
    for (const reason of REASONS) m.failures.inc({ ...l, reason }, 0);
    for (const reason of LOGIN_FAILURE_REASONS) m.loginFailures.inc({ ...l, reason }, 0);
    for (const reason of SKIP_REASONS) m.skipped.inc({ ...l, reason }, 0);
  }

  function alertLabels(series: MailboxSeries, alert: { rule: string; severity: string }): Labels {
    return { ...series.labels, rule: alert.rule, severity: alert.severity };
  }

  function setFact(series: MailboxSeries, gauge: FactGauge, value: number): void {
    m[gauge].set(series.labels, value);
    series.facts.set(gauge, value);
  }

  function dropFact(series: MailboxSeries, gauge: FactGauge): void {
    m[gauge].remove(series.labels);
    series.facts.delete(gauge);
  }

  /**
   * Gives a mailbox series under new labels (or new metrics): counters start at 0,
   * gauge values and firing alerts carry over, since nothing would set them again
   * before the next probe or alert transition.
   */
  function replace(old: MailboxSeries | undefined, labels: Labels, info: Labels): MailboxSeries {
    const series: MailboxSeries = { labels, info, facts: new Map(), alerts: new Map() };
    initialise(series);
    if (old === undefined) return series;
    for (const [gauge, value] of old.facts) setFact(series, gauge, value);
    for (const [key, alert] of old.alerts) {
      m.alertsFiring.set(alertLabels(series, alert), 1);
      series.alerts.set(key, alert);
    }
    return series;
  }

  function remove(series: MailboxSeries): void {
    const l = series.labels;
    for (const gauge of FACT_GAUGES) m[gauge].remove(l);
    m.probes.remove(l);
    for (const phase of PHASES) m.duration.remove({ ...l, phase });
    // Every reason, not only the pre-initialised ones: any of them may have been counted.
    for (const reason of REASONS) {
      m.failures.remove({ ...l, reason });
      m.loginFailures.remove({ ...l, reason });
    }
    for (const reason of SKIP_REASONS) m.skipped.remove({ ...l, reason });
    for (const alert of series.alerts.values()) m.alertsFiring.remove(alertLabels(series, alert));
    m.info.remove(series.info);
  }

  /**
   * A non-null observation replaces the old value. A null one removes the series only
   * after a successful probe (the fact is gone); after a failure it means "not seen".
   */
  function observe(series: MailboxSeries, gauge: FactGauge, value: number | null, ok: boolean) {
    if (value !== null && Number.isFinite(value)) setFact(series, gauge, value);
    else if (ok) dropFact(series, gauge);
  }

  return {
    registry,

    setMailboxes(list) {
      const names = extraLabelNames(list.flatMap((mb) => Object.keys(mb.labels)));
      // Re-created metrics hold no series: every mailbox gets fresh ones, nothing to remove.
      const recreated = names.join('\0') !== extra.join('\0');
      if (recreated) {
        removeMailboxMetrics(registry, m);
        extra = names;
        m = createMailboxMetrics(registry, extra);
        for (const labels of flowAlerts.values()) m.alertsFiring.set(labels, 1);
      }
      const next = new Map<string, MailboxSeries>();
      for (const mb of list) {
        const labels: Labels = { mailbox: mb.name };
        for (const name of extra) labels[name] = mb.labels[name] ?? '';
        const info: Labels = {
          ...labels,
          host: mb.host,
          port: String(mb.port),
          tls: mb.tls,
          auth: mb.auth,
        };
        const old = mailboxes.get(mb.name);
        let series: MailboxSeries;
        if (old !== undefined && !recreated && sameLabels(old.labels, labels)) {
          series = old;
          if (!sameLabels(old.info, info)) m.info.remove(old.info);
          series.info = info;
        } else {
          if (old !== undefined && !recreated) remove(old);
          series = replace(old, labels, info);
        }
        m.info.set(info, 1);
        setFact(series, 'tlsInsecure', mb.tls_insecure ? 1 : 0);
        next.set(mb.name, series);
      }
      if (!recreated) for (const [name, series] of mailboxes) if (!next.has(name)) remove(series);
      mailboxes = next;
    },

    recordProbe(result) {
      const series = mailboxes.get(result.mailbox);
      if (series === undefined) return;
      const l = series.labels;
      const ok = result.success;
      setFact(series, 'up', ok ? 1 : 0);
      m.probes.inc(l);
      for (const phase of PHASES) {
        const seconds = result.phases[phase];
        if (seconds !== undefined && Number.isFinite(seconds) && seconds >= 0) {
          m.duration.observe({ ...l, phase }, seconds);
        }
      }
      const error = result.error;
      if (!ok && error !== null && REASON_SET.has(error.code)) {
        m.failures.inc({ ...l, reason: error.code });
        if (isLoginFailure(error)) m.loginFailures.inc({ ...l, reason: error.code });
      }
      // The end of the probe: when the mailbox was last seen working.
      if (ok) setFact(series, 'lastSuccess', result.started_at + (result.phases.total ?? 0));
      observe(series, 'messages', result.messages, ok);
      observe(series, 'sizeBytes', result.size_bytes, ok);
      // An empty maildrop has no oldest message, whatever the result says.
      const oldest = result.messages === 0 ? null : result.oldest_message_timestamp;
      observe(series, 'oldestMessage', oldest, ok);
      observe(series, 'certExpiry', result.tls?.cert_expiry_timestamp ?? null, ok);
      observe(series, 'uidlMessages', result.uidl_count, ok);
      observe(series, 'loginDelay', result.login_delay_seconds, ok);
    },

    recordSkip(mailbox, reason) {
      const series = mailboxes.get(mailbox);
      if (series !== undefined && SKIP_REASONS.includes(reason)) {
        m.skipped.inc({ ...series.labels, reason });
      }
    },

    setAlertFiring(rule, mailbox, severity, firing) {
      const series = mailboxes.get(mailbox);
      if (series === undefined) return;
      const key = `${rule}\0${severity}`;
      const alert = { rule, severity };
      if (firing) {
        m.alertsFiring.set(alertLabels(series, alert), 1);
        series.alerts.set(key, alert);
      } else if (series.alerts.delete(key)) {
        m.alertsFiring.remove(alertLabels(series, alert));
      }
    },

    setFlowAlertFiring(rule, target, severity, firing) {
      const labels: Labels =
        target.loop !== undefined
          ? { loop: target.loop, rule, severity }
          : { mailbox: target.mailbox, expect: target.expect ?? '', rule, severity };
      const key = JSON.stringify(labels);
      if (firing) {
        m.alertsFiring.set(labels, 1);
        flowAlerts.set(key, labels);
      } else if (flowAlerts.delete(key)) {
        m.alertsFiring.remove(labels);
      }
    },

    recordNotification(result) {
      notifications.inc({ result });
    },

    setOutboxPending(n) {
      outboxPending.set(n);
    },

    recordReload(success, atMs) {
      reloads.inc({ result: success ? 'success' : 'failure' });
      reloadSuccessful.set(success ? 1 : 0);
      if (success) reloadSuccessTime.set(atMs / 1000);
    },

    async render() {
      return {
        contentType: registry.contentType,
        body: (await registry.metrics()) + m.duration.render(),
      };
    },
  };
}
