// What a one-shot `pop3-monitor` process costs before any network: `node -e 0`, the CLI's
// `--version`, and `probe` of a mailbox whose port refuses at once (start, config, probe
// code, exit), for the CLI as `npm run build` makes it (the esbuild bundle) and as tsc
// alone would (one file per module), interleaved run by run, each timed with wait4.
//
//   npm run bench:startup -- [--runs 20]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, machineInfo } from './lib/machine.js';
import { runMain } from './lib/main.js';
import { buildCli, REPO_DIR, runMeasured } from './lib/processes.js';
import { fmt, markdownTable, median } from './lib/stats.js';

/** tsc's own output of src/ (what `npm run build` made before the bundle). */
function buildTsc(): string {
  const outDir = `${REPO_DIR}.tmp/bench-tsc`;
  rmSync(outDir, { recursive: true, force: true });
  spawnSync(
    process.execPath,
    [`${REPO_DIR}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: REPO_DIR, encoding: 'utf8' },
  );
  return `${outDir}/cli.js`;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { runs: { type: 'string', default: '20' } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'pop3-bench-startup-'));
  const config = join(dir, 'config.yaml');
  // Port 1 on loopback refuses at once: everything but the network.
  writeFileSync(
    config,
    `state_dir: ${dir}\nmailboxes:\n  - { name: a, host: 127.0.0.1, port: 1, username: u, password: p, tls: none }\n`,
  );
  const bundle = buildCli();
  const tsc = buildTsc();
  const subjects: [string, string[]][] = [
    ['node -e 0', ['-e', '0']],
    ['bundle: --version', [bundle, '--version']],
    ['tsc output: --version', [tsc, '--version']],
    ['bundle: probe (port refused)', [bundle, 'probe', '--config', config]],
    ['tsc output: probe (port refused)', [tsc, 'probe', '--config', config]],
  ];
  const envs: [string, NodeJS.ProcessEnv][] = [['', process.env]];
  if (process.env.NODE_EXTRA_CA_CERTS) {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    envs.push([', NODE_EXTRA_CA_CERTS unset', env]);
  }
  const load = machineInfo().loadAvg1;
  const results = new Map<string, { wall: number[]; cpu: number[] }>();
  for (let i = 0; i < Number(values.runs); i++) {
    for (const [envName, env] of envs) {
      for (const [name, args] of subjects) {
        const r = await runMeasured(process.execPath, args, env);
        const key = `${name}${envName}`;
        const entry = results.get(key) ?? { wall: [], cpu: [] };
        entry.wall.push(r.wallMs);
        entry.cpu.push(r.cpuMs);
        results.set(key, entry);
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    `${describeMachine(machineInfo())}; load average ${load} → ${machineInfo().loadAvg1}; ${values.runs} runs each, interleaved\n\n${markdownTable(
      ['process', 'median wall (ms)', 'median CPU user+sys (ms)'],
      [...results].map(([name, r]) => [name, fmt(median(r.wall), 0), fmt(median(r.cpu), 0)]),
    )}\n`,
  );
}

runMain(import.meta.url, 'cli-startup', main);
