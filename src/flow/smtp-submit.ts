import type { NodemailerError, SendMailOptions, SMTPTransportOptions } from 'nodemailer';
import nodemailer from 'nodemailer';
import { smtpErrorText, smtpTransportOptions } from '../alerts/email.js';
import type { LoopConfig } from '../config/schema.js';
import { CodedError } from '../errors.js';
import type { Reason } from '../pop3/errors.js';
import { secretMasker } from '../secret.js';
import { PROBE_HEADER, type ProbeStamp, probeHeaderValue } from './probe-header.js';

/**
 * The I/O shell that submits a delivery loop's probe message over SMTP with nodemailer
 * (submission with STARTTLS or implicit TLS, AUTH, certificate verification, the alert
 * mailer's bounded timeouts), and classifies a failure with the probe's closed set of
 * reasons.
 */

/** What a submission needs of a nodemailer transporter (tests pass their own). */
export interface SubmitTransport {
  sendMail(mail: SendMailOptions): Promise<unknown>;
  close(): void;
}

export type TransportFactory = (options: SMTPTransportOptions) => SubmitTransport;

/** Why a probe message was not submitted, in the probe's closed set of reasons. */
export class SubmitError extends CodedError<Reason> {}

function domainOf(address: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(address);
  return match?.[1] ?? 'localhost';
}

/** The probe message: signed header, its own Message-ID, marked as machine-made. */
export function probeMail(loop: LoopConfig, stamp: ProbeStamp): SendMailOptions {
  const messageId = `<pop3-monitor.loop.${stamp.loop}.${stamp.seq}.${stamp.sent}@${domainOf(loop.from)}>`;
  return {
    from: loop.from,
    to: loop.to,
    subject: `pop3-monitor delivery probe ${stamp.loop} #${stamp.seq}`,
    text: [
      `This message was sent by pop3-monitor's delivery loop "${stamp.loop}" to measure how`,
      'long mail takes to arrive in this mailbox. It carries a signed X-Pop3-Monitor-Probe',
      'header; with cleanup on, the monitor deletes it once seen. It needs no answer.',
      '',
    ].join('\r\n'),
    messageId,
    date: new Date(stamp.sent),
    headers: {
      [PROBE_HEADER]: probeHeaderValue(stamp, loop.hmac_key),
      // RFC 3834 §5: machine-made, so responders leave it alone.
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'All',
    },
  };
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/;
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * The reason of a failed submission, from nodemailer's error: its `code`, the system
 * error's code it keeps as `originalCode`, and the SMTP reply code (RFC 5321 §4.2.1: 5yz
 * permanent, 4yz temporary).
 */
export function submitReason(err: unknown): Reason {
  const e = (err ?? {}) as NodemailerError & { originalCode?: string };
  const code = typeof e.code === 'string' ? e.code : '';
  const original = typeof e.originalCode === 'string' ? e.originalCode : '';
  if (code === 'EAUTH' || code === 'ENOAUTH') return 'auth';
  if (code === 'ETLS' || TLS_CODES.test(original) || TLS_CODES.test(code)) return 'tls';
  if (code === 'EDNS' || DNS_CODES.has(original)) return 'dns';
  if (code === 'ETIMEDOUT' || original === 'ETIMEDOUT') return 'timeout';
  if (typeof e.responseCode === 'number') {
    return e.responseCode >= 500 ? 'server_perm' : 'server_temp';
  }
  if (CONNECT_CODES.has(original)) return 'connect';
  if (CLOSED_CODES.has(original) || code === 'ECONNECTION') return 'closed';
  if (code === 'ESOCKET') return 'connect';
  return 'protocol';
}

/**
 * Sends one probe message; resolves when the SMTP server accepted it (250 to DATA).
 * Throws a SubmitError whose message never holds the password.
 */
export async function submitProbe(
  loop: LoopConfig,
  stamp: ProbeStamp,
  factory: TransportFactory = (options) => nodemailer.createTransport(options),
): Promise<void> {
  const transport = factory(smtpTransportOptions(loop.smtp));
  const redact = secretMasker([loop.smtp.password]);
  try {
    const info = (await transport.sendMail(probeMail(loop, stamp))) as { rejected?: unknown[] };
    if ((info.rejected ?? []).length > 0) {
      throw new SubmitError('server_perm', `the SMTP server refused the recipient ${loop.to}`);
    }
  } catch (err) {
    if (err instanceof SubmitError) throw err;
    throw new SubmitError(submitReason(err), smtpErrorText(err, redact));
  } finally {
    transport.close();
  }
}
