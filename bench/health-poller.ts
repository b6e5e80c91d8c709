// Polls GET /healthz as a kubelet does (a new connection each time, every 100 ms) from a
// process of its own, so no work of the benchmark delays the answers it times. It also
// measures its own event-loop delay: a process with nothing to do, the machine's noise
// floor (on a shared, loaded machine an idle process can wait 100 ms for a CPU). Run by
// bench/lib/scrape.ts; prints `READY`, then, when its stdin closes,
// `POLLS {"polls":[{at,ms,ok}...],"idleLoopMaxMs","idleLoopP99Ms"}`.
//
//   node --import tsx bench/health-poller.ts --address 127.0.0.1:9469 [--every 100]
import { request } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { runMain } from './lib/main.js';

interface Poll {
  /** ms since the epoch when sent. */
  at: number;
  ms: number;
  ok: boolean;
}

function poll(host: string, port: number): Promise<Poll> {
  return new Promise((resolve) => {
    const at = Date.now();
    const t0 = performance.now();
    const done = (ok: boolean) => resolve({ at, ms: performance.now() - t0, ok });
    const req = request({ host, port, path: '/healthz', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200));
      res.on('error', () => done(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end();
  });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { address: { type: 'string' }, every: { type: 'string', default: '100' } },
  });
  const address = values.address ?? '';
  const host = address.slice(0, address.lastIndexOf(':'));
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const polls: Poll[] = [];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void poll(host, port).then((p) => {
      polls.push(p);
      busy = false;
    });
  }, Number(values.every));
  process.stdout.write('READY\n');
  await new Promise<void>((resolve) => {
    process.stdin.on('data', () => undefined);
    process.stdin.on('end', () => resolve());
    process.stdin.resume();
  });
  clearInterval(timer);
  loop.disable();
  const text = `POLLS ${JSON.stringify({
    polls,
    idleLoopMaxMs: loop.max / 1e6,
    idleLoopP99Ms: loop.percentile(99) / 1e6,
  })}\n`;
  await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
}

runMain(import.meta.url, 'health-poller', main);
