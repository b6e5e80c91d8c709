/**
 * The label names pop3-monitor's own series carry, plus the ones Prometheus gives meaning
 * to. A mailbox's extra `labels:` may not use them: the config refuses such a key (naming
 * the field), so no series ever has two values for one name and no label is dropped.
 *
 * This module has no dependencies: the config loader imports it on every command.
 */
export const OWN_LABEL_NAMES: readonly string[] = [
  // Per-mailbox series.
  'mailbox',
  'reason',
  'rule',
  'severity',
  'phase',
  // pop3_mailbox_info.
  'host',
  'port',
  'tls',
  'auth',
  // Per-server series.
  'server',
  // The monitor's own series, and alerts of mail-flow loops and watches.
  'result',
  'version',
  'loop',
  'expect',
  // Histograms and summaries.
  'le',
  'quantile',
  // Added by Prometheus to every scraped series: a clash would be renamed exported_*.
  'job',
  'instance',
];

const OWN: ReadonlySet<string> = new Set(OWN_LABEL_NAMES);

/** True when a series of ours carries (or Prometheus adds) a label of this name. */
export function isOwnLabelName(name: string): boolean {
  return OWN.has(name);
}
