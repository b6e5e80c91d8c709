import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { MailboxConfig } from '../../../src/config/schema.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import { Secret } from '../../../src/secret.js';
import {
  DEFAULT_CAPABILITIES,
  type FakePop3Options,
  makeMessage,
  tlsFixture,
} from '../../fixtures/fake-pop3-server.js';
import {
  aliceMailbox,
  assertPhasesSane,
  mailboxFor,
  octets,
  PASSWORD,
  ServerLedger,
  startRecordingProxy,
  USER,
} from '../../fixtures/probe-harness.js';
import { traceOf } from '../../fixtures/secret-trace.js';

const ledger = new ServerLedger();
after(() => ledger.verify());

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const PLAIN_IR = `AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`;
/** Mon, 02 Mar 2026 10:00:00 +0000: message 1 of aliceMailbox(). */
const FIRST_DATE = Date.UTC(2026, 2, 2, 10, 0, 0) / 1000;
const TRANSACTION = ['STAT', 'NOOP', 'UIDL', 'TOP 1 0', 'QUIT'];

function phaseNames(result: ProbeResult): string[] {
  return Object.keys(result.phases).sort();
}

describe('probeMailbox: figures', { timeout: 20_000 }, () => {
  it('reports STAT count and octets, UIDL count and the Date: of message 1', async (t) => {
    const mailbox = aliceMailbox();
    const server = await ledger.start(t, { mailboxes: [mailbox] });
    const result = await ledger.probe(server, mailboxFor(server), { now: () => 1_700_000_000_500 });
    assert.equal(result.error, null);
    assert.equal(result.success, true);
    assert.equal(result.mailbox, 'fake');
    assert.equal(result.messages, 2);
    assert.equal(result.size_bytes, octets(mailbox.messages));
    assert.equal(result.uidl_count, 2);
    assert.equal(result.oldest_message_timestamp, FIRST_DATE);
    assert.equal(result.started_at, 1_700_000_000.5);
    assert.equal(result.auth_method, 'plain');
    assert.deepEqual(result.capabilities, [...DEFAULT_CAPABILITIES]);
    assert.equal(result.tls, null);
    assert.equal(result.login_delay_seconds, null);
    assert.deepEqual(server.allCommands, ['CAPA', PLAIN_IR, ...TRANSACTION]);
    assertPhasesSane(result);
  });

  it('falls back to the newest Received: when message 1 has no Date:', async (t) => {
    const noDate = [
      'Received: from mx.fake.test by pop.fake.test; Tue, 03 Mar 2026 09:15:00 +0000',
      'Received: from older.fake.test by mx.fake.test; Mon, 02 Mar 2026 08:00:00 +0000',
      'From: someone@fake.test',
      'Subject: no date',
      '',
      'body',
      '',
    ].join('\r\n');
    const server = await ledger.start(t, {
      mailboxes: [aliceMailbox([noDate, makeMessage({ date: 'Wed, 01 Jan 2025 00:00:00 +0000' })])],
    });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.success, true);
    assert.equal(result.oldest_message_timestamp, Date.UTC(2026, 2, 3, 9, 15, 0) / 1000);
  });

  it('an empty mailbox is a success with oldest null; the pipelined TOP -ERR is no error', async (t) => {
    const server = await ledger.start(t, { mailboxes: [aliceMailbox([])] });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.error, null);
    assert.equal(result.success, true);
    assert.equal(result.messages, 0);
    assert.equal(result.size_bytes, 0);
    assert.equal(result.uidl_count, 0);
    assert.equal(result.oldest_message_timestamp, null);
    assert.equal(result.pipelined, true);
    assert.deepEqual(server.allCommands, ['CAPA', PLAIN_IR, ...TRANSACTION]);
  });

  it('asks TOP 1 n with the configured top_lines', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server, { top_lines: 3 }));
    assert.equal(result.success, true);
    assert.equal(result.oldest_message_timestamp, FIRST_DATE);
    assert.ok(server.allCommands.includes('TOP 1 3'));
  });

  it('reports LOGIN-DELAY from CAPA (RFC 2449 §6.8)', async (t) => {
    const server = await ledger.start(t, {
      capabilities: [...DEFAULT_CAPABILITIES, 'LOGIN-DELAY 900'],
    });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.success, true);
    assert.equal(result.login_delay_seconds, 900);
  });
});

describe('probeMailbox: optional commands', { timeout: 20_000 }, () => {
  it('asks only what CAPA lists: no UIDL and no TOP when they are missing', async (t) => {
    const server = await ledger.start(t, { capabilities: ['USER', 'PIPELINING'] });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.success, true);
    assert.equal(result.messages, 2);
    assert.equal(result.uidl_count, null);
    assert.equal(result.oldest_message_timestamp, null);
    assert.deepEqual(server.allCommands, [
      'CAPA',
      `USER ${USER}`,
      `PASS ${PASSWORD}`,
      'STAT',
      'NOOP',
      'QUIT',
    ]);
  });

  it('a plain -ERR to UIDL or TOP is no failure: the figure is just unknown', async (t) => {
    const server = await ledger.start(t, {
      onCommand: (s, command) => {
        if (command !== 'UIDL' && command !== 'TOP') return undefined;
        s.reply('-ERR not today');
        return true;
      },
    });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.success, true, result.error?.message);
    assert.equal(result.messages, 2);
    assert.equal(result.uidl_count, null);
    assert.equal(result.oldest_message_timestamp, null);
  });

  it('an -ERR with a response code to UIDL ends the probe with that reason', async (t) => {
    const server = await ledger.start(t, {
      onCommand: (s, command) => {
        if (command !== 'UIDL') return undefined;
        s.reply('-ERR [SYS/TEMP] index busy');
        return true;
      },
    });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.success, false);
    assert.equal(result.error?.code, 'server_temp');
    assert.equal(result.error?.command, 'UIDL');
  });
});

describe('probeMailbox: choosing the login', { timeout: 20_000 }, () => {
  const cases: { caps: string[]; method: string; first: string }[] = [
    { caps: ['USER', 'SASL LOGIN PLAIN'], method: 'plain', first: PLAIN_IR },
    { caps: ['USER', 'SASL LOGIN'], method: 'login', first: 'AUTH LOGIN' },
    { caps: ['USER', 'SASL CRAM-MD5'], method: 'user', first: `USER ${USER}` },
    { caps: ['TOP', 'UIDL'], method: 'user', first: `USER ${USER}` },
  ];
  for (const { caps, method, first } of cases) {
    it(`auto picks ${method} when CAPA lists ${JSON.stringify(caps)} (never APOP)`, async (t) => {
      const server = await ledger.start(t, { capabilities: caps });
      const result = await ledger.probe(server, mailboxFor(server));
      assert.equal(result.success, true, result.error?.message);
      assert.equal(result.auth_method, method);
      assert.equal(server.allCommands[1], first);
      assert.ok(!server.allCommands.some((line) => line.startsWith('APOP')));
    });
  }

  it('APOP only when asked for', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server, { auth: 'apop' }));
    assert.equal(result.success, true);
    assert.equal(result.auth_method, 'apop');
    assert.match(server.allCommands[1] ?? '', /^APOP alice [0-9a-f]{32}$/);
  });

  it('auth: apop against a greeting without a timestamp fails before sending anything', async (t) => {
    const server = await ledger.start(t, { greeting: '+OK ready' });
    const result = await ledger.probe(server, mailboxFor(server, { auth: 'apop' }));
    assert.equal(result.success, false);
    assert.equal(result.error?.code, 'protocol');
    assert.deepEqual(server.allCommands, ['CAPA']);
  });

  it('a server without CAPA still works with USER and runs UIDL and TOP', async (t) => {
    const mailbox = aliceMailbox();
    const server = await ledger.start(t, { capabilities: null, mailboxes: [mailbox] });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.success, true);
    assert.equal(result.auth_method, 'user');
    assert.deepEqual(result.capabilities, []);
    assert.equal(result.pipelined, false);
    assert.equal(result.messages, 2);
    assert.equal(result.size_bytes, octets(mailbox.messages));
    assert.equal(result.uidl_count, 2);
    assert.equal(result.oldest_message_timestamp, FIRST_DATE);
    assert.deepEqual(server.allCommands, [
      'CAPA',
      `USER ${USER}`,
      `PASS ${PASSWORD}`,
      ...TRANSACTION,
    ]);
  });

  it('auth: xoauth2 logs in with the bearer token; a refused token is auth', async (t) => {
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: PASSWORD } });
    const ok = await ledger.probe(server, mailboxFor(server, { auth: 'xoauth2' }));
    assert.equal(ok.success, true, ok.error?.message);
    assert.equal(ok.auth_method, 'xoauth2');
    assert.equal(ok.messages, 2);
    const refused = await ledger.probe(
      server,
      mailboxFor(server, { auth: 'xoauth2', password: new Secret('expired-token') }),
    );
    assert.equal(refused.error?.code, 'auth');
    assert.equal(refused.error?.command, 'AUTH XOAUTH2');
    assert.equal(server.allCommands.at(-1), '', 'the empty line that ends the failed exchange');
  });

  it('no password configured: auth failure, no login command sent', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server, { password: undefined }));
    assert.equal(result.error?.code, 'auth');
    assert.deepEqual(server.allCommands, ['CAPA']);
  });
});

describe('probeMailbox: pipelining', { timeout: 20_000 }, () => {
  it('sends the login, then the whole transaction in one write when PIPELINING is listed', async (t) => {
    const server = await ledger.start(t);
    const proxy = await startRecordingProxy(t, server.port);
    const result = await ledger.probe(server, mailboxFor(proxy));
    assert.equal(result.success, true);
    assert.equal(result.pipelined, true);
    assert.deepEqual(proxy.chunks, [
      ['CAPA\r\n', `${PLAIN_IR}\r\n`, TRANSACTION.map((line) => `${line}\r\n`).join('')],
    ]);
    assert.deepEqual(phaseNames(result), [
      'auth',
      'capa',
      'connect',
      'dns',
      'greeting',
      'noop',
      'quit',
      'stat',
      'top',
      'total',
      'uidl',
    ]);
    assertPhasesSane(result);
  });

  it('pipelines the transaction after a multi-step login (AUTH LOGIN)', async (t) => {
    const server = await ledger.start(t, {
      capabilities: ['SASL LOGIN', 'PIPELINING', 'TOP', 'UIDL'],
    });
    const proxy = await startRecordingProxy(t, server.port);
    const result = await ledger.probe(server, mailboxFor(proxy));
    assert.equal(result.success, true);
    assert.equal(result.pipelined, true);
    assert.deepEqual(proxy.chunks, [
      [
        'CAPA\r\n',
        'AUTH LOGIN\r\n',
        `${b64(USER)}\r\n`,
        `${b64(PASSWORD)}\r\n`,
        TRANSACTION.map((line) => `${line}\r\n`).join(''),
      ],
    ]);
  });

  const oneAtATime: [string, FakePop3Options, Partial<MailboxConfig>][] = [
    ['pipelining: false', {}, { pipelining: false }],
    ['no PIPELINING in CAPA', { capabilities: ['USER', 'TOP', 'UIDL', 'SASL PLAIN'] }, {}],
  ];
  for (const [label, options, config] of oneAtATime) {
    it(`${label}: one command per write, TOP only after STAT found a message`, async (t) => {
      const server = await ledger.start(t, { ...options, mailboxes: [aliceMailbox([])] });
      const proxy = await startRecordingProxy(t, server.port);
      const result = await ledger.probe(server, mailboxFor(proxy, config));
      assert.equal(result.success, true);
      assert.equal(result.pipelined, false);
      assert.equal(result.messages, 0);
      assert.equal(result.oldest_message_timestamp, null);
      const lines = ['CAPA', PLAIN_IR, 'STAT', 'NOOP', 'UIDL', 'QUIT'];
      assert.deepEqual(proxy.chunks, [lines.map((line) => `${line}\r\n`)]);
      assert.deepEqual(phaseNames(result), [
        'auth',
        'capa',
        'connect',
        'dns',
        'greeting',
        'noop',
        'quit',
        'stat',
        'total',
        'uidl',
      ]);
      assertPhasesSane(result);
    });
  }

  it('one command at a time still asks TOP when STAT found messages', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server, { pipelining: false }));
    assert.equal(result.success, true);
    assert.equal(result.oldest_message_timestamp, FIRST_DATE);
    assert.deepEqual(server.allCommands, ['CAPA', PLAIN_IR, ...TRANSACTION]);
  });

  it('a server that closes instead of answering a pipelined QUIT still gives a success', async (t) => {
    const server = await ledger.start(t, {
      onCommand: (s, command) => {
        if (command !== 'QUIT') return undefined;
        s.close();
        return true;
      },
    });
    const result = await ledger.probe(server, mailboxFor(server));
    assert.equal(result.error, null);
    assert.equal(result.success, true);
    assert.equal(result.pipelined, true);
    assert.equal(result.messages, 2);
  });
});

describe('probeMailbox: STLS', { timeout: 20_000 }, () => {
  const starttls = { mode: 'starttls' as const, ...tlsFixture('localhost') };

  it('upgrades, asks CAPA again over TLS and reports the certificate', async (t) => {
    const server = await ledger.start(t, { tls: starttls });
    const result = await ledger.probe(server, mailboxFor(server, { tls: 'starttls' }));
    assert.equal(result.success, true, result.error?.message);
    assert.deepEqual(server.allCommands, ['CAPA', 'STLS', 'CAPA', PLAIN_IR, ...TRANSACTION]);
    assert.deepEqual(result.capabilities, [...DEFAULT_CAPABILITIES], 'the CAPA after TLS');
    const notAfter = Date.parse(new X509Certificate(tlsFixture('localhost').cert).validTo);
    assert.equal(result.tls?.cert_expiry_timestamp, Math.floor(notAfter / 1000));
    assert.equal(result.tls?.cert_subject, 'localhost');
    assert.equal(result.tls?.cert_issuer, 'pop3-monitor test CA');
    assert.equal(result.tls?.resumed, false);
    assert.ok((result.phases.tls ?? -1) > 0 && (result.phases.stls ?? -1) > 0);
    assertPhasesSane(result);
  });

  it('STLS refused with -ERR: tls, and no credentials are sent', async (t) => {
    const server = await ledger.start(t, {
      tls: starttls,
      onCommand: (s, command) => {
        if (command !== 'STLS') return undefined;
        s.reply('-ERR TLS not available now');
        return true;
      },
    });
    const result = await ledger.probe(server, mailboxFor(server, { tls: 'starttls' }));
    assert.equal(result.error?.code, 'tls');
    assert.equal(result.error?.response, '-ERR TLS not available now');
    assert.deepEqual(server.allCommands, ['CAPA', 'STLS']);
  });

  it('STLS not offered: tls, and no credentials are sent', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server, { tls: 'starttls' }));
    assert.equal(result.success, false);
    assert.equal(result.error?.code, 'tls');
    assert.deepEqual(server.allCommands, ['CAPA']);
  });

  it('bytes injected after +OK to STLS: protocol, and no credentials are sent', async (t) => {
    const server = await ledger.start(t, {
      tls: starttls,
      onCommand: (s, command) => {
        if (command !== 'STLS') return undefined;
        s.write('+OK Begin TLS\r\n+OK maildrop ready\r\n');
        return true;
      },
    });
    const result = await ledger.probe(server, mailboxFor(server, { tls: 'starttls' }));
    assert.equal(result.success, false);
    assert.equal(result.error?.code, 'protocol');
    assert.equal(result.error?.command, 'STLS');
    assert.deepEqual(server.allCommands, ['CAPA', 'STLS']);
    assert.ok(!server.allCommands.some((line) => /^(PASS|AUTH|USER|APOP)\b/.test(line)));
  });
});

describe('probeMailbox: failures and redaction', { timeout: 20_000 }, () => {
  it('a refused login keeps the phases reached and names the phase', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(
      server,
      mailboxFor(server, { password: new Secret('wrong-password'), pipelining: false }),
    );
    assert.equal(result.success, false);
    assert.deepEqual(result.error, {
      code: 'auth',
      message: 'login refused at AUTH PLAIN: -ERR [AUTH] Authentication failed',
      response: '-ERR [AUTH] Authentication failed',
      command: 'AUTH PLAIN',
      phase: 'auth',
    });
    assert.deepEqual(phaseNames(result), ['auth', 'capa', 'connect', 'dns', 'greeting', 'total']);
    assert.equal(result.messages, null);
    assertPhasesSane(result);
  });

  for (const pipelining of [false, true]) {
    it(`a probe failing after the login still ends the session with one QUIT (pipelining ${pipelining})`, async (t) => {
      const server = await ledger.start(t, {
        // A sloppy server: a malformed STAT, and QUIT answered without closing.
        onCommand: (s, command) => {
          if (command === 'STAT') s.reply('+OK many');
          else if (command === 'QUIT') s.reply('+OK bye');
          else return undefined;
          return true;
        },
      });
      const proxy = await startRecordingProxy(t, server.port);
      const result = await ledger.probe(server, mailboxFor(proxy, { pipelining }));
      assert.equal(result.error?.code, 'protocol');
      assert.equal(result.error?.command, 'STAT');
      assert.equal(result.error?.phase, 'stat');
      const commands = server.sessions[0]?.commands ?? [];
      // What the client wrote, not only what the server read before it closed.
      const written = (proxy.chunks[0] ?? []).join('');
      assert.equal(written.match(/^QUIT\r$/gm)?.length, 1, written);
      assert.deepEqual(commands, [
        'CAPA',
        PLAIN_IR,
        'STAT',
        'NOOP',
        'UIDL',
        ...(pipelining ? ['TOP 1 0'] : []),
        'QUIT',
      ]);
    });
  }

  for (const [label, capabilities, auth] of [
    ['PASS', ['USER'], 'auto'],
    ['AUTH PLAIN', ['SASL PLAIN'], 'auto'],
    ['AUTH LOGIN', ['SASL LOGIN'], 'auto'],
    ['AUTH XOAUTH2', ['SASL XOAUTH2'], 'xoauth2'],
  ] as const) {
    it(`a server echoing the password at ${label} leaves no trace of it in the result`, async (t) => {
      const echoes: string[] = [];
      let loginStep = 0;
      const server = await ledger.start(t, {
        capabilities: [...capabilities],
        onCommand: (s, command, _args, line) => {
          // AUTH LOGIN is scripted here, so its responses reach this hook as lines.
          if (line === 'AUTH LOGIN' || (loginStep === 1 && line === b64(USER))) {
            loginStep++;
            s.reply(`+ ${b64(loginStep === 1 ? 'Username:' : 'Password:')}`);
            return true;
          }
          if (command !== 'PASS' && command !== 'AUTH' && loginStep !== 2) return undefined;
          const echo = `-ERR [AUTH] you sent ${line} ${PASSWORD} ${b64(PASSWORD)}`;
          echoes.push(echo);
          s.reply(echo);
          return true;
        },
      });
      const result = await ledger.probe(server, mailboxFor(server, { pipelining: false, auth }));
      assert.equal(result.error?.code, 'auth');
      assert.equal(echoes.length, 1);
      assert.ok(result.error?.response?.startsWith('-ERR [AUTH] you sent '));
      assert.equal(traceOf(JSON.stringify(result), PASSWORD), null);
      assert.notEqual(traceOf(echoes[0] ?? '', PASSWORD), null, 'the check finds the echo');
    });
  }
});
