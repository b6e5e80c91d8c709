// Soak benchmark (issue "Hardening"): the real daemon (`node dist/cli.js run`) with 200
// mailboxes probed every second, against fake POP3 servers in another process
// (bench/soak-fleet.ts) of which some fail in rotating ways, with alert mail going to an
// SMTP sink and a config reload (SIGHUP) every two minutes. Every 10 s it samples the
// daemon's RSS (/proc/PID/status VmRSS) and scrapes its /metrics (event-loop lag from
// prom-client's monitorEventLoopDelay histogram, heap, CPU, probe counters). At the end it
// fits a least-squares line to RSS after the warm-up and reports the slope in MB/hour.
//
//   node --import tsx bench/soak.ts [--minutes 10] [--mailboxes 200] [--warmup 2]
//        [--sample 10] [--rotate 30] [--reload-every 120] [--cli dist/cli.js]
//        [--raw bench/results/soak.raw.json] [--write]
//   node --import tsx bench/soak.ts --from RUN1.raw.json [--from RUN2.raw.json] [--write]
//
// Every sample goes to --raw; --from renders saved runs again without running. --write
// puts the Markdown section into docs/BENCHMARKS.md between <!-- soak:start --> and
// <!-- soak:end --> (appended when absent). Not a test: it takes as long as --minutes says.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, type MachineInfo, machineInfo } from './lib/machine.js';
import { isMain } from './lib/main.js';
import { freePort, REPO_DIR, stopChild, track, waitForLine } from './lib/processes.js';
import { fmt, markdownTable } from './lib/stats.js';
import { SOAK_PASSWORD } from './soak-fleet.js';

export interface SoakOptions {
  minutes: number;
  mailboxes: number;
  warmupMinutes: number;
  sampleSeconds: number;
  rotateSeconds: number;
  /** 0: no reloads. */
  reloadEverySeconds: number;
  cli: string;
  healthy: number;
  chaos: number;
}

export const DEFAULT_SOAK_OPTIONS: SoakOptions = {
  minutes: 10,
  mailboxes: 200,
  warmupMinutes: 2,
  sampleSeconds: 10,
  rotateSeconds: 30,
  reloadEverySeconds: 120,
  cli: join(REPO_DIR, 'dist', 'cli.js'),
  healthy: 3,
  chaos: 2,
};

/**
 * "No growth after warm-up": the RSS slope after the warm-up is at most this. At 200
 * probes a second, 10 MB/hour is 14 bytes per probe: any per-probe leak (a listener, a
 * timer, a socket, a result kept) is far larger, while GC noise over 8 minutes stays below.
 */
export const SLOPE_LIMIT_MB_PER_HOUR = 10;

export interface Sample {
  /** Seconds since the daemon was started. */
  t: number;
  rssMb: number;
  heapUsedMb: number;
  /** Over the window since the previous scrape (prom-client resets the histogram). */
  lagP99Ms: number;
  lagMaxMs: number;
  /** One setImmediate's lag, measured at the previous scrape. */
  lagMs: number;
  /** Daemon CPU over the window, % of one core. */
  cpuPercent: number;
  probesPerSecond: number;
  failuresPerSecond: number;
  skipsPerSecond: number;
  alertsFiring: number;
  notificationsSent: number;
  outboxPending: number;
  handles: number;
  chaosModes: string[];
}

export interface SoakReport {
  options: SoakOptions;
  machine: MachineInfo;
  startedAt: string;
  samples: Sample[];
  slope: { mbPerHour: number; standardError: number; points: number };
  totals: {
    probes: number;
    failures: Record<string, number>;
    skips: Record<string, number>;
    reloads: Record<string, number>;
    notifications: Record<string, number>;
    fleetSessions: number;
    mailsReceived: number;
  };
  daemonExit: { code: number | null; signal: string | null };
  logLevels: Record<string, number>;
  verdict: boolean;
}

/** Metric values from the text exposition format, keyed `name` and `name{labels}`. */
export interface Scrape {
  sum(name: string): number;
  byLabel(name: string, label: string): Record<string, number>;
}

export function parseMetrics(text: string): Scrape {
  const rows: { name: string; labels: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (m) rows.push({ name: m[1] as string, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return {
    sum: (name) => rows.filter((r) => r.name === name).reduce((s, r) => s + r.value, 0),
    byLabel(name, label) {
      const out: Record<string, number> = {};
      const re = new RegExp(`${label}="([^"]*)"`);
      for (const r of rows) {
        if (r.name !== name) continue;
        const key = re.exec(r.labels)?.[1] ?? '';
        out[key] = (out[key] ?? 0) + r.value;
      }
      return out;
    },
  };
}

/** Least-squares slope of y over x and its standard error. */
export function linearSlope(points: readonly { x: number; y: number }[]): {
  slope: number;
  standardError: number;
} {
  const n = points.length;
  if (n < 3) return { slope: Number.NaN, standardError: Number.NaN };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
  }
  const slope = sxy / sxx;
  const residual = points.reduce((s, p) => s + (p.y - my - slope * (p.x - mx)) ** 2, 0);
  return { slope, standardError: Math.sqrt(residual / (n - 2) / sxx) };
}

function vmRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kb / 1024;
}

interface FleetProcess {
  ready: {
    servers: { host: string; port: number; kind: 'healthy' | 'chaos' }[];
    smtp: { host: string; port: number };
  };
  stats(): Promise<{ sessions: number; mails: number; modes: string[] }>;
  stop(): Promise<void>;
}

async function startFleet(options: SoakOptions): Promise<FleetProcess> {
  const child = track(
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_DIR, 'bench', 'soak-fleet.ts'),
        '--healthy',
        String(options.healthy),
        '--chaos',
        String(options.chaos),
        '--users',
        String(options.mailboxes),
        '--rotate',
        String(options.rotateSeconds),
      ],
      { cwd: REPO_DIR, stdio: ['pipe', 'pipe', 'pipe'] },
    ),
  );
  const m = await waitForLine(child, /^READY (.*)$/, 60_000);
  child.stderr?.resume();
  return {
    ready: JSON.parse(m[1] as string) as FleetProcess['ready'],
    async stats() {
      const reply = waitForLine(child, /^STATS (.*)$/, 10_000);
      child.stdin?.write('stats\n');
      return JSON.parse((await reply)[1] as string) as Awaited<ReturnType<FleetProcess['stats']>>;
    },
    stop: () => stopChild(child),
  };
}

/**
 * The daemon's config: mailbox i on server i mod N, every second, auth backoff 20 s (so a
 * refused login is retried within the run), 3 s deadline; alert mail to the sink with the
 * built-in rules and one threshold rule that fires on every healthy mailbox at once.
 */
export function soakConfig(
  options: SoakOptions,
  fleet: FleetProcess['ready'],
  listen: string,
  stateDir: string,
): string {
  const lines = [
    `server: { listen: "${listen}" }`,
    `state_dir: ${JSON.stringify(stateDir)}`,
    'scheduler: { max_concurrent_probes: 64, max_concurrent_per_host: 8 }',
    'defaults:',
    '  schedule: "* * * * * *"',
    '  timeout: 3s',
    '  tls: none',
    '  auth: auto',
    '  auth_failure_backoff: 20s',
    `  password: ${SOAK_PASSWORD}`,
    'mailboxes:',
  ];
  for (let i = 0; i < options.mailboxes; i++) {
    const server = fleet.servers[i % fleet.servers.length] as FleetProcess['ready']['servers'][0];
    lines.push(
      `  - { name: mb${String(i).padStart(3, '0')}, host: ${server.host}, port: ${server.port}, username: user${i}, labels: { kind: ${server.kind} } }`,
    );
  }
  lines.push(
    'alerting:',
    `  smtp: { host: ${fleet.smtp.host}, port: ${fleet.smtp.port}, from: "pop3-monitor soak <soak@bench.test>" }`,
    '  to: [oncall@bench.test]',
    '  group_wait: 10s',
    '  rules:',
    '    - { name: backlog, metric: messages, op: ">", value: 2, for: 30s, severity: warning }',
  );
  return `${lines.join('\n')}\n`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  return parseMetrics(await response.text());
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  if (!existsSync(options.cli))
    throw new Error(`${options.cli} not found: run \`npm run build\` first (or pass --cli)`);
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const dir = join(REPO_DIR, '.tmp', `soak-${startedAt.replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const fleet = await startFleet(options);
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    soakConfig(options, fleet.ready, `127.0.0.1:${port}`, join(dir, 'state')),
  );
  const logPath = join(dir, 'daemon.log');
  const logFd = openSync(logPath, 'w');
  const daemon: ChildProcess = track(
    spawn(process.execPath, [options.cli, 'run', '--config', configPath], {
      cwd: REPO_DIR,
      env: { ...process.env, POP3_MONITOR_LOG_LEVEL: 'info', POP3_MONITOR_LOG_FORMAT: 'json' },
      stdio: ['ignore', logFd, logFd],
    }),
  );
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    daemon.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pid = daemon.pid as number;
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  log(`soak: daemon pid ${pid}, ${options.mailboxes} mailboxes, logs in ${logPath}`);

  const t0 = Date.now();
  // Wait for the HTTP port (the daemon starts within a second or two).
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`daemon exited early: see ${logPath}`);
    try {
      await scrape(metricsUrl);
      break;
    } catch {
      if (Date.now() - t0 > 30_000) throw new Error(`no /metrics after 30 s: see ${logPath}`);
      await sleep(200);
    }
  }

  const samples: Sample[] = [];
  const endAt = t0 + options.minutes * 60_000;
  let previous: { t: number; cpu: number; probes: number; failures: number; skips: number } | null =
    null;
  let nextReload = options.reloadEverySeconds > 0 ? t0 + options.reloadEverySeconds * 1000 : 0;
  let last: Scrape | null = null;
  for (let k = 1; ; k++) {
    const due = t0 + k * options.sampleSeconds * 1000;
    if (due > endAt) break;
    while (Date.now() < due) {
      if (nextReload !== 0 && Date.now() >= nextReload) {
        daemon.kill('SIGHUP');
        nextReload += options.reloadEverySeconds * 1000;
      }
      await sleep(Math.min(500, Math.max(1, due - Date.now())));
    }
    if (daemon.exitCode !== null) throw new Error(`daemon exited during the soak: see ${logPath}`);
    const rssMb = vmRssMb(pid);
    const s = await scrape(metricsUrl);
    last = s;
    const fleetStats = await fleet.stats();
    const t = (Date.now() - t0) / 1000;
    const cpu = s.sum('process_cpu_seconds_total');
    const probes = s.sum('pop3_probes_total');
    const failures = s.sum('pop3_probe_failures_total');
    const skips = s.sum('pop3_probe_skipped_total');
    const dt = previous === null ? t : t - previous.t;
    const sample: Sample = {
      t,
      rssMb,
      heapUsedMb: s.sum('nodejs_heap_size_used_bytes') / 2 ** 20,
      lagP99Ms: s.sum('nodejs_eventloop_lag_p99_seconds') * 1000,
      lagMaxMs: s.sum('nodejs_eventloop_lag_max_seconds') * 1000,
      lagMs: s.sum('nodejs_eventloop_lag_seconds') * 1000,
      cpuPercent: ((cpu - (previous?.cpu ?? 0)) / dt) * 100,
      probesPerSecond: (probes - (previous?.probes ?? 0)) / dt,
      failuresPerSecond: (failures - (previous?.failures ?? 0)) / dt,
      skipsPerSecond: (skips - (previous?.skips ?? 0)) / dt,
      alertsFiring: s.sum('pop3_alerts_firing'),
      notificationsSent: s.byLabel('pop3_alert_notifications_total', 'result').sent ?? 0,
      outboxPending: s.sum('pop3_alert_outbox_pending'),
      handles: s.sum('nodejs_active_handles_total'),
      chaosModes: fleetStats.modes,
    };
    previous = { t, cpu, probes, failures, skips };
    samples.push(sample);
    log(
      `soak: t=${fmt(t, 0)}s rss=${fmt(rssMb)}MB heap=${fmt(sample.heapUsedMb)}MB ` +
        `lag p99=${fmt(sample.lagP99Ms)}ms max=${fmt(sample.lagMaxMs)}ms cpu=${fmt(sample.cpuPercent, 0)}% ` +
        `probes/s=${fmt(sample.probesPerSecond)} failed/s=${fmt(sample.failuresPerSecond)} ` +
        `skipped/s=${fmt(sample.skipsPerSecond)} firing=${sample.alertsFiring} ` +
        `sent=${sample.notificationsSent} handles=${sample.handles} chaos=${sample.chaosModes.join(',')}`,
    );
  }

  const fleetStats = await fleet.stats();
  daemon.kill('SIGTERM');
  const killer = setTimeout(() => daemon.kill('SIGKILL'), 30_000);
  const daemonExit = await exited;
  clearTimeout(killer);
  await fleet.stop();

  const logLevels: Record<string, number> = {};
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let level = 'unparsed';
    try {
      level = String((JSON.parse(line) as { level?: unknown }).level);
    } catch {
      // not a JSON log line (a crash trace would be one of these)
    }
    logLevels[level] = (logLevels[level] ?? 0) + 1;
  }

  const analysis = analyseSoak({ options, samples });
  const final = last as Scrape;
  return {
    options,
    machine,
    startedAt,
    samples,
    slope: analysis.slope,
    totals: {
      probes: final.sum('pop3_probes_total'),
      failures: final.byLabel('pop3_probe_failures_total', 'reason'),
      skips: final.byLabel('pop3_probe_skipped_total', 'reason'),
      reloads: final.byLabel('pop3_monitor_config_reloads_total', 'result'),
      notifications: final.byLabel('pop3_alert_notifications_total', 'result'),
      fleetSessions: fleetStats.sessions,
      mailsReceived: fleetStats.mails,
    },
    daemonExit,
    logLevels,
    verdict: analysis.verdict,
  };
}

/** One table row per `everyMinutes` minutes (and the last sample); the raw file has them all. */
function tableRows(
  samples: readonly Sample[],
  sampleSeconds: number,
  everyMinutes: number,
): Sample[] {
  const every = Math.max(1, Math.round((everyMinutes * 60) / sampleSeconds));
  return samples.filter((_, i) => (i + 1) % every === 0 || i === samples.length - 1);
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  if (entries.length === 0) return 'none';
  return entries
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** A least-squares fit of `pick` over hours, from samples at or after `fromT` seconds. */
function slopeOf(
  samples: readonly Sample[],
  pick: (s: Sample) => number,
  fromT: number,
): { mbPerHour: number; standardError: number; points: number } {
  const points = samples.filter((s) => s.t >= fromT).map((s) => ({ x: s.t / 3600, y: pick(s) }));
  const fit = linearSlope(points);
  return { mbPerHour: fit.slope, standardError: fit.standardError, points: points.length };
}

/**
 * The lowest sample of each whole minute from `fromT` on. RSS and heap follow the GC's
 * sawtooth (tens of MB within a minute); the minima are the level after collection, where
 * a leak shows as a rising floor.
 */
function minuteMinima(
  samples: readonly Sample[],
  pick: (s: Sample) => number,
  fromT: number,
  sampleSeconds: number,
): Sample[] {
  const minutes = new Map<number, Sample[]>();
  for (const s of samples) {
    if (s.t < fromT) continue;
    const minute = Math.floor(s.t / 60);
    minutes.set(minute, [...(minutes.get(minute) ?? []), s]);
  }
  // Only whole minutes: a minute with one sample shows no floor, just a point of the saw.
  const whole = Math.max(1, Math.round(60 / sampleSeconds) - 1);
  return [...minutes.values()]
    .filter((group) => group.length >= whole)
    .map((group) => group.reduce((low, s) => (pick(s) < pick(low) ? s : low)));
}

export interface SoakAnalysis {
  /** All samples after the warm-up: the criterion. */
  slope: { mbPerHour: number; standardError: number; points: number };
  /** Per-minute minima of RSS after the warm-up (the post-GC floor). */
  rssFloor: { first: number; last: number; mbPerHour: number };
  /** Per-minute minima of V8 heap used after the warm-up (live JS objects). */
  heapFloor: { first: number; last: number; mbPerHour: number };
  /** All samples of the second half of the post-warm-up window. */
  lateSlope: { mbPerHour: number; fromMinute: number };
  verdict: boolean;
}

export function analyseSoak(report: Pick<SoakReport, 'options' | 'samples'>): SoakAnalysis {
  const { options, samples } = report;
  const from = options.warmupMinutes * 60;
  const slope = slopeOf(samples, (s) => s.rssMb, from);
  const floor = (pick: (s: Sample) => number) => {
    const minima = minuteMinima(samples, pick, from, options.sampleSeconds);
    const fit = linearSlope(minima.map((s) => ({ x: s.t / 3600, y: pick(s) })));
    return {
      first: minima.length > 0 ? pick(minima[0] as Sample) : Number.NaN,
      last: minima.length > 0 ? pick(minima.at(-1) as Sample) : Number.NaN,
      mbPerHour: fit.slope,
    };
  };
  const lateFrom = (from + options.minutes * 60) / 2;
  return {
    slope,
    rssFloor: floor((s) => s.rssMb),
    heapFloor: floor((s) => s.heapUsedMb),
    lateSlope: {
      mbPerHour: slopeOf(samples, (s) => s.rssMb, lateFrom).mbPerHour,
      fromMinute: lateFrom / 60,
    },
    verdict: Number.isFinite(slope.mbPerHour) && slope.mbPerHour <= SLOPE_LIMIT_MB_PER_HOUR,
  };
}

/** The setup shared by every run (from the first run's options). */
function renderSetup(o: SoakOptions): string {
  return (
    `The daemon (\`node dist/cli.js run\`, log level info) polls ${o.mailboxes} mailboxes on ` +
    '`* * * * * *` (timeout 3 s, auth backoff 20 s, at most 8 probes per host) on ' +
    `${o.healthy + o.chaos} fake POP3 servers in a separate process (bench/soak-fleet.ts): ` +
    `${o.healthy} healthy, ${o.chaos} whose behaviour rotates every ${o.rotateSeconds} s through ` +
    'ok, wrong password, slow (300 ms per reply), close in the middle of UIDL, `[SYS/TEMP]` ' +
    'greeting and no greeting at all. Alert mail goes to an SMTP sink' +
    (o.reloadEverySeconds > 0
      ? `; the config is reloaded (SIGHUP) every ${o.reloadEverySeconds} s. `
      : '. ') +
    `Every ${o.sampleSeconds} s the soak reads the daemon's RSS from /proc/PID/status (VmRSS) ` +
    "and scrapes /metrics: prom-client's event-loop delay histogram (p99 and max over the " +
    `${o.sampleSeconds} s since the previous scrape), V8 heap used, CPU and the probe counters. ` +
    `"No growth after warm-up" means: the least-squares slope of every RSS sample after the ` +
    `warm-up is at most ${SLOPE_LIMIT_MB_PER_HOUR} MB/hour (14 bytes per probe at 200 probes/s).`
  );
}

export function renderSoak(report: SoakReport): string {
  const o = report.options;
  const a = analyseSoak(report);
  const every = Math.max(1, Math.ceil(o.minutes / 15));
  const rows = tableRows(report.samples, o.sampleSeconds, every).map((s) => [
    fmt(s.t / 60, 1),
    fmt(s.rssMb),
    fmt(s.heapUsedMb),
    fmt(s.lagP99Ms),
    fmt(s.lagMaxMs),
    fmt(s.cpuPercent, 0),
    fmt(s.probesPerSecond),
    fmt(s.failuresPerSecond),
    fmt(s.skipsPerSecond),
    String(s.alertsFiring),
    String(s.handles),
  ]);
  const warm = report.samples.filter((s) => s.t >= o.warmupMinutes * 60);
  const rss = warm.map((s) => s.rssMb);
  const lagP99 = report.samples.map((s) => s.lagP99Ms);
  const verdict = a.verdict
    ? `**met** (${fmt(a.slope.mbPerHour, 1)} ≤ ${SLOPE_LIMIT_MB_PER_HOUR} MB/hour)`
    : `**missed** (${fmt(a.slope.mbPerHour, 1)} > ${SLOPE_LIMIT_MB_PER_HOUR} MB/hour)`;
  const t = report.totals;
  return [
    `### ${o.minutes} minutes, ${o.warmupMinutes}-minute warm-up: no growth ${verdict}`,
    '',
    `\`npm run bench:soak -- --minutes ${o.minutes} --warmup ${o.warmupMinutes}\`, run ` +
      `${report.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(report.machine)}; ` +
      `1-minute load average at the start ${report.machine.loadAvg1} (a shared machine: other ` +
      `work ran alongside). One row per ${every === 1 ? 'minute' : `${every} minutes`}:`,
    '',
    markdownTable(
      [
        'minute',
        'RSS MB',
        'heap MB',
        'loop lag p99 ms',
        'loop lag max ms',
        'CPU %',
        'probes/s',
        'failed/s',
        'skipped/s',
        'alerts firing',
        'handles',
      ],
      rows,
    ),
    '',
    `- RSS after the warm-up: ${fmt(Math.min(...rss))} to ${fmt(Math.max(...rss))} MB; ` +
      `least-squares slope over ${a.slope.points} samples ${fmt(a.slope.mbPerHour, 1)} MB/hour ` +
      `(standard error ${fmt(a.slope.standardError, 1)}); over the second half (from minute ` +
      `${fmt(a.lateSlope.fromMinute, 0)}) ${fmt(a.lateSlope.mbPerHour, 1)} MB/hour.`,
    `- After-GC floors (the lowest sample of each minute after the warm-up): RSS ` +
      `${fmt(a.rssFloor.first)} → ${fmt(a.rssFloor.last)} MB (${fmt(a.rssFloor.mbPerHour, 1)} MB/hour), ` +
      `V8 heap used ${fmt(a.heapFloor.first)} → ${fmt(a.heapFloor.last)} MB ` +
      `(${fmt(a.heapFloor.mbPerHour, 1)} MB/hour).`,
    `- Event-loop lag p99 per ${o.sampleSeconds} s window: median ${fmt(median(lagP99))} ms, worst ` +
      `${fmt(Math.max(...lagP99))} ms; worst single delay ` +
      `${fmt(Math.max(...report.samples.map((s) => s.lagMaxMs)))} ms.`,
    `- ${t.probes} probes (${t.fleetSessions} sessions at the servers); failures by reason: ` +
      `${counts(t.failures)}; skipped: ${counts(t.skips)}; reloads: ${counts(t.reloads)}; alert ` +
      `notifications: ${counts(t.notifications)} (${t.mailsReceived} mails received by the sink).`,
    `- Daemon exit after SIGTERM: ${report.daemonExit.code ?? report.daemonExit.signal}; log lines by ` +
      `level: ${counts(report.logLevels)}.`,
  ].join('\n');
}

/** The whole soak section: the setup once, then each run. */
export function renderSoakSection(reports: readonly SoakReport[]): string {
  const first = reports[0];
  if (first === undefined) throw new Error('no soak run to render');
  return [
    '## Soak: 200 mailboxes every second (bench/soak.ts)',
    '',
    renderSetup(first.options),
    '',
    ...reports.map(renderSoak).flatMap((run) => [run, '']),
  ]
    .join('\n')
    .trimEnd();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export const SOAK_START = '<!-- soak:start -->';
export const SOAK_END = '<!-- soak:end -->';

/** Replaces the text between the soak markers (appended at the end when absent). */
export function replaceSoakSection(doc: string, section: string): string {
  const block = `${SOAK_START}\n${section.trim()}\n${SOAK_END}`;
  const start = doc.indexOf(SOAK_START);
  const stop = doc.indexOf(SOAK_END);
  if (start === -1 || stop === -1 || stop < start) return `${doc.trimEnd()}\n\n${block}\n`;
  return doc.slice(0, start) + block + doc.slice(stop + SOAK_END.length);
}

async function cli(argv: string[]): Promise<void> {
  const d = DEFAULT_SOAK_OPTIONS;
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: String(d.minutes) },
      mailboxes: { type: 'string', default: String(d.mailboxes) },
      warmup: { type: 'string', default: String(d.warmupMinutes) },
      sample: { type: 'string', default: String(d.sampleSeconds) },
      rotate: { type: 'string', default: String(d.rotateSeconds) },
      'reload-every': { type: 'string', default: String(d.reloadEverySeconds) },
      cli: { type: 'string', default: d.cli },
      raw: { type: 'string', default: join(REPO_DIR, 'bench', 'results', 'soak.raw.json') },
      /** Render these raw files (one section per run, in order) instead of running. */
      from: { type: 'string', multiple: true },
      write: { type: 'boolean', default: false },
    },
  });
  let reports: SoakReport[];
  if (values.from !== undefined) {
    reports = values.from.map((file) => JSON.parse(readFileSync(file, 'utf8')) as SoakReport);
  } else {
    const options: SoakOptions = {
      ...d,
      minutes: Number(values.minutes),
      mailboxes: Number(values.mailboxes),
      warmupMinutes: Number(values.warmup),
      sampleSeconds: Number(values.sample),
      rotateSeconds: Number(values.rotate),
      reloadEverySeconds: Number(values['reload-every']),
      cli: values.cli,
    };
    for (const [name, value] of Object.entries(options)) {
      if (typeof value === 'number' && !(value >= 0))
        throw new RangeError(`--${name}: expected a number`);
    }
    const report = await runSoak(options);
    mkdirSync(dirname(values.raw), { recursive: true });
    writeFileSync(values.raw, JSON.stringify(report, null, 2));
    log(`soak: the samples are in ${values.raw}`);
    reports = [report];
  }
  const markdown = renderSoakSection(reports);
  process.stdout.write(`${markdown}\n`);
  if (values.write) {
    const doc = join(REPO_DIR, 'docs', 'BENCHMARKS.md');
    const text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
    writeFileSync(doc, replaceSoakSection(text, markdown));
    log(`soak: wrote the soak section of ${doc}`);
  }
  process.exitCode = reports.every((r) => analyseSoak(r).verdict) ? 0 : 1;
}

if (isMain(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error: unknown) => {
    log(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 2;
  });
}
