// Hostile and broken POP3 servers (issue "Hardening"). Every case must end within the
// probe deadline plus a small margin, in a result with the right reason, without an
// unhandled rejection or uncaught exception, without DELE/RETR/RSET on the wire, and for
// the big inputs with bounded memory. The servers are in-process fakes on loopback.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, describe, it, type TestContext } from 'node:test';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { MailboxConfig } from '../../../src/config/schema.js';
import type { Reason } from '../../../src/pop3/errors.js';
import { probeMailbox } from '../../../src/probe/probe.js';
import type { Phase, ProbeResult } from '../../../src/probe/result.js';
import {
  type FakePop3Options,
  type FakeSession,
  makeMessage,
  manyMessages,
  tlsFixture,
} from '../../fixtures/fake-pop3-server.js';
import {
  aliceMailbox,
  assertPhasesSane,
  mailboxFor,
  octets,
  PASSWORD,
  ServerLedger,
  USER,
} from '../../fixtures/probe-harness.js';
import { RawClient } from '../../fixtures/raw-pop3-client.js';

const unhandledRejections: unknown[] = [];
const uncaughtExceptions: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandledRejections.push(reason));
process.on('uncaughtException', (error) => uncaughtExceptions.push(error));

const ledger = new ServerLedger();
after(() => {
  ledger.verify();
  assert.deepEqual(unhandledRejections, []);
  assert.deepEqual(uncaughtExceptions, []);
});

/** The probe deadline of most cases: short, to keep the suite fast. */
const TIMEOUT = 1500;
/** How long after the deadline a probe may still take to come back. */
const MARGIN = 1500;
/** Cases that must end on their own, long before the deadline, get this deadline. */
const LONG_TIMEOUT = 10_000;
const MEMORY_BOUND = 100 * 1024 * 1024;
const MB = 1024 * 1024;

const HOSTILE_CASES = 51;
let hostileCases = 0;

interface Expectation {
  /** null: the probe must succeed. */
  reason: Reason | null;
  phase?: Phase;
  message?: RegExp;
  /** The case must end on its own: elapsed below this (and the deadline is long). */
  fasterThan?: number;
  /** The case ends at the deadline: elapsed at least the deadline. */
  atDeadline?: boolean;
  /** Assert that rss grew by less than MEMORY_BOUND. */
  memory?: boolean;
}

/**
 * Starts a fake server with `options`, probes it with `config` and checks the outcome;
 * with `options` null the probe goes where `config` says, with no server.
 */
async function hostile(
  t: TestContext,
  options: FakePop3Options | null,
  config: Partial<MailboxConfig>,
  expect: Expectation,
): Promise<ProbeResult> {
  hostileCases++;
  const timeout = config.timeout ?? (expect.fasterThan === undefined ? TIMEOUT : LONG_TIMEOUT);
  const server = options === null ? null : await ledger.start(t, options);
  const mailbox = mailboxFor(server ?? { port: 1 }, { timeout, ...config });
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const result = server ? await ledger.probe(server, mailbox) : await probeMailbox(mailbox);
  const elapsed = performance.now() - started;
  const grown = process.memoryUsage().rss - rssBefore;
  t.diagnostic(
    `${result.error?.code ?? 'success'} in ${Math.round(elapsed)} ms, rss ${(grown / MB).toFixed(1)} MB`,
  );

  if (expect.reason === null) {
    assert.equal(result.error, null);
    assert.equal(result.success, true);
  } else {
    assert.equal(result.success, false);
    assert.equal(result.error?.code, expect.reason, result.error?.message);
  }
  if (expect.phase !== undefined) assert.equal(result.error?.phase, expect.phase);
  if (expect.message !== undefined) assert.match(result.error?.message ?? '', expect.message);
  assert.ok(elapsed < timeout + MARGIN, `took ${elapsed} ms with a ${timeout} ms deadline`);
  if (expect.fasterThan !== undefined) {
    assert.ok(elapsed < expect.fasterThan, `took ${elapsed} ms, must not wait for the deadline`);
  }
  if (expect.atDeadline) {
    // Timers may fire a little early relative to performance.now(); allow 20 ms.
    assert.ok(elapsed >= timeout - 20, `ended after ${elapsed} ms, before the deadline`);
  }
  if (expect.memory) {
    assert.ok(grown < MEMORY_BOUND, `rss grew by ${(grown / MB).toFixed(1)} MB`);
  }
  assertPhasesSane(result);
  if (server) {
    assert.ok(!server.allCommands.some((line) => /^(DELE|RETR|RSET)\b/i.test(line)));
    // The client destroyed its socket on every path: the server sees the close promptly.
    assert.ok(await closedSoon(() => server.connectionCount() === 0), 'a connection was left open');
  }
  return result;
}

/** Polls `done` on timers (socket closes take a few event-loop turns); false after 1 s. */
async function closedSoon(done: () => boolean): Promise<boolean> {
  const until = performance.now() + 1000;
  while (!done()) {
    if (performance.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** Deterministic bytes (xorshift32), so a "random" case is the same on every run. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A bare TCP server for what the fake cannot do (reset during the TLS handshake, write
 * raw bytes under an established TLS session). `onSocket` gets each connection.
 */
async function startRawServer(t: TestContext, onSocket: (raw: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => undefined);
    raw.on('close', () => sockets.delete(raw));
    onSocket(raw);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const raw of sockets) raw.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** Implicit TLS with the localhost certificate; `then` runs once the greeting is out. */
function afterTlsGreeting(then: (raw: Socket) => void): (raw: Socket) => void {
  const secureContext = createSecureContext(tlsFixture('localhost'));
  return (raw) => {
    const tls = new TLSSocket(raw, { isServer: true, secureContext });
    tls.on('error', () => undefined);
    tls.once('secure', () => tls.write('+OK ready\r\n', () => then(raw)));
  };
}

/** A handler that answers `command` with `reply` (written as is) and then does `after`. */
function answer(
  command: string,
  reply: string | Buffer,
  after: 'stay' | 'close' | 'destroy' = 'stay',
): FakePop3Options['onCommand'] {
  return (s, cmd) => {
    if (cmd !== command) return undefined;
    s.write(reply);
    if (after === 'close') s.close();
    if (after === 'destroy') s.destroy();
    return true;
  };
}

/** UIDL gets `start(s)`; every command after it is swallowed (the reply never ends). */
function endlessUidl(start: (s: FakeSession) => void): FakePop3Options['onCommand'] {
  const started = new Set<number>();
  return (s, cmd) => {
    if (started.has(s.id)) return true;
    if (cmd !== 'UIDL') return undefined;
    started.add(s.id);
    start(s);
    return true;
  };
}

/** 17 MiB of 64-octet UIDL lines, never terminated. */
const UIDL_FLOOD = Buffer.alloc(17 * MB, `1 ${'0123456789abcdef'.repeat(3)}0123456789ab\r\n`);

/** UIDL answers +OK and the flood, all at once; STAT answers `stat` when given. */
function uidlFlood(stat?: string): FakePop3Options['onCommand'] {
  return (s, cmd) => {
    if (cmd === 'STAT' && stat !== undefined) {
      s.reply(stat);
      return true;
    }
    if (cmd !== 'UIDL') return undefined;
    s.write('+OK\r\n');
    s.write(UIDL_FLOOD);
    return true;
  };
}

/** Only USER/PASS is offered, so the login ends at PASS. */
const USER_ONLY = ['USER', 'UIDL', 'TOP', 'PIPELINING', 'RESP-CODES', 'AUTH-RESP-CODE'];

describe('hostile servers: greeting and framing', { timeout: 60_000 }, () => {
  it('no greeting at all: timeout at the deadline', async (t) => {
    await hostile(
      t,
      { greeting: null },
      {},
      { reason: 'timeout', phase: 'greeting', atDeadline: true },
    );
  });

  it('-ERR greeting: server_perm', async (t) => {
    const result = await hostile(
      t,
      { greeting: '-ERR access denied' },
      {},
      {
        reason: 'server_perm',
        phase: 'greeting',
      },
    );
    assert.equal(result.error?.response, '-ERR access denied');
  });

  it('-ERR [SYS/TEMP] greeting: server_temp', async (t) => {
    await hostile(
      t,
      { greeting: '-ERR [SYS/TEMP] too busy, try later' },
      {},
      {
        reason: 'server_temp',
        phase: 'greeting',
      },
    );
  });

  it('random binary then close: protocol (it is no POP3 reply, whole or cut)', async (t) => {
    // 8 KiB: longer than any status line, so whether or not a LF occurs early, the
    // framer rejects it before the close is seen. The first byte is no "+" or "-".
    const garbage = pseudoRandomBytes(8192, 0x5eed);
    garbage[0] = 0x00;
    await hostile(
      t,
      {
        onConnect: (s) => {
          s.write(garbage);
          s.close();
          return true;
        },
      },
      {},
      { reason: 'protocol', phase: 'greeting', fasterThan: 2000 },
    );
  });

  it('half a greeting line then close: closed', async (t) => {
    await hostile(
      t,
      {
        onConnect: (s) => {
          s.write('+OK fake POP3 re');
          s.close();
          return true;
        },
      },
      {},
      { reason: 'closed', phase: 'greeting', fasterThan: 2000 },
    );
  });

  it('a 1 MB greeting with no CRLF: protocol, fast, bounded memory', async (t) => {
    const line = Buffer.alloc(MB, 'A');
    line.write('+OK ');
    await hostile(
      t,
      {
        onConnect: (s) => {
          s.write(line);
          return true;
        },
      },
      {},
      {
        reason: 'protocol',
        phase: 'greeting',
        message: /longer than 4096/,
        fasterThan: 2000,
        memory: true,
      },
    );
  });

  it('a 1 MB header line in the TOP reply: protocol, fast', async (t) => {
    const message = makeMessage({ extraHeaders: [`X-Huge: ${'h'.repeat(MB)}`] });
    await hostile(
      t,
      { mailboxes: [aliceMailbox([message])] },
      {},
      {
        reason: 'protocol',
        phase: 'top',
        message: /longer than 65536/,
        fasterThan: 2000,
        memory: true,
      },
    );
  });

  it('one byte per second, forever: timeout at the deadline', async (t) => {
    await hostile(
      t,
      { chunking: 'bytes', chunkDelayMs: 1000 },
      {},
      {
        reason: 'timeout',
        phase: 'greeting',
        atDeadline: true,
      },
    );
  });

  it('every reply split into single bytes (one per event-loop turn): success', async (t) => {
    const mailbox = aliceMailbox();
    const result = await hostile(
      t,
      { chunking: 'bytes', mailboxes: [mailbox] },
      { timeout: LONG_TIMEOUT },
      {
        reason: null,
      },
    );
    assert.equal(result.messages, 2);
    assert.equal(result.size_bytes, octets(mailbox.messages));
    assert.equal(result.uidl_count, 2);
    assert.equal(result.oldest_message_timestamp, Date.UTC(2026, 2, 2, 10) / 1000);
  });
});

describe('hostile servers: replies', { timeout: 60_000 }, () => {
  it('a UIDL listing that never ends (a line every 20 ms): timeout at the deadline', async (t) => {
    const onCommand = endlessUidl((s) => {
      s.write('+OK\r\n');
      let n = 0;
      const tick = () => {
        if (s.state === 'closed') return;
        n++;
        s.write(`${n} uid-${n}\r\n`);
        setTimeout(tick, 20).unref();
      };
      tick();
    });
    await hostile(t, { onCommand }, {}, { reason: 'timeout', phase: 'uidl', atDeadline: true });
  });

  it("a UIDL listing longer than STAT's count can need: protocol, at once, bounded memory", async (t) => {
    // STAT says 2 messages: 1024 + 2 * 96 octets is all a listing of them can take; the
    // cap, not the deadline, ends it.
    await hostile(
      t,
      { onCommand: uidlFlood() },
      {},
      {
        reason: 'protocol',
        phase: 'uidl',
        message: /UIDL listing longer than 1216 octets/,
        fasterThan: 5000,
        memory: true,
      },
    );
  });

  it('STAT claiming 10 million messages, then an endless UIDL: protocol at the 16 MiB ceiling, streamed', async (t) => {
    await hostile(
      t,
      { onCommand: uidlFlood('+OK 10000000 999999999') },
      {},
      {
        reason: 'protocol',
        phase: 'uidl',
        message: /UIDL listing longer than 16777216 octets/,
        fasterThan: 5000,
        memory: true,
      },
    );
  });

  it('16 probes at once, each fed a 17 MiB UIDL listing: memory stays bounded per probe', async (t) => {
    // Before the listing was streamed, each probe kept up to 16 MiB of lines as strings
    // (several times that in memory); 16 at once grew rss by hundreds of MB.
    const PROBES = 16;
    const BOUND = 48 * MB;
    const servers = await Promise.all(
      Array.from({ length: PROBES }, () =>
        ledger.start(t, { onCommand: uidlFlood('+OK 10000000 999999999') }),
      ),
    );
    hostileCases++;
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const results = await Promise.all(
      servers.map((server) => probeMailbox(mailboxFor(server, { timeout: LONG_TIMEOUT }))),
    );
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    t.diagnostic(`rss peak growth with ${PROBES} probes: ${((peak - before) / MB).toFixed(1)} MB`);
    for (const result of results) {
      assert.equal(result.error?.code, 'protocol');
      assert.match(result.error?.message ?? '', /UIDL listing longer than 16777216 octets/);
    }
    assert.ok(peak - before < BOUND, `rss grew by ${((peak - before) / MB).toFixed(1)} MB`);
  });

  it('an endless CAPA reply: protocol at 16 KiB', async (t) => {
    const onCommand: FakePop3Options['onCommand'] = (s, cmd) => {
      if (cmd !== 'CAPA') return undefined;
      s.write(`+OK\r\n${'X-CAPABILITY padding\r\n'.repeat(100_000)}`);
      return true;
    };
    await hostile(
      t,
      { onCommand },
      {},
      { reason: 'protocol', phase: 'capa', message: /CAPA reply longer than 16384 octets/ },
    );
  });

  it('a TOP reply whose header section never ends: protocol at 256 KiB', async (t) => {
    const onCommand: FakePop3Options['onCommand'] = (s, cmd) => {
      if (cmd !== 'TOP') return undefined;
      s.write(
        `+OK\r\n${'Received: from a.example by b.example; Mon, 2 Mar 2026 10:00:00 +0000\r\n'.repeat(50_000)}`,
      );
      return true;
    };
    await hostile(
      t,
      { onCommand, mailboxes: [aliceMailbox()] },
      {},
      { reason: 'protocol', phase: 'top', message: /TOP reply longer than 262144 octets/ },
    );
  });

  it('close in the middle of the UIDL listing: closed', async (t) => {
    await hostile(
      t,
      { onCommand: answer('UIDL', '+OK\r\n1 fake-1\r\n2 fa', 'close') },
      {},
      {
        reason: 'closed',
        phase: 'uidl',
      },
    );
  });

  it('reset (RST) in the middle of the STAT line: closed', async (t) => {
    await hostile(
      t,
      { onCommand: answer('STAT', '+OK 2 3', 'destroy') },
      {},
      {
        reason: 'closed',
        phase: 'stat',
      },
    );
  });

  it('close right after the greeting, before CAPA is answered: closed', async (t) => {
    await hostile(
      t,
      { onCommand: answer('CAPA', '', 'close') },
      {},
      {
        reason: 'closed',
        phase: 'capa',
      },
    );
  });

  for (const stat of ['+OK lots of mail', '+OK -1 0', '+OK 99999999999999999 1', '+OK']) {
    it(`malformed STAT ${JSON.stringify(stat)}: protocol`, async (t) => {
      const result = await hostile(
        t,
        { onCommand: answer('STAT', `${stat}\r\n`) },
        {},
        {
          reason: 'protocol',
          phase: 'stat',
          message: /malformed STAT reply/,
        },
      );
      assert.equal(result.error?.command, 'STAT');
    });
  }

  it('two replies to one pipelined command: ends classified (protocol), no hang', async (t) => {
    const onCommand: FakePop3Options['onCommand'] = (s, cmd) => {
      if (cmd !== 'STAT') return undefined;
      s.write('+OK 2 363\r\n+OK 2 363\r\n');
      return true;
    };
    const result = await hostile(
      t,
      { onCommand },
      {},
      { reason: 'protocol', message: /UIDL line/ },
    );
    assert.equal(result.pipelined, true);
  });

  it('two replies to one command, one at a time: protocol, and no phase below zero', async (t) => {
    // The extra reply is buffered before NOOP is sent: NOOP is answered "instantly".
    const onCommand: FakePop3Options['onCommand'] = (s, cmd) => {
      if (cmd !== 'STAT') return undefined;
      s.write('+OK 2 363\r\n+OK 2 363\r\n');
      return true;
    };
    const result = await hostile(
      t,
      { onCommand },
      { pipelining: false },
      {
        reason: 'protocol',
        message: /UIDL line/,
      },
    );
    assert.equal(result.pipelined, false);
    assert.ok(result.phases.noop !== undefined && result.phases.noop >= 0);
  });

  it('a pipelined command left unanswered: ends classified (protocol), no hang', async (t) => {
    // Every later reply is read one command early: UIDL's status is taken as NOOP's, so the
    // UIDL read meets "1 fake-1" where a status line is due.
    await hostile(
      t,
      { onCommand: (_s, cmd) => (cmd === 'NOOP' ? true : undefined) },
      {},
      {
        reason: 'protocol',
        message: /reply does not start with \+OK, -ERR or \+/,
      },
    );
  });

  it('endless SASL challenges: protocol, not a refused login', async (t) => {
    const onCommand: FakePop3Options['onCommand'] = (s) => {
      s.reply('+ ');
      return true;
    };
    await hostile(
      t,
      { onCommand, capabilities: ['SASL LOGIN'] },
      {},
      {
        reason: 'protocol',
        phase: 'auth',
        message: /unexpected SASL challenge/,
      },
    );
  });

  it('NUL and non-UTF-8 bytes in the TOP headers: success, the sane Date still parsed', async (t) => {
    const message = Buffer.concat([
      Buffer.from('X-Nul: a\0b\0c\r\nSubject: caf', 'latin1'),
      Buffer.from([0xe9, 0xff, 0xfe, 0x80, 0x00]),
      Buffer.from('\r\nX-Bin: ', 'latin1'),
      pseudoRandomBytes(64, 7).map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b)),
      Buffer.from('\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nbody\r\n', 'latin1'),
    ]);
    const result = await hostile(t, { mailboxes: [aliceMailbox([message])] }, {}, { reason: null });
    assert.equal(result.messages, 1);
    assert.equal(result.size_bytes, message.length);
    assert.equal(result.oldest_message_timestamp, Date.UTC(2026, 2, 2, 10) / 1000);
  });

  it('an unreadable Date and no Received: success, oldest null', async (t) => {
    const message = makeMessage({ date: '\u00ff\u0000 the day after tomorrow' });
    const result = await hostile(t, { mailboxes: [aliceMailbox([message])] }, {}, { reason: null });
    assert.equal(result.messages, 1);
    assert.equal(result.oldest_message_timestamp, null);
  });

  it('a legitimately huge mailbox of 200,000 messages: success, exact counts', async (t) => {
    const messages = manyMessages(200_000);
    const result = await hostile(
      t,
      { mailboxes: [aliceMailbox(messages)] },
      { timeout: LONG_TIMEOUT },
      { reason: null, memory: true },
    );
    assert.equal(result.messages, 200_000);
    assert.equal(result.uidl_count, 200_000);
    assert.equal(result.size_bytes, octets(messages));
    assert.equal(result.oldest_message_timestamp, Date.UTC(2026, 2, 2, 10) / 1000);
  });
});

describe('hostile servers: login refusals at PASS', { timeout: 60_000 }, () => {
  const cases: [string, Reason][] = [
    ['-ERR [IN-USE] maildrop locked', 'in_use'],
    ['-ERR [SYS/TEMP] backend down', 'server_temp'],
    ['-ERR [SYS/PERM] account disabled', 'server_perm'],
    ['-ERR [LOGIN-DELAY] wait 15 minutes', 'login_delay'],
    ['-ERR [AUTH] invalid credentials', 'auth'],
    ['-ERR invalid credentials', 'auth'],
  ];
  for (const [reply, reason] of cases) {
    it(`${reply}: ${reason}`, async (t) => {
      const result = await hostile(
        t,
        { capabilities: USER_ONLY, onCommand: answer('PASS', `${reply}\r\n`) },
        {},
        { reason, phase: 'auth' },
      );
      assert.equal(result.error?.command, 'PASS');
      assert.equal(result.error?.response, reply);
      assert.equal(result.auth_method, 'user');
    });
  }

  it('a maildrop held by another session (RFC 1939 §8 lock): in_use', async (t) => {
    const options = { capabilities: USER_ONLY, lockMaildrop: true };
    const server = await ledger.start(t, options);
    const holder = await RawClient.connect(server.port);
    t.after(() => holder.destroy());
    await holder.readLine();
    assert.equal(await holder.command(`USER ${USER}`), '+OK');
    assert.match(await holder.command(`PASS ${PASSWORD}`), /^\+OK/);
    hostileCases++;
    const result = await probeMailbox(mailboxFor(server, { timeout: TIMEOUT }));
    assert.equal(result.error?.code, 'in_use');
    assert.equal(result.error?.response, '-ERR [IN-USE] Maildrop is locked by another session');
    assert.match(await holder.command('QUIT'), /^\+OK/);
  });
});

describe('hostile servers: TLS', { timeout: 60_000 }, () => {
  it('garbage instead of a TLS handshake: tls', async (t) => {
    const garbage = pseudoRandomBytes(2048, 0xbad);
    await hostile(
      t,
      {
        onConnect: (s) => {
          s.write(garbage);
          return true;
        },
        onCommand: () => true,
      },
      { tls: 'implicit' },
      { reason: 'tls', phase: 'tls', fasterThan: 2000 },
    );
  });

  it('+OK to STLS, then no handshake: timeout at the deadline, no credentials sent', async (t) => {
    const swallowed = new Set<number>();
    const onCommand: FakePop3Options['onCommand'] = (s, cmd) => {
      if (swallowed.has(s.id)) return true;
      if (cmd !== 'STLS') return undefined;
      swallowed.add(s.id);
      s.reply('+OK Begin TLS negotiation');
      return true;
    };
    const tls = { mode: 'starttls' as const, ...tlsFixture('localhost') };
    await hostile(
      t,
      { tls, onCommand },
      { tls: 'starttls' },
      {
        reason: 'timeout',
        phase: 'tls',
        atDeadline: true,
      },
    );
    const commands = ledger.servers.at(-1)?.allCommands ?? [];
    assert.deepEqual(commands.slice(0, 2), ['CAPA', 'STLS']);
    assert.ok(!commands.some((line) => /^(USER|PASS|AUTH|APOP)\b/.test(line)));
  });

  it('silence instead of a TLS handshake: timeout at the deadline', async (t) => {
    await hostile(
      t,
      { greeting: null, onCommand: () => true },
      { tls: 'implicit' },
      {
        reason: 'timeout',
        phase: 'tls',
        atDeadline: true,
      },
    );
  });

  it('reset (RST) during the TLS handshake: tls', async (t) => {
    const port = await startRawServer(t, (raw) => raw.once('data', () => raw.resetAndDestroy()));
    await hostile(t, null, { port, tls: 'implicit' }, { reason: 'tls', phase: 'tls' });
  });

  it('garbage in place of a TLS record after the handshake: tls, not connect', async (t) => {
    // 0x17 0x17 ...: no valid record header (version 0x1717), raw under the TLS session.
    const port = await startRawServer(
      t,
      afterTlsGreeting((raw) => raw.write(Buffer.alloc(300, 0x17))),
    );
    await hostile(
      t,
      null,
      { port, tls: 'implicit' },
      {
        reason: 'tls',
        phase: 'capa',
        message: /ERR_SSL_/,
      },
    );
  });

  it('reset (RST) during a TLS session: closed', async (t) => {
    const port = await startRawServer(
      t,
      afterTlsGreeting((raw) => raw.resetAndDestroy()),
    );
    await hostile(t, null, { port, tls: 'implicit' }, { reason: 'closed', phase: 'capa' });
  });

  const certs: ['expired' | 'selfsigned' | 'wronghost', RegExp][] = [
    ['expired', /CERT_HAS_EXPIRED/],
    ['selfsigned', /DEPTH_ZERO_SELF_SIGNED_CERT/],
    ['wronghost', /ERR_TLS_CERT_ALTNAME_INVALID/],
  ];
  for (const [name, message] of certs) {
    it(`${name} certificate: tls (${message.source})`, async (t) => {
      const tls = { mode: 'implicit' as const, ...tlsFixture(name) };
      const result = await hostile(
        t,
        { tls },
        { tls: 'implicit' },
        { reason: 'tls', phase: 'tls', message },
      );
      assert.equal(result.error?.message.includes(PASSWORD), false);
    });

    it(`${name} certificate with tls_insecure: true: success`, async (t) => {
      const tls = { mode: 'implicit' as const, ...tlsFixture(name) };
      const result = await hostile(
        t,
        { tls },
        { tls: 'implicit', tls_insecure: true },
        { reason: null },
      );
      assert.equal(result.messages, 2);
      assert.notEqual(result.tls, null);
    });
  }

  it('the same failures over STLS: expired certificate after STLS is tls', async (t) => {
    const tls = { mode: 'starttls' as const, ...tlsFixture('expired') };
    const result = await hostile(
      t,
      { tls },
      { tls: 'starttls' },
      {
        reason: 'tls',
        phase: 'tls',
        message: /CERT_HAS_EXPIRED/,
      },
    );
    assert.deepEqual(ledger.servers.at(-1)?.allCommands, ['CAPA', 'STLS']);
    assert.equal(result.auth_method, null);
  });
});

describe('hostile servers: network', { timeout: 60_000 }, () => {
  it('DNS failure (RFC 2606 .invalid never resolves): dns', async (t) => {
    await hostile(
      t,
      null,
      { host: 'no-such-host.invalid', port: 110 },
      { reason: 'dns', phase: 'dns' },
    );
  });

  it('connection refused: connect', async (t) => {
    // A port that was free a moment ago: bind, read the port, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await hostile(
      t,
      null,
      { port },
      { reason: 'connect', phase: 'connect', message: /ECONNREFUSED/ },
    );
  });
});

describe('hostile servers: summary', () => {
  it('counts the hostile cases', (t) => {
    t.diagnostic(`hostile cases: ${hostileCases}`);
    assert.equal(hostileCases, HOSTILE_CASES);
  });
});
