import type { WebSettings } from './web-config-load.js';

const DAY_MS = 86_400_000;
/** A served certificate this close to its end is worth a warning. */
const EXPIRY_WARNING_DAYS = 14;

/**
 * What check-config shows of a web configuration: its settings as written (hashes and an
 * inline key masked), the certificate it would serve, a one-line summary, and warnings.
 */
export function describeWebSettings(
  settings: WebSettings,
  nowMs: number,
): { shown: Record<string, unknown>; summary: string; warnings: string[] } {
  const warnings: string[] = [];
  const tls = settings.tls;
  const parts: string[] = [];
  if (tls === undefined) parts.push('plain HTTP');
  else {
    parts.push(`HTTPS (client certificates: ${tls.clientAuth})`);
    const end = Date.parse(tls.certificate.notAfter);
    const days = Math.floor((end - nowMs) / DAY_MS);
    if (end <= nowMs)
      warnings.push(
        `the server certificate in ${settings.source} expired on ${tls.certificate.notAfter}`,
      );
    else if (days < EXPIRY_WARNING_DAYS)
      warnings.push(
        `the server certificate in ${settings.source} expires in ${days} day(s) (${tls.certificate.notAfter})`,
      );
  }
  parts.push(
    settings.users.size === 0 ? 'no basic auth users' : `${settings.users.size} basic auth user(s)`,
  );
  if (settings.rateLimit !== undefined)
    parts.push(
      `rate limit ${settings.rateLimit.burst} at once, one more every ${settings.rateLimit.intervalMs} ms`,
    );
  return {
    shown: {
      file: settings.source,
      ...settings.data,
      ...(tls === undefined
        ? {}
        : {
            served_certificate: {
              subject: tls.certificate.subject,
              serial: tls.certificate.serial,
              not_after: tls.certificate.notAfter,
              sha256: tls.certificate.fingerprint256,
            },
          }),
    },
    summary: parts.join(', '),
    warnings,
  };
}
