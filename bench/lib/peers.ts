// The tools pop3-monitor is compared with, each driven the way its users drive it:
// Python's poplib (a script, one process per check), Prometheus' blackbox_exporter (a
// daemon probed over HTTP, tcp prober with a POP3 query_response login) and the
// monitoring-plugins' check_pop (one process per check, greeting only).
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Mode } from './mailboxes.js';
import {
  BENCH_DIR,
  freePort,
  type Measured,
  processCpuMs,
  pythonExecutable,
  runMeasured,
  stopChild,
  track,
} from './processes.js';

export const BLACKBOX_BIN = '/usr/bin/prometheus-blackbox-exporter';
export const CHECK_POP_BIN = '/usr/lib/nagios/plugins/check_pop';

export interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  caFile: string;
}

/** One poplib session in a fresh Python process (cold), timed from outside with wait4. */
export function poplibCold(mode: Mode, target: Target): Promise<Measured> {
  return runMeasured(pythonExecutable(), poplibArgs(mode, target, 1), {
    ...process.env,
    POP3_PASSWORD: target.password,
  });
}

function poplibArgs(mode: Mode, target: Target, repeat: number): string[] {
  const tls = mode === 'plain' ? 'none' : mode;
  return [
    `${BENCH_DIR}peers/poplib_probe.py`,
    '--host',
    target.host,
    '--port',
    String(target.port),
    '--user',
    target.user,
    '--tls',
    tls,
    '--cafile',
    target.caFile,
    '--repeat',
    String(repeat),
  ];
}

export interface PoplibSession {
  ok: boolean;
  wallMs: number;
  cpuMs: number;
}

/** `repeat` sessions in one Python process: each session's own wall and CPU (warm). */
export async function poplibWarm(
  mode: Mode,
  target: Target,
  repeat: number,
): Promise<PoplibSession[]> {
  const r = await runMeasured(pythonExecutable(), poplibArgs(mode, target, repeat), {
    ...process.env,
    POP3_PASSWORD: target.password,
  });
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      const s = JSON.parse(l) as { ok: boolean; wall_s: number; cpu_s: number };
      return { ok: s.ok, wallMs: s.wall_s * 1000, cpuMs: s.cpu_s * 1000 };
    });
}

export function checkPopAvailable(): boolean {
  return existsSync(CHECK_POP_BIN);
}

/** check_pop: connect, expect +OK in the greeting, send QUIT. -S for implicit TLS. */
export function checkPopCold(mode: Mode, target: Target): Promise<Measured> {
  const args = ['-H', target.host, '-p', String(target.port), '-t', '10'];
  if (mode === 'implicit') args.push('-S');
  return runMeasured(CHECK_POP_BIN, args);
}

export interface BlackboxProbe {
  ok: boolean;
  /** HTTP request to response, as Prometheus sees a scrape of /probe. */
  wallMs: number;
  /** blackbox's own probe_duration_seconds. */
  probeMs: number;
}

export interface Blackbox {
  pid: number;
  probe(mode: Mode, target: Target): Promise<BlackboxProbe>;
  /** utime + stime of the exporter so far (10 ms ticks). */
  cpuMs(): number;
  stop(): Promise<void>;
}

function loginSteps(target: Target) {
  // blackbox's tcp prober sends each `send` with a bare "\n"; Dovecot accepts it.
  return [
    { send: `USER ${target.user}` },
    { expect: '^\\+OK' },
    { send: `PASS ${target.password}` },
    { expect: '^\\+OK' },
    { send: 'STAT' },
    { expect: '^\\+OK' },
    { send: 'QUIT' },
    { expect: '^\\+OK' },
  ];
}

function blackboxConfig(target: Target): unknown {
  const tlsConfig = { ca_file: target.caFile };
  const base = { prober: 'tcp', timeout: '10s' };
  return {
    modules: {
      pop3_plain: {
        ...base,
        tcp: {
          preferred_ip_protocol: 'ip4',
          query_response: [{ expect: '^\\+OK' }, ...loginSteps(target)],
        },
      },
      pop3_starttls: {
        ...base,
        tcp: {
          preferred_ip_protocol: 'ip4',
          tls_config: tlsConfig,
          query_response: [
            { expect: '^\\+OK' },
            { send: 'STLS' },
            { expect: '^\\+OK' },
            { starttls: true },
            ...loginSteps(target),
          ],
        },
      },
      pop3_implicit: {
        ...base,
        tcp: {
          preferred_ip_protocol: 'ip4',
          tls: true,
          tls_config: tlsConfig,
          query_response: [{ expect: '^\\+OK' }, ...loginSteps(target)],
        },
      },
    },
  };
}

export function blackboxAvailable(): boolean {
  return existsSync(BLACKBOX_BIN);
}

/**
 * Starts blackbox_exporter on a free loopback port with its own config in a temp dir
 * (JSON is YAML, so no escaping surprises). The password is in that file, mode 0600, and
 * the dir is removed on stop.
 */
export async function startBlackbox(target: Target): Promise<Blackbox> {
  const dir = mkdtempSync(join(tmpdir(), 'pop3-bench-blackbox-'));
  const configFile = join(dir, 'blackbox.yml');
  writeFileSync(configFile, JSON.stringify(blackboxConfig(target), null, 2), { mode: 0o600 });
  chmodSync(configFile, 0o600);
  const port = await freePort();
  const child: ChildProcess = track(
    spawn(
      BLACKBOX_BIN,
      [`--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    ),
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`blackbox_exporter exited: ${stderr}`);
    try {
      const res = await fetch(`${base}/-/healthy`);
      await res.text();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline)
      throw new Error(`blackbox_exporter did not come up: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid as number;
  return {
    pid,
    async probe(mode, t) {
      const url = `${base}/probe?module=pop3_${mode}&target=${encodeURIComponent(`${t.host}:${t.port}`)}`;
      const start = performance.now();
      const res = await fetch(url);
      const body = await res.text();
      const wallMs = performance.now() - start;
      const success = /^probe_success (\S+)$/m.exec(body)?.[1];
      const duration = /^probe_duration_seconds (\S+)$/m.exec(body)?.[1];
      return { ok: success === '1', wallMs, probeMs: Number(duration) * 1000 };
    },
    cpuMs: () => processCpuMs(pid),
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
