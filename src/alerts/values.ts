import { humanDuration } from '../config/duration.js';
import type { RuleMetric } from '../config/schema.js';

/** A rule's number as people read it: at most six significant digits, integers as they are. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

/**
 * A value of a rule's metric for mail and logs: a `_seconds` metric of a minute or more as
 * a duration (`2h 0m`, not `7204.56299996376`), shorter ones in seconds, others as numbers.
 */
export function formatRuleValue(metric: RuleMetric, value: number): string {
  if (!metric.endsWith('_seconds')) return formatNumber(value);
  return Math.abs(value) >= 60 ? humanDuration(value) : `${formatNumber(value)}s`;
}
