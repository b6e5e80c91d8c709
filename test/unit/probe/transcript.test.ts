import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ProbeResult } from '../../../src/probe/result.js';
import {
  formatTranscript,
  maskCommandLine,
  type Transcript,
  TranscriptRecorder,
} from '../../../src/probe/transcript.js';
import { Secret, secretMasker } from '../../../src/secret.js';
import { makeMessage, tlsFixture } from '../../fixtures/fake-pop3-server.js';
import {
  aliceMailbox,
  mailboxFor,
  PASSWORD,
  ServerLedger,
  USER,
} from '../../fixtures/probe-harness.js';
import { traceOf } from '../../fixtures/secret-trace.js';

const ledger = new ServerLedger();
after(() => ledger.verify());

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function transcriptOf(result: ProbeResult): Transcript {
  assert.ok(result.transcript, 'the result has a transcript');
  return result.transcript;
}

/** The lines one side sent, in order. */
function side(result: ProbeResult, dir: 'C' | 'S' | '*'): string[] {
  return transcriptOf(result)
    .lines.filter((l) => l.dir === dir)
    .map((l) => l.text);
}

function assertNoPassword(result: ProbeResult): void {
  assert.equal(traceOf(JSON.stringify(result.transcript), PASSWORD), null);
}

describe('transcript: what the client sent, masked by command', { timeout: 20_000 }, () => {
  it('USER/PASS: every command and reply in order with offsets; PASS masked', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server, { auth: 'user' }), {
      transcript: true,
    });
    assert.equal(result.success, true, result.error?.message);
    assert.deepEqual(side(result, 'C'), [
      'CAPA',
      `USER ${USER}`,
      'PASS ***',
      'STAT',
      'NOOP',
      'UIDL',
      'TOP 1 0',
      'QUIT',
    ]);
    const lines = transcriptOf(result).lines;
    assert.deepEqual(lines[0], {
      ...lines[0],
      dir: '*',
      text: `connected to 127.0.0.1:${server.port}`,
    });
    assert.equal(lines[1]?.text, '+OK fake POP3 ready <1896.697170952@fake.test>');
    // CAPA's block: status, every capability, the terminator.
    const capa = lines.findIndex((l) => l.text === 'CAPA');
    assert.deepEqual(
      lines.slice(capa + 1, capa + 4).map((l) => `${l.dir} ${l.text}`),
      ['S +OK Capability list follows', 'S TOP', 'S UIDL'],
    );
    assert.equal(
      side(result, 'S').filter((s) => s === '.').length,
      3,
      'CAPA, UIDL and TOP end with "."',
    );
    assert.equal(lines.at(-1)?.text, 'probe succeeded');
    for (let i = 1; i < lines.length; i++) {
      const [a, b] = [lines[i - 1]?.at_ms ?? 0, lines[i]?.at_ms ?? 0];
      assert.ok(a >= 0 && b >= a, `offsets grow: ${a} then ${b}`);
    }
    assertNoPassword(result);
  });

  const logins = [
    {
      auth: 'plain' as const,
      caps: ['SASL PLAIN'],
      expected: ['CAPA', 'AUTH PLAIN ***'],
    },
    {
      auth: 'login' as const,
      caps: ['SASL LOGIN'],
      expected: ['CAPA', 'AUTH LOGIN', '***', '***'],
    },
    { auth: 'apop' as const, caps: ['USER'], expected: ['CAPA', `APOP ${USER} ***`] },
  ];
  for (const { auth, caps, expected } of logins) {
    it(`auth ${auth}: ${expected.slice(1).join(', ')}`, async (t) => {
      const server = await ledger.start(t, { capabilities: ['TOP', 'UIDL', ...caps] });
      const result = await ledger.probe(server, mailboxFor(server, { auth, pipelining: false }), {
        transcript: true,
      });
      assert.equal(result.success, true, result.error?.message);
      assert.deepEqual(side(result, 'C').slice(0, expected.length), expected);
      assert.equal(side(result, 'C')[expected.length], 'STAT');
      assertNoPassword(result);
    });
  }

  it('AUTH LOGIN: the server challenges are shown, the answers are not', async (t) => {
    const server = await ledger.start(t, { capabilities: ['SASL LOGIN'] });
    const result = await ledger.probe(server, mailboxFor(server, { auth: 'login' }), {
      transcript: true,
    });
    assert.deepEqual(
      side(result, 'S').filter((line) => line.startsWith('+ ')),
      [`+ ${b64('Username:')}`, `+ ${b64('Password:')}`],
    );
    assert.equal(traceOf(side(result, 'C').join('\n'), USER), null, 'the user name too');
  });

  it('a refused XOAUTH2 token: AUTH masked, the error challenge shown, the empty line kept', async (t) => {
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: 'the-good-token' } });
    const token = 'ya29.expired-token-value';
    const result = await ledger.probe(
      server,
      mailboxFor(server, { auth: 'xoauth2', password: new Secret(token) }),
      { transcript: true },
    );
    assert.equal(result.error?.code, 'auth');
    assert.deepEqual(side(result, 'C'), ['CAPA', 'AUTH XOAUTH2 ***', '']);
    assert.match(side(result, 'S').at(-2) ?? '', /^\+ eyJ/);
    assert.match(side(result, 'S').at(-1) ?? '', /^-ERR/);
    assert.match(
      side(result, '*').at(-1) ?? '',
      /^failed in auth: auth: login refused at AUTH XOAUTH2/,
    );
    assert.equal(traceOf(JSON.stringify(result.transcript), token), null);
  });

  for (const [label, capabilities] of [
    ['PASS', ['USER']],
    ['AUTH PLAIN', ['SASL PLAIN']],
  ] as const) {
    it(`a server echoing the password at ${label}: the echo is masked too`, async (t) => {
      const server = await ledger.start(t, {
        capabilities: [...capabilities],
        onCommand: (s, command, _args, line) => {
          if (command !== 'PASS' && command !== 'AUTH') return undefined;
          s.reply(`-ERR [AUTH] you sent ${line} ${PASSWORD} ${b64(PASSWORD)}`);
          return true;
        },
      });
      const result = await ledger.probe(server, mailboxFor(server, { pipelining: false }), {
        transcript: true,
      });
      assert.equal(result.error?.code, 'auth');
      const refusal = side(result, 'S').at(-1) ?? '';
      assert.match(refusal, /^-ERR \[AUTH\] you sent /);
      assert.ok(refusal.includes('***'), refusal);
      assertNoPassword(result);
    });
  }

  it('STLS: the handshake shows between STLS and the second CAPA', async (t) => {
    const server = await ledger.start(t, { tls: { mode: 'starttls', ...tlsFixture('localhost') } });
    const result = await ledger.probe(
      server,
      mailboxFor(server, { tls: 'starttls', tls_servername: 'localhost' }),
      {
        transcript: true,
      },
    );
    assert.equal(result.success, true, result.error?.message);
    const texts = transcriptOf(result).lines.map((l) => `${l.dir} ${l.text}`);
    const stls = texts.indexOf('C STLS');
    assert.ok(stls > 0);
    assert.match(texts[stls + 1] ?? '', /^S \+OK/);
    assert.match(texts[stls + 2] ?? '', /^\* TLS TLSv1\.[23] /);
    assert.equal(texts[stls + 3], 'C CAPA');
  });

  it('no transcript unless asked for', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.transcript, undefined);
  });
});

describe('transcript: bounded and printable', { timeout: 20_000 }, () => {
  it('a long UIDL shows its first 12 lines and how many more there were', async (t) => {
    const messages = Array.from({ length: 40 }, (_, i) => makeMessage({ subject: `m${i}` }));
    const server = await ledger.start(t, { mailboxes: [aliceMailbox(messages)] });
    const result = await ledger.probe(server, mailboxFor(server), { transcript: true });
    const texts = transcriptOf(result).lines.map((l) => l.text);
    const more = texts.indexOf('(28 more lines not shown)');
    assert.ok(more > 0, texts.join('\n'));
    assert.match(texts[more - 1] ?? '', /^12 /);
    assert.equal(texts[more + 1], '.');
  });

  it('past maxLines only a count is kept; long lines are cut; control characters escaped', () => {
    const recorder = new TranscriptRecorder(0, { maxLines: 3, maxBlockLines: 2, maxLineChars: 20 });
    recorder.event('connected', 1);
    recorder.received(
      { kind: 'ok', status: '+OK \x1b[31mred\x07', text: '', lines: null, bytes: 0 },
      null,
      2.04,
    );
    recorder.sent(`USER ${'x'.repeat(40)}`, 'USER', 3);
    recorder.sent('PASS hunter2', 'PASS', 4);
    recorder.sent('QUIT', 'QUIT', 5);
    const transcript = recorder.finish((text) => text);
    assert.deepEqual(transcript, {
      lines: [
        { at_ms: 1, dir: '*', text: 'connected' },
        { at_ms: 2, dir: 'S', text: '+OK \\x1b[31mred\\x07' },
        { at_ms: 3, dir: 'C', text: `USER ${'x'.repeat(14)}…` },
      ],
      omitted: 2,
    });
    assert.equal(
      formatTranscript(transcript),
      '     1.0 ms     connected\n     2.0 ms  S: +OK \\x1b[31mred\\x07\n     3.0 ms  C: USER xxxxxxxxxxxxxx…\n(2 more lines not kept)\n',
    );
  });

  it('a body line starting with "." is shown dot-stuffed, as on the wire', () => {
    const recorder = new TranscriptRecorder(0);
    recorder.received(
      { kind: 'ok', status: '+OK', text: '', lines: ['.hidden', 'x'], bytes: 0 },
      'TOP',
      1,
    );
    assert.deepEqual(
      recorder.finish((text) => text).lines.map((l) => l.text),
      ['+OK', '..hidden', 'x', '.'],
    );
  });

  it('secrets are masked before a line is cut, so no prefix of one survives', () => {
    const secret = new Secret('abcdefghijklmnopqrstuvwxyz');
    const recorder = new TranscriptRecorder(0, {
      maxLines: 10,
      maxBlockLines: 10,
      maxLineChars: 12,
    });
    recorder.received(
      { kind: 'err', status: `-ERR ${secret.reveal()}`, text: '', lines: null, bytes: 0 },
      'PASS',
      1,
    );
    assert.deepEqual(
      recorder.finish(secretMasker([secret])).lines.map((l) => l.text),
      ['-ERR ***'],
    );
  });
});

describe('maskCommandLine', () => {
  const cases: [string, string, string][] = [
    ['PASS secret', 'PASS', 'PASS ***'],
    ['APOP alice 0123456789abcdef0123456789abcdef', 'APOP', 'APOP alice ***'],
    ['AUTH PLAIN AGFsaWNlAHNlY3JldA==', 'AUTH PLAIN', 'AUTH PLAIN ***'],
    ['AUTH PLAIN', 'AUTH PLAIN', 'AUTH PLAIN'],
    ['AGFsaWNlAHNlY3JldA==', 'AUTH PLAIN', '***'],
    ['*', 'AUTH LOGIN', '*'],
    ['', 'AUTH XOAUTH2', ''],
    ['AQ==', 'AUTH OAUTHBEARER', '***'],
    ['TOP 1 0', 'TOP', 'TOP 1 0'],
    ['USER alice', 'USER', 'USER alice'],
    ['XSECRET token-here', 'XSECRET', 'XSECRET ***'],
  ];
  for (const [line, command, shown] of cases) {
    it(`${JSON.stringify(line)} (${command}) shows as ${JSON.stringify(shown)}`, () => {
      assert.equal(maskCommandLine(line, command), shown);
    });
  }
});
