// Builders shared by the alert tests: probe results and rules with only the fields a test cares about.
import type { AlertingConfig, RuleConfig } from '../../../src/config/schema.js';
import type { Reason } from '../../../src/pop3/errors.js';
import type { Phase, ProbeResult } from '../../../src/probe/result.js';

export const T0 = Date.UTC(2026, 0, 1);
export const SECOND = 1000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;

export function ok(mailbox: string, fields: Partial<ProbeResult> = {}): ProbeResult {
  return {
    mailbox,
    success: true,
    messages: 0,
    size_bytes: 0,
    phases: { connect: 0.001, auth: 0.01, stat: 0.001, total: 0.02 },
    capabilities: ['TOP', 'UIDL'],
    error: null,
    started_at: T0 / 1000,
    uidl_count: 0,
    oldest_message_timestamp: null,
    tls: null,
    auth_method: 'USER',
    login_delay_seconds: null,
    pipelined: false,
    ...fields,
  };
}

export function failed(
  mailbox: string,
  code: Reason,
  phase: Phase,
  fields: Partial<ProbeResult> = {},
): ProbeResult {
  return {
    ...ok(mailbox),
    success: false,
    messages: null,
    size_bytes: null,
    phases: { connect: 0.001, total: 0.5 },
    uidl_count: null,
    error: { code, message: `${code} failure`, response: null, command: null, phase },
    ...fields,
  };
}

export function rule(
  fields: Pick<RuleConfig, 'name' | 'metric' | 'op' | 'value'> & Partial<RuleConfig>,
): RuleConfig {
  return { for: 0, severity: 'warning', ...fields };
}

export type Policy = Pick<
  AlertingConfig,
  'rules' | 'builtin_rules' | 'repeat_interval' | 'group_wait' | 'send_resolved'
>;

export function policy(fields: Partial<Policy> = {}): Policy {
  return {
    rules: [],
    builtin_rules: { login_failed: true, unreachable: true },
    repeat_interval: 4 * HOUR,
    group_wait: 10 * SECOND,
    send_resolved: true,
    ...fields,
  };
}
