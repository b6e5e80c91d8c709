import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CheckUsageError, parseCheckArgs } from '../../../src/check/args.js';

function check(argv: string[]) {
  const request = parseCheckArgs(argv);
  assert.equal(request.kind, 'check');
  return request as Extract<typeof request, { kind: 'check' }>;
}

describe('parseCheckArgs', () => {
  it('--config and --mailbox', () => {
    const request = check(['--config', 'c.yaml', '-m', 'support']);
    assert.deepEqual(request.target, { kind: 'config', path: 'c.yaml', mailbox: 'support' });
    assert.equal(request.timeoutMs, undefined);
  });

  it('--mailbox alone leaves the config to $POP3_MONITOR_CONFIG', () => {
    assert.deepEqual(check(['-m', 'support']).target, {
      kind: 'config',
      path: undefined,
      mailbox: 'support',
    });
  });

  it('--host with defaults: implicit TLS on 995, auto auth; 110 for starttls and none', () => {
    const request = check(['-H', 'pop.example.com', '-u', 'me', '--password-file', 'pw']);
    assert.deepEqual(request.target, {
      kind: 'server',
      host: 'pop.example.com',
      port: 995,
      tls: 'implicit',
      tlsCaFile: undefined,
      user: 'me',
      passwordFile: 'pw',
      auth: 'auto',
    });
    const stls = check(['-H', 'h', '-u', 'me', '--password-file', 'pw', '--tls', 'starttls']);
    assert.equal(stls.target.kind === 'server' && stls.target.port, 110);
  });

  it('thresholds in range syntax with units, and the timeout', () => {
    const request = check([
      '-m',
      'x',
      '--warning-messages',
      '100',
      '--critical-messages',
      '500',
      '--critical-age',
      '2h',
      '--warning-size',
      '1MiB:',
      '--warning-time',
      '@0:500ms',
      '-t',
      '3s',
    ]);
    assert.deepEqual(request.thresholds, {
      warning: {
        messages: { start: 0, end: 100, inside: false },
        size: { start: 1048576, end: Number.POSITIVE_INFINITY, inside: false },
        time: { start: 0, end: 0.5, inside: true },
      },
      critical: {
        messages: { start: 0, end: 500, inside: false },
        age: { start: 0, end: 7200, inside: false },
      },
    });
    assert.equal(request.timeoutMs, 3000);
  });

  it('--help and --version', () => {
    assert.deepEqual(parseCheckArgs(['--help']), { kind: 'help' });
    assert.deepEqual(parseCheckArgs(['-V']), { kind: 'version' });
  });

  const bad: [string[], string][] = [
    [[], 'either --config FILE --mailbox NAME or --host HOST is required'],
    [['--config', 'c.yaml'], 'either --config FILE --mailbox NAME or --host HOST is required'],
    [['-m', 'x', '--user', 'me'], '--user needs --host (it does not apply to --config)'],
    [['-H', 'h', '-m', 'x'], '--mailbox and --host exclude each other'],
    [['-H', 'h', '--password-file', 'pw'], '--user is required with --host'],
    [['-H', 'h', '-u', 'me'], '--password-file is required with --host'],
    [['-H', 'h', '-u', 'me', '--password-file', 'p', '-p', '0'], '--port: expected 1-65535'],
    [['-H', 'h', '-u', 'me', '--password-file', 'p', '-p', '99999'], '--port: expected 1-65535'],
    [
      ['-H', 'h', '-u', 'me', '--password-file', 'p', '--tls', 'ssl'],
      '--tls: expected one of implicit, starttls, none',
    ],
    [
      ['-H', 'h', '-u', 'me', '--password-file', 'p', '--auth', 'cram-md5'],
      '--auth: expected one of auto, user, apop, plain, login, xoauth2, oauthbearer',
    ],
    [
      ['-m', 'x', '--warning-age', '2y'],
      '--warning-age: "2y" is not a threshold range (units: s, m, h, d)',
    ],
    [
      ['-m', 'x', '--critical-messages', '10:5'],
      '--critical-messages: "10:5": the start of a range must not exceed its end',
    ],
    [['-m', 'x', '-t', 'soon'], '--timeout: expected a duration such as 10s'],
    [['-m', 'x', 'extra'], 'unexpected argument "extra"'],
  ];
  for (const [argv, message] of bad) {
    it(`${JSON.stringify(argv)}: ${message}`, () => {
      assert.throws(
        () => parseCheckArgs(argv),
        (error: unknown) => {
          assert.ok(error instanceof CheckUsageError);
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }

  it('an unknown flag is a usage error', () => {
    assert.throws(() => parseCheckArgs(['-m', 'x', '--warning-mesages', '1']), CheckUsageError);
  });
});
