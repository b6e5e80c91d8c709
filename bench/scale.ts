// The daemon at scale, measured as users run it: `pop3-monitor run` (built from this
// source) polls N mailboxes on `*/60 * * * * *` against a fleet of fake POP3 servers in
// another process, while this process scrapes its /metrics every 15 s as Prometheus does
// (gzip, new connection) and polls /healthz every 100 ms as a kubelet does.
//
//   node --import tsx bench/scale.ts --mailboxes 10000 [--duration 160] [--hosts 8]
//        [--tls none|implicit] [--scrape-every 15] [--json FILE]
//
// Measures: slots started against slots due, schedule lag (planned fire time → probe
// start, from the daemon's debug log), RSS (VmRSS / VmHWM), CPU, /metrics render and
// transfer time and size, /healthz latency (worst, and worst while /metrics renders),
// and the series per mailbox and per server counted in a real scrape.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { FLEET_PASSWORD, FLEET_SERVERNAME, fleetUser } from './fleet.js';
import { type LogLine, startDaemon } from './lib/daemon-process.js';
import { machineInfo } from './lib/machine.js';
import { runMain } from './lib/main.js';
import { REPO_DIR, startFleetChild } from './lib/processes.js';
import {
  DEFAULT_SCALE_OPTIONS,
  renderScale,
  type ScaleOptions,
  type ScaleReport,
  type Scrape,
  scaleVerdicts,
} from './lib/scale-report.js';
import { plannedSlot, SCHEDULE, slotsDue, startupTick } from './lib/schedule-plan.js';
import { countSeries, sampleValue, startHealthPoller, timedGet } from './lib/scrape.js';
import { fmt, markdownTable, maxOf, quantile } from './lib/stats.js';

export * from './lib/scale-report.js';

function mailboxName(i: number): string {
  return `mbx-${String(i).padStart(5, '0')}`;
}

/** The config file the daemon runs: the fleet's mailboxes, the defaults otherwise. */
function writeConfig(
  dir: string,
  options: ScaleOptions,
  servers: { host: string; port: number }[],
) {
  const tls =
    options.tls === 'none'
      ? { tls: 'none' }
      : {
          tls: 'implicit',
          tls_ca_file: join(REPO_DIR, 'test/fixtures/tls/ca.pem'),
          tls_servername: FLEET_SERVERNAME,
        };
  const config = {
    server: { listen: '127.0.0.1:0' },
    state_dir: join(dir, 'state'),
    scheduler: {
      max_concurrent_probes: options.maxConcurrent,
      max_concurrent_per_host: options.maxPerHost,
    },
    defaults: { schedule: SCHEDULE, password: FLEET_PASSWORD, ...tls },
    mailboxes: Array.from({ length: options.mailboxes }, (_, i) => {
      const server = servers[i % servers.length] as { host: string; port: number };
      return { name: mailboxName(i), host: server.host, port: server.port, username: fleetUser(i) };
    }),
  };
  const file = join(dir, 'config.yaml');
  writeFileSync(file, JSON.stringify(config)); // JSON is YAML
  return file;
}

interface Probe {
  mailbox: string;
  /** ms since the epoch. */
  startedAt: number;
  wallMs: number;
  failed: string | null;
}

export async function runScale(options: ScaleOptions): Promise<ScaleReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startedAtIso = new Date().toISOString();
  const loadAvgStart = machineInfo().loadAvg1;
  const t0 = performance.now();
  log(
    `scale: ${options.mailboxes} mailboxes, ${options.hosts} hosts, tls ${options.tls}, ${options.durationS} s`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'pop3-bench-scale-'));
  const fleet = await startFleetChild({
    hosts: options.hosts,
    users: options.mailboxes,
    tls: options.tls,
  });
  const probes: Probe[] = [];
  let roundCompleteAt: number | null = null;
  const onLog = (line: LogLine) => {
    if (line.event === 'probe_result') {
      const r = line.result as {
        mailbox: string;
        started_at: number;
        success: boolean;
        phases: { total?: number };
        error: { code: string } | null;
      };
      probes.push({
        mailbox: r.mailbox,
        startedAt: r.started_at * 1000,
        wallMs: (r.phases.total ?? Number.NaN) * 1000,
        failed: r.success ? null : (r.error?.code ?? 'unknown'),
      });
    } else if (line.event === 'first_round_complete') roundCompleteAt = Date.parse(line.time);
  };
  // V8's own account of its garbage collections (--trace-gc): the longest pauses, to tell
  // a collection from a busy machine when /healthz or the lag has an outlier.
  const gcPauses: { at: number; ms: number; kind: string }[] = [];
  const onText = (line: string) => {
    const m =
      /\s(Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep)\S*\s.*?MB, ([\d.]+) \/ ([\d.]+) ms/.exec(
        line,
      );
    if (m) gcPauses.push({ at: Date.now(), ms: Number(m[2]), kind: m[1] as string });
  };
  const daemon = await startDaemon({
    configFile: writeConfig(dir, options, fleet.servers),
    // debug: one probe_result line per probe, with its start time.
    env: { POP3_MONITOR_LOG_LEVEL: 'debug', POP3_MONITOR_LOG_FORMAT: 'json' },
    nodeArgs: ['--trace-gc'],
    onLog,
    onText,
  });
  const runStart = daemon.startedAt;
  const warmupEnd = runStart + options.warmupS * 1000;
  const runEnd = runStart + options.durationS * 1000;
  log(
    `scale: daemon pid ${daemon.pid} on ${daemon.address}, started in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );

  const rss: { at: number; mb: number }[] = [];
  const rssTimer = setInterval(() => rss.push({ at: Date.now(), mb: daemon.memory().rssMb }), 1000);
  const health = await startHealthPoller(daemon.address, 100);
  const scrapes: Scrape[] = [];
  // The bodies are read once the run is over: decompressing and parsing 12 MB here, while
  // the daemon is measured, would only take the CPU from it.
  const bodies: (() => string)[] = [];
  const scrape = async (gzip = true) => {
    const at = Date.now();
    const r = await timedGet(daemon.address, '/metrics', { gzip, timeoutMs: 60_000 });
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    scrapes.push({
      at,
      atS: (at - runStart) / 1000,
      ms: r.ms,
      gzip,
      wireBytes: r.wireBytes,
      bytes: 0,
      lines: 0,
      eventLoopMaxMs: Number.NaN,
    });
    bodies.push(r.text);
  };
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
  const progress = setInterval(() => {
    log(
      `scale: t=${Math.round((Date.now() - runStart) / 1000)} s probes=${probes.length} ` +
        `rss=${fmt(rss.at(-1)?.mb, 0)} MB scrapes=${scrapes.length}`,
    );
  }, 20_000);
  // Bounded whatever happens: a run that overstays by three minutes ends the process.
  const watchdog = setTimeout(
    () => {
      log(`scale: still running ${options.durationS + 180} s after start; giving up`);
      process.exit(3);
    },
    (options.durationS + 180) * 1000,
  );
  watchdog.unref();

  const sleepUntil = (at: number) =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
  await sleepUntil(warmupEnd);
  const steadyStart = Date.now();
  const cpuAtSteady = daemon.cpuMs();
  const fleetCpuAtSteady = (await fleet.stats()).cpuMs;
  const wallAtSteady = performance.now();
  await sleepUntil(runEnd);
  const steadyEnd = Date.now();
  const cpuUsedMs = daemon.cpuMs() - cpuAtSteady;
  const fleetCpuMs = (await fleet.stats()).cpuMs - fleetCpuAtSteady;
  const wallSteadyMs = performance.now() - wallAtSteady;
  clearInterval(progress);
  if (scrapeTimer !== null) clearInterval(scrapeTimer);
  while (scrapeBusy) await new Promise((r) => setTimeout(r, 50));
  // One at the end with every mailbox's series present, and one uncompressed for its size.
  await scrape(true);
  await scrape(false);
  const memory = daemon.memory();
  // Last, a reload of the same config (SIGHUP or POST /-/reload, as a ConfigMap update
  // does): what it costs in memory sizes the Kubernetes limit; outside every figure above.
  const reloadAt = Date.now();
  const reload = await timedGet(daemon.address, '/-/reload', {
    method: 'POST',
    timeoutMs: 120_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const afterReload = daemon.memory();
  const { polls: healthPolls, idleLoopMaxMs, idleLoopP99Ms } = await health.stop();
  clearInterval(rssTimer);
  const exit = await daemon.stop();
  await fleet.stop();
  clearTimeout(watchdog);
  rmSync(dir, { recursive: true, force: true });

  // Regular slots: the lag of each probe from the slot it was planned for.
  const firsts = new Set<string>();
  const startupLags: number[] = [];
  const steadyLags: number[] = [];
  const gaps = new Map<string, number[]>();
  const lastStart = new Map<string, number>();
  for (const p of [...probes].sort((a, b) => a.startedAt - b.startedAt)) {
    if (!firsts.has(p.mailbox)) {
      firsts.add(p.mailbox);
      startupLags.push(p.startedAt - startupTick(p.mailbox, runStart));
    } else {
      const planned = plannedSlot(p.mailbox, p.startedAt);
      if (planned >= steadyStart && planned < steadyEnd) steadyLags.push(p.startedAt - planned);
      // Between two regular probes (the start-up one is off the minute grid by design).
      const prev = lastStart.get(p.mailbox);
      if (prev !== undefined && p.startedAt >= steadyStart) {
        const list = gaps.get(p.mailbox) ?? [];
        list.push(p.startedAt - prev);
        gaps.set(p.mailbox, list);
      }
      lastStart.set(p.mailbox, p.startedAt);
    }
  }
  let due = 0;
  for (let i = 0; i < options.mailboxes; i++)
    due += slotsDue(mailboxName(i), runStart, steadyStart, steadyEnd);
  const steady = probes.filter((p) => p.startedAt >= steadyStart && p.startedAt < steadyEnd);
  const failureReasons: Record<string, number> = {};
  for (const p of steady)
    if (p.failed) failureReasons[p.failed] = (failureReasons[p.failed] ?? 0) + 1;
  const allGaps = [...gaps.values()].flat();
  const steadyS = (steadyEnd - steadyStart) / 1000;
  // /healthz: every poll after start-up, and those sent while a /metrics request was open.
  const polls = healthPolls.filter((p) => p.at >= warmupEnd && p.at < reloadAt);
  const reloadPolls = healthPolls.filter((p) => p.at >= reloadAt && p.at <= reloadAt + reload.ms);
  let lastBody = '';
  scrapes.forEach((s, i) => {
    const body = bodies[i]?.() ?? '';
    s.bytes = Buffer.byteLength(body);
    s.lines = body.split('\n').length;
    s.eventLoopMaxMs = sampleValue(body, 'nodejs_eventloop_lag_max_seconds') * 1000;
    lastBody = body;
  });
  const duringScrape = polls.filter((p) =>
    scrapes.some((s) => p.at + p.ms >= s.at && p.at <= s.at + s.ms),
  );
  const series = countSeries(lastBody);
  const steadyGc = gcPauses.filter((g) => g.at >= steadyStart && g.at < steadyEnd);
  const worst = [...polls].sort((a, b) => b.ms - a.ms).slice(0, 5);
  return {
    options: { ...options, log: undefined },
    startedAt: startedAtIso,
    machine: machineInfo(),
    loadAvgStart,
    steadyWindowS: steadyS,
    steadyProbes: steadyLags.length,
    slotsDue: due,
    probesPerSecond: steady.length / steadyS,
    targetPerSecond: options.mailboxes / 60,
    failures: steady.filter((p) => p.failed !== null).length,
    failureReasons,
    skips: sampleSum(lastBody, 'pop3_probe_skipped_total'),
    lagMs: {
      p50: quantile(steadyLags, 0.5),
      p99: quantile(steadyLags, 0.99),
      max: maxOf(steadyLags),
      samples: steadyLags.length,
    },
    gapMs: { min: -maxOf(allGaps.map((g) => -g)), max: maxOf(allGaps) },
    startupLagMs: {
      p50: quantile(startupLags, 0.5),
      p99: quantile(startupLags, 0.99),
      max: maxOf(startupLags),
      samples: startupLags.length,
      roundCompleteS: roundCompleteAt === null ? null : (roundCompleteAt - runStart) / 1000,
    },
    reload: {
      ok: reload.status === 200,
      ms: reload.ms,
      peakMb: Math.max(afterReload.peakMb, maxOf(rss.map((r) => r.mb))),
      worstHealthMs: maxOf(reloadPolls.map((p) => p.ms)),
    },
    rssMb: {
      // VmHWM is updated lazily by the kernel: the sampled VmRSS can be higher.
      peak: Math.max(memory.peakMb, maxOf(rss.filter((r) => r.at < reloadAt).map((r) => r.mb))),
      max: maxOf(rss.map((r) => r.mb)),
      steadyMax: maxOf(rss.filter((r) => r.at >= steadyStart && r.at < reloadAt).map((r) => r.mb)),
      end: memory.rssMb,
    },
    cpu: {
      coresUsed: cpuUsedMs / wallSteadyMs,
      msPerProbe: cpuUsedMs / Math.max(1, steady.length),
    },
    fleetCpuCores: fleetCpuMs / wallSteadyMs,
    probeWallMs: {
      p50: quantile(
        steady.map((p) => p.wallMs),
        0.5,
      ),
      p99: quantile(
        steady.map((p) => p.wallMs),
        0.99,
      ),
    },
    scrapes,
    health: {
      polls: polls.length,
      failed: polls.filter((p) => !p.ok).length,
      p99Ms: quantile(
        polls.map((p) => p.ms),
        0.99,
      ),
      worstMs: maxOf(polls.map((p) => p.ms)),
      duringScrape: duringScrape.length,
      worstDuringScrapeMs: maxOf(duringScrape.map((p) => p.ms)),
      over100: polls.filter((p) => p.ms > 100).length,
      idleLoopMaxMs,
      idleLoopP99Ms,
      worstPolls: worst.map((p) => ({
        atS: (p.at - runStart) / 1000,
        ms: p.ms,
        duringScrape: duringScrape.includes(p),
        gcMs: maxOf(
          gcPauses.filter((g) => g.at >= p.at && g.at <= p.at + p.ms + 50).map((g) => g.ms),
        ),
      })),
    },
    gc: {
      collections: steadyGc.length,
      maxPauseMs: maxOf(steadyGc.map((g) => g.ms)),
      maxMarkCompactMs: maxOf(steadyGc.filter((g) => g.kind !== 'Scavenge').map((g) => g.ms)),
      totalPauseMs: steadyGc.reduce((sum, g) => sum + g.ms, 0),
    },
    series,
    daemonExit: exit,
    durationS: (performance.now() - t0) / 1000,
  };
}

/** The sum of every sample of a family in an exposition. */
function sampleSum(body: string, name: string): number {
  let sum = 0;
  for (const m of body.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm')))
    sum += Number(m[1]);
  return sum;
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
