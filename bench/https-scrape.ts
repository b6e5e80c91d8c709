// What securing /metrics costs the daemon per scrape: bcrypt basic auth with and without
// the cache of successful checks, TLS on a kept-alive connection (as Prometheus scrapes)
// and on a new connection per scrape (a full handshake each time), and client
// certificates. The daemon's own HTTP server (startHttpServer with the web configuration's
// settings) serves N mailboxes' metrics in this process; curl in another process scrapes
// (its work is not counted), gzip asked as Prometheus does. CPU is process.cpuUsage() of
// this process around a batch of scrapes, divided by their number.
//
//   npm run bench:https -- [--mailboxes 100] [--scrapes 40] [--rounds 5] [--cost 10]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { startHttpServer } from '../src/web/server.js';
import { loadWebConfig, type WebSettings } from '../src/web/web-config-load.js';
import { tlsFile } from '../test/fixtures/web-tls.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { runMain } from './lib/main.js';
import { fleetMetrics, metricsBackend } from './lib/metrics-fleet.js';
import { fmt, markdownTable, median } from './lib/stats.js';

const run = promisify(execFile);
const PASSWORD = 'bench-scrape-password';

interface Scenario {
  name: string;
  web: string | undefined;
  tls: boolean;
  auth: boolean;
  client: boolean;
  keepAlive: boolean;
  cache: boolean;
}

/** `scrapes` GETs of /metrics by one curl process; our CPU and curl's wall time, per scrape. */
async function batch(
  port: number,
  scenario: Scenario,
  scrapes: number,
): Promise<{ cpuMs: number; wallMs: number }> {
  const url = `${scenario.tls ? 'https' : 'http'}://localhost:${port}/metrics`;
  const args = ['-s', '--compressed', '-w', '%{http_code} %{time_total}\\n'];
  if (scenario.tls) args.push('--cacert', tlsFile('ca.pem'), '--no-sessionid');
  if (scenario.client) args.push('--cert', tlsFile('client.pem'), '--key', tlsFile('client.key'));
  if (scenario.auth) args.push('-u', `prometheus:${PASSWORD}`);
  // A new connection (and with TLS a full handshake, no session resumption) per scrape.
  if (!scenario.keepAlive) args.push('-H', 'Connection: close');
  for (let i = 0; i < scrapes; i++) args.push('-o', '/dev/null', url);
  const before = process.cpuUsage();
  const out = await run('curl', args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  const used = process.cpuUsage(before);
  const lines = out.stdout.trim().split('\n');
  if (lines.length !== scrapes || lines.some((l) => !l.startsWith('200 ')))
    throw new Error(
      `${scenario.name}: not every scrape answered 200: ${lines.slice(0, 3).join(' | ')}`,
    );
  const wall = lines.map((l) => Number(l.split(' ')[1]) * 1000);
  return { cpuMs: (used.user + used.system) / 1000 / scrapes, wallMs: median(wall) };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      mailboxes: { type: 'string', default: '100' },
      scrapes: { type: 'string', default: '40' },
      rounds: { type: 'string', default: '5' },
      cost: { type: 'string', default: '10' },
    },
  });
  const scrapes = Number(values.scrapes);
  const cost = Number(values.cost);
  const dir = mkdtempSync(join(tmpdir(), 'pop3-bench-https-'));
  const hash = bcrypt.hashSync(PASSWORD, cost);
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const tls = `tls_server_config:\n  cert_file: ${tlsFile('localhost.pem')}\n  key_file: ${tlsFile('localhost.key')}\n`;
  const mtls = `${tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${tlsFile('ca.pem')}\n`;
  const users = `basic_auth_users:\n  prometheus: ${hash}\n`;
  const webs = {
    users: file('users.yml', users),
    tls: file('tls.yml', tls),
    mtls: file('mtls.yml', mtls + users),
  };
  const base = { tls: false, auth: false, client: false, keepAlive: true, cache: true };
  const scenarios: Scenario[] = [
    { ...base, name: 'HTTP, no auth', web: undefined },
    { ...base, name: `HTTP, bcrypt (cost ${cost}), cache`, web: webs.users, auth: true },
    {
      ...base,
      name: `HTTP, bcrypt (cost ${cost}), no cache`,
      web: webs.users,
      auth: true,
      cache: false,
    },
    { ...base, name: 'HTTPS, kept-alive connection', web: webs.tls, tls: true },
    {
      ...base,
      name: 'HTTPS, new connection per scrape',
      web: webs.tls,
      tls: true,
      keepAlive: false,
    },
    {
      ...base,
      name: `HTTPS + client certificate + bcrypt (cache), kept alive`,
      web: webs.mtls,
      tls: true,
      client: true,
      auth: true,
    },
    {
      ...base,
      name: `HTTPS + client certificate + bcrypt (cache), new connection`,
      web: webs.mtls,
      tls: true,
      client: true,
      auth: true,
      keepAlive: false,
    },
    {
      ...base,
      name: `HTTPS + client certificate + bcrypt (no cache), new connection`,
      web: webs.mtls,
      tls: true,
      client: true,
      auth: true,
      keepAlive: false,
      cache: false,
    },
  ];
  const metrics = fleetMetrics({
    mailboxes: Number(values.mailboxes),
    hosts: 4,
    tls: false,
    defaultMetrics: false,
  });
  const load = machineInfo().loadAvg1;
  const rows: string[][] = [];
  let baseline = Number.NaN;
  // The first scenario once more in front, unrecorded: the JIT warms up on it.
  for (const [index, scenario] of [scenarios[0] as Scenario, ...scenarios].entries()) {
    const web: WebSettings | undefined = scenario.web ? loadWebConfig(scenario.web) : undefined;
    const http = await startHttpServer({
      listen: '127.0.0.1:0',
      backend: metricsBackend(metrics),
      web,
      passwordCacheTtlMs: scenario.cache ? undefined : 0,
    });
    await batch(http.address.port, scenario, 3); // warm-up (and the cache's first check)
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      const b = await batch(http.address.port, scenario, scrapes);
      cpu.push(b.cpuMs);
      wall.push(b.wallMs);
    }
    await http.close();
    if (index === 0) continue;
    const cpuMs = median(cpu);
    if (Number.isNaN(baseline)) baseline = cpuMs;
    rows.push([
      scenario.name,
      fmt(cpuMs, 2),
      scenario.web === undefined
        ? ''
        : `${cpuMs >= baseline ? '+' : '−'}${fmt(Math.abs(cpuMs - baseline), 2)}`,
      fmt(median(wall), 1),
    ]);
  }
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    `${describeMachine(machineInfo())}; load average ${load} at the start; ` +
      `${values.mailboxes} mailboxes (${(await metrics.render()).body.length.toLocaleString('en-US')} bytes of text, gzip), ` +
      `${values.rounds} rounds of ${scrapes} scrapes by one curl process, medians\n\n` +
      `${markdownTable(['scenario', 'our CPU per scrape (ms)', 'over HTTP, no auth', 'wall per scrape, curl (ms)'], rows)}\n`,
  );
}

runMain(import.meta.url, 'https-scrape', main);
