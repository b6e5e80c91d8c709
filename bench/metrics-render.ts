// /metrics render time and size for N mailboxes that each recorded one probe with every
// phase: `npm run bench:render -- 1000 10000`. The daemon's metrics, no scheduler.
import { performance } from 'node:perf_hooks';
import { createMetrics } from '../src/metrics/metrics.js';
import { PHASES } from '../src/probe/result.js';
import { mailboxConfig } from './lib/mailboxes.js';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
for (const n of sizes.length > 0 ? sizes : [1000, 10_000]) {
  const metrics = createMetrics({ version: 'bench' });
  const boxes = Array.from({ length: n }, (_, i) =>
    mailboxConfig({
      name: `mailbox-${i}`,
      host: 'pop.example.com',
      port: 995,
      mode: 'implicit',
      username: `mailbox-${i}@example.com`,
      password: 'unused',
    }),
  );
  metrics.setMailboxes(boxes);
  for (const box of boxes) {
    metrics.recordProbe({
      mailbox: box.name,
      success: true,
      messages: 3,
      size_bytes: 1208,
      phases: Object.fromEntries(PHASES.map((p) => [p, 0.004])),
      capabilities: [],
      error: null,
      started_at: 0,
      uidl_count: 3,
      oldest_message_timestamp: 1767601800,
      tls: null,
      auth_method: 'plain',
      login_delay_seconds: null,
      pipelined: true,
    });
  }
  const times: number[] = [];
  let body = '';
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    body = (await metrics.render()).body;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const lines = body.split('\n').length;
  console.log(
    `${n} mailboxes: render median ${times[2]?.toFixed(0)} ms (min ${times[0]?.toFixed(0)}, max ${times[4]?.toFixed(0)}), ` +
      `${(body.length / 2 ** 20).toFixed(1)} MiB, ${lines} lines, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
}
