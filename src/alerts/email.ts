import type { NodemailerError, SendMailOptions, SMTPTransportOptions } from 'nodemailer';
import nodemailer from 'nodemailer';
import type { SmtpConfig } from '../config/schema.js';
import { maskSecrets } from '../secret.js';
import { renderEmail } from './email-render.js';
import { type NotifierLogger, SendError, type Sender } from './sender.js';
import type { Notification } from './types.js';

export type { RenderEmailOptions, RenderedEmail } from './email-render.js';
export { renderEmail, renderSubject, SUBJECT_MAX_LENGTH } from './email-render.js';

/** What the sender needs of a nodemailer transporter (tests pass their own). */
export interface EmailTransport {
  sendMail(
    mail: SendMailOptions,
  ): Promise<{ accepted?: unknown[]; rejected?: unknown[]; response?: string }>;
  verify(): Promise<unknown>;
  close(): void;
}

export interface EmailSenderOptions {
  logger?: NotifierLogger;
  transportFactory?: (options: SMTPTransportOptions) => EmailTransport;
  /** Right-hand side of the Message-ID (default: the domain of smtp.from). */
  hostname?: string;
}

export type EmailSender = Sender & { verify(): Promise<void>; close(): void };

/**
 * The nodemailer options for an SmtpConfig. Not pooled: each send opens its own
 * connection and closes it after QUIT, so an idle monitor holds no SMTP session.
 * Carries the revealed password: never log the result.
 */
export function smtpTransportOptions(smtp: SmtpConfig): SMTPTransportOptions {
  return {
    host: smtp.host,
    port: smtp.port,
    // true: implicit TLS (RFC 8314 §3, port 465). false: STARTTLS when the server offers it
    // (nodemailer upgrades on its own), and fail instead of going plain when require_tls.
    secure: smtp.secure,
    requireTLS: smtp.require_tls,
    ignoreTLS: false,
    opportunisticTLS: false,
    auth:
      smtp.username === undefined
        ? undefined
        : { user: smtp.username, pass: smtp.password === undefined ? '' : smtp.password.reveal() },
    tls: {
      ...(smtp.tls_ca === undefined ? {} : { ca: smtp.tls_ca }),
      rejectUnauthorized: !smtp.tls_insecure,
      minVersion: 'TLSv1.2',
    },
    connectionTimeout: smtp.timeout,
    greetingTimeout: smtp.timeout,
    socketTimeout: smtp.timeout,
    dnsTimeout: smtp.timeout,
    // nodemailer's own logger stays off: with debug it would print the AUTH exchange.
    logger: false,
    debug: false,
    transactionLog: false,
  };
}

/**
 * What an email carries of a notification: everything, or with send_resolved off only
 * the firing alerts (null when nothing is left to mail).
 */
export function emailedPart(n: Notification, sendResolved: boolean): Notification | null {
  if (sendResolved) return n;
  const alerts = n.alerts.filter((a) => a.status === 'firing');
  if (alerts.length === 0) return null;
  return { ...n, status: 'firing', alerts };
}

export function createEmailSender(
  smtp: SmtpConfig,
  alerting: { to: string[]; external_url?: string; send_resolved?: boolean },
  opts: EmailSenderOptions = {},
): EmailSender {
  const logger = opts.logger;
  const transport: EmailTransport = (opts.transportFactory ?? defaultTransport)(
    smtpTransportOptions(smtp),
  );
  // Servers sometimes quote what they received, AUTH PLAIN / LOGIN payloads included.
  const redact = (text: string): string => maskSecrets(text, [smtp.password]);

  return {
    channel: 'email',

    async send(notification: Notification): Promise<void> {
      if (alerting.to.length === 0) {
        throw new SendError('permanent', 'smtp: no recipients configured (alerting.to is empty)');
      }
      const n = emailedPart(notification, alerting.send_resolved ?? true);
      if (n === null) {
        logger?.debug(
          { event: 'alert_email_skipped', notification: notification.id },
          'only resolved alerts and send_resolved is off: no email',
        );
        return;
      }
      const mail = renderEmail(n, {
        from: smtp.from,
        to: alerting.to,
        externalUrl: alerting.external_url,
        hostname: opts.hostname,
      });
      const { 'Message-ID': _messageId, ...headers } = mail.headers;
      let info: Awaited<ReturnType<EmailTransport['sendMail']>>;
      try {
        info = await transport.sendMail({
          from: smtp.from,
          to: alerting.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          messageId: mail.messageId,
          // The notification's time, so every attempt produces the same message.
          date: new Date(n.created_at),
          headers,
        });
      } catch (err) {
        throw toSendError(err, redact);
      }
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length > 0) {
        // Some recipients took it: resending would duplicate it for them, so it counts as sent.
        logger?.warn(
          { event: 'alert_email_partly_rejected', notification: n.id, rejected },
          'alert email refused by some recipients',
        );
      }
      logger?.debug(
        {
          event: 'alert_email_sent',
          notification: n.id,
          message_id: mail.messageId,
          response: redact(String(info.response ?? '')),
        },
        'alert email sent',
      );
    },

    async verify(): Promise<void> {
      try {
        await transport.verify();
      } catch (err) {
        throw toSendError(err, redact);
      }
    },

    close(): void {
      transport.close();
    },
  };
}

function defaultTransport(options: SMTPTransportOptions): EmailTransport {
  return nodemailer.createTransport(options);
}

const CONFIG_ERROR_CODES = new Set(['ECONFIG', 'EENVELOPE', 'EMESSAGE', 'EAUTH', 'ENOAUTH']);

/**
 * RFC 5321 §4.2.1: 5yz is a permanent failure, 4yz transient. nodemailer ≥ 10.2 sets
 * `permanent` from the reply (5xx except 503, a session-state error). Without any reply,
 * a connection, DNS, TLS or timeout failure is temporary; an error in what we asked for
 * (bad address, missing credentials) will not heal by itself and is permanent.
 */
export function classifySmtpError(err: unknown): 'temporary' | 'permanent' {
  const e = (err ?? {}) as NodemailerError;
  if (typeof e.permanent === 'boolean') return e.permanent ? 'permanent' : 'temporary';
  if (typeof e.responseCode === 'number') {
    return e.responseCode >= 500 && e.responseCode < 600 ? 'permanent' : 'temporary';
  }
  return typeof e.code === 'string' && CONFIG_ERROR_CODES.has(e.code) ? 'permanent' : 'temporary';
}

/**
 * What a nodemailer failure says, on one line and masked: its message with the code, the
 * command and the server's reply code. Errors built from it carry no `cause`: the raw
 * error holds the server's reply verbatim, and a hostile or buggy server may echo
 * credentials there.
 */
export function smtpErrorText(err: unknown, redact: (text: string) => string): string {
  const e = (err ?? {}) as NodemailerError;
  const details = [e.code, e.command, e.responseCode].filter((d) => d !== undefined).join(' ');
  const message = err instanceof Error ? err.message : String(err);
  return redact(`smtp: ${message}${details === '' ? '' : ` (${details})`}`);
}

function toSendError(err: unknown, redact: (text: string) => string): SendError {
  return new SendError(classifySmtpError(err), smtpErrorText(err, redact));
}
