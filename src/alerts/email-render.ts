import { hostname as osHostname } from 'node:os';
import { formatDuration } from '../config/duration.js';
import type { Severity } from '../config/schema.js';
import { escapeHtml } from '../html.js';
import { type AlertSnapshot, alertTarget, type Notification } from './types.js';
import { formatNumber, formatRuleValue } from './values.js';

/**
 * PURE: a notification → the subject, plain-text and HTML bodies and headers of its email,
 * laid out like Alertmanager's default email template. Mailbox names, labels and error
 * messages come from config and from servers: every one is escaped in the HTML.
 */

export interface RenderEmailOptions {
  from: string;
  to: string[];
  /** Linked from the mail and used as generator URL; only http(s) URLs are linked. */
  externalUrl?: string;
  /** Right-hand side of the Message-ID; defaults to the domain of `from`. */
  hostname?: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
  /** `<pop3-monitor.ID@HOST>`, the same for every attempt of one notification. */
  messageId: string;
  /** Every header to set, Message-ID included. */
  headers: Record<string, string>;
}

export const SUBJECT_MAX_LENGTH = 150;
const SERVICE = 'pop3-monitor';
const SEVERITY_RANK: Record<Severity, number> = { warning: 1, critical: 2 };
const MAX_FIELD_LENGTH = 1000;

export function renderEmail(n: Notification, opts: RenderEmailOptions): RenderedEmail {
  const firing = n.alerts.filter((a) => a.status === 'firing');
  const resolved = n.alerts.filter((a) => a.status !== 'firing');
  const messageId = `<${SERVICE}.${messageIdLocalPart(n.id)}@${messageIdDomain(opts)}>`;
  const link = safeLink(opts.externalUrl);
  return {
    subject: renderSubject(n),
    text: renderText(n, firing, resolved, link),
    html: renderHtml(n, firing, resolved, link),
    messageId,
    headers: {
      'Message-ID': messageId,
      'X-Pop3-Monitor-Notification': oneLine(n.id),
      // RFC 3834 §5: marks the mail as machine-made, so responders do not answer it.
      'Auto-Submitted': 'auto-generated',
      // The same for Exchange/Outlook auto-replies, which ignore Auto-Submitted.
      'X-Auto-Response-Suppress': 'All',
    },
  };
}

/**
 * `[FIRING:2] pop3-monitor: backlog on support (warning)`; several rules or mailboxes are
 * listed in order of appearance, the severity is the highest; `[RESOLVED]` when none fires
 * (a mixed batch names only the firing alerts). At most SUBJECT_MAX_LENGTH characters.
 */
export function renderSubject(n: Notification): string {
  const firing = n.alerts.filter((a) => a.status === 'firing');
  const isFiring = firing.length > 0 || (n.alerts.length === 0 && n.status === 'firing');
  const shown = firing.length > 0 ? firing : n.alerts;
  const prefix = `${isFiring ? `[FIRING:${firing.length}]` : '[RESOLVED]'} ${SERVICE}: `;
  if (shown.length === 0) return `${prefix}no alerts`;
  const rules = unique(shown.map((a) => a.rule)).join(', ');
  const mailboxes = unique(shown.map((a) => alertTarget(a))).join(', ');
  const suffix = ` (${highestSeverity(shown)})`;
  let middle = oneLine(`${rules} on ${mailboxes}`);
  const room = SUBJECT_MAX_LENGTH - prefix.length - suffix.length;
  if (middle.length > room) middle = `${middle.slice(0, Math.max(0, room - 3)).trimEnd()}...`;
  return prefix + middle + suffix;
}

interface AlertLine {
  label: string;
  value: string;
}

function alertTitle(a: AlertSnapshot): string {
  return `${a.rule} on ${alertTarget(a)} (${a.severity})`;
}

/** The fields shown under an alert's title, in order; shared by the text and HTML forms. */
function alertLines(a: AlertSnapshot, now: number): AlertLine[] {
  const since =
    a.status === 'firing'
      ? `${isoTime(a.active_since)} (for ${formatAge(now - a.active_since)})`
      : isoTime(a.active_since);
  const lines: AlertLine[] = [
    { label: 'Condition', value: condition(a) },
    { label: 'Value', value: a.value === null ? 'no data' : formatRuleValue(a.metric, a.value) },
    { label: 'Since', value: since },
    { label: 'Firing since', value: isoTime(a.fired_at) },
  ];
  if (a.status === 'resolved') {
    const end = a.resolved_at ?? now;
    lines.push({
      label: 'Resolved',
      value: `${isoTime(end)} (after ${formatAge(end - a.active_since)})`,
    });
  }
  if (a.last_error !== null) {
    lines.push({
      label: 'Last error',
      value: `${a.last_error.code}: ${bounded(a.last_error.message)}`,
    });
  }
  if (a.description !== null && a.description !== '') {
    lines.push({ label: 'Description', value: bounded(a.description) });
  }
  const labels = Object.entries(a.labels)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (labels !== '') lines.push({ label: 'Labels', value: labels });
  return lines;
}

function headline(firing: number, resolved: number): string {
  const parts: string[] = [];
  if (firing > 0) parts.push(`${firing} alert${firing === 1 ? '' : 's'} firing`);
  if (resolved > 0) parts.push(`${resolved} resolved`);
  return parts.length > 0 ? parts.join(', ') : 'no alerts';
}

function renderText(
  n: Notification,
  firing: AlertSnapshot[],
  resolved: AlertSnapshot[],
  link: string | null,
): string {
  const out: string[] = [`${SERVICE}: ${headline(firing.length, resolved.length)}`, ''];
  const section = (title: string, alerts: AlertSnapshot[]): void => {
    if (alerts.length === 0) return;
    out.push(`${title} (${alerts.length})`, '');
    for (const a of alerts) {
      out.push(`* ${oneLine(alertTitle(a))}`);
      for (const line of alertLines(a, n.created_at)) {
        out.push(`  ${`${line.label}:`.padEnd(14)}${oneLine(line.value)}`);
      }
      out.push('');
    }
  };
  section('FIRING', firing);
  section('RESOLVED', resolved);
  out.push('-- ');
  out.push(
    `Sent by ${SERVICE} at ${isoTime(n.created_at)} (${causeText(n)}, notification ${oneLine(n.id)}).`,
  );
  if (link !== null) out.push(`Source: ${link}`);
  return `${out.join('\n')}\n`;
}

function renderHtml(
  n: Notification,
  firing: AlertSnapshot[],
  resolved: AlertSnapshot[],
  link: string | null,
): string {
  const title = `${SERVICE}: ${headline(firing.length, resolved.length)}`;
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222">',
    `<h2 style="margin:0 0 12px">${escapeHtml(title)}</h2>`,
  ];
  const section = (heading: string, color: string, alerts: AlertSnapshot[]): void => {
    if (alerts.length === 0) return;
    out.push(
      `<h3 style="color:${color};margin:16px 0 8px">${escapeHtml(heading)} (${alerts.length})</h3>`,
    );
    for (const a of alerts) {
      out.push(
        `<table style="border-collapse:collapse;margin:0 0 12px;border-left:4px solid ${color}">`,
        `<tr><th colspan="2" style="text-align:left;padding:2px 12px">${escapeHtml(alertTitle(a))}</th></tr>`,
      );
      for (const line of alertLines(a, n.created_at)) {
        out.push(
          '<tr>' +
            `<th style="text-align:left;padding:2px 12px;vertical-align:top">${escapeHtml(line.label)}</th>` +
            `<td style="padding:2px 12px">${escapeHtml(line.value)}</td></tr>`,
        );
      }
      out.push('</table>');
    }
  };
  section('Firing', '#c62828', firing);
  section('Resolved', '#2e7d32', resolved);
  out.push(
    `<p style="color:#666;font-size:12px">Sent by ${SERVICE} at ${escapeHtml(isoTime(n.created_at))}` +
      ` (${escapeHtml(causeText(n))}, notification ${escapeHtml(n.id)}).`,
  );
  if (link !== null) {
    out.push(`<br><a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`);
  }
  out.push('</p>', '</body></html>');
  return `${out.join('\n')}\n`;
}

function causeText(n: Notification): string {
  return n.cause === 'repeat' ? 'repeat of still-firing alerts' : 'state change';
}

/** ISO-8601 UTC to the second: 2024-05-01T10:00:00Z. */
function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function formatAge(ms: number): string {
  return formatDuration(Math.max(0, Math.floor(ms / 1000) * 1000));
}

/** `oldest_message_age_seconds > 3600 (1h 0m)`: a duration threshold also in people's units. */
function condition(a: AlertSnapshot): string {
  const plain = `${a.metric} ${a.op} ${formatNumber(a.threshold)}`;
  const shown = formatRuleValue(a.metric, a.threshold);
  return shown.includes(' ') ? `${plain} (${shown})` : plain;
}

function highestSeverity(alerts: AlertSnapshot[]): Severity {
  let best: Severity = 'warning';
  for (const a of alerts) if (SEVERITY_RANK[a.severity] > SEVERITY_RANK[best]) best = a.severity;
  return best;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** Control characters (CR/LF above all) never reach a header or a text line. */
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ');
}

function bounded(text: string): string {
  return text.length > MAX_FIELD_LENGTH ? `${text.slice(0, MAX_FIELD_LENGTH)}...` : text;
}

/** Only http(s) is linked: `javascript:` is an absolute URL too. */
function safeLink(url: string | undefined): string | null {
  if (url === undefined || url === '') return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

const DOT_ATOM = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** RFC 5322 §3.6.4: the left side of a msg-id is dot-atom-text; other ids are escaped into it. */
function messageIdLocalPart(id: string): string {
  if (DOT_ATOM.test(id)) return id;
  // Stable and collision-free: every byte outside the safe set becomes =XX.
  return Buffer.from(id, 'utf8')
    .toString('hex')
    .replace(/../g, (hex) => {
      const ch = String.fromCharCode(Number.parseInt(hex, 16));
      return /[A-Za-z0-9_-]/.test(ch) ? ch : `=${hex.toUpperCase()}`;
    });
}

/**
 * The domain of the From address by default: unlike the host name it stays the same when
 * the monitor moves (a new container), so a resent alert keeps its Message-ID.
 */
function messageIdDomain(opts: RenderEmailOptions): string {
  const candidates = [opts.hostname, /@([A-Za-z0-9.-]+)>?\s*$/.exec(opts.from)?.[1], osHostname()];
  for (const c of candidates) if (c !== undefined && DOT_ATOM.test(c)) return c.toLowerCase();
  return 'localhost';
}
