// Talking to a daemon's HTTP server as Prometheus and a kubelet do: a timed /metrics
// scrape (gzip, new connection), a /healthz poller, and counting what a scrape holds.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { BENCH_DIR, REPO_DIR, track, waitForLine } from './processes.js';

export interface TimedGet {
  status: number;
  /** From sending the request to the last byte of the body, ms. */
  ms: number;
  /** Bytes on the wire (compressed when gzip was asked and given). */
  wireBytes: number;
  /** The body as text (decompressed when asked: after the timing, not during it). */
  text(): string;
}

/** A request (GET unless said) on a new connection; with gzip, asks for it as Prometheus does. */
export function timedGet(
  address: string,
  path: string,
  options: { gzip?: boolean; timeoutMs?: number; method?: string } = {},
): Promise<TimedGet> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    address.slice(address.lastIndexOf(':') + 1),
  ];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      {
        host,
        port: Number(port),
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: options.gzip ? { 'Accept-Encoding': 'gzip' } : {},
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          const raw = Buffer.concat(chunks);
          const gz = res.headers['content-encoding'] === 'gzip';
          resolve({
            status: res.statusCode ?? 0,
            ms,
            wireBytes: raw.length,
            text: () => (gz ? gunzipSync(raw) : raw).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface HealthPoll {
  /** ms since the epoch when the request was sent. */
  at: number;
  ms: number;
  ok: boolean;
}

/**
 * Polls /healthz every `everyMs` (a new connection each time, as a kubelet does) from a
 * process of its own (bench/health-poller.ts), so nothing this process does (parsing the
 * daemon's log, a scrape's body) delays the answers it times.
 */
export async function startHealthPoller(address: string, everyMs = 100) {
  const child = track(
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        `${BENCH_DIR}health-poller.ts`,
        '--address',
        address,
        '--every',
        String(everyMs),
      ],
      { cwd: REPO_DIR, stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
  await waitForLine(child, /^READY$/);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  return {
    async stop(): Promise<{ polls: HealthPoll[]; idleLoopMaxMs: number; idleLoopP99Ms: number }> {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      await exited;
      const line = out.split('\n').find((l) => l.startsWith('POLLS '));
      if (line === undefined)
        return { polls: [], idleLoopMaxMs: Number.NaN, idleLoopP99Ms: Number.NaN };
      return JSON.parse(line.slice(6)) as {
        polls: HealthPoll[];
        idleLoopMaxMs: number;
        idleLoopP99Ms: number;
      };
    },
  };
}

export interface SeriesCount {
  /** Sample lines carrying a `mailbox` label, per mailbox: the most and the mean. */
  perMailboxMax: number;
  perMailboxMean: number;
  mailboxes: number;
  /** Sample lines with a `server` label (the per-server phase histograms), and servers. */
  perServerLines: number;
  servers: number;
  /** Every sample line, and those of the monitor itself and prom-client's defaults. */
  totalLines: number;
  otherLines: number;
  /** Sample lines per family (histogram suffixes folded), largest first. */
  families: Record<string, number>;
}

const MAILBOX = /[{,]mailbox="((?:[^"\\]|\\.)*)"/;
const SERVER = /[{,]server="((?:[^"\\]|\\.)*)"/;

/** Counts the sample lines of one exposition, per mailbox and per server. */
export function countSeries(body: string, topFamilies = 8): SeriesCount {
  const perMailbox = new Map<string, number>();
  const servers = new Set<string>();
  const families = new Map<string, number>();
  let perServerLines = 0;
  let total = 0;
  let other = 0;
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    total += 1;
    const end = line.search(/[{ ]/);
    const name = (end === -1 ? line : line.slice(0, end)).replace(/_(bucket|sum|count)$/, '');
    families.set(name, (families.get(name) ?? 0) + 1);
    const m = MAILBOX.exec(line);
    if (m) {
      perMailbox.set(m[1] as string, (perMailbox.get(m[1] as string) ?? 0) + 1);
      continue;
    }
    const s = SERVER.exec(line);
    if (s) {
      perServerLines += 1;
      servers.add(s[1] as string);
      continue;
    }
    other += 1;
  }
  const counts = [...perMailbox.values()];
  return {
    perMailboxMax: counts.length === 0 ? 0 : Math.max(...counts),
    perMailboxMean: counts.length === 0 ? 0 : counts.reduce((a, b) => a + b, 0) / counts.length,
    mailboxes: counts.length,
    perServerLines,
    servers: servers.size,
    totalLines: total,
    otherLines: other,
    families: Object.fromEntries(
      [...families.entries()].sort((a, b) => b[1] - a[1]).slice(0, topFamilies),
    ),
  };
}

/** The value of an unlabelled sample (or the first of a family), NaN when absent. */
export function sampleValue(body: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : Number.NaN;
}
