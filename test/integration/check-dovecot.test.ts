/**
 * `pop3-monitor check` (the Monitoring Plugins mode) as Nagios or Icinga runs it: the
 * built CLI against the real Dovecot of test/servers, its first line parsed as the plugin
 * guidelines define it, its exit status the plugin state.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aliceExpected, DOVECOT, USERS } from '../servers/env.js';
import { cliCommand, ensureBuilt, type RunResult, run } from './shipping-support.js';

const DIR = mkdtempSync(join(tmpdir(), 'pop3-monitor-check-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
before(() => ensureBuilt());

const ALICE = aliceExpected();
const WRONG = 'wrong-password-Zq72';

function file(name: string, text: string): string {
  const path = join(DIR, name);
  writeFileSync(path, text);
  return path;
}

const PASSWORD_FILE = file('alice-password', `${USERS.alice.password}\n`);
const WRONG_FILE = file('wrong-password', `${WRONG}\n`);

function check(args: string[], env: Record<string, string> = {}): RunResult {
  const clean: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env.POP3_MONITOR_CONFIG === undefined) delete clean.POP3_MONITOR_CONFIG;
  return run(process.execPath, [...cliCommand().args, 'check', ...args], { cwd: DIR, env: clean });
}

/** alice on the STLS port, verified against the test CA. */
const ALICE_STLS = [
  '--host',
  DOVECOT.host,
  '--port',
  String(DOVECOT.plainPort),
  '--tls',
  'starttls',
  '--tls-ca-file',
  DOVECOT.caFile,
  '--user',
  USERS.alice.user,
  '--password-file',
  PASSWORD_FILE,
];

interface PerfDatum {
  value: number;
  uom: string;
  warn: string;
  crit: string;
  min: string;
  max: string;
}

/**
 * The first line as the guidelines define it: `SERVICE STATE - text | perfdata`, perfdata
 * being space-separated `'label'=value[UOM];[warn];[crit];[min];[max]`.
 */
function parsePluginOutput(stdout: string): {
  state: string;
  text: string;
  perf: Map<string, PerfDatum>;
} {
  const first = stdout.split('\n')[0] ?? '';
  const bar = first.indexOf('|');
  assert.ok(bar > 0, `no perfdata in ${JSON.stringify(first)}`);
  assert.equal(first.indexOf('|', bar + 1), -1, 'one | only');
  const head = /^POP3 (OK|WARNING|CRITICAL|UNKNOWN) - (.+)$/.exec(first.slice(0, bar).trim());
  assert.ok(head, `not a plugin line: ${JSON.stringify(first)}`);
  const perf = new Map<string, PerfDatum>();
  for (const item of first
    .slice(bar + 1)
    .trim()
    .split(' ')) {
    const m =
      /^('(?:[^']|'')+'|[^'=\s]+)=(-?\d+(?:\.\d+)?)([a-zA-Z%]*)(?:;([^;]*))?(?:;([^;]*))?(?:;([^;]*))?(?:;([^;]*))?$/.exec(
        item,
      );
    assert.ok(m, `not perfdata: ${JSON.stringify(item)}`);
    perf.set(m[1] as string, {
      value: Number(m[2]),
      uom: m[3] ?? '',
      warn: m[4] ?? '',
      crit: m[5] ?? '',
      min: m[6] ?? '',
      max: m[7] ?? '',
    });
  }
  return { state: head[1] as string, text: head[2] as string, perf };
}

function assertExit(result: RunResult, status: number, state: string): void {
  assert.equal(result.status, status, `${result.stdout}${result.stderr}`);
  assert.ok(result.stdout.startsWith(`POP3 ${state} - `), result.stdout);
  assert.equal(result.stderr, '', 'a plugin says everything on stdout');
}

describe('check: against the real Dovecot', { timeout: 60_000 }, () => {
  it('OK: messages, size and oldest age as perfdata, thresholds echoed', () => {
    const result = check([
      ...ALICE_STLS,
      '--warning-messages',
      '10',
      '--critical-messages',
      '20',
      '--warning-time',
      '5s',
    ]);
    assertExit(result, 0, 'OK');
    const { text, perf } = parsePluginOutput(result.stdout);
    assert.match(text, /^3 messages, oldest \d+d \d+h, \d+ ms$/);
    assert.deepEqual(perf.get('messages'), {
      value: ALICE.count,
      uom: '',
      warn: '10',
      crit: '20',
      min: '0',
      max: '',
    });
    assert.deepEqual(perf.get('size'), {
      value: ALICE.octets,
      uom: 'B',
      warn: '',
      crit: '',
      min: '0',
      max: '',
    });
    const time = perf.get('time');
    assert.equal(time?.uom, 's');
    assert.equal(time?.warn, '5');
    assert.ok(time && time.value > 0 && time.value < 5);
    const age = perf.get('age')?.value ?? 0;
    const expectedAge = Date.now() / 1000 - (ALICE.dates[0] ?? 0);
    assert.ok(Math.abs(age - expectedAge) < 30, `age ${age}, expected about ${expectedAge}`);
    for (const phase of ['connect', 'stls', 'tls', 'auth', 'stat'])
      assert.ok(perf.has(`time_${phase}`), `time_${phase} in ${result.stdout}`);
  });

  it('WARNING and CRITICAL by threshold, with the crossed limit named', () => {
    const warning = check([...ALICE_STLS, '--warning-messages', '2', '--critical-messages', '5']);
    assertExit(warning, 1, 'WARNING');
    assert.match(parsePluginOutput(warning.stdout).text, /^3 messages \(> 2\), /);

    const critical = check([...ALICE_STLS, '--warning-messages', '1', '--critical-age', '1h']);
    assertExit(critical, 2, 'CRITICAL');
    const { text, perf } = parsePluginOutput(critical.stdout);
    assert.match(text, /^3 messages \(> 1\), oldest \d+d \d+h \(> 3600s\), /);
    assert.equal(perf.get('age')?.crit, '3600');
  });

  it('implicit TLS on 995 and the empty mailbox (no age)', () => {
    const result = check([
      '--host',
      DOVECOT.host,
      '--port',
      String(DOVECOT.tlsPort),
      '--tls-ca-file',
      DOVECOT.caFile,
      '--user',
      USERS.empty.user,
      '--password-file',
      file('empty-password', USERS.empty.password),
      '--critical-age',
      '1s',
    ]);
    assertExit(result, 0, 'OK');
    const { text, perf } = parsePluginOutput(result.stdout);
    assert.match(text, /^0 messages, \d+ ms$/);
    assert.equal(perf.has('age'), false);
    assert.ok(perf.has('time_tls'));
  });

  it('CRITICAL for a wrong password, the password nowhere; -v shows the masked transcript', () => {
    const result = check([...ALICE_STLS.slice(0, -1), WRONG_FILE, '--auth', 'plain', '--verbose']);
    assertExit(result, 2, 'CRITICAL');
    const { text, perf } = parsePluginOutput(result.stdout);
    assert.match(text, /^auth: login refused at AUTH PLAIN: -ERR \[AUTH\] .* \(after \d+ ms\)$/);
    assert.ok(perf.has('time'));
    const transcript = result.stdout.split('\n').slice(1).join('\n');
    assert.match(transcript, /C: STLS\n/);
    assert.match(transcript, /C: AUTH PLAIN \*\*\*\n/);
    assert.match(transcript, /S: -ERR \[AUTH\] /);
    assert.equal(result.stdout.includes(WRONG), false);
    const blob = Buffer.from(`\0${USERS.alice.user}\0${WRONG}`).toString('base64');
    assert.equal(result.stdout.includes(blob), false);
  });

  it('--config FILE --mailbox NAME probes that mailbox of the config', () => {
    const config = file(
      'config.yaml',
      [
        'mailboxes:',
        '  - name: alice',
        `    host: ${DOVECOT.host}`,
        `    port: ${DOVECOT.tlsPort}`,
        `    tls_ca_file: ${DOVECOT.caFile}`,
        `    username: ${USERS.alice.user}`,
        `    password_file: ${PASSWORD_FILE}`,
        '',
      ].join('\n'),
    );
    const result = check(['--config', config, '--mailbox', 'alice', '--critical-messages', '3']);
    assertExit(result, 0, 'OK');
    assert.equal(parsePluginOutput(result.stdout).perf.get('messages')?.crit, '3');
    const byEnv = check(['--mailbox', 'alice'], { POP3_MONITOR_CONFIG: config });
    assertExit(byEnv, 0, 'OK');
    const unknown = check(['--config', config, '--mailbox', 'bob']);
    assertExit(unknown, 3, 'UNKNOWN');
    assert.match(unknown.stdout, /--mailbox: no mailbox named "bob" in /);
  });

  it('UNKNOWN (3) for a bad argument, an unreadable file or a bad config', () => {
    const badRange = check([...ALICE_STLS, '--warning-age', '2y']);
    assertExit(badRange, 3, 'UNKNOWN');
    assert.match(badRange.stdout, /^POP3 UNKNOWN - --warning-age: "2y" is not a threshold range/);

    const unknownFlag = check([...ALICE_STLS, '--warnnig-messages', '1']);
    assertExit(unknownFlag, 3, 'UNKNOWN');

    const missing = check([...ALICE_STLS.slice(0, -1), join(DIR, 'nope')]);
    assertExit(missing, 3, 'UNKNOWN');
    assert.match(missing.stdout, /--password-file: cannot read .*nope: no such file/);

    const config = file('bad.yaml', 'mailboxes:\n  - name: x\n    host: h\n    port: 70000\n');
    const badConfig = check(['--config', config, '--mailbox', 'x']);
    assertExit(badConfig, 3, 'UNKNOWN');
    assert.match(badConfig.stdout, /^POP3 UNKNOWN - invalid config: mailboxes\[0\]\./);
  });

  it('CRITICAL when nothing listens (the service is down, not the check)', () => {
    const result = check([
      '--host',
      '127.0.0.1',
      '--port',
      '1',
      '--tls',
      'none',
      '--user',
      'x',
      '--password-file',
      PASSWORD_FILE,
    ]);
    assertExit(result, 2, 'CRITICAL');
    assert.match(
      parsePluginOutput(result.stdout).text,
      /^connect: connect to 127\.0\.0\.1:1 failed: ECONNREFUSED \(after \d+ ms\)$/,
    );
  });
});
