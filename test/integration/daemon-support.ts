/**
 * Helpers of daemon.test.ts: the built daemon as a child process on a free port with its
 * JSON log lines parsed, /metrics scrapes parsed into samples, and the CLI run to its end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../servers/tools.js';
import { cliCommand, ensureBuilt, REPO_ROOT } from './shipping-support.js';

export { freePort };

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** One JSON log line of the daemon. */
export type LogLine = Record<string, unknown> & { event?: string };

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq === -1 || text[eq + 1] !== '"') throw new Error(`bad labels in: ${line}`);
    const name = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        j++;
        value += text[j] === 'n' ? '\n' : text[j];
      } else {
        value += text[j];
      }
    }
    if (j >= text.length) throw new Error(`unterminated label value in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** The samples of a text exposition (comments and blank lines skipped). */
export function parseExposition(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    if (brace !== -1 && brace < space) {
      const close = line.lastIndexOf('}');
      const rest = line
        .slice(close + 1)
        .trim()
        .split(' ');
      samples.push({
        name: line.slice(0, brace),
        labels: parseLabels(line.slice(brace + 1, close), line),
        value: parseValue(rest[0] ?? ''),
      });
    } else {
      const [name = '', value = ''] = line.split(' ');
      samples.push({ name, labels: {}, value: parseValue(value) });
    }
  }
  return samples;
}

/** One scrape of /metrics. */
export class Scrape {
  readonly samples: Sample[];
  readonly body: string;

  constructor(body: string) {
    this.body = body;
    this.samples = parseExposition(body);
  }

  all(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
  }

  /** The value of the one series matching; undefined when none; throws when several match. */
  get(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.all(name, labels);
    if (found.length > 1) {
      throw new Error(
        `${name}${JSON.stringify(labels)} matches ${found.length} series: ${JSON.stringify(found)}`,
      );
    }
    return found[0]?.value;
  }

  /** Like get, but a missing series is an error. */
  value(name: string, labels: Record<string, string> = {}): number {
    const v = this.get(name, labels);
    if (v === undefined) throw new Error(`no series ${name}${JSON.stringify(labels)} in /metrics`);
    return v;
  }

  withLabel(name: string, value: string): Sample[] {
    return this.samples.filter((s) => s.labels[name] === value);
  }
}

export interface DaemonOptions {
  /** A config object (server.listen and state_dir are added) or the config file's text. */
  config: Record<string, unknown> | string;
  env?: NodeJS.ProcessEnv;
  /** More arguments of `run` (after --config FILE). */
  args?: readonly string[];
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

const running = new Set<Daemon>();

/** `pop3-monitor run` in a temporary directory, on a free port, with JSON logs. */
export class Daemon {
  readonly dir: string;
  readonly configPath: string;
  readonly stateDir: string;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly startedAt: number;
  #logs: LogLine[] = [];
  #stdoutRest = '';
  #stdout = '';
  #stderr = '';
  readonly #exit: Promise<Exit>;
  #exited: Exit | null = null;
  readonly #waiters = new Set<() => void>();

  private constructor(
    dir: string,
    port: number,
    config: DaemonOptions['config'],
    env: NodeJS.ProcessEnv,
    args: readonly string[] = [],
  ) {
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.configPath = join(dir, 'config.yaml');
    this.stateDir = join(dir, 'state');
    this.writeConfig(config);
    const cli = cliCommand();
    this.startedAt = Date.now();
    this.child = spawn(
      process.execPath,
      [...cli.args, 'run', '--config', this.configPath, ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, POP3_MONITOR_LOG_FORMAT: 'json', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stdout?.on('data', (chunk: Buffer) => this.#onStdout(chunk.toString('utf8')));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString('utf8');
    });
    this.#exit = new Promise<Exit>((resolve) => {
      this.child.once('close', (code, signal) => {
        this.#exited = { code, signal };
        this.#wake();
        resolve({ code, signal });
      });
    });
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'pop3-monitor-daemon-'));
    const port = await freePort();
    const daemon = new Daemon(dir, port, options.config, options.env ?? {}, options.args);
    running.add(daemon);
    return daemon;
  }

  /** start, then wait for /readyz 200 (every mailbox probed once). */
  static async startReady(options: DaemonOptions, timeoutMs = 10_000): Promise<Daemon> {
    const daemon = await Daemon.start(options);
    try {
      await daemon.waitForStatus('/readyz', 200, timeoutMs);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return daemon;
  }

  writeConfig(config: DaemonOptions['config']): void {
    const text =
      typeof config === 'string'
        ? config
        : stringify({
            server: { listen: `127.0.0.1:${this.port}` },
            state_dir: this.stateDir,
            ...config,
          });
    writeFileSync(this.configPath, text);
  }

  #onStdout(text: string): void {
    this.#stdout += text;
    const lines = (this.#stdoutRest + text).split('\n');
    this.#stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        this.#logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
    }
    this.#wake();
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  logs(): LogLine[] {
    return [...this.#logs];
  }

  events(event: string): LogLine[] {
    return this.#logs.filter((l) => l.event === event);
  }

  get stderr(): string {
    return this.#stderr;
  }

  output(): string {
    return `--- stdout\n${this.#stdout.slice(-16_000)}\n--- stderr\n${this.#stderr.slice(-4_000)}`;
  }

  get exitStatus(): Exit | null {
    return this.#exited;
  }

  /** Resolves with the first log line from index `from` on that `match`es. */
  waitForLog(
    what: string,
    match: (line: LogLine) => boolean,
    timeoutMs = 5_000,
    from = 0,
  ): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.#logs.slice(from).find(match);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.#exited !== null) {
          done();
          reject(new Error(`waiting for ${what}: the daemon exited first\n${this.output()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.output()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  async request(
    path: string,
    method = 'GET',
    timeoutMs = 5_000,
  ): Promise<{ status: number; body: string; headers: Headers }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: await response.text(), headers: response.headers };
  }

  async scrape(): Promise<Scrape> {
    const { status, body } = await this.request('/metrics');
    if (status !== 200) throw new Error(`/metrics answered ${status}: ${body}`);
    return new Scrape(body);
  }

  async waitForStatus(path: string, status: number, timeoutMs = 5_000): Promise<void> {
    let last = 'no answer';
    await this.#poll(
      `${path} to answer ${status}`,
      timeoutMs,
      async () => {
        try {
          const answer = await this.request(path, 'GET', 1_000);
          last = `${answer.status} ${answer.body.trim()}`;
          return answer.status === status ? true : undefined;
        } catch (error) {
          last = (error as Error).message;
          return undefined;
        }
      },
      () => `last: ${last}`,
    );
  }

  /** Scrapes until `check` holds (a throwing check counts as not yet), then returns that scrape. */
  async waitForMetrics(
    what: string,
    check: (scrape: Scrape) => boolean,
    timeoutMs = 5_000,
  ): Promise<Scrape> {
    let last: Scrape | undefined;
    return this.#poll(
      what,
      timeoutMs,
      async () => {
        try {
          last = await this.scrape();
        } catch {
          return undefined;
        }
        try {
          return check(last) ? last : undefined;
        } catch {
          return undefined;
        }
      },
      () =>
        `last scrape:\n${
          last?.body
            .split('\n')
            .filter((l) => l.startsWith('pop3_') && !l.includes('_bucket'))
            .join('\n') ?? 'none'
        }`,
      100,
    );
  }

  async #poll<T>(
    what: string,
    timeoutMs: number,
    attempt: () => Promise<T | undefined>,
    detail: () => string,
    intervalMs = 50,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await attempt();
      if (value !== undefined) return value;
      if (this.#exited !== null) {
        throw new Error(`waiting for ${what}: the daemon exited first\n${this.output()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what} (${detail()})\n${this.output()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.#exited === null) this.child.kill(signal);
  }

  exited(): Promise<Exit> {
    return this.#exit;
  }

  /** The exit if it comes within timeoutMs, else null (the process is left running). */
  async exitWithin(timeoutMs: number): Promise<Exit | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const first = await Promise.race([this.#exit, late]);
    clearTimeout(timer);
    return first;
  }

  /** SIGTERM, SIGKILL after graceMs; removes the temporary directory. */
  async stop(graceMs = 8_000): Promise<Exit> {
    if (this.#exited === null) {
      this.child.kill('SIGTERM');
      if ((await this.exitWithin(graceMs)) === null) this.child.kill('SIGKILL');
    }
    const exit = await this.#exit;
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
    return exit;
  }
}

export async function stopAllDaemons(): Promise<void> {
  await Promise.all([...running].map((d) => d.stop(2_000)));
}

/** Runs the CLI to its end and returns its output. */
export function runCli(
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  ensureBuilt();
  const cli = cliCommand();
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cli.args, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pop3-monitor ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A temporary directory and a function that removes it. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
