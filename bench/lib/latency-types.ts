// The shapes and constants of the probe-latency benchmark, shared by the measuring code
// (bench/probe-latency.ts) and the report (bench/lib/latency-report.ts).
import type { Phase } from '../../src/probe/result.js';
import type { machineInfo } from './machine.js';
import { MODES, type Mode } from './mailboxes.js';

/**
 * Switch: pass the capability cache (deps.capabilityCache, src/probe/capability-cache.ts)
 * in the "cached" runs. Turn off with --no-capability-cache to measure both rows without
 * it; the report says which was used and whether CAPA was really skipped.
 */
export const CAPABILITY_CACHE_DEFAULT = true;

export const CLI_SUBJECT = 'pop3-monitor probe (CLI)';
export const CLI_SUBJECT_NO_EXTRA_CA = 'pop3-monitor probe (CLI), NODE_EXTRA_CA_CERTS unset';
export const CLI_SUBJECT_FULL = 'pop3-monitor probe (CLI), pipelining: full';

export interface LatencyOptions {
  /** Probes per subject and mode. */
  rounds: number;
  /** Sequential probes per subject for the CPU comparison (plain, no proxy). */
  cpuProbes: number;
  rttMs: number;
  modes: Mode[];
  peers: boolean;
  cold: boolean;
  capabilityCache: boolean;
  log?: (line: string) => void;
}

export const DEFAULT_LATENCY_OPTIONS: LatencyOptions = {
  rounds: 30,
  cpuProbes: 200,
  rttMs: 20,
  modes: [...MODES],
  peers: true,
  cold: true,
  capabilityCache: CAPABILITY_CACHE_DEFAULT,
};

/**
 * Round-trip floors with `pipelining: full`: how a mode's probe can be done at best
 * (docs/BENCHMARKS.md), and the targets.
 */
export const FLOOR_RTT: Record<Mode, { cached: number; uncached: number }> = {
  // connect 1 + greeting 1 + one pipelined exchange (login..QUIT) 1; CAPA is +1.
  plain: { cached: 3, uncached: 4 },
  // plain + STLS 1 + TLS 1.3 handshake 1; uncached: CAPA before and after TLS, +2.
  starttls: { cached: 5, uncached: 7 },
  // plain + TLS 1.3 handshake 1 (the greeting follows the client's Finished).
  implicit: { cached: 4, uncached: 5 },
};

/**
 * The in-process probe is measured with the default pipelining (the login, then the
 * transaction: one round trip more than the floors above) and with `pipelining: full`.
 */
export const PIPELINING_VARIANTS = [
  { pipelining: true, suffix: '', label: 'default (true)', extraRtt: 1 },
  { pipelining: 'full', suffix: ', pipelining: full', label: 'full', extraRtt: 0 },
] as const;

/** The series name of the in-process probe. */
export function ourSubject(cached: boolean, variant: (typeof PIPELINING_VARIANTS)[number]): string {
  return `pop3-monitor, ${cached ? 'cached' : 'uncached'}${variant.suffix}`;
}

export interface Series {
  subject: string;
  mode: Mode;
  /** 'warm': in a running process; 'cold': a new process per probe. */
  process: 'warm' | 'cold';
  via: 'proxy' | 'direct';
  wallMs: number[];
  /** Per probe, user+sys; null where only a total is known. */
  cpuMs: number[];
  ok: number;
  n: number;
  /** Median per phase (ms), our probes only. */
  phases?: Partial<Record<Phase, number>>;
  /** Probes that skipped CAPA (the cache hit). */
  capaSkipped?: number;
  /**
   * Cold processes: the session itself, ms. Ours: the probe's phases from connect to the
   * QUIT reply (their sum, from `probe --json`); poplib's: the script's own wall_s of the
   * session (after the interpreter started).
   */
  sessionMs?: number[];
  /** Failed probes by error code (ours) or exit status (processes). */
  failures: Record<string, number>;
  note?: string;
}

export interface CpuRow {
  subject: string;
  probes: number;
  ok: number;
  cpuPerProbeMs: number;
  wallPerProbeMs: number;
  method: string;
}

export interface LatencyReport {
  options: LatencyOptions;
  startedAt: string;
  machine: ReturnType<typeof machineInfo>;
  /** 1-minute load average when the run started (machine.loadAvg1 is at its end). */
  loadAvgStart: number;
  /** Measured round trip through the proxy (echo), ms. */
  rttMeasuredMs: number;
  /** The shared test Dovecot was restarted during the run: the numbers are not usable. */
  dovecotRestarted: boolean;
  series: Series[];
  cpu: CpuRow[];
  durationS: number;
}
