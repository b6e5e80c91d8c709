// The product's own daemon, `pop3-monitor run`, as a child process of a benchmark: built
// from the current source (buildCli), started on a config file, its JSON log lines handed
// to the benchmark as they come, its RSS and CPU read from /proc. Nothing of the
// benchmark runs inside it, so what it measures is what users run.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { buildCli, processCpuMs, stopChild, track } from './processes.js';

export interface LogLine {
  level: number;
  /** ISO 8601 (the daemon's pino timestamp). */
  time: string;
  event?: string;
  [field: string]: unknown;
}

export interface DaemonProcess {
  pid: number;
  /** host:port of its HTTP server. */
  address: string;
  /** ms since the epoch of its `started` log line (the scheduler started just before). */
  startedAt: number;
  /** VmRSS and VmHWM (peak) from /proc/PID/status, MB. */
  memory(): { rssMb: number; peakMb: number };
  /** utime + stime, ms (10 ms ticks). */
  cpuMs(): number;
  /** SIGTERM, then waits for the exit (SIGKILL after the grace). */
  stop(): Promise<number | null>;
}

/** VmRSS and VmHWM of a process, MB. */
export function procMemory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/**
 * Starts `pop3-monitor run --config FILE` and resolves once it logged `started`. Every
 * log line goes to `onLog` (parsed); lines that are not JSON are kept for the error
 * message should the daemon exit early.
 */
export async function startDaemon(options: {
  configFile: string;
  env?: NodeJS.ProcessEnv;
  /** Options for node itself, before the script (--trace-gc). */
  nodeArgs?: string[];
  onLog?: (line: LogLine) => void;
  /** Lines on stdout that are not JSON (V8's --trace-gc, for one). */
  onText?: (line: string) => void;
  timeoutMs?: number;
}): Promise<DaemonProcess> {
  const cli = buildCli();
  const child = track(
    spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), cli, 'run', '--config', options.configFile],
      {
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-8192);
  });
  const started = new Promise<{ address: string; at: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the daemon did not start within ${options.timeoutMs ?? 120_000} ms`)),
      options.timeoutMs ?? 120_000,
    );
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        if (options.onText) options.onText(text);
        else stderr = (stderr + text).slice(-8192);
        return;
      }
      if (line.event === 'started') {
        clearTimeout(timer);
        resolve({ address: String(line.listen), at: Date.parse(line.time) });
      }
      options.onLog?.(line);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited (${code}) before it started: ${stderr}`));
    });
  });
  const { address, at } = await started;
  const pid = child.pid as number;
  return {
    pid,
    address,
    startedAt: at,
    memory: () => procMemory(pid),
    cpuMs: () => processCpuMs(pid),
    async stop() {
      await stopChild(child, 20_000);
      return child.exitCode;
    },
  };
}
