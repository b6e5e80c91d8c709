/**
 * The CLI's flags and exit statuses as a user meets them: a flag that does not apply to a
 * command, an unknown log format or level, `run --listen`, `healthcheck`, and --help
 * naming every exit status. The built CLI, against the real Dovecot of test/servers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOVECOT, USERS } from '../servers/env.js';
import { Daemon, freePort, stopAllDaemons } from './daemon-support.js';
import { cliCommand, ensureBuilt, type RunResult, run } from './shipping-support.js';

const DIR = mkdtempSync(join(tmpdir(), 'pop3-monitor-flags-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
after(() => stopAllDaemons());
before(() => ensureBuilt());

const CONFIG = join(DIR, 'config.yaml');
writeFileSync(
  CONFIG,
  [
    'mailboxes:',
    '  - name: alice',
    `    host: ${DOVECOT.host}`,
    `    port: ${DOVECOT.plainPort}`,
    '    tls: starttls',
    `    tls_ca_file: ${DOVECOT.caFile}`,
    `    username: ${USERS.alice.user}`,
    `    password: ${USERS.alice.password}`,
    '',
  ].join('\n'),
);

function cli(args: string[], env: Record<string, string> = {}): RunResult {
  const clean: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const v of ['POP3_MONITOR_CONFIG', 'POP3_MONITOR_LOG_LEVEL', 'POP3_MONITOR_LOG_FORMAT'])
    if (env[v] === undefined) delete clean[v];
  return run(process.execPath, [...cliCommand().args, ...args], { cwd: DIR, env: clean });
}

function assertUsageError(result: RunResult, message: RegExp): void {
  assert.equal(result.status, 2, `${result.stdout}${result.stderr}`);
  assert.match(result.stderr, message);
}

describe('flags that do not apply, bad values: usage errors, exit 2', () => {
  const cases: [string[], RegExp][] = [
    [
      ['probe', '--config', CONFIG, '--listen', '127.0.0.1:1'],
      /^--listen does not apply to probe$/m,
    ],
    [['run', '--config', CONFIG, '--json'], /^--json does not apply to run$/m],
    [['run', '--config', CONFIG, '--mailbox', 'alice'], /^--mailbox does not apply to run$/m],
    [
      ['check-config', '--config', CONFIG, '--shard', '0/2'],
      /^--shard does not apply to check-config$/m,
    ],
    [['demo', '--config', CONFIG], /^--config does not apply to demo$/m],
    [
      ['probe', '--config', CONFIG, '--log-format', 'pretty'],
      /^--log-format does not apply to probe$/m,
    ],
    [
      ['run', '--config', CONFIG, '--log-format', 'xml'],
      /^--log-format: expected one of json, pretty, got "xml"$/m,
    ],
    [
      ['run', '--config', CONFIG, '--log-level', 'loud'],
      /^--log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"$/m,
    ],
    [
      ['run', '--config', CONFIG, '--listen', 'nowhere'],
      /^--listen: expected host:port such as 127\.0\.0\.1:9469, got "nowhere"$/m,
    ],
    [['probe', 'alice'], /^unexpected argument "alice"$/m],
  ];
  for (const [args, message] of cases) {
    it(args.filter((a) => a !== CONFIG).join(' '), () => assertUsageError(cli(args), message));
  }

  it('an unknown level or format in the environment is refused too', () => {
    assertUsageError(
      cli(['run', '--config', CONFIG], { POP3_MONITOR_LOG_LEVEL: 'verbose' }),
      /^\$POP3_MONITOR_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"$/m,
    );
    assertUsageError(
      cli(['demo'], { POP3_MONITOR_LOG_FORMAT: 'text' }),
      /^\$POP3_MONITOR_LOG_FORMAT: expected one of json, pretty, got "text"$/m,
    );
  });
});

describe('--help', () => {
  it('lists every exit status, 1 (could not start) and 70 (crash) among them', () => {
    const result = cli(['--help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^ {2}0 {3}success/m);
    assert.match(
      result.stdout,
      /^ {2}1 {3}probe: a probe failed; run: the daemon could not start/m,
    );
    assert.match(result.stdout, /^ {2}2 {3}bad config or usage/m);
    assert.match(result.stdout, /^ {2}70 {2}run: the daemon crashed/m);
    assert.match(result.stdout, /0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN/);
    assert.match(result.stdout, /pop3-monitor healthcheck /);
  });
});

describe('run --listen and healthcheck', { timeout: 60_000 }, () => {
  let taken: Server;
  let takenPort = 0;

  before(async () => {
    // server.listen names a port that is taken: the daemon starts only if --listen wins.
    taken = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    takenPort = typeof address === 'object' && address !== null ? address.port : 0;
  });
  after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('run --listen serves there instead of server.listen; healthcheck asks it', async () => {
    const port = await freePort();
    const config = {
      server: { listen: `127.0.0.1:${takenPort}` },
      mailboxes: [
        {
          name: 'alice',
          host: DOVECOT.host,
          port: DOVECOT.plainPort,
          tls: 'starttls',
          tls_ca_file: DOVECOT.caFile,
          username: USERS.alice.user,
          password: USERS.alice.password,
        },
      ],
    };
    const daemon = await Daemon.start({ config, args: ['--listen', `127.0.0.1:${port}`] });
    const base = `http://127.0.0.1:${port}`;
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = await fetch(`${base}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, daemon.output());
    const healthy = cli(['healthcheck', '--listen', `127.0.0.1:${port}`]);
    assert.equal(healthy.status, 0, healthy.stdout);
    assert.equal(healthy.stdout, `http://127.0.0.1:${port}/healthz: 200 ok\n`);
    // healthcheck reads the config's server.listen when no --listen is given.
    const fromConfig = cli(['healthcheck', '--config', daemon.configPath]);
    assert.equal(fromConfig.status, 1, 'server.listen of that config is the taken port');
    assert.match(fromConfig.stdout, new RegExp(`^http://127\\.0\\.0\\.1:${takenPort}/healthz: `));
    await daemon.stop();
  });

  it('healthcheck: exit 1 when nothing answers', async () => {
    const port = await freePort();
    const result = cli(['healthcheck', '--listen', `0.0.0.0:${port}`]);
    assert.equal(result.status, 1);
    assert.match(
      result.stdout,
      new RegExp(`^http://127\\.0\\.0\\.1:${port}/healthz: .*ECONNREFUSED`),
    );
  });
});
