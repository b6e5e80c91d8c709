// Builders shared by the alert tests: probe results and rules with only the fields a test cares about.
import type { AlertingConfig, RuleConfig } from '../../../src/config/schema.js';

export { failed, ok } from '../../fixtures/probe-results.js';

export const T0 = Date.UTC(2026, 0, 1);
export const SECOND = 1000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;

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
