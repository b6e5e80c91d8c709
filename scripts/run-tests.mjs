#!/usr/bin/env node
// Runs the test suite with node's own test runner (TypeScript through tsx).
// `node scripts/run-tests.mjs [unit|integration|FILE...]`. Before integration tests it
// starts the real servers on loopback (test/servers/start.sh) and stops them after.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);

function collect(dir) {
  let out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const args = process.argv.slice(2);
let files;
if (args.length === 0) files = collect('test');
else if (args.length === 1 && ['unit', 'integration'].includes(args[0]))
  files = collect(join('test', args[0]));
else files = args;

const needsServers = files.some((f) => f.startsWith(join('test', 'integration')));
const servers = join('test', 'servers');
if (needsServers && !process.env.POP3_TEST_SERVERS_RUNNING) {
  const started = spawnSync('bash', [join(servers, 'start.sh')], { stdio: 'inherit' });
  if (started.status !== 0) {
    console.error(
      'test servers failed to start: see the lines above (.ci/run installs the Debian packages they need)',
    );
    process.exit(1);
  }
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: { ...process.env, POP3_TEST_SERVERS_RUNNING: '1' } },
);

if (needsServers && !process.env.POP3_TEST_SERVERS_RUNNING && !process.env.KEEP_TEST_SERVERS) {
  spawnSync('bash', [join(servers, 'stop.sh')], { stdio: 'inherit' });
}
process.exit(result.status ?? 1);
