/**
 * PURE alert rule evaluation: (state, probe result, now) → (state, transitions).
 * No I/O and no clock: time comes in as `nowMs`. The engine (engine.ts) does the rest.
 *
 * Decisions (the issue left them open):
 * - consecutive_login_failures counts failed probes whose error.code is `auth` (the server
 *   refused the credentials), and `token` failures where the OAuth2 token endpoint refused
 *   the client or the grant (credentials_refused: a revoked refresh token). A success, an `in_use` refusal (RFC 2449 §8.1.2: the
 *   credentials were accepted, the maildrop is locked) or a failure after login (phase
 *   stat/noop/uidl/top/quit) resets it to 0. Any other failure (connect, TLS, timeout,
 *   LOGIN-DELAY...) leaves it as it was: it says nothing about the credentials.
 * - NO DATA: metrics that need a successful probe (messages, size_bytes,
 *   probe_duration_seconds, oldest_message_age_seconds) and cert_expiry_days without a
 *   certificate expiry yield null. A null keeps the instance exactly as it is: inactive
 *   stays inactive, pending stays pending without advancing to firing even when `for`
 *   has elapsed (it fires on the next probe with data that still holds; active_since is
 *   kept), firing stays firing (and still repeats). consecutive_* always have data.
 * - Inactive instances have no record: a mailbox state lists pending and firing ones.
 * - last_notified_at is set when a firing or repeat transition is produced, i.e. when the
 *   alert is put into a notification batch (batch and state are persisted together, so a
 *   restart cannot lose it); repeat_interval is counted from there.
 * - A rule whose definition changes on reload keeps its instances' state; the new
 *   condition applies from the next probe. Instances of removed rules or mailboxes (or
 *   of mailboxes a rule's `mailboxes:` no longer lists) resolve at once: a firing one
 *   yields a resolved transition (the engine sends it when send_resolved is on).
 */
import type { AlertingConfig, RuleConfig, RuleMetric, RuleOp, Severity } from '../config/schema.js';
import type { Reason } from '../pop3/errors.js';
import { isCredentialRefusal, type Phase, type ProbeResult } from '../probe/result.js';
import { BUILTIN_RULE_NAMES, BUILTIN_RULES } from './builtin-rules.js';
import { type FlowObservation, metricTarget, type TargetKind, targetKind } from './targets.js';
import { type AlertSnapshot, targetKey } from './types.js';

export type { FlowObservation, FlowTarget, TargetKind } from './targets.js';

export type InstanceState = 'inactive' | 'pending' | 'firing';

/**
 * One (rule, target) instance: a mailbox, a delivery loop or an expect watch. The rule's
 * definition is copied in so a removed rule can still be reported.
 */
export interface InstanceRecord {
  rule: string;
  mailbox: string;
  loop?: string;
  expect?: string;
  state: InstanceState;
  active_since: number | null;
  fired_at: number | null;
  last_notified_at: number | null;
  value: number | null;
  severity: Severity;
  metric: RuleMetric;
  op: RuleOp;
  threshold: number;
  description: string | null;
}

export interface MailboxCounters {
  consecutive_failures: number;
  consecutive_login_failures: number;
}

/**
 * Everything the engine remembers about one target: a mailbox, or with `loop` a delivery
 * loop (whose probe messages go to `mailbox`), or with `expect` a watch on `mailbox`.
 * A loop's or watch's counters stay 0.
 */
export interface MailboxAlertState extends MailboxCounters {
  mailbox: string;
  loop?: string;
  expect?: string;
  last_error: { code: Reason; message: string } | null;
  labels: Record<string, string>;
  /** Pending and firing instances (an inactive instance has no record), at most one per rule. */
  instances: InstanceRecord[];
}

/**
 * By target key (types.ts targetKey: a mailbox's name, or a loop's or watch's key). A Map,
 * because mailbox and rule names may be `__proto__`.
 */
export type EngineState = ReadonlyMap<string, MailboxAlertState>;

export interface Transition {
  kind: 'firing' | 'resolved' | 'repeat';
  snapshot: AlertSnapshot;
}

export interface EvaluateOptions {
  nowMs: number;
  repeatIntervalMs: number;
  /** The mailbox's labels from the config; kept from the previous state when absent. */
  labels?: Record<string, string>;
}

export interface Evaluation<S> {
  state: S;
  transitions: Transition[];
  /** True when something worth persisting changed (not a mere new value). */
  changed: boolean;
}

/** User rules plus the built-ins that are neither turned off nor replaced by a user rule of the same name. */
export function effectiveRules(
  alerting: Pick<AlertingConfig, 'rules' | 'builtin_rules'>,
): RuleConfig[] {
  const rules: RuleConfig[] = [];
  const names = new Set<string>();
  // The first rule of a name wins; the config loader is expected to reject duplicates.
  for (const rule of alerting.rules) {
    if (names.has(rule.name)) continue;
    names.add(rule.name);
    rules.push(rule);
  }
  for (const name of BUILTIN_RULE_NAMES) {
    // The mail-flow built-ins are on unless set to false (they apply only to loops and watches).
    if (alerting.builtin_rules[name] !== false && !names.has(name))
      rules.push({ ...BUILTIN_RULES[name] });
  }
  return rules;
}

/**
 * Whether `rule` is evaluated for a target of `kind` on `mailbox`: its metric is measured
 * on that kind of target, and its `mailboxes:` (if any) lists the mailbox (a loop's is the
 * one its probe messages go to).
 */
export function ruleApplies(
  rule: RuleConfig,
  mailbox: string,
  kind: TargetKind = 'mailbox',
): boolean {
  if (metricTarget(rule.metric) !== kind) return false;
  return rule.mailboxes === undefined || rule.mailboxes.includes(mailbox);
}

/** The metric's value for this probe, or null for NO DATA (see the decisions above). */
export function metricValue(
  metric: RuleMetric,
  result: ProbeResult,
  counters: MailboxCounters,
  nowMs: number,
): number | null {
  switch (metric) {
    case 'consecutive_failures':
      return counters.consecutive_failures;
    case 'consecutive_login_failures':
      return counters.consecutive_login_failures;
    case 'cert_expiry_days': {
      // A failed probe may still have completed the handshake (an auth failure, say).
      const expiry = result.tls?.cert_expiry_timestamp ?? null;
      return expiry === null ? null : (expiry - nowMs / 1000) / 86_400;
    }
  }
  if (!result.success) return null;
  switch (metric) {
    case 'messages':
      return result.messages;
    case 'size_bytes':
      return result.size_bytes;
    case 'probe_duration_seconds':
      return result.phases.total ?? null;
    case 'oldest_message_age_seconds': {
      if (result.messages === 0) return 0;
      const oldest = result.oldest_message_timestamp;
      // A Date: in the future (clock skew) counts as age 0, not a negative age.
      return oldest === null ? null : Math.max(0, nowMs / 1000 - oldest);
    }
    default:
      // Mail-flow metrics are not measured on a mailbox's probe.
      return null;
  }
}

export function compare(value: number, op: RuleOp, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

/** Phases that only happen after a successful login. */
const AFTER_LOGIN: ReadonlySet<Phase> = new Set<Phase>(['stat', 'noop', 'uidl', 'top', 'quit']);

export function nextCounters(prev: MailboxCounters, result: ProbeResult): MailboxCounters {
  if (result.success) return { consecutive_failures: 0, consecutive_login_failures: 0 };
  const error = result.error;
  let login = prev.consecutive_login_failures;
  if (error !== null && isCredentialRefusal(error)) login += 1;
  else if (error !== null && (error.code === 'in_use' || AFTER_LOGIN.has(error.phase))) login = 0;
  return { consecutive_failures: prev.consecutive_failures + 1, consecutive_login_failures: login };
}

export function emptyMailboxState(
  mailbox: string,
  labels: Record<string, string> = {},
): MailboxAlertState {
  return {
    mailbox,
    consecutive_failures: 0,
    consecutive_login_failures: 0,
    last_error: null,
    labels,
    instances: [],
  };
}

/** The snapshot a notification shows; `record` must be firing (or have fired, for a resolved one). */
export function snapshotOf(
  record: InstanceRecord,
  mailbox: Pick<MailboxAlertState, 'last_error' | 'labels'>,
  resolvedAt: number | null,
): AlertSnapshot {
  const firedAt = record.fired_at ?? record.active_since ?? 0;
  return {
    rule: record.rule,
    mailbox: record.mailbox,
    ...(record.loop === undefined ? {} : { loop: record.loop }),
    ...(record.expect === undefined ? {} : { expect: record.expect }),
    severity: record.severity,
    status: resolvedAt === null ? 'firing' : 'resolved',
    metric: record.metric,
    op: record.op,
    threshold: record.threshold,
    value: record.value,
    active_since: record.active_since ?? firedAt,
    fired_at: firedAt,
    resolved_at: resolvedAt,
    last_error: mailbox.last_error === null ? null : { ...mailbox.last_error },
    description: record.description,
    labels: { ...mailbox.labels },
  };
}

function definitionOf(
  rule: RuleConfig,
): Pick<InstanceRecord, 'severity' | 'metric' | 'op' | 'threshold' | 'description'> {
  return {
    severity: rule.severity,
    metric: rule.metric,
    op: rule.op,
    threshold: rule.value,
    description: rule.description ?? null,
  };
}

function repeatDue(record: InstanceRecord, nowMs: number, repeatIntervalMs: number): boolean {
  return (
    record.state === 'firing' &&
    (record.last_notified_at === null || nowMs - record.last_notified_at >= repeatIntervalMs)
  );
}

type Step = { record: InstanceRecord | null; kind: Transition['kind'] | null };

/** One instance, one evaluation: the state machine inactive → pending → firing → (resolved =) inactive. */
type Identity = Pick<InstanceRecord, 'mailbox' | 'loop' | 'expect'>;

function identityOf(target: Identity): Identity {
  if (target.loop !== undefined) return { mailbox: target.mailbox, loop: target.loop };
  if (target.expect !== undefined) return { mailbox: target.mailbox, expect: target.expect };
  return { mailbox: target.mailbox };
}

function step(
  old: InstanceRecord | undefined,
  rule: RuleConfig,
  identity: Identity,
  value: number | null,
  opts: EvaluateOptions,
): Step {
  const now = opts.nowMs;
  if (value === null) {
    // NO DATA keeps the state as it is; a firing alert still repeats.
    if (old === undefined) return { record: null, kind: null };
    const kept = { ...old, ...definitionOf(rule), value: null };
    if (!repeatDue(kept, now, opts.repeatIntervalMs)) return { record: kept, kind: null };
    return { record: { ...kept, last_notified_at: now }, kind: 'repeat' };
  }
  if (!compare(value, rule.op, rule.value)) {
    // A pending instance goes back to inactive quietly; a firing one resolves.
    return { record: null, kind: old?.state === 'firing' ? 'resolved' : null };
  }
  const base: InstanceRecord = old
    ? { ...old, ...definitionOf(rule), value }
    : {
        rule: rule.name,
        ...identity,
        state: 'pending',
        active_since: now,
        fired_at: null,
        last_notified_at: null,
        value,
        ...definitionOf(rule),
      };
  if (base.state === 'firing') {
    if (!repeatDue(base, now, opts.repeatIntervalMs)) return { record: base, kind: null };
    return { record: { ...base, last_notified_at: now }, kind: 'repeat' };
  }
  if (now - (base.active_since ?? now) >= rule.for) {
    return {
      record: { ...base, state: 'firing', fired_at: now, last_notified_at: now },
      kind: 'firing',
    };
  }
  return { record: { ...base, state: 'pending' }, kind: null };
}

/**
 * Evaluates every rule that applies to `result.mailbox` (`rules` may hold rules for other
 * mailboxes; they are skipped). Instances of rules not in `rules` are left untouched
 * (`reconcile` removes them). O(rules): this is what the engine calls per probe.
 */
export function evaluateMailbox(
  prev: MailboxAlertState | undefined,
  result: ProbeResult,
  rules: readonly RuleConfig[],
  opts: EvaluateOptions,
): Evaluation<MailboxAlertState> {
  const mailbox = result.mailbox;
  const base = prev ?? emptyMailboxState(mailbox, opts.labels);
  const counters = nextCounters(base, result);
  const lastError = result.error
    ? { code: result.error.code, message: result.error.message }
    : null;
  const next: MailboxAlertState = {
    mailbox,
    ...counters,
    last_error: lastError,
    labels: opts.labels ?? base.labels,
    instances: [],
  };
  // Every failure moves the failure counter and every first success resets it; the login
  // counter and the last error move only with it.
  const changed = prev === undefined || counters.consecutive_failures !== base.consecutive_failures;
  return evaluateInstances(base, next, rules, opts, changed, (rule) =>
    metricValue(rule.metric, result, counters, opts.nowMs),
  );
}

/**
 * Evaluates the rules that apply to a delivery loop or an expect watch, with the values
 * the flow code observed (a metric absent from `values` is NO DATA).
 */
export function evaluateFlow(
  prev: MailboxAlertState | undefined,
  observation: FlowObservation,
  rules: readonly RuleConfig[],
  opts: EvaluateOptions,
): Evaluation<MailboxAlertState> {
  const identity = identityOf(observation.target);
  const labels = observation.labels ?? opts.labels;
  const base = prev ?? { ...emptyMailboxState(identity.mailbox, labels), ...identity };
  const next: MailboxAlertState = {
    ...emptyMailboxState(identity.mailbox, labels ?? base.labels),
    ...identity,
    last_error: observation.last_error,
  };
  const kind = targetKind(identity);
  const applying = rules
    .filter((rule) => ruleApplies(rule, identity.mailbox, kind))
    .map((rule) => {
      const threshold = observation.thresholds?.[rule.name];
      return threshold === undefined ? rule : { ...rule, value: threshold };
    });
  // A flow target has no counters: its last error is what moves between evaluations.
  const changed =
    prev === undefined || (next.last_error?.code ?? null) !== (base.last_error?.code ?? null);
  return evaluateInstances(base, next, applying, opts, changed, (rule) => {
    const value = observation.values[rule.metric];
    return value === undefined || value === null || !Number.isFinite(value) ? null : value;
  });
}

/**
 * The instances of one target, each rule through the state machine; `targetChanged` says whether
 * the target's own fields already differ from `base`.
 */
function evaluateInstances(
  base: MailboxAlertState,
  next: MailboxAlertState,
  rules: readonly RuleConfig[],
  opts: EvaluateOptions,
  targetChanged: boolean,
  valueFor: (rule: RuleConfig) => number | null,
): Evaluation<MailboxAlertState> {
  const identity = identityOf(next);
  const kind = targetKind(next);
  let changed = targetChanged;
  const transitions: Transition[] = [];
  const seen = new Set<string>();
  for (const rule of rules) {
    if (!ruleApplies(rule, next.mailbox, kind) || seen.has(rule.name)) continue;
    seen.add(rule.name);
    const old = base.instances.find((i) => i.rule === rule.name);
    const value = valueFor(rule);
    const { record, kind: transition } = step(old, rule, identity, value, opts);
    if (record) next.instances.push(record);
    // A kept instance changes state only with a transition (pending → firing).
    if (transition !== null || (old === undefined) !== (record === null)) changed = true;
    if (transition === 'resolved' && old) {
      transitions.push({
        kind: transition,
        snapshot: snapshotOf({ ...old, value }, next, opts.nowMs),
      });
    } else if (transition !== null && record) {
      transitions.push({ kind: transition, snapshot: snapshotOf(record, next, null) });
    }
  }
  for (const old of base.instances) if (!seen.has(old.rule)) next.instances.push(old);
  return { state: next, transitions, changed };
}

/** Repeats of still-firing alerts whose repeat_interval has passed, for a timer that runs while probes are skipped. */
export function dueRepeats(
  state: EngineState,
  nowMs: number,
  repeatIntervalMs: number,
): Evaluation<EngineState> {
  const transitions: Transition[] = [];
  let next: Map<string, MailboxAlertState> | null = null;
  for (const [name, mailbox] of state) {
    if (!mailbox.instances.some((i) => repeatDue(i, nowMs, repeatIntervalMs))) continue;
    const instances = mailbox.instances.map((i) => {
      if (!repeatDue(i, nowMs, repeatIntervalMs)) return i;
      const record = { ...i, last_notified_at: nowMs };
      transitions.push({ kind: 'repeat', snapshot: snapshotOf(record, mailbox, null) });
      return record;
    });
    next ??= new Map(state);
    next.set(name, { ...mailbox, instances });
  }
  return { state: next ?? state, transitions, changed: next !== null };
}

/** When the next repeat is due (ms since the epoch), or null when nothing fires. */
export function nextRepeatAt(state: EngineState, repeatIntervalMs: number): number | null {
  let earliest: number | null = null;
  for (const mailbox of state.values()) {
    for (const i of mailbox.instances) {
      if (i.state !== 'firing') continue;
      const due =
        i.last_notified_at === null
          ? Number.NEGATIVE_INFINITY
          : i.last_notified_at + repeatIntervalMs;
      if (earliest === null || due < earliest) earliest = due;
    }
  }
  return earliest;
}

/** A target the config still has: a mailbox (`name`), or a loop or watch on it. */
export interface ReconcileTarget {
  name: string;
  labels: Record<string, string>;
  loop?: string;
  expect?: string;
}

/**
 * Brings the state in line with a new config: drops targets (mailboxes, loops, watches)
 * and instances the config no longer has (a firing one yields a resolved transition),
 * refreshes rule definitions and labels of the rest. A watch's built-in expect_overdue
 * keeps the threshold it was evaluated with until its next evaluation.
 */
export function reconcile(
  state: EngineState,
  rules: readonly RuleConfig[],
  targets: ReadonlyArray<ReconcileTarget>,
  nowMs: number,
): Evaluation<EngineState> {
  const labelsOf = new Map(
    targets.map((t) => [targetKey({ mailbox: t.name, loop: t.loop, expect: t.expect }), t.labels]),
  );
  const ruleOf = new Map<string, RuleConfig>();
  for (const rule of rules) if (!ruleOf.has(rule.name)) ruleOf.set(rule.name, rule);
  const next = new Map<string, MailboxAlertState>();
  const transitions: Transition[] = [];
  let changed = false;
  for (const [key, target] of state) {
    const labels = labelsOf.get(key);
    const kind = targetKind(target);
    const instances: InstanceRecord[] = [];
    for (const record of target.instances) {
      const rule = ruleOf.get(record.rule);
      if (labels !== undefined && rule !== undefined && ruleApplies(rule, target.mailbox, kind)) {
        const definition = definitionOf(rule);
        if (kind === 'expect') definition.threshold = record.threshold;
        instances.push({ ...record, ...definition });
        continue;
      }
      changed = true;
      if (record.state === 'firing') {
        transitions.push({ kind: 'resolved', snapshot: snapshotOf(record, target, nowMs) });
      }
    }
    if (labels === undefined) {
      changed = true;
      continue;
    }
    next.set(key, { ...target, labels, instances });
  }
  return { state: next, transitions, changed };
}
