/**
 * Helpers of the shipping tests (docker-runtime, grafana-queries, prometheus-rules): child
 * processes that are always stopped, free loopback ports, polling a real server until it
 * answers, and locating the binaries these tests drive.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT: string = fileURLToPath(new URL('../../', import.meta.url));

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The path of an executable: `preferred` if it exists, else the first `name` on PATH. */
export function findBinary(name: string, preferred?: string): string | undefined {
  const candidates = [
    ...(preferred === undefined ? [] : [preferred]),
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)),
  ];
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Like findBinary, but a missing binary is an error that says what to install. */
export function requireBinary(name: string, preferred: string, debianPackage: string): string {
  const path = findBinary(name, preferred);
  if (path === undefined) {
    throw new Error(
      `${name} not found (looked at ${preferred} and on PATH): install the Debian package ` +
        `${debianPackage} (test/servers/packages.sh, run by npm test, installs it); these tests cannot run without it`,
    );
  }
  return path;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (bounded by timeoutMs) and returns its output. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): RunResult {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  if (result.error !== undefined) {
    return {
      status: null,
      stdout: result.stdout ?? '',
      stderr: `${result.stderr ?? ''}${result.error.message}`,
    };
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A long-running child whose output is kept (the last 64 KiB) for failure messages. */
export interface Child {
  readonly process: ChildProcess;
  output(): string;
  /** Resolves with the exit once it happened (at once if it already did). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Sends `signal`, waits up to graceMs for the exit, then SIGKILLs. Resolves with the
   * exit and whether it came within the grace period.
   */
  stop(
    signal?: NodeJS.Signals,
    graceMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; withinGrace: boolean }>;
}

const MAX_OUTPUT = 64 * 1024;

export function startChild(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Child {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      output += `\nspawn error: ${err.message}`;
      resolve({ code: null, signal: null });
    });
  });
  let exitedAlready = false;
  void exit.then(() => {
    exitedAlready = true;
  });
  return {
    process: child,
    output: () => output,
    exited: () => exit,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (exitedAlready) return { ...(await exit), withinGrace: true };
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), graceMs);
      });
      const first = await Promise.race([exit, late]);
      clearTimeout(timer);
      if (first !== 'late') return { ...first, withinGrace: true };
      child.kill('SIGKILL');
      return { ...(await exit), withinGrace: false };
    },
  };
}

/**
 * Polls `check` until it returns a value other than undefined, or fails after timeoutMs
 * with `what` and the last error. For real servers coming up, not for schedules.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; child?: Child },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    const child = options.child;
    if (child !== undefined && child.process.exitCode !== null) {
      throw new Error(
        `${what}: the process exited (${child.process.exitCode}) first:\n${child.output()}`,
      );
    }
    if (Date.now() > deadline) {
      const tail = child === undefined ? '' : `\nprocess output:\n${child.output()}`;
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}${tail}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

/** GET with a deadline; the body as text. */
export async function httpGet(
  url: string,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: await response.text() };
}

/** The pop3-monitor CLI to run: dist/cli.js, or $POP3_MONITOR_CLI (a .ts file runs through tsx). */
export function cliCommand(): { args: string[]; path: string } {
  const path = process.env.POP3_MONITOR_CLI ?? join(REPO_ROOT, 'dist', 'cli.js');
  return { path, args: path.endsWith('.ts') ? ['--import', 'tsx', path] : [path] };
}

/**
 * Builds dist/ (npm run build) when dist/cli.js is missing; throws with tsc's output if it
 * fails. The build type-checks first and writes nothing on an error, so no half-built dist/
 * is left for a later run to take for a good one.
 */
export function ensureBuilt(): void {
  if (process.env.POP3_MONITOR_CLI !== undefined || existsSync(join(REPO_ROOT, 'dist', 'cli.js')))
    return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const built = run(npm, ['run', 'build', '--silent'], {
    timeoutMs: 300_000,
  });
  if (built.status !== 0 || !existsSync(join(REPO_ROOT, 'dist', 'cli.js'))) {
    throw new Error(`npm run build failed (exit ${built.status}):\n${built.stdout}${built.stderr}`);
  }
}

/**
 * A real Prometheus (Debian's /usr/bin/prometheus) in `dir`, scraping `targets` every
 * second as job "pop3-monitor" (or the `scrapeConfigs` given, e.g. HTTPS jobs with their
 * tls_config and basic_auth), with `ruleFiles` evaluated every second; resolves once it
 * answers /-/ready. Its base URL and the child, to stop.
 */
export async function startPrometheus(
  dir: string,
  targets: string[],
  ruleFiles: string[] = [],
  scrapeConfigs?: Record<string, unknown>[],
): Promise<{ url: string; child: Child }> {
  const bin = requireBinary('prometheus', '/usr/bin/prometheus', 'prometheus');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(join(dir, 'tsdb'), { recursive: true });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ruleFiles,
      scrape_configs: scrapeConfigs ?? [
        { job_name: 'pop3-monitor', static_configs: [{ targets }] },
      ],
    }),
  );
  const child = startChild(bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  await waitFor(
    'Prometheus to be ready',
    async () => ((await httpGet(`${url}/-/ready`)).status === 200 ? true : undefined),
    { timeoutMs: 30_000, child },
  );
  return { url, child };
}
