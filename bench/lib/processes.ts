// Child processes of the benchmarks: the latency proxy, measured one-shot commands, and
// long-running peers. Every child is killed by pid when the benchmark ends, however it ends.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Registers a child so it is killed when this process ends. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Sends SIGTERM and waits (at most `graceMs`, then SIGKILL) for the child to exit. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Resolves with the first stdout line matching `pattern` (or rejects on exit/timeout). */
export function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(
      () => finish(new Error(`no line matching ${pattern} within ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      // Whole lines only: a line split across chunks is matched once complete.
      for (const line of buffer.split('\n').slice(0, -1)) {
        const m = pattern.exec(line);
        if (m) {
          finish(null, m);
          return;
        }
      }
    };
    const onErr = (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    };
    const onExit = (code: number | null) =>
      finish(new Error(`exited (${code}) before ready: ${stderr}`));
    function finish(error: Error | null, match?: RegExpMatchArray) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(match as RegExpMatchArray);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

export interface ProxyChild {
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** The latency proxy in its own process, so its CPU never counts as the client's. */
export async function startProxyChild(target: string, rttMs: number): Promise<ProxyChild> {
  const child = track(
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        `${BENCH_DIR}latency-proxy.ts`,
        '--target',
        target,
        '--rtt',
        String(rttMs),
      ],
      {
        cwd: REPO_DIR,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    ),
  );
  const m = await waitForLine(child, /^LISTENING (\S+):(\d+)$/);
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    host: m[1] as string,
    port: Number(m[2]),
    pid: child.pid as number,
    stop: () => stopChild(child),
  };
}

let python: string | null = null;

/**
 * The real Python interpreter, not a version-manager shim (a pyenv shim is a shell script
 * that would add tens of ms to every cold start and be charged to poplib).
 */
export function pythonExecutable(): string {
  if (python !== null) return python;
  const out = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], {
    encoding: 'utf8',
  });
  const path = out.stdout?.trim();
  if (out.status !== 0 || !path)
    throw new Error('python3 not found (the poplib peer and rusage.py need it)');
  python = path;
  return path;
}

export interface Measured {
  exit: number;
  wallMs: number;
  /** user + sys of the child and its waited-for descendants, from wait4(2). */
  cpuMs: number;
  userMs: number;
  sysMs: number;
  maxRssKb: number;
  stdout: string;
  stderr: string;
}

/** Runs a command under bench/peers/rusage.py: wall time and wait4 rusage (µs resolution). */
export function runMeasured(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(pythonExecutable(), [`${BENCH_DIR}peers/rusage.py`, command, ...args], {
        cwd: REPO_DIR,
        env,
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      }),
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const report: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const fd3 = child.stdio[3];
    if (fd3 && 'on' in fd3) fd3.on('data', (c: Buffer) => report.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const text = Buffer.concat(report).toString('utf8').trim();
      if (code !== 0 || text === '') {
        reject(
          new Error(
            `rusage.py ${command} failed (${code}): ${Buffer.concat(err).toString('utf8')}`,
          ),
        );
        return;
      }
      const r = JSON.parse(text) as {
        exit: number;
        wall_s: number;
        user_s: number;
        sys_s: number;
        maxrss_kb: number;
      };
      resolve({
        exit: r.exit,
        wallMs: r.wall_s * 1000,
        userMs: r.user_s * 1000,
        sysMs: r.sys_s * 1000,
        cpuMs: (r.user_s + r.sys_s) * 1000,
        maxRssKb: r.maxrss_kb,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

let clockTicks: number | null = null;

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on Linux almost everywhere). */
export function clockTicksPerSecond(): number {
  if (clockTicks !== null) return clockTicks;
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  clockTicks = out.status === 0 && n > 0 ? n : 100;
  return clockTicks;
}

/** utime + stime of a running process (all its threads), in ms; tick resolution. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicksPerSecond();
}

/** A port free on 127.0.0.1 right now (for a peer that needs one on its command line). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Builds the CLI into .tmp/bench-dist (gitignored) exactly as `npm run build` builds
 * dist/ (scripts/build.mjs: the esbuild bundle), so the cold-process numbers are of what
 * ships, from the current source, and no one else's dist/ is touched. No type check: a
 * file that does not typecheck is still bundled (npm run typecheck reports it).
 */
export function buildCli(): string {
  const outDir = '.tmp/bench-dist';
  const built = spawnSync(
    process.execPath,
    [`${REPO_DIR}scripts/build.mjs`, '--outdir', outDir, '--no-check'],
    { cwd: REPO_DIR, encoding: 'utf8' },
  );
  const cli = `${REPO_DIR}${outDir}/cli.js`;
  if (built.status !== 0 || !existsSync(cli))
    throw new Error(`building the CLI failed:\n${built.stdout}${built.stderr}`);
  return cli;
}

export interface FleetChild {
  servers: { host: string; port: number }[];
  pid: number;
  /** The fleet's own CPU (ms, since it started), RSS and sessions served. */
  stats(): Promise<{ cpuMs: number; rssMb: number; sessions: number }>;
  stop(): Promise<void>;
}

/** bench/fleet.ts in its own process: its CPU is the servers', not the client's. */
export async function startFleetChild(options: {
  hosts: number;
  users: number;
  tls: 'none' | 'starttls' | 'implicit';
}): Promise<FleetChild> {
  const child = track(
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        `${BENCH_DIR}fleet.ts`,
        '--hosts',
        String(options.hosts),
        '--users',
        String(options.users),
        '--tls',
        options.tls,
      ],
      { cwd: REPO_DIR, stdio: ['pipe', 'pipe', 'pipe'] },
    ),
  );
  const m = await waitForLine(child, /^READY (.*)$/, 60_000);
  const ready = JSON.parse(m[1] as string) as { servers: { host: string; port: number }[] };
  child.stderr?.resume();
  return {
    servers: ready.servers,
    pid: child.pid as number,
    async stats() {
      const reply = waitForLine(child, /^STATS (.*)$/, 10_000);
      child.stdin?.write('stats\n');
      const s = await reply;
      return JSON.parse(s[1] as string) as { cpuMs: number; rssMb: number; sessions: number };
    },
    stop: () => stopChild(child),
  };
}
