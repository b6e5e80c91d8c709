/**
 * probeMailbox against the real Dovecot of test/servers: every login method and transport,
 * the failure reasons a real server produces (refused login, untrusted or misnamed
 * certificate, [IN-USE]), and the read-only promise checked on the Maildir itself.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import type { AuthMethod, MailboxConfig } from '../../src/config/schema.js';
import { CapabilityCache } from '../../src/probe/capability-cache.js';
import { probeMailbox } from '../../src/probe/probe.js';
import type { ProbeResult } from '../../src/probe/result.js';
import { Secret } from '../../src/secret.js';
import { mailboxConfig } from '../fixtures/mailbox-config.js';
import { startRecordingProxy } from '../fixtures/probe-harness.js';
import {
  aliceExpected,
  DOVECOT,
  MANY_COUNT,
  maildirSnapshot,
  type TestUser,
  USERS,
} from '../servers/env.js';
import { RawSession } from '../servers/raw-session.js';

const CA = readFileSync(DOVECOT.caFile, 'utf8');
const OTHER_CA = readFileSync(DOVECOT.otherCaFile, 'utf8');
/** notAfter of the certificate Dovecot presents (start.sh writes it beside the CA). */
const CERT_EXPIRY =
  Date.parse(
    new X509Certificate(readFileSync(join(dirname(DOVECOT.caFile), 'server.pem'))).validTo,
  ) / 1000;
const ALICE = aliceExpected();

/**
 * What Dovecot announces in CAPA, read with the independent raw client (servers.test.ts
 * pins the list): on the plain port, and under TLS, where STLS is gone (RFC 2595 §4).
 */
const CAPA: { plain: string[]; tls: string[] } = { plain: [], tls: [] };
before(async () => {
  const session = await RawSession.connect(DOVECOT.host, DOVECOT.plainPort);
  try {
    assert.match(await session.readLine(), /^\+OK /);
    assert.equal(await session.command('CAPA'), '+OK');
    CAPA.plain = await session.readDotBlock();
    assert.match(await session.command('STLS'), /^\+OK/);
    await session.startTls({ ca: CA, servername: 'localhost' });
    assert.equal(await session.command('CAPA'), '+OK');
    CAPA.tls = await session.readDotBlock();
    await session.command('QUIT');
  } finally {
    session.close();
  }
  assert.ok(CAPA.plain.includes('STLS') && !CAPA.tls.includes('STLS'));
});

const TRANSACTION_PHASES = ['auth', 'stat', 'noop', 'uidl', 'top', 'quit', 'total'];

/** A mailbox of `user` on the test Dovecot's plain port, trusting the test CA. */
function dovecot(user: TestUser, overrides: Partial<MailboxConfig> = {}): MailboxConfig {
  return mailboxConfig({
    name: user,
    host: DOVECOT.host,
    port: DOVECOT.plainPort,
    username: USERS[user].user,
    password: new Secret(USERS[user].password),
    tls_ca: CA,
    ...overrides,
  });
}

interface Mode {
  label: string;
  overrides: Partial<MailboxConfig>;
  /** auth_method the probe reports. */
  method: string;
  transport: 'none' | 'starttls' | 'implicit';
}

const MODES: Mode[] = [
  { label: 'USER/PASS', overrides: { auth: 'user' }, method: 'user', transport: 'none' },
  { label: 'APOP', overrides: { auth: 'apop' }, method: 'apop', transport: 'none' },
  { label: 'SASL PLAIN', overrides: { auth: 'plain' }, method: 'plain', transport: 'none' },
  { label: 'SASL LOGIN', overrides: { auth: 'login' }, method: 'login', transport: 'none' },
  { label: 'STLS', overrides: { tls: 'starttls' }, method: 'plain', transport: 'starttls' },
  {
    label: 'implicit TLS',
    overrides: { tls: 'implicit', port: DOVECOT.tlsPort },
    method: 'plain',
    transport: 'implicit',
  },
];

/** The phase keys of a successful probe over `transport`, in the order they happened. */
function phasesOf(transport: Mode['transport'], withCapa = true): string[] {
  const capa = withCapa ? ['capa'] : [];
  if (transport === 'implicit')
    return ['dns', 'connect', 'tls', 'greeting', ...capa, ...TRANSACTION_PHASES];
  const upgrade = transport === 'starttls' ? ['stls', 'tls'] : [];
  return ['dns', 'connect', 'greeting', ...capa, ...upgrade, ...TRANSACTION_PHASES];
}

/** alice's three fixture messages, exactly as Dovecot must report them. */
function assertAlice(result: ProbeResult, mode: Mode): void {
  assert.equal(result.error, null);
  assert.equal(result.success, true);
  assert.equal(result.mailbox, 'alice');
  assert.equal(result.messages, ALICE.count);
  assert.equal(result.messages, 3);
  assert.equal(result.size_bytes, ALICE.octets);
  assert.equal(result.uidl_count, 3);
  assert.equal(result.oldest_message_timestamp, ALICE.dates[0]);
  assert.equal(result.auth_method, mode.method);
  assert.ok(result.capabilities.includes('PIPELINING'));
  assert.deepEqual(result.capabilities, mode.transport === 'none' ? CAPA.plain : CAPA.tls);
  if (mode.transport === 'none') {
    assert.equal(result.tls, null);
  } else {
    assert.ok(
      result.tls?.protocol === 'TLSv1.2' || result.tls?.protocol === 'TLSv1.3',
      `protocol ${result.tls?.protocol}`,
    );
    assert.equal(result.tls?.cert_expiry_timestamp, CERT_EXPIRY);
    assert.equal(result.tls?.cert_subject, 'localhost');
  }
}

/** What a probe found in the mailbox (timings and transport details left out). */
function figures(result: ProbeResult) {
  const { success, error, messages, size_bytes, uidl_count, oldest_message_timestamp } = result;
  return { success, error, messages, size_bytes, uidl_count, oldest_message_timestamp };
}

function modeNamed(label: string): Mode {
  const mode = MODES.find((m) => m.label === label);
  assert.ok(mode, label);
  return mode;
}

describe('probeMailbox against Dovecot: alice, every login method and transport', () => {
  for (const mode of MODES) {
    it(`${mode.label}: the exact figures of alice's fixture mail`, async () => {
      const result = await probeMailbox(dovecot('alice', mode.overrides));
      assertAlice(result, mode);
      assert.equal(result.pipelined, true);
      assert.deepEqual(Object.keys(result.phases), phasesOf(mode.transport));
    });
  }

  it('top_lines: 2 sends TOP 1 2 and still reads the Date: of message 1', async (t: TestContext) => {
    const proxy = await startRecordingProxy(t, DOVECOT.plainPort);
    const result = await probeMailbox(dovecot('alice', { port: proxy.port, top_lines: 2 }));
    assertAlice(result, modeNamed('SASL PLAIN'));
    const sent = proxy.chunks.flat().join('');
    assert.match(sent, /\r\nTOP 1 2\r\n/);
    assert.doesNotMatch(sent, /TOP 1 0/);
  });

  it('pipelining on, full and off give the same figures; `pipelined` says which was used', async () => {
    const on = await probeMailbox(dovecot('alice', { pipelining: true }));
    const off = await probeMailbox(dovecot('alice', { pipelining: false }));
    assertAlice(on, modeNamed('SASL PLAIN'));
    assertAlice(off, modeNamed('SASL PLAIN'));
    assert.deepEqual(figures(off), figures(on));
    assert.equal(on.pipelined, true);
    assert.equal(off.pipelined, false);
    assert.deepEqual(Object.keys(off.phases), phasesOf('none'));
    for (const auth of ['plain', 'user'] as const) {
      const full = await probeMailbox(dovecot('alice', { pipelining: 'full', auth }));
      assertAlice(full, modeNamed(auth === 'plain' ? 'SASL PLAIN' : 'USER/PASS'));
      assert.deepEqual(figures(full), figures(on));
      assert.equal(full.pipelined, true);
    }
  });

  it('on the wire: by default the login alone, then the transaction; with full one write', async (t: TestContext) => {
    const proxy = await startRecordingProxy(t, DOVECOT.plainPort);
    assertAlice(
      await probeMailbox(dovecot('alice', { port: proxy.port })),
      modeNamed('SASL PLAIN'),
    );
    const full = { port: proxy.port, pipelining: 'full' as const };
    assertAlice(await probeMailbox(dovecot('alice', full)), modeNamed('SASL PLAIN'));
    const lines = (chunk: string) => chunk.split('\r\n').filter((l) => l !== '').length;
    assert.deepEqual(
      proxy.chunks.map((writes) => writes.map(lines)),
      [
        [1, 1, 5],
        [1, 6],
      ],
    );
  });
});

describe('probeMailbox against Dovecot: other mailboxes', () => {
  it('the empty mailbox: 0 messages, 0 octets, no oldest message, success', async () => {
    assert.deepEqual(figures(await probeMailbox(dovecot('empty'))), {
      success: true,
      error: null,
      messages: 0,
      size_bytes: 0,
      uidl_count: 0,
      oldest_message_timestamp: null,
    });
  });

  it('the 500-message mailbox: 500 messages and 500 UIDL entries', async () => {
    const { success, messages, uidl_count } = figures(await probeMailbox(dovecot('many')));
    assert.equal(MANY_COUNT, 500);
    assert.deepEqual(
      { success, messages, uidl_count },
      { success: true, messages: 500, uidl_count: 500 },
    );
  });
});

describe('probeMailbox against Dovecot: failures', () => {
  const WRONG = 'Wr0ng-Secret-4242';
  const refused: [AuthMethod, string][] = [
    ['user', 'PASS'],
    ['apop', 'APOP'],
    ['plain', 'AUTH PLAIN'],
    ['login', 'AUTH LOGIN'],
  ];
  for (const [auth, command] of refused) {
    it(`a wrong password (${auth}) is reason auth in phase auth, the password nowhere`, async () => {
      const result = await probeMailbox(dovecot('alice', { auth, password: new Secret(WRONG) }));
      assert.equal(result.success, false);
      assert.deepEqual(result.error, {
        code: 'auth',
        message: `login refused at ${command}: -ERR [AUTH] Authentication failed.`,
        response: '-ERR [AUTH] Authentication failed.',
        command,
        phase: 'auth',
      });
      assert.equal(result.messages, null);
      // Pipelined STAT..TOP after the refused login are refused too: no phase of theirs.
      assert.deepEqual(Object.keys(result.phases), [
        'dns',
        'connect',
        'greeting',
        'capa',
        'auth',
        'total',
      ]);
      assert.equal(JSON.stringify(result).includes(WRONG), false);
    });
  }

  const transports: [string, Partial<MailboxConfig>][] = [
    ['STLS', { tls: 'starttls' }],
    ['implicit TLS', { tls: 'implicit', port: DOVECOT.tlsPort }],
  ];
  for (const [label, transport] of transports) {
    for (const [why, ca] of [
      ['tls_ca: an unrelated CA', OTHER_CA],
      ['no tls_ca', undefined],
    ] as const) {
      it(`${label}: a certificate it cannot verify (${why}) is reason tls`, async () => {
        const result = await probeMailbox(dovecot('alice', { ...transport, tls_ca: ca }));
        assert.equal(result.success, false);
        assert.equal(result.error?.code, 'tls');
        assert.equal(result.error?.phase, 'tls');
        assert.match(result.error?.message ?? '', /\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
        assert.equal(result.messages, null);
      });
    }

    it(`${label}: a certificate for another name (tls_servername wrong.example) is reason tls`, async () => {
      const result = await probeMailbox(
        dovecot('alice', { ...transport, tls_servername: 'wrong.example' }),
      );
      assert.equal(result.success, false);
      assert.equal(result.error?.code, 'tls');
      assert.equal(result.error?.phase, 'tls');
      assert.match(result.error?.message ?? '', /\(ERR_TLS_CERT_ALTNAME_INVALID\)$/);
    });

    it(`${label}: tls_insecure: true without the CA logs in`, async () => {
      const result = await probeMailbox(
        dovecot('alice', { ...transport, tls_ca: undefined, tls_insecure: true }),
      );
      assertAlice(result, modeNamed(label));
    });
  }

  it('[IN-USE]: while another session holds locked, the probe fails with in_use', async () => {
    // Dovecot answers the second login only after its fixed 10 s wait for the lock
    // (test/servers/README.md), hence the 15 s deadline.
    const holder = await RawSession.connect(DOVECOT.host, DOVECOT.plainPort);
    try {
      assert.match(await holder.readLine(), /^\+OK /);
      assert.match(await holder.command(`USER ${USERS.locked.user}`), /^\+OK/);
      assert.equal(await holder.command(`PASS ${USERS.locked.password}`), '+OK Logged in.');
      const result = await probeMailbox(dovecot('locked', { timeout: 15_000 }));
      assert.equal(result.success, false);
      assert.deepEqual(result.error, {
        code: 'in_use',
        message:
          'login refused at AUTH PLAIN: -ERR [IN-USE] Mailbox is locked by another POP3 session.',
        response: '-ERR [IN-USE] Mailbox is locked by another POP3 session.',
        command: 'AUTH PLAIN',
        phase: 'auth',
      });
      assert.match(await holder.command('QUIT'), /^\+OK Logging out\.?$/);
    } finally {
      holder.close();
    }
    // Released: the next probe gets in at once.
    const after = await probeMailbox(dovecot('locked'));
    assert.equal(after.error, null);
    assert.equal(after.messages, 1);
  });
});

describe('probeMailbox against Dovecot: the capability cache', () => {
  for (const label of ['SASL PLAIN', 'STLS']) {
    it(`${label}: a second probe with the same cache sends no CAPA and gives the same figures`, async () => {
      const mode = modeNamed(label);
      const cache = new CapabilityCache();
      const first = await probeMailbox(dovecot('alice', mode.overrides), {
        capabilityCache: cache,
      });
      assertAlice(first, mode);
      assert.deepEqual(Object.keys(first.phases), phasesOf(mode.transport, true));
      const second = await probeMailbox(dovecot('alice', mode.overrides), {
        capabilityCache: cache,
      });
      assertAlice(second, mode);
      assert.equal('capa' in second.phases, false);
      assert.deepEqual(Object.keys(second.phases), phasesOf(mode.transport, false));
    });
  }
});

describe('probeMailbox against Dovecot: the read-only promise', () => {
  it('25 probes in every mode leave alice’s Maildir byte for byte as it was', async () => {
    const before = maildirSnapshot('alice');
    // Three messages, all in cur/: an empty or unreadable Maildir would compare equal too.
    assert.equal(before.size, 3);
    assert.deepEqual(
      [...before.keys()].map((name) => name.slice(0, 4)),
      ['cur/', 'cur/', 'cur/'],
    );
    const cache = new CapabilityCache();
    for (let i = 0; i < 25; i++) {
      const mode = MODES[i % MODES.length] as Mode;
      const result = await probeMailbox(
        dovecot('alice', { ...mode.overrides, pipelining: i % 2 === 0, top_lines: i % 3 }),
        i >= 18 ? { capabilityCache: cache } : {},
      );
      assertAlice(result, mode);
    }
    assert.deepEqual(maildirSnapshot('alice'), before);
  });
});
