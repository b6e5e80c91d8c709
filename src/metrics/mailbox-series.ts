import type { MailboxConfig } from '../config/schema.js';
import { PHASES, type Phase, type ProbeResult } from '../probe/result.js';
import { type Labels, labelText } from './exposition.js';
import { Buckets, HistogramSeries } from './histogram.js';

/**
 * Buckets of `pop3_probe_duration_seconds` (the whole probe): 20 ms is a probe on a LAN,
 * 50–500 ms one over the internet, seconds a slow server; past 5 s (the deadline is 10 s
 * by default) the count in +Inf is what matters. Eight bounds plus +Inf keep the
 * histogram at 11 sample lines per mailbox.
 */
export const PROBE_DURATION_BUCKETS = [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5] as const;

/**
 * Buckets of the phase histograms: a pipelined STAT after the login takes microseconds,
 * a TLS handshake over the internet hundreds of ms. The probe buckets are a subset.
 */
export const PHASE_DURATION_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
] as const;

export const PROBE_BUCKETS = new Buckets(PROBE_DURATION_BUCKETS);
export const PHASE_BUCKETS = new Buckets(PHASE_DURATION_BUCKETS);

/** Every phase but `total` (the whole probe, which has its own histogram). */
export const TIMED_PHASES: readonly Phase[] = PHASES.filter((p) => p !== 'total');

/** The per-mailbox gauges that hold one observed value (and no other label). */
export const FACTS = [
  'up',
  'messages',
  'sizeBytes',
  'oldestMessage',
  'lastSuccess',
  'certExpiry',
  'uidlMessages',
  'loginDelay',
] as const;
export type Fact = (typeof FACTS)[number];
const FACT_INDEX = Object.fromEntries(FACTS.map((f, i) => [f, i])) as Record<Fact, number>;

/** `host:port` as configured, `[v6]:port` for an IPv6 literal: the `server` label. */
export function serverLabel(mailbox: Pick<MailboxConfig, 'host' | 'port'>): string {
  return mailbox.host.includes(':')
    ? `[${mailbox.host}]:${mailbox.port}`
    : `${mailbox.host}:${mailbox.port}`;
}

export interface Alert {
  rule: string;
  severity: string;
  /** `rule="..",severity=".."`, pre-rendered. */
  text: string;
}

/**
 * Everything /metrics shows for one mailbox, with its label text rendered once. Absent
 * gauges are NaN; counters by reason appear at their first count.
 */
export class MailboxSeries {
  /** `mailbox="..",<extra>=".."`: the labels every series of this mailbox starts with. */
  readonly labels: string;
  readonly labelValues: Labels;
  /** The labels of pop3_mailbox_info after `labels`. */
  info = '';
  server = '';
  tlsInsecure = false;
  readonly facts = new Float64Array(FACTS.length).fill(Number.NaN);
  probes = 0;
  readonly failures = new Map<string, number>();
  readonly loginFailures = new Map<string, number>();
  readonly skipped = new Map<string, number>();
  /** Firing (or pending) alerts, keyed by rule and severity. */
  readonly alerts = new Map<string, Alert>();
  /** The whole-probe histogram, from the first probe on. */
  duration: HistogramSeries | null = null;
  /** Per-phase histograms, only with `metrics.mailbox_phases`. */
  phases: Map<Phase, HistogramSeries> | null = null;

  constructor(labelValues: Labels) {
    this.labelValues = labelValues;
    this.labels = labelText(labelValues);
  }

  fact(name: Fact): number {
    return this.facts[FACT_INDEX[name]] as number;
  }

  setFact(name: Fact, value: number): void {
    this.facts[FACT_INDEX[name]] = value;
  }

  /** Takes the config facts of the mailbox (info labels, server, tls_insecure). */
  configure(mailbox: MailboxConfig): void {
    this.info = labelText({
      host: mailbox.host,
      port: String(mailbox.port),
      tls: mailbox.tls,
      auth: mailbox.auth,
    });
    this.server = serverLabel(mailbox);
    this.tlsInsecure = mailbox.tls_insecure;
  }

  /** A copy under new labels: gauges and alerts carry over, counters start again. */
  relabel(labelValues: Labels, withPhases: boolean): MailboxSeries {
    const next = new MailboxSeries(labelValues);
    next.facts.set(this.facts);
    for (const [key, alert] of this.alerts) next.alerts.set(key, alert);
    next.setPhases(withPhases);
    return next;
  }

  setPhases(on: boolean): void {
    if (on && this.phases === null) this.phases = new Map();
    if (!on) this.phases = null;
  }

  count(map: Map<string, number>, reason: string): void {
    map.set(reason, (map.get(reason) ?? 0) + 1);
  }

  /**
   * A non-null observation replaces the old value. A null one removes the series only
   * after a successful probe (the fact is gone); after a failure it means "not seen".
   */
  observe(name: Fact, value: number | null, ok: boolean): void {
    if (value !== null && Number.isFinite(value)) this.setFact(name, value);
    else if (ok) this.setFact(name, Number.NaN);
  }

  /** The facts of one probe (phases and reasons are counted by the caller). */
  recordFacts(result: ProbeResult): void {
    const ok = result.success;
    this.setFact('up', ok ? 1 : 0);
    this.probes += 1;
    // The end of the probe: when the mailbox was last seen working.
    if (ok) this.setFact('lastSuccess', result.started_at + (result.phases.total ?? 0));
    this.observe('messages', result.messages, ok);
    this.observe('sizeBytes', result.size_bytes, ok);
    // An empty maildrop has no oldest message, whatever the result says.
    const oldest = result.messages === 0 ? null : result.oldest_message_timestamp;
    this.observe('oldestMessage', oldest, ok);
    this.observe('certExpiry', result.tls?.cert_expiry_timestamp ?? null, ok);
    this.observe('uidlMessages', result.uidl_count, ok);
    this.observe('loginDelay', result.login_delay_seconds, ok);
    const total = result.phases.total;
    if (total !== undefined && Number.isFinite(total) && total >= 0) {
      this.duration ??= new HistogramSeries(PROBE_BUCKETS);
      this.duration.observe(total);
    }
    if (this.phases !== null) {
      for (const phase of TIMED_PHASES) {
        const seconds = result.phases[phase];
        if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) continue;
        let series = this.phases.get(phase);
        if (series === undefined) {
          series = new HistogramSeries(PHASE_BUCKETS);
          this.phases.set(phase, series);
        }
        series.observe(seconds);
      }
    }
  }
}
