export const SCHEDULER_ERROR_CODES = [
  'invalid_schedule',
  'invalid_timezone',
  'duplicate_mailbox',
  'unknown_mailbox',
  'stopped',
] as const;

export type SchedulerErrorCode = (typeof SCHEDULER_ERROR_CODES)[number];

/** Misuse of the scheduler (a bad expression, an unknown name, a call after stop()). */
export class SchedulerError extends Error {
  override readonly name = 'SchedulerError';
  readonly code: SchedulerErrorCode;

  constructor(code: SchedulerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
