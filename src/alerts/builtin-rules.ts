import type { RuleConfig } from '../config/schema.js';

export const BUILTIN_RULE_NAMES = [
  'login_failed',
  'unreachable',
  'delivery_lost',
  'expect_overdue',
] as const;
export type BuiltinRuleName = (typeof BUILTIN_RULE_NAMES)[number];

/**
 * The rules every installation gets unless `alerting.builtin_rules.<name>: false` turns
 * one off, or a user rule of the same name replaces it.
 */
export const BUILTIN_RULES: Readonly<Record<BuiltinRuleName, Readonly<RuleConfig>>> = {
  login_failed: {
    name: 'login_failed',
    metric: 'consecutive_login_failures',
    op: '>=',
    value: 1,
    for: 0,
    severity: 'critical',
    description: 'The server refused the credentials (authentication failed).',
  },
  unreachable: {
    name: 'unreachable',
    metric: 'consecutive_failures',
    op: '>=',
    value: 3,
    for: 0,
    severity: 'critical',
    description: 'The last 3 or more probes of the mailbox failed.',
  },
  delivery_lost: {
    name: 'delivery_lost',
    metric: 'delivery_lost',
    op: '>=',
    value: 1,
    for: 0,
    severity: 'critical',
    description:
      "The delivery loop's last probe message was not seen in its mailbox by the deadline, or could not be sent.",
  },
  expect_overdue: {
    name: 'expect_overdue',
    metric: 'expect_age_seconds',
    op: '>',
    // Replaced per watch by its `within` (the engine is told so with each observation).
    value: 0,
    for: 0,
    severity: 'critical',
    description: 'The expected mail did not arrive within the window the watch allows.',
  },
};
