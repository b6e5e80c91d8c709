// The daemon's hot loop at scale: N mailboxes on a `*/60 * * * * *` schedule, composed
// as the daemon composes it (Scheduler → probeMailbox → createMetrics().recordProbe, and
// /metrics served by startHttpServer and scraped every 15 s), on the real system clock,
// against a fleet of fake POP3 servers running in a child process.
//
//   node --import tsx bench/scale.ts --mailboxes 10000 [--duration 160] [--hosts 8]
//        [--tls none|implicit] [--json FILE]
//
// Measures probes/s, schedule lag (planned fire time → probe start), RSS, event-loop
// delay, CPU per probe, and /metrics render time and size.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Clock, systemClock } from '../src/clock.js';
import type { MailboxConfig } from '../src/config/schema.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { startHttpServer } from '../src/metrics/server.js';
import { CapabilityCache } from '../src/probe/capability-cache.js';
import { type ProbeDeps, probeMailbox } from '../src/probe/probe.js';
import type { ProbeResult } from '../src/probe/result.js';
import { TlsSessionStore } from '../src/probe/tls-sessions.js';
import { Scheduler, spreadFraction } from '../src/schedule/scheduler.js';
import {
  DEFAULT_MAX_SPREAD_MS,
  type SlotPlan,
  slotFrom,
  startupPlan,
} from '../src/schedule/slots.js';
import { TEST_CA_PEM } from '../test/fixtures/fake-pop3-server.js';
import { FLEET_PASSWORD, FLEET_SERVERNAME, fleetUser } from './fleet.js';
import { machineInfo } from './lib/machine.js';
import { mailboxConfig } from './lib/mailboxes.js';
import { runMain } from './lib/main.js';
import { REPO_DIR, startFleetChild } from './lib/processes.js';
import { fmt, markdownTable, mean, quantile, verdictAtMost, verdictBelow } from './lib/stats.js';

export interface ScaleOptions {
  mailboxes: number;
  /** Seconds of schedule; the steady-state window is everything after `warmupS`. */
  durationS: number;
  /** Start-up probes and the first slots settle in this time; not in the steady stats. */
  warmupS: number;
  hosts: number;
  tls: 'none' | 'implicit';
  /** config.scheduler defaults. */
  maxConcurrent: number;
  maxPerHost: number;
  /** Seconds between /metrics scrapes during the run; 0: none until the one at the end. */
  scrapeEveryS: number;
  log?: (line: string) => void;
}

export const SCHEDULE = '*/60 * * * * *';
const INTERVAL_MS = 60_000;

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
  atS: number;
  httpMs: number;
  renderMs: number;
  bytes: number;
  lines: number;
}

/** Sample lines per metric family (histogram _bucket/_sum/_count folded in), largest first. */
export function familyLines(body: string, top = 6): Record<string, number> {
  const counts = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const end = line.search(/[{ ]/);
    const name = (end === -1 ? line : line.slice(0, end)).replace(/_(bucket|sum|count)$/, '');
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return Object.fromEntries([...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, top));
}

/** Math.max without spreading a huge array onto the stack; NaN when empty. */
function maxOf(values: readonly number[]): number {
  let max = Number.NaN;
  for (const v of values) if (!(v <= max)) max = v;
  return max;
}

export interface ScaleReport {
  options: ScaleOptions;
  startedAt: string;
  machine: ReturnType<typeof machineInfo>;
  /** 1-minute load average when the run started (machine.loadAvg1 is at its end). */
  loadAvgStart: number;
  steadyWindowS: number;
  /** Regular-slot probes planned in the steady window that started (before the end). */
  steadyProbes: number;
  /** Regular slots the scheduler should have fired in the steady window. */
  slotsDue: number;
  probesPerSecond: number;
  targetPerSecond: number;
  failures: number;
  failureReasons: Record<string, number>;
  skips: number;
  lagMs: { p50: number; p99: number; max: number; samples: number };
  startupLagMs: {
    p50: number;
    p99: number;
    max: number;
    samples: number;
    roundCompleteS: number | null;
  };
  rssMb: { max: number; end: number; steadyMax: number };
  heapUsedMbEnd: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Our process over the steady window. */
  cpu: { coresUsed: number; msPerProbe: number };
  fleetCpuCores: number;
  probeWallMs: { p50: number; p99: number };
  scrapes: Scrape[];
  /** Sample lines per family in the last scrape. */
  families: Record<string, number>;
  durationS: number;
}

const SLOT_PLAN: SlotPlan = { spread: true, maxSpreadMs: DEFAULT_MAX_SPREAD_MS, cron: {} };

/** The fire time the scheduler planned for a regular slot that started at `startedAt`. */
export function plannedSlot(name: string, startedAt: number): number {
  // src/schedule/slots.ts: slot = cron match + floor(spreadFraction(name) × window),
  // window = min(gap, 5 min) = 60 s for */60; the matches are whole minutes (UTC).
  const offset = Math.floor(spreadFraction(name) * INTERVAL_MS);
  return offset + INTERVAL_MS * Math.floor((startedAt - offset) / INTERVAL_MS);
}

/**
 * The regular slots of a mailbox due in [from, to), from the scheduler's own plan
 * (startupPlan: the start-up tick, then the first slot at least half an interval later).
 */
export function slotsDue(name: string, startNow: number, from: number, to: number): number {
  const fraction = spreadFraction(name);
  let slot = startupPlan(SCHEDULE, fraction, startNow, SLOT_PLAN).first;
  let due = 0;
  while (slot !== null && slot.at < to) {
    if (slot.at >= from) due += 1;
    slot = slotFrom(SCHEDULE, fraction, slot.following, slot.at + 1, SLOT_PLAN);
  }
  return due;
}

export async function runScale(options: ScaleOptions): Promise<ScaleReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startedAt = new Date().toISOString();
  const loadAvgStart = machineInfo().loadAvg1;
  const t0 = performance.now();
  log(
    `scale: ${options.mailboxes} mailboxes, ${options.hosts} hosts, tls ${options.tls}, ${options.durationS} s`,
  );
  const fleet = await startFleetChild({
    hosts: options.hosts,
    users: options.mailboxes,
    tls: options.tls,
  });
  const caPem = TEST_CA_PEM.toString('utf8');
  const mailboxes: MailboxConfig[] = Array.from({ length: options.mailboxes }, (_, i) => {
    const server = fleet.servers[i % fleet.servers.length] as { host: string; port: number };
    const mailbox = mailboxConfig({
      name: `mbx-${String(i).padStart(5, '0')}`,
      host: server.host,
      port: server.port,
      mode: options.tls === 'none' ? 'plain' : 'implicit',
      username: fleetUser(i),
      password: FLEET_PASSWORD,
      caPem: options.tls === 'none' ? undefined : caPem,
      schedule: SCHEDULE,
    });
    mailbox.tls_servername = options.tls === 'none' ? undefined : FLEET_SERVERNAME;
    return mailbox;
  });

  // What the daemon keeps between probes: capabilities and TLS session tickets.
  const deps: ProbeDeps = {
    capabilityCache: new CapabilityCache(),
    tlsSessions: new TlsSessionStore(),
  };
  const metrics = createMetrics({ version: 'bench' });
  metrics.setMailboxes(mailboxes);

  const seen = new Set<string>();
  /** Regular-slot probes: when planned, and the lag of their start. */
  const lags: { planned: number; lag: number }[] = [];
  const startupLags: number[] = [];
  const probeWalls: { at: number; ms: number }[] = [];
  let failures = 0;
  const failureReasons: Record<string, number> = {};
  let skips = 0;
  let steadyStart = Number.POSITIVE_INFINITY;
  let roundCompleteAt: number | null = null;

  // The scheduler reads now() first thing in start(): that is the base of the start-up times.
  let startNow = 0;
  let capture = false;
  const clock: Clock = {
    now: () => {
      const now = systemClock.now();
      if (capture) {
        startNow = now;
        capture = false;
      }
      return now;
    },
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
  };

  const scheduler = new Scheduler<MailboxConfig>({
    clock,
    maxConcurrent: options.maxConcurrent,
    maxPerHost: options.maxPerHost,
    probe: (mailbox) => {
      const now = Date.now();
      if (seen.has(mailbox.name)) {
        const planned = plannedSlot(mailbox.name, now);
        lags.push({ planned, lag: now - planned });
      } else {
        seen.add(mailbox.name);
        const { startupAt } = startupPlan(
          SCHEDULE,
          spreadFraction(mailbox.name),
          startNow,
          SLOT_PLAN,
        );
        startupLags.push(now - startupAt);
      }
      return probeMailbox(mailbox, deps);
    },
    onResult: (result: ProbeResult) => {
      metrics.recordProbe(result);
      probeWalls.push({ at: Date.now(), ms: (result.phases.total ?? 0) * 1000 });
      if (!result.success) {
        failures += 1;
        const reason = result.error?.code ?? 'unknown';
        failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
      }
    },
    onSkip: (mailbox, reason) => {
      skips += 1;
      metrics.recordSkip(mailbox.name, reason);
    },
    onRoundComplete: () => {
      roundCompleteAt = Date.now();
    },
  });
  scheduler.setMailboxes(mailboxes);

  // /metrics as Prometheus reads it: the daemon's HTTP server (render and transfer timed
  // together by the scrape below; renderMs is not measured apart any more).
  const lastRenderMs = Number.NaN;
  const http = await startHttpServer({
    listen: '127.0.0.1:0',
    exposition: () => metrics.exposition(),
    isReady: () => roundCompleteAt !== null,
    reload: async () => ({ ok: true }),
  });
  const scrapes: Scrape[] = [];
  let families: Record<string, number> = {};
  const scrape = async () => {
    const s0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${http.address.port}/metrics`);
    const body = await res.text();
    const httpMs = performance.now() - s0;
    scrapes.push({
      atS: (performance.now() - t0) / 1000,
      httpMs,
      renderMs: lastRenderMs,
      bytes: Buffer.byteLength(body),
      lines: body.split('\n').length,
    });
    families = familyLines(body);
  };

  const rss: { at: number; mb: number }[] = [];
  const elDelay = monitorEventLoopDelay({ resolution: 10 });
  let cpuAtSteady = process.cpuUsage();
  let fleetCpuAtSteady = 0;
  let wallAtSteady = performance.now();

  capture = true;
  scheduler.start();
  const runStart = Date.now();
  const warmupEnd = runStart + options.warmupS * 1000;
  const runEnd = runStart + options.durationS * 1000;

  const rssTimer = setInterval(
    () => rss.push({ at: Date.now(), mb: process.memoryUsage().rss / 2 ** 20 }),
    1000,
  );
  let scrapeBusy = false;
  const scrapeTimer =
    options.scrapeEveryS > 0
      ? setInterval(() => {
          if (scrapeBusy) return;
          scrapeBusy = true;
          scrape()
            .catch((error: unknown) => log(`scale: scrape failed: ${String(error)}`))
            .finally(() => {
              scrapeBusy = false;
            });
        }, options.scrapeEveryS * 1000)
      : null;
  // Bounded whatever happens: a run that overstays by two minutes ends the process.
  const watchdog = setTimeout(
    () => {
      log(`scale: still running ${options.durationS + 120} s after start; giving up`);
      process.exit(3);
    },
    (options.durationS + 120) * 1000,
  );
  watchdog.unref();
  const progress = setInterval(() => {
    const last = rss.at(-1)?.mb ?? 0;
    log(
      `scale: t=${Math.round((Date.now() - runStart) / 1000)} s probes=${startupLags.length + lags.length} failures=${failures} ` +
        `inflight=${scheduler.inFlight} queued=${scheduler.queued} rss=${fmt(last, 0)} MB`,
    );
  }, 20_000);

  await new Promise<void>((resolve) =>
    setTimeout(
      async () => {
        steadyStart = Date.now();
        cpuAtSteady = process.cpuUsage();
        fleetCpuAtSteady = (await fleet.stats()).cpuMs;
        wallAtSteady = performance.now();
        elDelay.enable();
        resolve();
      },
      Math.max(0, warmupEnd - Date.now()),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, runEnd - Date.now())));
  const steadyEnd = Date.now();
  const cpuUsed = process.cpuUsage(cpuAtSteady);
  const fleetCpuEnd = (await fleet.stats()).cpuMs;
  const wallSteadyMs = performance.now() - wallAtSteady;
  elDelay.disable();
  clearInterval(rssTimer);
  if (scrapeTimer !== null) clearInterval(scrapeTimer);
  clearInterval(progress);
  await scrape(); // one at the end, with every mailbox's series present
  await scheduler.stop();
  await http.close();
  await fleet.stop();
  clearTimeout(watchdog);

  // Slots due in the steady window against the probes that started for them.
  const steadyLags = lags
    .filter((l) => l.planned >= steadyStart && l.planned < steadyEnd)
    .map((l) => l.lag);
  const steadyProbes = steadyLags.length;
  let slotsDueInWindow = 0;
  for (const mailbox of mailboxes) {
    slotsDueInWindow += slotsDue(mailbox.name, startNow, steadyStart, steadyEnd);
  }
  const steadyS = (steadyEnd - steadyStart) / 1000;
  const steadyRss = rss.filter((r) => r.at >= steadyStart).map((r) => r.mb);
  const walls = probeWalls.filter((p) => p.at >= steadyStart).map((p) => p.ms);
  const q = (v: number[], p: number) => quantile(v, p);
  const rc = roundCompleteAt as number | null;
  return {
    options: { ...options, log: undefined },
    startedAt,
    machine: machineInfo(),
    loadAvgStart,
    steadyWindowS: steadyS,
    steadyProbes,
    slotsDue: slotsDueInWindow,
    probesPerSecond: steadyProbes / steadyS,
    targetPerSecond: options.mailboxes / 60,
    failures,
    failureReasons,
    skips,
    lagMs: {
      p50: q(steadyLags, 0.5),
      p99: q(steadyLags, 0.99),
      max: maxOf(steadyLags),
      samples: steadyLags.length,
    },
    startupLagMs: {
      p50: q(startupLags, 0.5),
      p99: q(startupLags, 0.99),
      max: maxOf(startupLags),
      samples: startupLags.length,
      roundCompleteS: rc === null ? null : (rc - runStart) / 1000,
    },
    rssMb: {
      max: maxOf(rss.map((r) => r.mb)),
      end: rss.at(-1)?.mb ?? Number.NaN,
      steadyMax: maxOf(steadyRss),
    },
    heapUsedMbEnd: process.memoryUsage().heapUsed / 2 ** 20,
    eventLoopDelayMs: {
      p50: elDelay.percentile(50) / 1e6,
      p99: elDelay.percentile(99) / 1e6,
      max: elDelay.max / 1e6,
    },
    cpu: {
      coresUsed: (cpuUsed.user + cpuUsed.system) / 1000 / wallSteadyMs,
      msPerProbe: (cpuUsed.user + cpuUsed.system) / 1000 / Math.max(1, steadyProbes),
    },
    fleetCpuCores: (fleetCpuEnd - fleetCpuAtSteady) / wallSteadyMs,
    probeWallMs: { p50: q(walls, 0.5), p99: q(walls, 0.99) },
    scrapes,
    families,
    durationS: (performance.now() - t0) / 1000,
  };
}

// --------------------------------------------------------------------------- report

export function scaleVerdicts(
  r: ScaleReport,
): { target: string; measured: string; verdict: string }[] {
  const n = r.options.mailboxes.toLocaleString('en-US');
  const label = `${n} mailboxes/min, tls ${r.options.tls}`;
  const steadyScrapes = r.scrapes.map((s) => s.httpMs);
  const worstScrape = maxOf(steadyScrapes);
  const rate = r.probesPerSecond * 60;
  return [
    {
      target: `${label}: every mailbox probed once a minute`,
      measured: `${r.steadyProbes} of ${r.slotsDue} slots due started (${fmt(rate, 0)}/min), ${r.failures} failed${describeFailures(r)}`,
      verdict:
        r.steadyProbes >= r.slotsDue * 0.99 && r.failures === 0
          ? 'met'
          : `**missed**: ${r.slotsDue - r.steadyProbes} slots not started in the window, ${r.failures} probes failed`,
    },
    {
      target: `${label}: schedule lag p99 < 1 s`,
      measured: `${fmt(r.lagMs.p99, 0)} ms`,
      verdict: verdictBelow(r.lagMs.p99, 1000, ' ms', 0),
    },
    {
      target: `${label}: RSS < 300 MB`,
      measured: `${fmt(r.rssMb.max, 0)} MB max`,
      verdict: verdictBelow(r.rssMb.max, 300, ' MB', 0),
    },
    {
      target: `${label}: /metrics < 250 ms`,
      measured: `${fmt(worstScrape, 0)} ms worst of ${r.scrapes.length} scrapes`,
      verdict: verdictAtMost(worstScrape, 250, ' ms', 0),
    },
  ];
}

function describeFailures(r: ScaleReport): string {
  const entries = Object.entries(r.failureReasons);
  return entries.length === 0 ? '' : ` (${entries.map(([k, v]) => `${v} ${k}`).join(', ')})`;
}

function scrapesOf(r: ScaleReport): string {
  return r.options.scrapeEveryS > 0 ? `every ${r.options.scrapeEveryS} s` : 'only at the end';
}

export function renderScale(reports: ScaleReport[]): string {
  const rows = reports.map((r) => {
    const scrapeMs = r.scrapes.map((s) => s.httpMs);
    const renderMs = r.scrapes.map((s) => s.renderMs);
    const last = r.scrapes.at(-1);
    return [
      r.options.mailboxes.toLocaleString('en-US'),
      r.options.tls,
      scrapesOf(r),
      `${fmt(r.steadyWindowS, 0)} s`,
      `${fmt(r.probesPerSecond, 1)} (target ${fmt(r.targetPerSecond, 1)})`,
      `${r.steadyProbes} / ${r.slotsDue}`,
      `${r.failures}${describeFailures(r)}${r.skips > 0 ? `, ${r.skips} skipped (overlap)` : ''}`,
      `${fmt(r.lagMs.p50, 0)} / ${fmt(r.lagMs.p99, 0)} / ${fmt(r.lagMs.max, 0)}`,
      `${fmt(r.probeWallMs.p50, 1)} / ${fmt(r.probeWallMs.p99, 1)}`,
      `${fmt(r.rssMb.max, 0)} (end ${fmt(r.rssMb.end, 0)})`,
      `${fmt(r.cpu.coresUsed, 2)} (${fmt(r.cpu.msPerProbe, 2)} ms/probe)`,
      fmt(r.fleetCpuCores, 2),
      `${fmt(r.eventLoopDelayMs.p99, 0)} / ${fmt(r.eventLoopDelayMs.max, 0)}`,
      `${fmt(mean(scrapeMs), 0)} / ${fmt(maxOf(scrapeMs), 0)} (render ${fmt(maxOf(renderMs), 0)})`,
      last
        ? `${fmt(last.bytes / 2 ** 20, 1)} MiB, ${last.lines.toLocaleString('en-US')} lines`
        : 'n/a',
    ];
  });
  const startupRows = reports.map((r) => [
    r.options.mailboxes.toLocaleString('en-US'),
    r.options.tls,
    scrapesOf(r),
    `${fmt(r.startupLagMs.p50, 0)} / ${fmt(r.startupLagMs.p99, 0)} / ${fmt(r.startupLagMs.max, 0)}`,
    r.startupLagMs.roundCompleteS === null
      ? 'not complete'
      : `${fmt(r.startupLagMs.roundCompleteS, 1)} s`,
  ]);
  const familyRows = reports.map((r) => [
    r.options.mailboxes.toLocaleString('en-US'),
    r.options.tls,
    scrapesOf(r),
    Object.entries(r.families)
      .map(([name, lines]) => `${name} ${fmt(lines / r.options.mailboxes, 1)}`)
      .join(', '),
  ]);
  return [
    markdownTable(
      [
        'mailboxes',
        'tls',
        'scrapes',
        'steady window',
        'probes/s',
        'slots started / due',
        'failed',
        'lag p50 / p99 / max (ms)',
        'probe wall p50 / p99 (ms)',
        'RSS max (MB)',
        'our CPU (cores)',
        'fleet CPU (cores)',
        'event-loop delay p99 / max (ms)',
        '/metrics mean / worst (ms)',
        '/metrics size',
      ],
      rows,
    ),
    'Start-up round (every mailbox probed once within the first 10 s by design; not in the steady-state lag above):',
    markdownTable(
      [
        'mailboxes',
        'tls',
        'scrapes',
        'start-up lag p50 / p99 / max (ms)',
        'first round complete after',
      ],
      startupRows,
    ),
    'Where the /metrics lines come from (last scrape; sample lines per mailbox, largest families):',
    markdownTable(['mailboxes', 'tls', 'scrapes', 'family: lines per mailbox'], familyRows),
  ].join('\n\n');
}

async function cli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      mailboxes: { type: 'string', default: '1000' },
      duration: { type: 'string', default: String(DEFAULT_SCALE_OPTIONS.durationS) },
      warmup: { type: 'string' },
      hosts: { type: 'string', default: String(DEFAULT_SCALE_OPTIONS.hosts) },
      tls: { type: 'string', default: 'none' },
      'scrape-every': { type: 'string', default: String(DEFAULT_SCALE_OPTIONS.scrapeEveryS) },
      json: { type: 'string' },
    },
  });
  if (values.tls !== 'none' && values.tls !== 'implicit')
    throw new RangeError('--tls: none or implicit');
  const durationS = Number(values.duration);
  const warmupS =
    values.warmup === undefined
      ? Math.min(DEFAULT_SCALE_OPTIONS.warmupS, durationS / 2)
      : Number(values.warmup);
  const report = await runScale({
    ...DEFAULT_SCALE_OPTIONS,
    mailboxes: Number(values.mailboxes),
    durationS,
    warmupS,
    hosts: Number(values.hosts),
    tls: values.tls,
    scrapeEveryS: Number(values['scrape-every']),
  });
  const file =
    values.json ??
    join(
      REPO_DIR,
      `bench/results/scale-${report.options.mailboxes}-${report.options.tls}.raw.json`,
    );
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2));
  process.stdout.write(`${renderScale([report])}\n\n`);
  process.stdout.write(
    `${markdownTable(
      ['target', 'measured', 'verdict'],
      scaleVerdicts(report).map((v) => [v.target, v.measured, v.verdict]),
    )}\n`,
  );
}

runMain(import.meta.url, 'scale', cli);
