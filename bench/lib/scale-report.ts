// The scale benchmark's report: its shape, its tables and its verdicts against the targets.
import type { machineInfo } from './machine.js';
import type { SeriesCount } from './scrape.js';
import { fmt, markdownTable, maxOf, mean, verdictAtMost, verdictBelow } from './stats.js';

export interface ScaleOptions {
  mailboxes: number;
  /** Seconds of schedule; the steady-state window is everything after `warmupS`. */
  durationS: number;
  /** Start-up probes and the first slots settle in this time; not in the steady stats. */
  warmupS: number;
  hosts: number;
  tls: 'none' | 'implicit';
  /** config.scheduler. */
  maxConcurrent: number;
  maxPerHost: number;
  /** Seconds between /metrics scrapes during the run; 0: none until the ones at the end. */
  scrapeEveryS: number;
  log?: (line: string) => void;
}

export const DEFAULT_SCALE_OPTIONS: Omit<ScaleOptions, 'mailboxes'> = {
  durationS: 160,
  warmupS: 40,
  hosts: 8,
  tls: 'none',
  maxConcurrent: 64,
  maxPerHost: 4,
  scrapeEveryS: 15,
};

export interface Scrape {
  /** ms since the epoch when sent, and seconds after the daemon started. */
  at: number;
  atS: number;
  /** Render and transfer: request sent to last byte received. */
  ms: number;
  gzip: boolean;
  wireBytes: number;
  bytes: number;
  lines: number;
  /** prom-client's nodejs_eventloop_lag_max_seconds (since the previous scrape), ms. */
  eventLoopMaxMs: number;
}

export interface ScaleReport {
  options: ScaleOptions;
  startedAt: string;
  machine: ReturnType<typeof machineInfo>;
  /** 1-minute load average when the run started (machine.loadAvg1 is at its end). */
  loadAvgStart: number;
  steadyWindowS: number;
  /** Regular-slot probes planned in the steady window that started. */
  steadyProbes: number;
  /** Regular slots the scheduler should have fired in the steady window. */
  slotsDue: number;
  probesPerSecond: number;
  targetPerSecond: number;
  failures: number;
  failureReasons: Record<string, number>;
  skips: number;
  lagMs: { p50: number; p99: number; max: number; samples: number };
  /** Between two probes of one mailbox in the steady window (60 s when on time). */
  gapMs: { min: number; max: number };
  startupLagMs: {
    p50: number;
    p99: number;
    max: number;
    samples: number;
    roundCompleteS: number | null;
  };
  /** A reload of the same config after the measurements: its time and what it cost. */
  reload: { ok: boolean; ms: number; peakMb: number; worstHealthMs: number };
  /**
   * peak: the most of VmHWM and the VmRSS samples before the reload (start-up included);
   * max: every sample, the reload's too; steadyMax: the steady window's samples.
   */
  rssMb: { peak: number; max: number; steadyMax: number; end: number };
  cpu: { coresUsed: number; msPerProbe: number };
  fleetCpuCores: number;
  probeWallMs: { p50: number; p99: number };
  scrapes: Scrape[];
  health: {
    polls: number;
    failed: number;
    p99Ms: number;
    worstMs: number;
    /** Polls that overlapped a /metrics request. */
    duringScrape: number;
    worstDuringScrapeMs: number;
    over100: number;
    /**
     * The poller's own event-loop delay: a process with nothing to do, on the same machine
     * at the same time (the noise floor a loaded shared machine adds to every wait).
     */
    idleLoopMaxMs: number;
    idleLoopP99Ms: number;
    /** The five slowest polls: when, how long, and the longest GC pause meanwhile. */
    worstPolls: { atS: number; ms: number; duringScrape: boolean; gcMs: number }[];
  };
  /** With --trace-gc: V8's pauses in the steady window. */
  gc: {
    collections: number;
    maxPauseMs: number;
    maxMarkCompactMs: number;
    totalPauseMs: number;
  } | null;
  series: SeriesCount;
  daemonExit: number | null;
  durationS: number;
}

/** The issue's targets for a size: the 1,000-mailbox ones are tighter. */
export function targetsFor(mailboxes: number) {
  const small = mailboxes <= 1000;
  return {
    lagP99Ms: 250,
    rssMb: small ? 120 : 300,
    metricsMs: small ? 50 : 500,
    healthMs: 100,
    seriesPerMailbox: 24,
  };
}

/** Scrapes during the run (gzip, as Prometheus asks); the final uncompressed one apart. */
function runScrapes(r: ScaleReport): Scrape[] {
  return r.scrapes.filter((s) => s.gzip);
}

export function scaleVerdicts(
  r: ScaleReport,
): { target: string; measured: string; verdict: string }[] {
  const t = targetsFor(r.options.mailboxes);
  const n = r.options.mailboxes.toLocaleString('en-US');
  const label = `${n} mailboxes on \`*/60 * * * * *\`, tls ${r.options.tls}, ${scrapesOf(r)}`;
  const worstScrape = maxOf(runScrapes(r).map((s) => s.ms));
  return [
    {
      target: `${label}: every slot probed`,
      measured: `${r.steadyProbes} of ${r.slotsDue} slots due started, ${r.failures} failed${describeFailures(r)}; gaps between probes ${fmt(r.gapMs.min / 1000, 1)}–${fmt(r.gapMs.max / 1000, 1)} s`,
      verdict:
        r.steadyProbes >= r.slotsDue && r.failures === 0
          ? 'met'
          : `**missed**: ${r.slotsDue - r.steadyProbes} slots not started in the window, ${r.failures} probes failed`,
    },
    {
      target: `${label}: schedule lag p99 < ${t.lagP99Ms} ms`,
      measured: `${fmt(r.lagMs.p99, 0)} ms (max ${fmt(r.lagMs.max, 0)} ms)`,
      verdict: verdictBelow(r.lagMs.p99, t.lagP99Ms, ' ms', 0),
    },
    {
      target: `${label}: RSS < ${t.rssMb} MB`,
      measured: `${fmt(r.rssMb.peak, 0)} MB peak (start-up included); ${fmt(r.reload?.peakMb, 0)} MB with a reload of the config`,
      verdict: verdictBelow(r.rssMb.peak, t.rssMb, ' MB', 0),
    },
    {
      target: `${label}: /metrics (render and transfer) < ${t.metricsMs} ms`,
      measured: `${fmt(worstScrape, 0)} ms worst of ${runScrapes(r).length} gzip scrapes`,
      verdict: verdictBelow(worstScrape, t.metricsMs, ' ms', 0),
    },
    {
      target: `${label}: /healthz within ${t.healthMs} ms, also while /metrics renders`,
      measured: `worst ${fmt(r.health.worstMs, 0)} ms of ${r.health.polls} polls (${r.health.over100} over 100 ms); ${fmt(r.health.worstDuringScrapeMs, 0)} ms worst of ${r.health.duringScrape} during a scrape; an idle process meanwhile waited up to ${fmt(r.health.idleLoopMaxMs, 0)} ms for the CPU`,
      verdict: verdictAtMost(r.health.worstMs, t.healthMs, ' ms', 0),
    },
    {
      target: `${label}: series per mailbox ≤ ${t.seriesPerMailbox} (counted in a real scrape)`,
      measured: `${r.series.perMailboxMax} max, ${fmt(r.series.perMailboxMean, 1)} mean over ${r.series.mailboxes} mailboxes; ${r.series.perServerLines} per-server lines for ${r.series.servers} servers`,
      verdict: verdictAtMost(r.series.perMailboxMax, t.seriesPerMailbox, '', 0),
    },
  ];
}

function describeFailures(r: ScaleReport): string {
  const entries = Object.entries(r.failureReasons);
  return entries.length === 0 ? '' : ` (${entries.map(([k, v]) => `${v} ${k}`).join(', ')})`;
}

function scrapesOf(r: ScaleReport): string {
  return r.options.scrapeEveryS > 0 ? `scraped every ${r.options.scrapeEveryS} s` : 'not scraped';
}

export function renderScale(reports: ScaleReport[]): string {
  const rows = reports.map((r) => {
    const gz = runScrapes(r);
    const plain = r.scrapes.find((s) => !s.gzip);
    return [
      r.options.mailboxes.toLocaleString('en-US'),
      r.options.tls,
      scrapesOf(r),
      `${r.steadyProbes} / ${r.slotsDue}`,
      `${r.failures}${describeFailures(r)}${r.skips > 0 ? `, ${r.skips} skipped` : ''}`,
      `${fmt(r.lagMs.p50, 0)} / ${fmt(r.lagMs.p99, 0)} / ${fmt(r.lagMs.max, 0)}`,
      `${fmt(r.rssMb.peak, 0)} / ${fmt(r.reload?.peakMb, 0)}`,
      `${fmt(r.cpu.coresUsed, 2)} (${fmt(r.cpu.msPerProbe, 2)} ms/probe)`,
      fmt(r.fleetCpuCores, 2),
      `${fmt(mean(gz.map((s) => s.ms)), 0)} / ${fmt(maxOf(gz.map((s) => s.ms)), 0)} (${gz.length})`,
      plain
        ? `${fmt(plain.bytes / 2 ** 20, 1)} MiB (gzip ${fmt((gz.at(-1)?.wireBytes ?? Number.NaN) / 2 ** 20, 2)} MiB), ${plain.lines.toLocaleString('en-US')} lines; plain ${fmt(plain.ms, 0)} ms`
        : 'n/a',
      `${fmt(r.health.p99Ms, 0)} / ${fmt(r.health.worstMs, 0)} / ${fmt(r.health.worstDuringScrapeMs, 0)}`,
      `${fmt(maxOf(gz.map((s) => s.eventLoopMaxMs)), 0)}`,
    ];
  });
  const startupRows = reports.map((r) => [
    r.options.mailboxes.toLocaleString('en-US'),
    r.options.tls,
    `${fmt(r.startupLagMs.p50, 0)} / ${fmt(r.startupLagMs.p99, 0)} / ${fmt(r.startupLagMs.max, 0)}`,
    r.startupLagMs.roundCompleteS === null
      ? 'not complete'
      : `${fmt(r.startupLagMs.roundCompleteS, 1)} s`,
    `${fmt(r.probeWallMs.p50, 1)} / ${fmt(r.probeWallMs.p99, 1)}`,
    r.reload
      ? `${r.reload.ok ? '' : 'FAILED, '}${fmt(r.reload.ms, 0)} ms; VmHWM after ${fmt(r.reload.peakMb, 0)} MB; /healthz worst ${fmt(r.reload.worstHealthMs, 0)} ms`
      : 'n/a',
  ]);
  const seriesRows = reports.map((r) => [
    r.options.mailboxes.toLocaleString('en-US'),
    r.options.tls,
    `${r.series.perMailboxMax} / ${fmt(r.series.perMailboxMean, 1)}`,
    `${r.series.perServerLines} (${r.series.servers} servers)`,
    String(r.series.otherLines),
    r.series.totalLines.toLocaleString('en-US'),
    Object.entries(r.series.families)
      .map(([name, lines]) => `${name} ${lines.toLocaleString('en-US')}`)
      .join(', '),
  ]);
  const slowRows = reports.map((r) => [
    r.options.mailboxes.toLocaleString('en-US'),
    r.options.tls,
    scrapesOf(r),
    (r.health.worstPolls ?? [])
      .map(
        (p) =>
          `${fmt(p.ms, 0)} ms at ${fmt(p.atS, 0)} s${p.duringScrape ? ' (during /metrics)' : ''}${Number.isFinite(p.gcMs) ? ` (GC pause ${fmt(p.gcMs, 0)} ms)` : ''}`,
      )
      .join('; '),
    `${fmt(r.health.idleLoopP99Ms, 0)} / ${fmt(r.health.idleLoopMaxMs, 0)}`,
    r.gc
      ? `${r.gc.collections} collections, longest pause ${fmt(r.gc.maxPauseMs, 0)} ms (mark-compact ${fmt(r.gc.maxMarkCompactMs, 0)} ms), ${fmt(r.gc.totalPauseMs / r.steadyWindowS / 10, 2)}% of the time`
      : 'not traced (--trace-gc)',
  ]);
  return [
    markdownTable(
      [
        'mailboxes',
        'tls',
        'scrapes',
        'slots started / due',
        'failed',
        'lag p50 / p99 / max (ms)',
        'RSS peak / with a reload (MB)',
        'daemon CPU (cores)',
        'fleet CPU (cores)',
        '/metrics gzip mean / worst (ms) (scrapes)',
        '/metrics size',
        '/healthz p99 / worst / worst during /metrics (ms)',
        'event-loop delay max (ms)',
      ],
      rows,
    ),
    'Start-up round (every mailbox probed once within the first 10 s by design; not in the steady-state lag above; the start-up lag is counted from the `started` log line, written just after the scheduler starts, hence small negative values), the probes themselves, and a reload of the same config after the measurements (not in the figures above):',
    markdownTable(
      [
        'mailboxes',
        'tls',
        'start-up lag p50 / p99 / max (ms)',
        'first round complete after',
        'probe wall p50 / p99 (ms)',
        'reload (POST /-/reload): time; RSS peak after; /healthz meanwhile',
      ],
      startupRows,
    ),
    'Series in the last scrape (sample lines): per mailbox (those with its `mailbox` label), per server (`pop3_phase_duration_seconds`), the monitor and prom-client defaults, and the largest families:',
    markdownTable(
      [
        'mailboxes',
        'tls',
        'per mailbox max / mean',
        'per server',
        'monitor + process',
        'total',
        'largest families (lines)',
      ],
      seriesRows,
    ),
    "The slowest `/healthz` answers after the warm-up, an idle process on the machine meanwhile (the poller's own event-loop delay: what the machine's load alone adds), and the daemon's garbage collector in the steady window:",
    markdownTable(
      [
        'mailboxes',
        'tls',
        'scrapes',
        'five slowest /healthz polls',
        'idle process: loop delay p99 / max (ms)',
        'GC',
      ],
      slowRows,
    ),
  ].join('\n\n');
}
