import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ProbeResult, SkipReason } from './result.js';

/** What the gate reads of a mailbox; MailboxConfig has all of it. */
export interface GatedMailbox {
  name: string;
  schedule: string;
  /** ms to hold scheduled probes back after an auth failure; 0 turns the backoff off. */
  auth_failure_backoff: number;
}

export interface ProbeGateOptions {
  clock: Clock;
  logger: Pick<Logger, 'warn'>;
  /** The time between two runs of a schedule (the scheduler knows, through node-cron). */
  intervalMs(schedule: string): number;
}

interface GateState {
  authFailedAt?: number | undefined;
  loginDelayWarned?: boolean;
}

/**
 * What the server told us about probing it, applied to the next scheduled probes:
 *
 * - Auth backoff. After a result with error.code 'auth', scheduled probes are held back
 *   ('auth_backoff') until auth_failure_backoff ms have passed since that result, so a
 *   wrong password does not lock the account; a success clears it at once.
 * - LOGIN-DELAY (RFC 2449 section 6.8): a server announcing a longer delay than the
 *   schedule's interval will refuse logins; that is warned once.
 *
 * State belongs to one mailbox config object (a WeakMap): the scheduler keeps the object
 * of an unchanged mailbox across reloads and hands a changed one over as a new object,
 * which starts clean; a result of a probe that ran with an older config changes only the
 * older config's state.
 */
export class ProbeGate {
  readonly #options: ProbeGateOptions;
  readonly #states = new WeakMap<GatedMailbox, GateState>();

  constructor(options: ProbeGateOptions) {
    this.#options = options;
  }

  /** Why a scheduled probe of `mailbox` should not run now; null: let it run. */
  admit(mailbox: GatedMailbox): SkipReason | null {
    return this.#backoffLeftMs(mailbox) > 0 ? 'auth_backoff' : null;
  }

  /** Why a login to `mailbox` must wait now, as an operator reads it; null: it need not. */
  heldBack(mailbox: GatedMailbox): string | null {
    const left = this.#backoffLeftMs(mailbox);
    if (left <= 0) return null;
    return `backing off after a refused login for ${Math.ceil(left / 1000)}s more (auth_failure_backoff)`;
  }

  #backoffLeftMs(mailbox: GatedMailbox): number {
    const failedAt = this.#states.get(mailbox)?.authFailedAt;
    if (failedAt === undefined) return 0;
    return failedAt + mailbox.auth_failure_backoff - this.#options.clock.now();
  }

  /** Learns from the result of a probe that ran with `mailbox`. */
  observe(mailbox: GatedMailbox, result: ProbeResult): void {
    const state = this.#states.get(mailbox) ?? {};
    this.#states.set(mailbox, state);
    if (result.error?.code === 'auth') {
      state.authFailedAt = this.#options.clock.now();
      if (mailbox.auth_failure_backoff > 0) {
        this.#options.logger.warn(
          {
            event: 'auth_backoff',
            mailbox: mailbox.name,
            backoff_ms: mailbox.auth_failure_backoff,
          },
          'login refused: scheduled probes wait for the backoff',
        );
      }
    } else if (result.success) {
      state.authFailedAt = undefined;
    }
    const delay = result.login_delay_seconds;
    if (delay === null || state.loginDelayWarned) return;
    const intervalMs = this.#options.intervalMs(mailbox.schedule);
    if (delay * 1000 <= intervalMs) return;
    state.loginDelayWarned = true;
    this.#options.logger.warn(
      {
        event: 'login_delay_exceeds_interval',
        mailbox: mailbox.name,
        login_delay_seconds: delay,
        interval_seconds: intervalMs / 1000,
      },
      'the server asks for longer between logins than the schedule leaves',
    );
  }
}
