import { isIP } from 'node:net';
import cron from 'node-cron';
import type { Config } from './schema.js';

/** Probing faster than this risks provider rate limits, LOGIN-DELAY and lockouts. */
export const MIN_SCHEDULE_SECONDS = 10;

/**
 * Settings that are valid but probably unwise; `run` and `check-config` print them.
 * Each line starts with the field path, like a ConfigError line.
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  /** Mailboxes on a fast schedule, by schedule: one warning each, not one per mailbox. */
  const fast = new Map<string, { path: string; gap: number; others: number }>();
  config.mailboxes.forEach((mailbox, index) => {
    const path = `mailboxes[${index}]`;
    // APOP sends an MD5 digest, not the secret; every other method sends the secret itself.
    if (mailbox.tls === 'none' && mailbox.auth !== 'apop' && !isLoopback(mailbox.host)) {
      warnings.push(
        `${path}.tls: none sends the password in cleartext to ${mailbox.host}; use implicit or starttls`,
      );
    }
    if (mailbox.tls_insecure && mailbox.tls !== 'none') {
      warnings.push(
        `${path}.tls_insecure: certificate verification is off, so anyone on the path can read the password`,
      );
    }
    // A server on this machine (the demo's, a test server) has no provider's limits to hit.
    if (isLoopback(mailbox.host)) return;
    const seen = fast.get(mailbox.schedule);
    if (seen !== undefined) {
      seen.others += 1;
      return;
    }
    const gap = shortestGapSeconds(mailbox.schedule);
    if (gap !== null && gap < MIN_SCHEDULE_SECONDS)
      fast.set(mailbox.schedule, { path: `${path}.schedule`, gap, others: 0 });
  });
  for (const { path, gap, others } of fast.values()) {
    const also = others === 0 ? '' : ` (and ${others} more mailbox${others === 1 ? '' : 'es'})`;
    warnings.push(
      `${path}: runs as often as every ${gap}s${also}; below ${MIN_SCHEDULE_SECONDS}s servers may refuse logins (LOGIN-DELAY, rate limits)`,
    );
  }
  config.loops.forEach((loop, index) => {
    const path = `loops[${index}]`;
    if (!loop.cleanup) {
      warnings.push(
        `${path}.cleanup: off, so every probe message stays in mailbox ${loop.mailbox} (one per schedule run) until someone deletes it; cleanup: true lets the monitor delete its own verified probe messages`,
      );
    }
    if (loop.smtp.tls_insecure) {
      warnings.push(
        `${path}.smtp.tls_insecure: certificate verification is off for the probe messages`,
      );
    }
  });
  const smtp = config.alerting.smtp;
  if (smtp?.tls_insecure) {
    warnings.push('alerting.smtp.tls_insecure: certificate verification is off for alert mail');
  }
  if (smtp === undefined && config.alerting.to.length > 0) {
    warnings.push('alerting.to: recipients are set but alerting.smtp is not, so no mail is sent');
  }
  if (
    smtp === undefined &&
    config.alerting.alertmanager === undefined &&
    config.alerting.rules.length > 0
  ) {
    warnings.push(
      'alerting.rules: no alerting.smtp or alerting.alertmanager, so alerts show only in pop3_alerts_firing',
    );
  }
  return warnings;
}

/** localhost, 127.0.0.0/8 and ::1: traffic that never leaves the machine. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const lower = bare.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6)
    return /^(0{0,4}:){2,7}0{0,3}1$/.test(lower) || lower === '::ffff:127.0.0.1';
  return false;
}

/**
 * The shortest time between two runs of a cron schedule, in seconds, when it runs
 * more than once a minute; null otherwise (or when node-cron cannot parse it).
 */
export function shortestGapSeconds(schedule: string): number | null {
  let fields: ReturnType<typeof cron.parse>;
  try {
    fields = cron.parse(schedule);
  } catch {
    return null;
  }
  const seconds = [...new Set(fields.second)].sort((a, b) => a - b);
  if (seconds.length < 2) return null;
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < seconds.length; i++) {
    gap = Math.min(gap, (seconds[i] as number) - (seconds[i - 1] as number));
  }
  // The gap from the last second of one minute to the first of the next counts only
  // when two consecutive minutes both run.
  const minutes = new Set(fields.minute);
  if ([...minutes].some((m) => minutes.has((m + 1) % 60))) {
    gap = Math.min(gap, 60 - (seconds.at(-1) as number) + (seconds[0] as number));
  }
  return gap;
}
