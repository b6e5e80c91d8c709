// What /metrics costs the daemon, plain and gzip: N mailboxes that each recorded a probe,
// served by the daemon's own HTTP server (startHttpServer + createMetrics().exposition),
// scraped by curl in another process (so the client's work is not counted), alternating
// plain and gzip. Per scrape: wall time to the last byte, this process's CPU (every
// thread: the gzip work runs on libuv's pool), bytes on the wire. Then zlib itself on the
// same text at levels 1, 6 and 9, to show why the server uses level 1.
//
//   npm run bench:render -- [--sizes 1000,10000] [--rounds 7]
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);

import { gzipSync } from 'node:zlib';
import { startHttpServer } from '../src/web/server.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { runMain } from './lib/main.js';
import { fleetMetrics, metricsBackend } from './lib/metrics-fleet.js';
import { fmt, markdownTable, median } from './lib/stats.js';

/** The pages and /probe: this benchmark asks only /metrics. */
interface Sample {
  wallMs: number;
  cpuMs: number;
  wireBytes: number;
}

/**
 * One scrape by curl (asynchronously: the server runs in this process): wall time as curl
 * saw it, our CPU around it, bytes received.
 */
async function curlScrape(url: string, gzip: boolean): Promise<Sample> {
  const before = process.cpuUsage();
  const out = await run(
    'curl',
    [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{time_total} %{size_download}',
      ...(gzip ? ['-H', 'Accept-Encoding: gzip'] : []),
      url,
    ],
    { encoding: 'utf8' },
  );
  const used = process.cpuUsage(before);
  const [time, size] = out.stdout.trim().split(' ').map(Number);
  return {
    wallMs: (time ?? Number.NaN) * 1000,
    cpuMs: (used.user + used.system) / 1000,
    wireBytes: size ?? 0,
  };
}

async function measure(n: number, rounds: number) {
  // Implicit TLS on 8 servers, as the scale benchmark's fleet: 20 series per mailbox.
  const metrics = fleetMetrics({ mailboxes: n, hosts: 8, tls: true, spread: true });
  const http = await startHttpServer({
    listen: '127.0.0.1:0',
    backend: metricsBackend(metrics),
  });
  const url = `http://127.0.0.1:${http.address.port}/metrics`;
  const plain: Sample[] = [];
  const gzip: Sample[] = [];
  await curlScrape(url, false); // warm-up
  await curlScrape(url, true);
  for (let i = 0; i < rounds; i++) {
    plain.push(await curlScrape(url, false));
    gzip.push(await curlScrape(url, true));
  }
  await http.close();
  const body = (await metrics.render()).body;
  const levels = [1, 6, 9].map((level) => {
    const times: number[] = [];
    let size = 0;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      size = gzipSync(body, { level }).length;
      times.push(performance.now() - t);
    }
    return { level, ms: median(times), bytes: size };
  });
  return { n, bytes: Buffer.byteLength(body), lines: body.split('\n').length, plain, gzip, levels };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '1000,10000' },
      rounds: { type: 'string', default: '7' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  const rows: string[][] = [];
  const zrows: string[][] = [];
  const load = machineInfo().loadAvg1;
  for (const n of sizes) {
    const r = await measure(n, Number(values.rounds));
    const m = (list: Sample[], key: keyof Sample) => median(list.map((s) => s[key]));
    const extraCpu = m(r.gzip, 'cpuMs') - m(r.plain, 'cpuMs');
    const saved = m(r.plain, 'wireBytes') - m(r.gzip, 'wireBytes');
    // Gzip pays once the transfer time it saves exceeds the CPU it costs: bytes saved per
    // ms of extra CPU is the link speed below which it wins (in MB/s, then Mbit/s).
    const breakEvenMbit =
      extraCpu > 0 ? ((saved / extraCpu) * 1000 * 8) / 1e6 : Number.POSITIVE_INFINITY;
    for (const [name, list] of [
      ['plain', r.plain],
      ['gzip (level 1)', r.gzip],
    ] as const) {
      rows.push([
        n.toLocaleString('en-US'),
        name,
        `${fmt(r.bytes / 2 ** 20, 1)} MiB, ${r.lines.toLocaleString('en-US')} lines`,
        fmt(m(list, 'wireBytes') / 2 ** 20, 2),
        fmt(m(list, 'wallMs'), 0),
        fmt(m(list, 'cpuMs'), 0),
        name === 'plain'
          ? ''
          : `${fmt(extraCpu, 0)} ms more CPU for ${fmt(saved / 2 ** 20, 1)} MiB less: pays below ~${fmt(breakEvenMbit, 0)} Mbit/s`,
      ]);
    }
    for (const z of r.levels) {
      zrows.push([
        n.toLocaleString('en-US'),
        String(z.level),
        fmt(z.ms, 0),
        fmt(z.bytes / 2 ** 20, 2),
        fmt(r.bytes / z.bytes, 1),
      ]);
    }
  }
  process.stdout.write(
    `${describeMachine(machineInfo())}; load average ${load} at the start\n\n` +
      `${markdownTable(['mailboxes', 'encoding', 'text', 'on the wire (MiB)', 'wall, curl (ms)', 'our CPU per scrape (ms)', 'gzip'], rows)}\n\n` +
      `${markdownTable(['mailboxes', 'zlib level', 'gzipSync of the whole text (ms)', 'size (MiB)', 'ratio'], zrows)}\n`,
  );
}

runMain(import.meta.url, 'metrics-render', main);
