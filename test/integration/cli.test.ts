/**
 * The built CLI (`node dist/cli.js`) as a user runs it: usage and exit statuses,
 * check-config with its secrets masked, and probe against the real Dovecot of test/servers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REASONS } from '../../src/pop3/errors.js';
import { shardOf } from '../../src/shard.js';
import { aliceExpected, DOVECOT, USERS } from '../servers/env.js';
import { cliCommand, ensureBuilt, REPO_ROOT, type RunResult, run } from './shipping-support.js';

const DIR = mkdtempSync(join(tmpdir(), 'pop3-monitor-cli-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
before(() => ensureBuilt());

/** Passwords that must never be printed: check-config masks them, probe never echoes them. */
const CANARY = {
  env: 'canary-env-Qx81zz',
  file: 'canary-file-Wv27yy',
  smtp: 'canary-smtp-Kp55xx',
  wrong: 'canary-wrong-Jm93ww',
};
const ALICE = aliceExpected();

/** Runs the CLI in DIR with `extraEnv` (and never an inherited POP3_MONITOR_CONFIG). */
function cli(args: string[], extraEnv: Record<string, string> = {}): RunResult {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  if (extraEnv.POP3_MONITOR_CONFIG === undefined) delete env.POP3_MONITOR_CONFIG;
  return run(process.execPath, [...cliCommand().args, ...args], { cwd: DIR, env });
}

function writeConfig(name: string, yaml: string): string {
  const path = join(DIR, name);
  writeFileSync(path, yaml);
  return path;
}

function assertNoCanary(result: RunResult): void {
  for (const canary of Object.values(CANARY)) {
    assert.equal(result.stdout.includes(canary), false, `stdout shows ${canary}`);
    assert.equal(result.stderr.includes(canary), false, `stderr shows ${canary}`);
  }
}

describe('pop3-monitor: usage', () => {
  it('--version prints the version of package.json and exits 0', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = cli(['--version']);
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `${pkg.version}\n`);
  });

  it('--help exits 0 and names every command', () => {
    const result = cli(['--help']);
    assert.equal(result.status, 0, result.stderr);
    for (const command of ['run', 'probe', 'check-config', 'demo']) {
      assert.ok(result.stdout.includes(`pop3-monitor ${command} `), `--help omits ${command}`);
    }
    assert.ok(result.stdout.includes('pop3-monitor --help | --version'));
  });

  it('no arguments: the usage, exit 2', () => {
    const result = cli([]);
    assert.equal(result.status, 2);
    assert.match(result.stdout, /^Usage:$/m);
    assert.match(result.stdout, /pop3-monitor probe --config FILE/);
  });

  it('an unknown command: says so, exit 2', () => {
    const result = cli(['frobnicate']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^unknown command "frobnicate"$/m);
    assert.equal(result.stdout, '');
  });
});

describe('pop3-monitor check-config', () => {
  writeFileSync(join(DIR, 'support.pw'), `${CANARY.file}\n`);
  const valid = writeConfig(
    'valid.yaml',
    `state_dir: ./state
mailboxes:
  - name: alice
    host: 127.0.0.1
    port: 10110
    tls: starttls
    username: alice
    password: \${ALICE_PASSWORD}
  - name: support
    host: pop.example.com
    username: support@example.com
    password_file: support.pw
alerting:
  smtp:
    host: 127.0.0.1
    port: 10025
    username: monitor
    password: \${SMTP_PASSWORD}
    from: "pop3-monitor <monitor@test.local>"
  to: [ops@test.local]
`,
  );
  const env = { ALICE_PASSWORD: CANARY.env, SMTP_PASSWORD: CANARY.smtp };

  /** Every value of a key named `password`, anywhere in the JSON. */
  function passwords(value: unknown): unknown[] {
    if (Array.isArray(value)) return value.flatMap(passwords);
    if (typeof value !== 'object' || value === null) return [];
    return Object.entries(value).flatMap(([key, v]) => (key === 'password' ? [v] : passwords(v)));
  }

  it('a valid config: exit 0, the resolved config as JSON with every password ***', () => {
    const result = cli(['check-config', '--config', valid], env);
    assert.equal(result.status, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as {
      mailboxes: { name: string; password: string; password_file: string | null }[];
      alerting: { smtp: { password: string } };
    };
    assert.deepEqual(passwords(printed), ['***', '***', '***']);
    assert.deepEqual(
      printed.mailboxes.map((m) => [m.name, m.password, m.password_file]),
      [
        ['alice', '***', null],
        ['support', '***', join(DIR, 'support.pw')],
      ],
    );
    assert.match(result.stderr, /^config OK: 2 mailbox\(es\)$/m);
    assertNoCanary(result);
  });

  it('POP3_MONITOR_CONFIG stands in for --config', () => {
    const withFlag = cli(['check-config', '--config', valid], env);
    const withEnv = cli(['check-config'], { ...env, POP3_MONITOR_CONFIG: valid });
    assert.equal(withEnv.status, 0, withEnv.stderr);
    assert.equal(withEnv.stdout, withFlag.stdout);
    assert.notEqual(withEnv.stdout, '');
  });

  it('an invalid config: exit 2, stderr names mailboxes[1].port, nothing on stdout', () => {
    const invalid = writeConfig(
      'invalid.yaml',
      readFileSync(valid, 'utf8').replace(
        'host: pop.example.com\n',
        'host: pop.example.com\n    port: 70000\n',
      ),
    );
    const result = cli(['check-config', '--config', invalid], env);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^mailboxes\[1\]\.port: expected 1-65535$/m);
    assert.equal(result.stdout, '');
    assertNoCanary(result);
  });
});

/** The shape of one `probe --json` element (README, "Probe result"). */
function assertInterfaceShape(element: Record<string, unknown>): void {
  assert.equal(typeof element.mailbox, 'string');
  assert.equal(typeof element.success, 'boolean');
  for (const key of ['messages', 'size_bytes']) {
    assert.ok(element[key] === null || Number.isInteger(element[key]), `${key}: ${element[key]}`);
  }
  const phases = element.phases as Record<string, unknown>;
  assert.equal(typeof phases.total, 'number');
  for (const [phase, seconds] of Object.entries(phases)) {
    assert.ok(typeof seconds === 'number' && seconds >= 0, `phase ${phase}: ${seconds}`);
  }
  assert.ok(Array.isArray(element.capabilities));
  for (const capability of element.capabilities as unknown[])
    assert.equal(typeof capability, 'string');
  const error = element.error as Record<string, unknown> | null;
  assert.equal(error === null, element.success);
  if (error !== null) {
    assert.ok((REASONS as readonly unknown[]).includes(error.code), `code ${error.code}`);
    assert.equal(typeof error.message, 'string');
    assert.ok(error.response === null || typeof error.response === 'string');
  }
}

interface ProbeElement {
  mailbox: string;
  success: boolean;
  messages: number | null;
  size_bytes: number | null;
  uidl_count: number | null;
  oldest_message_timestamp: number | null;
  capabilities: string[];
  auth_method: string | null;
  tls: { protocol: string | null } | null;
  error: Record<string, unknown> | null;
}

/** alice over STLS, exactly as the fixture mail and the server's CAPA say. */
function assertAliceOverStls(element: ProbeElement): void {
  assert.equal(element.mailbox, 'alice');
  assert.equal(element.error, null);
  assert.equal(element.success, true);
  assert.equal(element.messages, ALICE.count);
  assert.equal(element.size_bytes, ALICE.octets);
  assert.equal(element.uidl_count, 3);
  assert.equal(element.oldest_message_timestamp, ALICE.dates[0]);
  assert.equal(element.auth_method, 'plain');
  assert.ok(
    element.tls?.protocol === 'TLSv1.2' || element.tls?.protocol === 'TLSv1.3',
    `protocol ${element.tls?.protocol}`,
  );
  // The capabilities after STLS (probe-dovecot.test.ts compares the whole list).
  assert.ok(element.capabilities.includes('PIPELINING'));
  assert.ok(element.capabilities.includes('SASL PLAIN LOGIN XOAUTH2 OAUTHBEARER'));
  assert.equal(element.capabilities.includes('STLS'), false);
}

describe('pop3-monitor probe against Dovecot', () => {
  const config = writeConfig(
    'probe.yaml',
    `defaults:
  host: ${DOVECOT.host}
  port: ${DOVECOT.plainPort}
  tls: none
mailboxes:
  - name: alice
    tls: starttls
    tls_ca_file: ${DOVECOT.caFile}
    username: ${USERS.alice.user}
    password: ${USERS.alice.password}
  - name: empty
    username: ${USERS.empty.user}
    password: ${USERS.empty.password}
  - name: wrong
    username: ${USERS.alice.user}
    password: \${WRONG_PASSWORD}
`,
  );
  const env = { WRONG_PASSWORD: CANARY.wrong };

  it('--json: one JSON array in config order, exit 1 since one mailbox failed', () => {
    const result = cli(['probe', '--config', config, '--json'], env);
    assert.equal(result.status, 1, result.stderr);
    const elements = JSON.parse(result.stdout) as ProbeElement[];
    assert.ok(Array.isArray(elements));
    assert.deepEqual(
      elements.map((e) => e.mailbox),
      ['alice', 'empty', 'wrong'],
    );
    for (const element of elements)
      assertInterfaceShape(element as unknown as Record<string, unknown>);
    const [alice, empty, wrong] = elements as [ProbeElement, ProbeElement, ProbeElement];
    assertAliceOverStls(alice);
    assert.deepEqual(
      [empty.success, empty.messages, empty.size_bytes, empty.oldest_message_timestamp],
      [true, 0, 0, null],
    );
    assert.equal(wrong.success, false);
    assert.deepEqual(wrong.error, {
      code: 'auth',
      message: 'login refused at AUTH PLAIN: -ERR [AUTH] Authentication failed.',
      response: '-ERR [AUTH] Authentication failed.',
      command: 'AUTH PLAIN',
      phase: 'auth',
    });
    assertNoCanary(result);
  });

  it('--mailbox alice: only alice, exit 0', () => {
    const result = cli(['probe', '--config', config, '--json', '--mailbox', 'alice'], env);
    assert.equal(result.status, 0, result.stderr);
    const elements = JSON.parse(result.stdout) as ProbeElement[];
    assert.equal(elements.length, 1);
    assertAliceOverStls(elements[0] as ProbeElement);
  });

  it('--mailbox nope: exit 2, naming the unknown mailbox', () => {
    const result = cli(['probe', '--config', config, '--json', '--mailbox', 'nope'], env);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^--mailbox: no mailbox named "nope" in the config$/m);
    assert.equal(result.stdout, '');
  });

  it('--shard I/N probes exactly the mailboxes of that shard; the shards cover all once', () => {
    const seen: string[] = [];
    for (const index of [0, 1]) {
      const result = cli(['probe', '--config', config, '--json', '--shard', `${index}/2`], env);
      const names = (JSON.parse(result.stdout) as ProbeElement[]).map((e) => e.mailbox);
      assert.deepEqual(
        names,
        ['alice', 'empty', 'wrong'].filter((n) => shardOf(n, 2) === index),
      );
      seen.push(...names);
    }
    assert.deepEqual(seen.sort(), ['alice', 'empty', 'wrong']);
  });

  it('a bad --shard: exit 2 with the reason, nothing probed', () => {
    const result = cli(['probe', '--config', config, '--json', '--shard', '2/2'], env);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^--shard: INDEX 2 is not below COUNT 2/m);
    assert.equal(result.stdout, '');
  });

  it('without --json: one line per mailbox, OK or FAIL, exit 1', () => {
    const result = cli(['probe', '--config', config], env);
    assert.equal(result.status, 1, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, result.stdout);
    const oldest = new Date((ALICE.dates[0] as number) * 1000).toISOString().replace('.000Z', 'Z');
    assert.match(
      lines[0] as string,
      new RegExp(
        `^alice  OK    3 messages, ${ALICE.octets} bytes, oldest ${oldest} \\(.+ ago\\), TLSv1\\.[23]  total `,
      ),
    );
    assert.match(lines[1] as string, /^empty {2}OK {4}0 messages, 0 bytes {2}total /);
    assert.match(
      lines[2] as string,
      /^wrong {2}FAIL {2}auth in auth: login refused at AUTH PLAIN: -ERR \[AUTH\] Authentication failed\. {2}total /,
    );
    assertNoCanary(result);
  });
});

describe('pop3-monitor probe and the capability cache in state_dir', () => {
  const stateDir = join(DIR, 'probe-state');
  const yaml = (dir: string) => `state_dir: ${dir}
mailboxes:
  - name: alice
    host: ${DOVECOT.host}
    port: ${DOVECOT.tlsPort}
    tls: implicit
    tls_ca_file: ${DOVECOT.caFile}
    username: ${USERS.alice.user}
    password: ${USERS.alice.password}
`;
  const phasesOf = (result: RunResult) =>
    (JSON.parse(result.stdout) as { phases: Record<string, number> }[])[0]?.phases ?? {};

  it('asks CAPA once, remembers the answer in state_dir, and the next probe skips it', () => {
    mkdirSync(stateDir, { recursive: true });
    const config = writeConfig('cached.yaml', yaml(stateDir));
    const first = cli(['probe', '--config', config, '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.ok(phasesOf(first).capa !== undefined, 'the first probe did not ask CAPA');
    const cache = JSON.parse(readFileSync(join(stateDir, 'capabilities.json'), 'utf8')) as Record<
      string,
      { before: string[] }
    >;
    assert.deepEqual(Object.keys(cache), [`${DOVECOT.host}:${DOVECOT.tlsPort}/implicit`]);
    assert.ok(Object.values(cache)[0]?.before.includes('PIPELINING'));
    const second = cli(['probe', '--config', config, '--json']);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(phasesOf(second).capa, undefined, 'the second probe asked CAPA again');
    const element = (JSON.parse(second.stdout) as ProbeElement[])[0] as ProbeElement;
    assert.equal(element.messages, ALICE.count);
    assert.ok(element.capabilities.includes('PIPELINING'));
  });

  it('creates no state_dir that does not exist', () => {
    const missing = join(DIR, 'no-such-state');
    const result = cli(['probe', '--config', writeConfig('nostate.yaml', yaml(missing)), '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(phasesOf(result).capa !== undefined);
    assert.equal(existsSync(missing), false);
  });
});
