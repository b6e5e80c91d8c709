import { familyHeader, type MetricType, sampleLine } from './exposition.js';
import type { Fact, MailboxSeries } from './mailbox-series.js';

/** A metric family with a `mailbox` label: its header and the lines of one mailbox. */
interface Family {
  name: string;
  help: string;
  type: MetricType;
  lines(m: MailboxSeries): string;
}

function gauge(name: string, fact: Fact, help: string): Family {
  return {
    name,
    help,
    type: 'gauge',
    lines(m) {
      const value = m.fact(fact);
      return Number.isNaN(value) ? '' : sampleLine(name, m.labels, value);
    },
  };
}

function byReason(name: string, help: string, pick: (m: MailboxSeries) => Map<string, number>) {
  return {
    name,
    help,
    type: 'counter',
    lines(m) {
      let out = '';
      for (const [reason, n] of pick(m))
        out += sampleLine(name, `${m.labels},reason="${reason}"`, n);
      return out;
    },
  } satisfies Family;
}

const FAMILIES: readonly Family[] = [
  gauge('pop3_up', 'up', 'Whether the last probe of the mailbox succeeded (1) or failed (0).'),
  gauge('pop3_messages', 'messages', 'Messages in the maildrop, from STAT.'),
  gauge('pop3_size_bytes', 'sizeBytes', 'Size of the maildrop in octets, from STAT.'),
  gauge(
    'pop3_oldest_message_timestamp_seconds',
    'oldestMessage',
    'Date of message 1 (via TOP), seconds since the epoch; absent when the maildrop is empty.',
  ),
  gauge(
    'pop3_last_success_timestamp_seconds',
    'lastSuccess',
    'When the last successful probe ended, seconds since the epoch.',
  ),
  gauge(
    'pop3_tls_cert_expiry_timestamp_seconds',
    'certExpiry',
    'notAfter of the server certificate, seconds since the epoch.',
  ),
  gauge('pop3_uidl_messages', 'uidlMessages', 'Entries in the UIDL listing.'),
  gauge(
    'pop3_login_delay_seconds',
    'loginDelay',
    'Minimum seconds between logins the server announces (CAPA LOGIN-DELAY).',
  ),
  {
    name: 'pop3_tls_insecure',
    help: 'Present (1) only for a mailbox whose certificate verification is turned off (tls_insecure).',
    type: 'gauge',
    lines: (m) => (m.tlsInsecure ? sampleLine('pop3_tls_insecure', m.labels, 1) : ''),
  },
  {
    name: 'pop3_mailbox_info',
    help: 'Configuration facts of the mailbox; the value is always 1.',
    type: 'gauge',
    lines: (m) => sampleLine('pop3_mailbox_info', `${m.labels},${m.info}`, 1),
  },
  {
    name: 'pop3_probes_total',
    help: 'Probes run, successful or not.',
    type: 'counter',
    lines: (m) => sampleLine('pop3_probes_total', m.labels, m.probes),
  },
  byReason(
    'pop3_probe_failures_total',
    'Failed probes by reason; a reason appears with its first failure.',
    (m) => m.failures,
  ),
  byReason(
    'pop3_login_failures_total',
    'Failed logins by reason: failures in the auth phase and credential refusals.',
    (m) => m.loginFailures,
  ),
  byReason(
    'pop3_probe_skipped_total',
    'Scheduled probes not run: the previous one still ran (overlap) or login failures back off (auth_backoff).',
    (m) => m.skipped,
  ),
  {
    name: 'pop3_alerts_firing',
    help: 'Alert instances firing now (1); the series disappears when the alert resolves.',
    type: 'gauge',
    lines(m) {
      let out = '';
      for (const a of m.alerts.values())
        out += sampleLine('pop3_alerts_firing', `${m.labels},${a.text}`, 1);
      return out;
    },
  },
  {
    name: 'pop3_probe_duration_seconds',
    help: 'Duration of the whole probe, successful or not.',
    type: 'histogram',
    lines: (m) => m.duration?.render('pop3_probe_duration_seconds', m.labels) ?? '',
  },
];

const MAILBOX_PHASES: Family = {
  name: 'pop3_mailbox_phase_duration_seconds',
  help: 'Duration of each phase of the probes of one mailbox (metrics.mailbox_phases).',
  type: 'histogram',
  lines(m) {
    let out = '';
    for (const [phase, s] of m.phases ?? []) {
      out += s.render('pop3_mailbox_phase_duration_seconds', `${m.labels},phase="${phase}"`);
    }
    return out;
  },
};

/** Mailboxes rendered per chunk: small enough that a chunk takes well under 1 ms. */
const MAILBOXES_PER_CHUNK = 200;

/**
 * The text of every per-mailbox family, family by family, in chunks of a few hundred
 * mailboxes: the caller can yield to the event loop between chunks, so a scrape of
 * 10,000 mailboxes never holds it for long, and no single string holds the whole text.
 * `extra` holds more sample lines of a family, by its name, written after the mailboxes'
 * (the alerts of delivery loops and expect watches in pop3_alerts_firing).
 */
export function* mailboxChunks(
  list: readonly MailboxSeries[],
  withPhases: boolean,
  extra: Readonly<Record<string, string>> = {},
): Generator<string> {
  const families = withPhases ? [...FAMILIES, MAILBOX_PHASES] : FAMILIES;
  for (const family of families) {
    let out = familyHeader(family.name, family.help, family.type);
    let n = 0;
    for (const m of list) {
      out += family.lines(m);
      if (++n % MAILBOXES_PER_CHUNK === 0) {
        yield out;
        out = '';
      }
    }
    out += extra[family.name] ?? '';
    if (out !== '') yield out;
  }
}
