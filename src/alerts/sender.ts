import { CodedError } from '../errors.js';
import type { Channel, Notification } from './types.js';

/** What the outbox needs of a notifier (email, Alertmanager), and how a notifier fails. */

export const SEND_ERROR_CODES = ['temporary', 'permanent'] as const;
export type SendErrorCode = (typeof SEND_ERROR_CODES)[number];

/** What a sender throws: temporary (4xx, connection, timeout) or permanent (5xx). */
export class SendError extends CodedError<SendErrorCode> {}

export function isSendError(value: unknown): value is SendError {
  return value instanceof SendError;
}

export interface Sender {
  channel: Channel;
  /** Resolves once the notification is delivered; throws (preferably a SendError) otherwise. */
  send(n: Notification): Promise<void>;
}

/** The slice of a pino logger the alert code uses (a pino Logger satisfies it). */
export interface NotifierLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}
