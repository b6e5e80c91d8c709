#!/usr/bin/env node
// Runs the test suite with node's own test runner (TypeScript through tsx).
// `node scripts/run-tests.mjs [unit|integration|FILE...]`. Before integration tests it
// installs the Debian packages they need when missing (test/servers/packages.sh), starts
// the real servers on loopback (test/servers/start.sh) and stops them after.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
const ownsServers = needsServers && !process.env.POP3_TEST_SERVERS_RUNNING;

// Several test runs on one machine share the servers: each run registers its pid, the
// first one starts them and the last one to finish stops them.
const usersDir = `${process.env.POP3_TEST_SERVERS_DIR ?? '/tmp/pop3-monitor-servers'}.users`;
function liveUsers() {
  if (!existsSync(usersDir)) return [];
  return readdirSync(usersDir).filter((pid) => {
    try {
      process.kill(Number(pid), 0);
      return Number(pid) !== process.pid;
    } catch {
      rmSync(join(usersDir, pid), { force: true });
      return false;
    }
  });
}
function serversAnswer() {
  // The same ports as test/servers/lib.sh: the base plus POP3's 110 and SMTP's 25.
  const base = Number(process.env.POP3_TEST_PORT_BASE ?? 10000);
  const probe = spawnSync(
    'bash',
    [
      '-c',
      `(exec 3<>/dev/tcp/127.0.0.1/${base + 110}) && (exec 3<>/dev/tcp/127.0.0.1/${base + 25})`,
    ],
    { stdio: 'ignore' },
  );
  return probe.status === 0;
}

if (needsServers) {
  const installed = spawnSync('bash', [join(servers, 'packages.sh')], { stdio: 'inherit' });
  if (installed.status !== 0) {
    console.error('the Debian packages the integration tests need are missing: see the line above');
    process.exit(1);
  }
}

if (ownsServers) {
  const shared = liveUsers().length > 0 && serversAnswer();
  mkdirSync(usersDir, { recursive: true });
  writeFileSync(join(usersDir, String(process.pid)), '');
  if (!shared) {
    const started = spawnSync('bash', [join(servers, 'start.sh')], { stdio: 'inherit' });
    if (started.status !== 0) {
      rmSync(join(usersDir, String(process.pid)), { force: true });
      console.error('test servers failed to start: see the lines above');
      process.exit(1);
    }
  }
}

// Unit tests run two files at a time. Integration files share one Dovecot and one Postfix
// (some stop Postfix on purpose), so they run one at a time.
const integrationDir = join('test', 'integration');
const groups = [
  { files: files.filter((f) => !f.startsWith(integrationDir)), concurrency: 2 },
  { files: files.filter((f) => f.startsWith(integrationDir)), concurrency: 1 },
].filter((g) => g.files.length > 0);
let status = 0;
for (const group of groups) {
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${group.concurrency}`,
      ...group.files,
    ],
    { stdio: 'inherit', env: { ...process.env, POP3_TEST_SERVERS_RUNNING: '1' } },
  );
  if (result.status !== 0) status = result.status ?? 1;
}

if (ownsServers) {
  rmSync(join(usersDir, String(process.pid)), { force: true });
  if (!process.env.KEEP_TEST_SERVERS && liveUsers().length === 0) {
    spawnSync('bash', [join(servers, 'stop.sh')], { stdio: 'inherit' });
  }
}
process.exit(status);
