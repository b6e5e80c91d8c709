import type { RuleMetric } from '../config/schema.js';
import type { Reason } from '../pop3/errors.js';

/**
 * PURE: what an alert rule is evaluated for: a mailbox (its probes), a delivery loop, or an
 * expect watch on a mailbox. A rule's metric decides which (rules.ts ruleApplies).
 */

/** What kind of target a rule's metric is measured on. */
export type TargetKind = 'mailbox' | 'loop' | 'expect';

/** A delivery loop or an expect watch, as the alert engine knows it. */
export type FlowTarget =
  | { mailbox: string; loop: string; expect?: undefined }
  | { mailbox: string; expect: string; loop?: undefined };

export function metricTarget(metric: RuleMetric): TargetKind {
  switch (metric) {
    case 'delivery_seconds':
    case 'delivery_lost':
      return 'loop';
    case 'expect_age_seconds':
      return 'expect';
    default:
      return 'mailbox';
  }
}

export function targetKind(target: {
  loop?: string | undefined;
  expect?: string | undefined;
}): TargetKind {
  if (target.loop !== undefined) return 'loop';
  return target.expect !== undefined ? 'expect' : 'mailbox';
}

/** One evaluation of a loop or watch: the values of its rule metrics now. */
export interface FlowObservation {
  target: FlowTarget;
  values: Partial<Record<RuleMetric, number | null>>;
  /** Per rule name, a threshold that replaces the rule's value (a watch's `within`). */
  thresholds?: Record<string, number>;
  last_error: { code: Reason; message: string } | null;
  labels?: Record<string, string>;
}
