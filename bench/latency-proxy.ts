// A TCP proxy on loopback that makes a local server look RTT milliseconds away: every
// chunk is held RTT/2 in each direction, in order. It forwards bytes, so implicit TLS and
// STLS pass through unchanged.
//
// The TCP handshake: the client's connect() completes against this proxy at loopback
// speed, which a user-space proxy cannot delay; over a real link it takes 1 RTT, and the
// server accepts when the client's ACK arrives, 1.5 RTT after the SYN. So, by default:
// - the upstream connection is opened 1.5 RTT after the proxy accepted;
// - bytes the client sends before it has received anything (a TLS ClientHello) are held
//   1.5 RTT instead of RTT/2: over a real link they would have left 1 RTT later, after
//   the connect, so they reach the server at 1.5 RTT + the client's own time, as here.
//   Once the client has heard from the server its clock agrees with the real link's.
// A greeting thus arrives 2 RTT after the client started connecting, and a ClientHello
// that took the client x ms to build reaches the server at 1.5 RTT + x, as over a real
// link. Only the split between a client's `connect` and the next phase differs (connect
// ≈ 0; the round trip shows in `greeting` or `tls`).
//
//   node --import tsx bench/latency-proxy.ts --listen 127.0.0.1:0 --target 127.0.0.1:10110 --rtt 20
//
// prints `LISTENING host:port` once ready and runs until SIGTERM/SIGINT or stdin closes.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMain } from './lib/main.js';

export interface LatencyProxyOptions {
  /** Default 127.0.0.1. */
  listenHost?: string;
  /** Default 0 (any free port). */
  listenPort?: number;
  targetHost: string;
  targetPort: number;
  /** Round-trip time to add, ms; each direction is delayed rttMs / 2. */
  rttMs: number;
  /** Delay the upstream connect by 1.5 RTT to stand for the TCP handshake (default true). */
  emulateHandshake?: boolean;
}

export interface LatencyProxy {
  readonly host: string;
  readonly port: number;
  /** Connections open now. */
  connectionCount(): number;
  /** Connections accepted so far. */
  totalConnections(): number;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** A chunk or the end of the stream, due at `at` (performance.now ms). */
interface Pending {
  at: number;
  chunk: Buffer | null;
}

/**
 * One direction: chunks read from `source` are written to `sink` `delayMs()` after they
 * were read. Due times never go backwards (a shorter delay waits for the chunk before
 * it), so one timer serves the whole queue and the order is kept.
 */
class DelayedPipe {
  readonly #queue: Pending[] = [];
  #timer: NodeJS.Timeout | null = null;
  #sink: Socket | null = null;
  #lastAt = 0;
  readonly #delayMs: () => number;
  readonly #source: Socket;
  /** Called after the first chunk was written to the sink. */
  onFirstWrite: (() => void) | null = null;

  constructor(source: Socket, delayMs: () => number) {
    this.#source = source;
    this.#delayMs = delayMs;
    source.on('data', (chunk: Buffer) => this.#push(chunk));
    source.on('end', () => this.#push(null));
  }

  /** Until a sink is attached (the upstream is not connected yet), due chunks wait. */
  attach(sink: Socket): void {
    this.#sink = sink;
    this.#flush();
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue.length = 0;
  }

  #push(chunk: Buffer | null): void {
    this.#lastAt = Math.max(this.#lastAt, performance.now() + this.#delayMs());
    this.#queue.push({ at: this.#lastAt, chunk });
    if (this.#timer === null) this.#arm();
  }

  #arm(): void {
    const head = this.#queue[0];
    if (head === undefined) return;
    const wait = Math.max(0, head.at - performance.now());
    this.#timer = setTimeout(this.#flush, wait);
  }

  readonly #flush = (): void => {
    this.#timer = null;
    const sink = this.#sink;
    // No sink yet: attach() flushes; a destroyed one: the connection is being torn down.
    if (sink === null || sink.destroyed) return;
    // setTimeout rounds to whole ms and may fire a little early relative to the fraction.
    const now = performance.now() + 0.5;
    let head = this.#queue[0];
    while (head !== undefined && head.at <= now) {
      this.#queue.shift();
      if (head.chunk === null) sink.end();
      else {
        if (!sink.write(head.chunk)) {
          // Bounded memory: stop reading until the slow side has drained.
          this.#source.pause();
          sink.once('drain', () => this.#source.resume());
        }
        const first = this.onFirstWrite;
        this.onFirstWrite = null;
        first?.();
      }
      head = this.#queue[0];
    }
    this.#arm();
  };
}

export function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  const oneWay = options.rttMs / 2;
  const connectDelay = options.emulateHandshake === false ? 0 : 1.5 * options.rttMs;
  const open = new Set<Socket>();
  let total = 0;

  // allowHalfOpen: an end travels through the delayed pipe like data, never ahead of it.
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    total += 1;
    open.add(client);
    // Until the client has received a byte, what it sends left "before its connect was
    // done" on a real link: 1 RTT more (see the top of the file).
    let heard = connectDelay === 0;
    const up = new DelayedPipe(client, () => (heard ? oneWay : oneWay + options.rttMs));
    let upstream: Socket | null = null;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      up.stop();
      client.destroy();
      upstream?.destroy();
      open.delete(client);
      if (upstream) open.delete(upstream);
    };
    client.on('error', finish);
    client.on('close', finish);
    const dial = () => {
      if (finished) return;
      const target = createConnection({
        host: options.targetHost,
        port: options.targetPort,
        noDelay: true,
        allowHalfOpen: true,
      });
      upstream = target;
      open.add(target);
      const down = new DelayedPipe(target, () => oneWay);
      down.onFirstWrite = () => {
        heard = true;
      };
      down.attach(client);
      target.on('connect', () => up.attach(target));
      target.on('error', finish);
      target.on('close', () => {
        // Let the delayed end reach the client first; then tear down.
        setTimeout(finish, oneWay + 50);
      });
    };
    if (connectDelay > 0) setTimeout(dial, connectDelay);
    else dial();
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const host = options.listenHost ?? '127.0.0.1';
    server.listen({ host, port: options.listenPort ?? 0, backlog: 1024 }, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        host,
        port,
        connectionCount: () => open.size,
        totalConnections: () => total,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of open) socket.destroy();
          }),
      });
    });
  });
}

/** "host:port" → parts; throws a RangeError naming the flag. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new RangeError(`${flag}: expected host:port, got ${JSON.stringify(value)}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

async function cli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', default: '127.0.0.1:0' },
      target: { type: 'string' },
      rtt: { type: 'string', default: '20' },
      'no-handshake': { type: 'boolean', default: false },
    },
  });
  if (values.target === undefined) throw new RangeError('--target host:port is required');
  const listen = parseHostPort(values.listen, '--listen');
  const target = parseHostPort(values.target, '--target');
  const rttMs = Number(values.rtt);
  if (!Number.isFinite(rttMs) || rttMs < 0)
    throw new RangeError('--rtt: expected milliseconds >= 0');
  const proxy = await startLatencyProxy({
    listenHost: listen.host,
    listenPort: listen.port,
    targetHost: target.host,
    targetPort: target.port,
    rttMs,
    emulateHandshake: !values['no-handshake'],
  });
  process.stdout.write(`LISTENING ${proxy.host}:${proxy.port}\n`);
  const stop = () => {
    void proxy.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent going away (its end of our stdin closes) stops us too: no orphans.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

if (isMain(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(
      `latency-proxy: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(2);
  });
}
