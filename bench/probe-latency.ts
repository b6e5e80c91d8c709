// Round trips, wall time and CPU of one probe, for plain POP3, STLS and implicit TLS,
// against the real test Dovecot behind the latency proxy, with the peers measured on the
// same mailbox through the same proxy in the same run (interleaved, round by round, so
// a burst of load on this shared machine hits every tool alike).
//
//   node --import tsx bench/probe-latency.ts [--rounds 30] [--rtt 20] [--modes plain,implicit]
//        [--cpu-probes 200] [--no-peers] [--no-cold] [--no-capability-cache] [--json FILE]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { MailboxConfig } from '../src/config/schema.js';
import { CapabilityCache } from '../src/probe/capability-cache.js';
import { type ProbeDeps, probeMailbox } from '../src/probe/probe.js';
import type { Phase, ProbeResult } from '../src/probe/result.js';
import { TlsSessionStore } from '../src/probe/tls-sessions.js';
import { latencyVerdicts, renderLatency } from './lib/latency-report.js';
import {
  CLI_SUBJECT,
  CLI_SUBJECT_FULL,
  CLI_SUBJECT_NO_EXTRA_CA,
  type CpuRow,
  DEFAULT_LATENCY_OPTIONS,
  type LatencyOptions,
  type LatencyReport,
  ourSubject,
  PIPELINING_VARIANTS,
  type Series,
} from './lib/latency-types.js';
import { machineInfo } from './lib/machine.js';
import {
  BENCH_USER,
  DOVECOT_CA_FILE,
  DOVECOT_HOST,
  dovecotInstance,
  dovecotPort,
  MODES,
  type Mode,
  mailboxConfig,
  portOpen,
  readCa,
} from './lib/mailboxes.js';
import { runMain } from './lib/main.js';
import {
  type Blackbox,
  blackboxAvailable,
  checkPopAvailable,
  checkPopCold,
  poplibCold,
  poplibWarm,
  startBlackbox,
  type Target,
} from './lib/peers.js';
import {
  buildCli,
  type ProxyChild,
  REPO_DIR,
  runMeasured,
  startProxyChild,
} from './lib/processes.js';
import { calibrateRtt } from './lib/rtt.js';
import { fmt, markdownTable, mean, median } from './lib/stats.js';

export * from './lib/latency-report.js';
export * from './lib/latency-types.js';

// ---------------------------------------------------------------------------------

function newSeries(
  subject: string,
  mode: Mode,
  process: 'warm' | 'cold',
  via: 'proxy' | 'direct',
): Series {
  return { subject, mode, process, via, wallMs: [], cpuMs: [], ok: 0, n: 0, failures: {} };
}

/** One in-process probe: wall from the result, CPU from process.cpuUsage() around it. */
async function probeOnce(
  mailbox: MailboxConfig,
  deps: ProbeDeps,
): Promise<{ result: ProbeResult; cpuMs: number }> {
  const before = process.cpuUsage();
  const result = await probeMailbox(mailbox, deps);
  const used = process.cpuUsage(before);
  return { result, cpuMs: (used.user + used.system) / 1000 };
}

function fail(s: Series, why: string): void {
  s.failures[why] = (s.failures[why] ?? 0) + 1;
}

function medianPhases(results: ProbeResult[]): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  const names = new Set(results.flatMap((r) => Object.keys(r.phases) as Phase[]));
  for (const name of names) {
    const values = results.map((r) => r.phases[name]).filter((v): v is number => v !== undefined);
    out[name] = median(values) * 1000;
  }
  return out;
}

/** The probe's own time from connect to the QUIT reply: the sum of its phases (no dns). */
export function sessionOf(result: ProbeResult): number {
  let ms = 0;
  for (const [phase, seconds] of Object.entries(result.phases)) {
    if (phase !== 'total' && phase !== 'dns' && seconds !== undefined) ms += seconds * 1000;
  }
  return ms;
}

function cliConfigYaml(
  mode: Mode,
  port: number,
  caFile: string,
  stateDir: string,
  pipelining: boolean | 'full',
): string {
  const tls = { plain: 'none', starttls: 'starttls', implicit: 'implicit' }[mode];
  return [
    'server:',
    '  listen: "127.0.0.1:0"',
    `state_dir: ${stateDir}`,
    'mailboxes:',
    `  - name: bench-${mode}`,
    `    host: ${DOVECOT_HOST}`,
    `    port: ${port}`,
    `    username: ${BENCH_USER.user}`,
    // The config loader's ${VAR} substitution, not a template: the password stays out of the file.
    `    password: $${'{'}BENCH_POP3_PASSWORD}`,
    `    tls: ${tls}`,
    `    tls_ca_file: ${caFile}`,
    `    pipelining: ${pipelining}`,
    '',
  ].join('\n');
}

interface Subject {
  series: Series;
  run(): Promise<void>;
}

export async function runProbeLatency(options: LatencyOptions): Promise<LatencyReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadAvgStart = machineInfo().loadAvg1;
  for (const mode of options.modes) {
    if (!(await portOpen(DOVECOT_HOST, dovecotPort(mode)))) {
      throw new Error(
        `Dovecot is not listening on ${DOVECOT_HOST}:${dovecotPort(mode)}: run bash test/servers/start.sh`,
      );
    }
  }
  const caPem = readCa(DOVECOT_CA_FILE);
  const instance = dovecotInstance();
  let dovecotRestarted = false;
  const checkInstance = (where: string) => {
    if (dovecotInstance() === instance) return;
    dovecotRestarted = true;
    log(`latency: the test Dovecot was restarted (${where}); this run's numbers are not usable`);
  };
  const rttMeasuredMs = await calibrateRtt(options.rttMs);
  log(`latency: proxy RTT set ${options.rttMs} ms, measured ${fmt(rttMeasuredMs, 2)} ms`);

  const cli = options.cold ? buildCli() : null;
  const tmp = mkdtempSync(join(tmpdir(), 'pop3-bench-latency-'));
  const proxies = new Map<number, ProxyChild>();
  const blackbox: Blackbox | null =
    options.peers && blackboxAvailable()
      ? await startBlackbox({
          host: DOVECOT_HOST,
          port: 0,
          user: BENCH_USER.user,
          password: BENCH_USER.password,
          caFile: DOVECOT_CA_FILE,
        })
      : null;
  if (options.peers && blackbox === null)
    log('latency: prometheus-blackbox-exporter missing (bash bench/setup.sh); skipped');
  if (options.peers && !checkPopAvailable())
    log('latency: check_pop missing (bash bench/setup.sh); skipped');

  const series: Series[] = [];
  const cpu: CpuRow[] = [];
  try {
    for (const mode of options.modes) {
      const upstream = dovecotPort(mode);
      let proxy = proxies.get(upstream);
      if (proxy === undefined) {
        proxy = await startProxyChild(`${DOVECOT_HOST}:${upstream}`, options.rttMs);
        proxies.set(upstream, proxy);
      }
      const via = { proxy: proxy.port, direct: upstream } as const;
      const target = (port: number): Target => ({
        host: DOVECOT_HOST,
        port,
        user: BENCH_USER.user,
        password: BENCH_USER.password,
        caFile: DOVECOT_CA_FILE,
      });
      const subjects: Subject[] = [];

      // pop3-monitor in this process: without and with the capability cache + TLS tickets,
      // with the default pipelining and with pipelining: full.
      for (const variant of PIPELINING_VARIANTS) {
        for (const cached of [false, true]) {
          for (const where of ['direct', 'proxy'] as const) {
            const s = newSeries(ourSubject(cached, variant), mode, 'warm', where);
            const mailbox = mailboxConfig({
              name: `bench-${mode}`,
              host: DOVECOT_HOST,
              port: via[where],
              mode,
              username: BENCH_USER.user,
              password: BENCH_USER.password,
              caPem,
              caFile: DOVECOT_CA_FILE,
              pipelining: variant.pipelining,
            });
            const deps: ProbeDeps = {};
            if (cached) {
              deps.tlsSessions = new TlsSessionStore();
              if (options.capabilityCache) deps.capabilityCache = new CapabilityCache();
            }
            const results: ProbeResult[] = [];
            s.capaSkipped = 0;
            // Warm-up (JIT, and it fills the cache and the TLS ticket): not recorded.
            await probeMailbox(mailbox, deps);
            subjects.push({
              series: s,
              async run() {
                const { result, cpuMs } = await probeOnce(mailbox, deps);
                s.n += 1;
                if (!result.success) {
                  fail(s, `${result.error?.code}: ${result.error?.message.slice(0, 80)}`);
                  return;
                }
                s.ok += 1;
                s.wallMs.push((result.phases.total ?? Number.NaN) * 1000);
                s.cpuMs.push(cpuMs);
                if (result.phases.capa === undefined) s.capaSkipped = (s.capaSkipped ?? 0) + 1;
                results.push(result);
                s.phases = medianPhases(results);
              },
            });
          }
        }
      }

      if (cli !== null) {
        // Its own state_dir, as a user's (or the daemon's) would be: the capabilities the
        // warm-up run learns are on disk for the measured runs (src/cli.ts).
        const stateDir = join(tmp, `state-${mode}`);
        mkdirSync(stateDir, { recursive: true });
        const configFile = (pipelining: boolean | 'full') => {
          const file = join(tmp, `cli-${mode}-${pipelining}.yaml`);
          writeFileSync(
            file,
            cliConfigYaml(mode, proxy.port, DOVECOT_CA_FILE, stateDir, pipelining),
            { mode: 0o600 },
          );
          return file;
        };
        const cliArgs = (pipelining: boolean | 'full' = true) => [
          cli,
          'probe',
          '--config',
          configFile(pipelining),
          '--json',
        ];
        // NODE_EXTRA_CA_CERTS (set on this machine to the whole system bundle) makes every
        // Node process parse it at start (~40-80 ms): the plain mode also runs without it,
        // and with pipelining: full (the login and the transaction in one write).
        const variants: { subject: string; env: NodeJS.ProcessEnv; args: string[] }[] = [
          { subject: CLI_SUBJECT, env: { ...process.env }, args: cliArgs() },
        ];
        if (process.env.NODE_EXTRA_CA_CERTS && mode === 'plain') {
          const env = { ...process.env };
          delete env.NODE_EXTRA_CA_CERTS;
          variants.push({ subject: CLI_SUBJECT_NO_EXTRA_CA, env, args: cliArgs() });
        }
        if (mode === 'plain')
          variants.push({
            subject: CLI_SUBJECT_FULL,
            env: { ...process.env },
            args: cliArgs('full'),
          });
        const cliEnv = (env: NodeJS.ProcessEnv) => ({
          ...env,
          BENCH_POP3_PASSWORD: BENCH_USER.password,
          POP3_MONITOR_LOG_LEVEL: 'warn',
        });
        // Warm-up: fills the capability cache in state_dir (and the page cache). Not recorded.
        await runMeasured(process.execPath, cliArgs(), cliEnv(process.env));
        for (const variant of variants) {
          const s = newSeries(variant.subject, mode, 'cold', 'proxy');
          s.note = 'node dist/cli.js probe --json';
          s.capaSkipped = 0;
          s.sessionMs = [];
          subjects.push({
            series: s,
            async run() {
              const r = await runMeasured(process.execPath, variant.args, cliEnv(variant.env));
              s.n += 1;
              let result: ProbeResult | undefined;
              try {
                result = (JSON.parse(r.stdout) as ProbeResult[])[0];
              } catch {
                result = undefined;
              }
              if (r.exit !== 0 || result?.success !== true) {
                fail(s, `exit ${r.exit}`);
                return;
              }
              s.ok += 1;
              s.wallMs.push(r.wallMs);
              s.cpuMs.push(r.cpuMs);
              s.sessionMs?.push(sessionOf(result));
              if (result.phases.capa === undefined) s.capaSkipped = (s.capaSkipped ?? 0) + 1;
            },
          });
        }
      }

      if (options.peers) {
        const s = newSeries('poplib (Python)', mode, 'cold', 'proxy');
        s.sessionMs = [];
        subjects.push({
          series: s,
          async run() {
            const r = await poplibCold(mode, target(proxy.port));
            s.n += 1;
            if (r.exit !== 0) {
              fail(s, `exit ${r.exit}: ${r.stderr.trim().split('\n').at(-1)?.slice(0, 80)}`);
              return;
            }
            s.ok += 1;
            s.wallMs.push(r.wallMs);
            s.cpuMs.push(r.cpuMs);
            // The script's own timing of the session, after the interpreter started.
            const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
            s.sessionMs?.push(
              ((JSON.parse(line ?? '{}') as { wall_s?: number }).wall_s ?? Number.NaN) * 1000,
            );
          },
        });
        if (checkPopAvailable() && mode !== 'starttls') {
          const c = newSeries('check_pop (greeting only)', mode, 'cold', 'proxy');
          subjects.push({
            series: c,
            async run() {
              const r = await checkPopCold(mode, target(proxy.port));
              c.n += 1;
              if (r.exit !== 0) {
                fail(c, `exit ${r.exit}: ${r.stdout.trim().slice(0, 80)}`);
                return;
              }
              c.ok += 1;
              c.wallMs.push(r.wallMs);
              c.cpuMs.push(r.cpuMs);
            },
          });
        }
        if (blackbox !== null) {
          for (const where of ['direct', 'proxy'] as const) {
            const b = newSeries('blackbox_exporter /probe', mode, 'warm', where);
            b.note = 'HTTP /probe round trip; CPU in the CPU table';
            subjects.push({
              series: b,
              async run() {
                const r = await blackbox.probe(mode, target(via[where]));
                b.n += 1;
                if (!r.ok) {
                  fail(b, 'probe_success 0');
                  return;
                }
                b.ok += 1;
                b.wallMs.push(r.wallMs);
              },
            });
          }
        }
      }

      log(`latency: ${mode}: ${subjects.length} subjects × ${options.rounds} rounds`);
      for (let round = 0; round < options.rounds; round++) {
        for (const subject of subjects) await subject.run();
      }
      series.push(...subjects.map((s) => s.series));
      checkInstance(`during ${mode}`);

      if (options.peers) {
        // poplib warm: all sessions in one Python process, each timed by the script.
        for (const where of ['direct', 'proxy'] as const) {
          const sessions = await poplibWarm(mode, target(via[where]), options.rounds);
          const s = newSeries('poplib (Python)', mode, 'warm', where);
          for (const session of sessions) {
            s.n += 1;
            if (!session.ok) {
              fail(s, 'session failed');
              continue;
            }
            s.ok += 1;
            s.wallMs.push(session.wallMs);
            s.cpuMs.push(session.cpuMs);
          }
          series.push(s);
        }
      }
    }

    if (options.modes.includes('plain') && options.cpuProbes > 0) {
      cpu.push(...(await cpuComparison(options, caPem, blackbox, log)));
      checkInstance('during the CPU comparison');
    }
  } finally {
    await blackbox?.stop();
    for (const proxy of proxies.values()) await proxy.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  return {
    options: { ...options, log: undefined },
    startedAt,
    machine: machineInfo(),
    loadAvgStart,
    rttMeasuredMs,
    dovecotRestarted,
    series,
    cpu,
    durationS: (performance.now() - t0) / 1000,
  };
}

/**
 * CPU per plain probe, many sequential probes straight to Dovecot (no proxy: CPU does not
 * depend on the latency, and more probes fit in the time). Ours: process.cpuUsage() of
 * this process over the block (µs). blackbox_exporter: utime+stime of its process from
 * /proc/PID/stat over the block (10 ms ticks, so the block is long). poplib: the script's
 * own time.process_time() per session.
 */
async function cpuComparison(
  options: LatencyOptions,
  caPem: string,
  blackbox: Blackbox | null,
  log: (line: string) => void,
): Promise<CpuRow[]> {
  const n = options.cpuProbes;
  const rows: CpuRow[] = [];
  const mailbox = mailboxConfig({
    name: 'bench-cpu',
    host: DOVECOT_HOST,
    port: dovecotPort('plain'),
    mode: 'plain',
    username: BENCH_USER.user,
    password: BENCH_USER.password,
    caPem,
  });
  log(`latency: CPU comparison, ${n} plain probes per subject`);
  // Uncached and cached alternate probe by probe, each timed on its own (µs), so neither
  // pays for the other's garbage or for coming second.
  const variants = [
    { subject: 'pop3-monitor probeMailbox, uncached', deps: {} as ProbeDeps },
    {
      subject: 'pop3-monitor probeMailbox, cached CAPA',
      deps: (options.capabilityCache
        ? { capabilityCache: new CapabilityCache() }
        : {}) as ProbeDeps,
    },
  ].map((v) => ({ ...v, ok: 0, cpuMs: 0, wallMs: 0 }));
  for (const v of variants) for (let i = 0; i < 5; i++) await probeMailbox(mailbox, v.deps);
  for (let i = 0; i < n; i++) {
    for (const v of variants) {
      const wall0 = performance.now();
      const before = process.cpuUsage();
      const result = await probeMailbox(mailbox, v.deps);
      const used = process.cpuUsage(before);
      v.cpuMs += (used.user + used.system) / 1000;
      v.wallMs += performance.now() - wall0;
      if (result.success) v.ok += 1;
    }
  }
  for (const v of variants) {
    rows.push({
      subject: v.subject,
      probes: n,
      ok: v.ok,
      cpuPerProbeMs: v.cpuMs / n,
      wallPerProbeMs: v.wallMs / n,
      method: 'process.cpuUsage() around each probe (the two alternate)',
    });
  }
  if (blackbox !== null) {
    const target: Target = {
      host: DOVECOT_HOST,
      port: dovecotPort('plain'),
      user: BENCH_USER.user,
      password: BENCH_USER.password,
      caFile: DOVECOT_CA_FILE,
    };
    for (let i = 0; i < 5; i++) await blackbox.probe('plain', target);
    let ok = 0;
    const wall0 = performance.now();
    const before = blackbox.cpuMs();
    for (let i = 0; i < n; i++) if ((await blackbox.probe('plain', target)).ok) ok += 1;
    const usedMs = blackbox.cpuMs() - before;
    rows.push({
      subject: 'blackbox_exporter /probe (tcp, POP3 login)',
      probes: n,
      ok,
      cpuPerProbeMs: usedMs / n,
      wallPerProbeMs: (performance.now() - wall0) / n,
      method: `/proc/PID/stat utime+stime over the block (±10 ms in ${n} probes)`,
    });
  }
  if (options.peers) {
    const target: Target = {
      host: DOVECOT_HOST,
      port: dovecotPort('plain'),
      user: BENCH_USER.user,
      password: BENCH_USER.password,
      caFile: DOVECOT_CA_FILE,
    };
    const sessions = await poplibWarm('plain', target, n);
    rows.push({
      subject: 'poplib, sessions in one Python process',
      probes: n,
      ok: sessions.filter((s) => s.ok).length,
      cpuPerProbeMs: mean(sessions.map((s) => s.cpuMs)),
      wallPerProbeMs: mean(sessions.map((s) => s.wallMs)),
      method: 'time.process_time() per session',
    });
  }
  return rows;
}

// --------------------------------------------------------------------------- CLI

export function parseModes(value: string): Mode[] {
  const modes = value.split(',').map((m) => m.trim());
  for (const m of modes) {
    if (!(MODES as readonly string[]).includes(m))
      throw new RangeError(
        `--modes: unknown mode ${JSON.stringify(m)} (plain, starttls, implicit)`,
      );
  }
  return modes as Mode[];
}

async function cli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: String(DEFAULT_LATENCY_OPTIONS.rounds) },
      'cpu-probes': { type: 'string', default: String(DEFAULT_LATENCY_OPTIONS.cpuProbes) },
      rtt: { type: 'string', default: String(DEFAULT_LATENCY_OPTIONS.rttMs) },
      modes: { type: 'string', default: MODES.join(',') },
      'no-peers': { type: 'boolean', default: false },
      'no-cold': { type: 'boolean', default: false },
      'no-capability-cache': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const report = await runProbeLatency({
    rounds: Number(values.rounds),
    cpuProbes: Number(values['cpu-probes']),
    rttMs: Number(values.rtt),
    modes: parseModes(values.modes),
    peers: !values['no-peers'],
    cold: !values['no-cold'],
    capabilityCache: !values['no-capability-cache'],
  });
  const file = values.json ?? `${REPO_DIR}bench/results/latency.raw.json`;
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2));
  process.stdout.write(`${renderLatency(report)}\n\n`);
  process.stdout.write(
    `${markdownTable(
      ['target', 'measured', 'verdict'],
      latencyVerdicts(report).map((v) => [v.target, v.measured, v.verdict]),
    )}\n`,
  );
}

runMain(import.meta.url, 'probe-latency', cli);
