import { humanDuration } from '../config/duration.js';
import type { ProbeResult } from '../probe/result.js';
import { formatPerfData, type PerfDatum } from './perfdata.js';
import { describeBreach, formatRange, type Range, rangeAlerts, type Units } from './range.js';

/**
 * PURE: a probe result and the thresholds → the plugin's state, its one output line and
 * its exit status (Monitoring Plugins guidelines: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
 */

export const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
export type State = (typeof STATES)[number];
export type ExitStatus = 0 | 1 | 2 | 3;

export const EXIT_STATUS: Record<State, ExitStatus> = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
};

/** What a threshold can be set on, its units and how perfdata shows it. */
export const QUANTITIES = {
  messages: { units: { '': 1 }, uom: '' },
  size: {
    units: { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 },
    uom: 'B',
  },
  age: { units: { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }, uom: 's' },
  time: { units: { '': 1, s: 1, ms: 0.001 }, uom: 's' },
} as const satisfies Record<string, { units: Units; uom: string }>;
export type Quantity = keyof typeof QUANTITIES;
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[];

export interface Thresholds {
  warning: Partial<Record<Quantity, Range>>;
  critical: Partial<Record<Quantity, Range>>;
}

export interface CheckOutcome {
  state: State;
  exitStatus: ExitStatus;
  /** The first line: `POP3 OK - 3 messages, oldest 2h 1m, 93 ms | messages=3;100;500;0 ...`. */
  line: string;
}

/** `POP3 UNKNOWN - why`: a bad argument or config, nothing probed. */
export function unknownOutcome(why: string): CheckOutcome {
  return { state: 'UNKNOWN', exitStatus: 3, line: `POP3 UNKNOWN - ${oneLine(why)}` };
}

/**
 * One line, and no `|` (it would start the perfdata): a server's reply is quoted in the
 * text of a failure, and may hold anything.
 */
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').replaceAll('|', '/');
}

function duration(seconds: number): string {
  return seconds < 10 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
}

function worst(a: State, b: State): State {
  // CRITICAL over WARNING over UNKNOWN over OK: a measured breach says more than a gap.
  const rank: Record<State, number> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 };
  return rank[b] > rank[a] ? b : a;
}

interface Measured {
  quantity: Quantity;
  /** null: not measured (age of an empty maildrop, or of a message without a Date:). */
  value: number | null;
}

function measure(result: ProbeResult, nowMs: number): Measured[] {
  // Whole seconds of age, and the probe's time to the millisecond, as people read them.
  const oldest =
    result.messages === 0 || result.oldest_message_timestamp === null
      ? null
      : Math.max(0, Math.floor(nowMs / 1000 - result.oldest_message_timestamp));
  const total = result.phases.total;
  return [
    { quantity: 'messages', value: result.messages },
    { quantity: 'size', value: result.size_bytes },
    { quantity: 'time', value: total === undefined ? null : Math.round(total * 1000) / 1000 },
    { quantity: 'age', value: oldest },
  ];
}

function perfDatum(m: Measured & { value: number }, thresholds: Thresholds): PerfDatum {
  const { warning, critical } = thresholds;
  const w = warning[m.quantity];
  const c = critical[m.quantity];
  return {
    label: m.quantity,
    value: m.value,
    uom: QUANTITIES[m.quantity].uom,
    ...(w === undefined ? {} : { warn: formatRange(w) }),
    ...(c === undefined ? {} : { crit: formatRange(c) }),
    min: 0,
  };
}

/** The time of every phase that happened, as `time_connect=0.0012s;;;0`. */
function phaseData(result: ProbeResult): PerfDatum[] {
  return Object.entries(result.phases)
    .filter(([phase, s]) => phase !== 'total' && s !== undefined)
    .map(([phase, s]) => ({ label: `time_${phase}`, value: s as number, uom: 's', min: 0 }));
}

/** The line and state of a check from one probe's result. */
export function evaluate(result: ProbeResult, thresholds: Thresholds, nowMs: number): CheckOutcome {
  const measured = measure(result, nowMs);
  const data = measured
    .filter((m): m is Measured & { value: number } => m.value !== null)
    .map((m) => perfDatum(m, thresholds));
  const perf = formatPerfData([...data, ...phaseData(result)]);
  const time = result.phases.total ?? 0;
  if (!result.success) {
    const error = result.error;
    const why = error ? `${error.code}: ${error.message}` : 'the probe failed without an error';
    return {
      state: 'CRITICAL',
      exitStatus: 2,
      line: `POP3 CRITICAL - ${oneLine(why)} (after ${duration(time)}) | ${perf}`,
    };
  }
  let state: State = 'OK';
  const notes = new Map<Quantity, string>();
  for (const m of measured) {
    const critical = thresholds.critical[m.quantity];
    const warning = thresholds.warning[m.quantity];
    if (critical === undefined && warning === undefined) continue;
    if (m.value === null) {
      // No message, no age: nothing waits too long. A message without a date is unknown.
      if (m.quantity === 'age' && result.messages === 0) continue;
      state = worst(state, 'UNKNOWN');
      notes.set(m.quantity, 'unknown');
      continue;
    }
    const unit = QUANTITIES[m.quantity].uom;
    if (critical !== undefined && rangeAlerts(critical, m.value)) {
      state = worst(state, 'CRITICAL');
      notes.set(m.quantity, describeBreach(critical, m.value, unit));
    } else if (warning !== undefined && rangeAlerts(warning, m.value)) {
      state = worst(state, 'WARNING');
      notes.set(m.quantity, describeBreach(warning, m.value, unit));
    }
  }
  const note = (q: Quantity) => (notes.has(q) ? ` (${notes.get(q)})` : '');
  const count = result.messages ?? 0;
  const parts = [`${count} message${count === 1 ? '' : 's'}${note('messages')}`];
  if (notes.has('size')) parts.push(`${result.size_bytes} bytes${note('size')}`);
  const age = measured.find((m) => m.quantity === 'age')?.value ?? null;
  if (age !== null) parts.push(`oldest ${humanDuration(age)}${note('age')}`);
  else if (notes.has('age')) parts.push(`oldest unknown (no Date: in message 1)`);
  parts.push(`${duration(time)}${note('time')}`);
  return {
    state,
    exitStatus: EXIT_STATUS[state],
    line: `POP3 ${state} - ${oneLine(parts.join(', '))} | ${perf}`,
  };
}
