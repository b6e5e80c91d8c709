import type { ProbeResult } from '../probe/result.js';
import { CONTENT_TYPE, familyHeader, joinLabels, labelText, sampleLine } from './exposition.js';
import { TIMED_PHASES } from './mailbox-series.js';

/**
 * PURE: one probe's result as the answer of /probe?mailbox=NAME (the multi-target pattern
 * of blackbox_exporter: Prometheus drives the probe and stores what it gets). The facts
 * carry the names and meanings they have in /metrics (`pop3_up`, `pop3_messages`, ...);
 * what /metrics aggregates over many probes (the duration histograms, the counters) is
 * this one probe's value here, under names of its own, so the types never clash when one
 * Prometheus scrapes both: `pop3_probe_last_duration_seconds` for the whole probe,
 * `pop3_probe_last_phase_duration_seconds{phase}` for each phase, and
 * `pop3_probe_last_failure_info{reason,phase}` when it failed. Every series carries
 * `mailbox` and the mailbox's extra labels, as in /metrics.
 */

interface Fact {
  name: string;
  help: string;
  value: number | null | undefined;
}

export function renderProbeMetrics(
  result: ProbeResult,
  extraLabels: Readonly<Record<string, string>>,
): { contentType: string; body: string } {
  const labels = labelText({ mailbox: result.mailbox, ...extraLabels });
  const ok = result.success;
  const oldest = result.messages === 0 ? null : result.oldest_message_timestamp;
  const facts: Fact[] = [
    { name: 'pop3_up', help: '1 if the probe succeeded.', value: ok ? 1 : 0 },
    { name: 'pop3_messages', help: 'STAT count.', value: result.messages },
    { name: 'pop3_size_bytes', help: 'STAT octets.', value: result.size_bytes },
    {
      name: 'pop3_oldest_message_timestamp_seconds',
      help: 'Date: (or newest Received:) of message 1, seconds since the epoch.',
      value: oldest,
    },
    {
      name: 'pop3_tls_cert_expiry_timestamp_seconds',
      help: 'notAfter of the server certificate, seconds since the epoch.',
      value: result.tls?.cert_expiry_timestamp,
    },
    { name: 'pop3_uidl_messages', help: 'Entries in the UIDL listing.', value: result.uidl_count },
    {
      name: 'pop3_login_delay_seconds',
      help: 'CAPA LOGIN-DELAY, seconds.',
      value: result.login_delay_seconds,
    },
    {
      name: 'pop3_probe_last_duration_seconds',
      help: 'How long this probe took, seconds.',
      value: result.phases.total,
    },
  ];
  let body = '';
  for (const fact of facts) {
    if (fact.value === null || fact.value === undefined || !Number.isFinite(fact.value)) continue;
    body += familyHeader(fact.name, fact.help, 'gauge') + sampleLine(fact.name, labels, fact.value);
  }
  const phases = TIMED_PHASES.filter((p) => result.phases[p] !== undefined);
  if (phases.length > 0) {
    const name = 'pop3_probe_last_phase_duration_seconds';
    body += familyHeader(name, 'How long each phase of this probe took, seconds.', 'gauge');
    for (const phase of phases)
      body += sampleLine(
        name,
        joinLabels(labels, labelText({ phase })),
        result.phases[phase] as number,
      );
  }
  if (!ok && result.error) {
    const name = 'pop3_probe_last_failure_info';
    const { code, phase } = result.error;
    body +=
      familyHeader(name, 'Why this probe failed: the reason and the phase; always 1.', 'gauge') +
      sampleLine(name, joinLabels(labels, labelText({ reason: code, phase })), 1);
  }
  return { contentType: CONTENT_TYPE, body };
}
