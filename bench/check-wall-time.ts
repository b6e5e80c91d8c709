// `pop3-monitor check` as Nagios runs it, one process per check, against the test Dovecot
// through the latency proxy at RTT ms: its wall time against the Monitoring Plugins'
// check_pop (which only reads the greeting and sends QUIT) and against the floor of any
// Node.js plugin doing the whole probe (`node -e 0` plus the probe's round trips), and
// `--version` against `node -e 0`. Every process is timed with wait4 (bench/peers/
// rusage.py); subjects are interleaved run by run, so a busy moment of the shared machine
// falls on all of them alike.
//
//   npm run bench:check -- [--runs 15] [--rtt 20]
//
// Needs the test Dovecot (bash test/servers/start.sh, with POP3_TEST_PORT_BASE as usual)
// and check_pop (bash bench/setup.sh installs monitoring-plugins-basic).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, machineInfo } from './lib/machine.js';
import {
  BENCH_USER,
  DOVECOT_CA_FILE,
  DOVECOT_HOST,
  dovecotPort,
  type Mode,
  portOpen,
} from './lib/mailboxes.js';
import { runMain } from './lib/main.js';
import { CHECK_POP_BIN, checkPopAvailable } from './lib/peers.js';
import { buildCli, type ProxyChild, runMeasured, startProxyChild } from './lib/processes.js';
import { calibrateRtt } from './lib/rtt.js';
import { fmt, markdownTable, median, verdictAtMost } from './lib/stats.js';

/**
 * Round trips of one `check` (no capability cache, the default pipelining): connect 1 +
 * greeting 1 (TLS 1 before it for implicit TLS) + CAPA 1 + login 1 + STAT..QUIT 1.
 */
export const CHECK_ROUND_TRIPS: Record<'plain' | 'implicit', number> = { plain: 5, implicit: 6 };
/** The targets, ms. */
export const VERSION_TARGET_MS = 30;
export const CHECK_TARGET_MS = 80;

const MODES = ['plain', 'implicit'] as const satisfies readonly Mode[];

interface Subject {
  name: string;
  command: string;
  args: string[];
  /** What its exit status must be for the run to count. */
  exit: number;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '15' },
      rtt: { type: 'string', default: '20' },
    },
  });
  const runs = Number(values.runs);
  const rttMs = Number(values.rtt);
  for (const mode of MODES) {
    if (!(await portOpen(DOVECOT_HOST, dovecotPort(mode))))
      throw new Error(
        `Dovecot is not listening on ${DOVECOT_HOST}:${dovecotPort(mode)}: run bash test/servers/start.sh`,
      );
  }
  if (!checkPopAvailable()) throw new Error('check_pop missing: run bash bench/setup.sh as root');
  const rtt = await calibrateRtt(rttMs);
  const cli = buildCli();
  const dir = mkdtempSync(join(tmpdir(), 'pop3-bench-check-'));
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, `${BENCH_USER.password}\n`);
  const proxies = new Map<Mode, ProxyChild>();
  const node = process.execPath;
  const subjects: Subject[] = [
    { name: 'node -e 0', command: node, args: ['-e', '0'], exit: 0 },
    { name: 'pop3-monitor --version', command: node, args: [cli, '--version'], exit: 0 },
  ];
  for (const mode of MODES) {
    const proxy = await startProxyChild(`${DOVECOT_HOST}:${dovecotPort(mode)}`, rttMs);
    proxies.set(mode, proxy);
    const port = String(proxy.port);
    subjects.push(
      {
        name: `check_pop, ${mode}`,
        command: CHECK_POP_BIN,
        args: ['-H', proxy.host, '-p', port, '-t', '10', ...(mode === 'implicit' ? ['-S'] : [])],
        exit: 0,
      },
      {
        name: `pop3-monitor check, ${mode}`,
        command: node,
        args: [
          cli,
          'check',
          '--host',
          proxy.host,
          '--port',
          port,
          '--tls',
          mode === 'implicit' ? 'implicit' : 'none',
          '--tls-ca-file',
          DOVECOT_CA_FILE,
          '--user',
          BENCH_USER.user,
          '--password-file',
          passwordFile,
        ],
        exit: 0,
      },
    );
  }
  const load = machineInfo().loadAvg1;
  const wall = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  const cpu = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  const failures = new Map<string, string>();
  try {
    for (let i = 0; i < runs; i++) {
      for (const s of subjects) {
        const r = await runMeasured(s.command, s.args);
        if (r.exit !== s.exit) {
          failures.set(s.name, `exit ${r.exit}: ${(r.stdout + r.stderr).trim().slice(0, 200)}`);
          continue;
        }
        wall.get(s.name)?.push(r.wallMs);
        cpu.get(s.name)?.push(r.cpuMs);
      }
    }
  } finally {
    for (const proxy of proxies.values()) await proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (name: string) => median(wall.get(name) ?? []);
  const nodeStart = med('node -e 0');
  const rows = subjects.map((s) => [
    s.name,
    fmt(med(s.name), 0),
    fmt(median(cpu.get(s.name) ?? []), 0),
    String(wall.get(s.name)?.length ?? 0),
  ]);
  const verdicts = [
    `- \`--version\` within ${VERSION_TARGET_MS} ms of \`node -e 0\`: ${verdictAtMost(med('pop3-monitor --version') - nodeStart, VERSION_TARGET_MS, ' ms', 0)}`,
  ];
  const floors: string[][] = [];
  for (const mode of MODES) {
    const floor = nodeStart + CHECK_ROUND_TRIPS[mode] * rtt;
    const ours = med(`pop3-monitor check, ${mode}`);
    floors.push([
      mode,
      `${fmt(nodeStart, 0)} + ${CHECK_ROUND_TRIPS[mode]} × ${fmt(rtt, 1)} = ${fmt(floor, 0)}`,
      fmt(ours, 0),
      fmt(ours - floor, 0),
      fmt(med(`check_pop, ${mode}`), 0),
      fmt(ours / med(`check_pop, ${mode}`), 2),
    ]);
    verdicts.push(
      `- \`check\` (${mode}) within ${CHECK_TARGET_MS} ms of the floor: ${verdictAtMost(ours - floor, CHECK_TARGET_MS, ' ms', 0)}`,
    );
  }
  const env = process.env.NODE_EXTRA_CA_CERTS
    ? `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS} (every Node process reads it at start)`
    : 'NODE_EXTRA_CA_CERTS unset';
  process.stdout.write(
    [
      `${describeMachine(machineInfo())}; load average ${load} → ${machineInfo().loadAvg1}; ${env}`,
      `${runs} runs of each, interleaved; proxy RTT set ${rttMs} ms, measured ${fmt(rtt, 2)} ms`,
      '',
      markdownTable(['process', 'median wall (ms)', 'median CPU user+sys (ms)', 'runs'], rows),
      '',
      markdownTable(
        [
          'mode',
          'floor: node -e 0 + round trips × RTT (ms)',
          'check (ms)',
          'over the floor (ms)',
          'check_pop (ms)',
          'check / check_pop',
        ],
        floors,
      ),
      '',
      ...verdicts,
      ...[...failures].map(([name, why]) => `- ${name} failed at least once: ${why}`),
      '',
    ].join('\n'),
  );
}

runMain(import.meta.url, 'bench:check', main);
