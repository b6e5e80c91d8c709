/**
 * Shared by interop-courier.test.ts and interop-cyrus.test.ts: the same checks against
 * each real server with default settings (auth: auto, default pipelining) over plain,
 * STLS and implicit TLS. Figures are compared with what the server itself says to an
 * independent raw session, the daemon's first round with /metrics, a wrong password must
 * be reason `auth`, and the message store must be byte for byte as it was.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { MailboxConfig, TlsMode } from '../../src/config/schema.js';
import { CapabilityCache } from '../../src/probe/capability-cache.js';
import { probeMailbox } from '../../src/probe/probe.js';
import type { ProbeResult } from '../../src/probe/result.js';
import { Secret } from '../../src/secret.js';
import { mailboxConfig } from '../fixtures/mailbox-config.js';
import { type RecordingProxy, startRecordingProxy } from '../fixtures/probe-harness.js';
import {
  aliceExpected,
  type InteropServer,
  type InteropUser,
  storeSnapshot,
} from '../servers/env.js';
import { RawSession } from '../servers/raw-session.js';
import { Daemon, stopAllDaemons } from './daemon-support.js';

export interface Transport {
  label: 'plain' | 'STLS' | 'implicit TLS';
  tls: TlsMode;
  port: (server: InteropServer) => number;
}

export const TRANSPORTS: readonly Transport[] = [
  { label: 'plain', tls: 'none', port: (s) => s.plainPort },
  { label: 'STLS', tls: 'starttls', port: (s) => s.plainPort },
  { label: 'implicit TLS', tls: 'implicit', port: (s) => s.tlsPort },
];

const USERS: readonly InteropUser[] = ['alice', 'empty'];
const password = (user: InteropUser) => `${user}-pass-1`;

/**
 * A mailbox with the loader's defaults (auth: auto, pipelining: true, timeout 10 s), the
 * test CA trusted. Only `overrides` differ.
 */
export function interopMailbox(
  server: InteropServer,
  user: InteropUser,
  transport: Transport,
  overrides: Partial<MailboxConfig> = {},
): MailboxConfig {
  return mailboxConfig({
    name: `${server.name}-${user}`,
    host: server.host,
    port: transport.port(server),
    tls: transport.tls,
    tls_ca: readFileSync(server.caFile, 'utf8'),
    username: user,
    password: new Secret(password(user)),
    timeout: 10_000,
    auth: 'auto',
    pipelining: true,
    ...overrides,
  });
}

/** What the server itself says, one command at a time over plain POP3. */
export interface Figures {
  messages: number;
  size_bytes: number;
  uidl_count: number;
  /** Date: of message 1 in seconds, null when the mailbox is empty. */
  oldest: number | null;
}

function dateSeconds(headers: string[]): number | null {
  const line = headers.find((l) => /^date:/i.test(l));
  if (line === undefined) return null;
  const ms = Date.parse(line.slice(5).trim());
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** USER, PASS, STAT, UIDL, TOP 1 0, QUIT with the raw session (never pipelined). */
export async function rawFigures(server: InteropServer, user: InteropUser): Promise<Figures> {
  const session = await RawSession.connect(server.host, server.plainPort);
  try {
    assert.match(await session.readLine(), /^\+OK/);
    assert.match(await session.command(`USER ${user}`), /^\+OK/);
    assert.match(await session.command(`PASS ${password(user)}`), /^\+OK/);
    const stat = /^\+OK (\d+) (\d+)/.exec(await session.command('STAT'));
    assert.ok(stat, 'STAT answered +OK count octets');
    assert.match(await session.command('UIDL'), /^\+OK/);
    const uidl = await session.readDotBlock();
    const messages = Number(stat[1]);
    let oldest: number | null = null;
    if (messages > 0) {
      assert.match(await session.command('TOP 1 0'), /^\+OK/);
      oldest = dateSeconds(await session.readDotBlock());
    }
    assert.match(await session.command('QUIT'), /^\+OK/);
    return { messages, size_bytes: Number(stat[2]), uidl_count: uidl.length, oldest };
  } finally {
    session.close();
  }
}

function figuresOf(result: ProbeResult): Figures {
  assert.equal(result.error, null, JSON.stringify(result.error));
  assert.equal(result.success, true);
  return {
    messages: result.messages ?? -1,
    size_bytes: result.size_bytes ?? -1,
    uidl_count: result.uidl_count ?? -1,
    oldest: result.oldest_message_timestamp,
  };
}

/**
 * The session on the wire, a line per command and reply line (C: client, S: server), the
 * credentials masked; and which client lines left in one write.
 */
export function transcript(proxy: RecordingProxy, connection = 0): string[] {
  const lines: string[] = [];
  for (const { from, text } of proxy.wire[connection] ?? []) {
    const parts = text.split('\r\n');
    if (parts.at(-1) === '') parts.pop();
    const masked = parts.map((line) =>
      from === 'C' ? line.replace(/^(PASS|AUTH PLAIN) .*/i, '$1 ***') : line,
    );
    if (from === 'C' && masked.length > 1) {
      lines.push(`C: ${masked.join('  |  ')}    (one write)`);
    } else {
      for (const line of masked) lines.push(`${from}: ${line}`);
    }
  }
  return lines;
}

/** The client's writes of one connection, each as its command keywords. */
function writes(proxy: RecordingProxy, connection = 0): string[][] {
  return (proxy.chunks[connection] ?? []).map((chunk) =>
    chunk
      .split('\r\n')
      .filter((line) => line !== '')
      .map((line) =>
        line
          .split(' ')
          .slice(0, line.startsWith('AUTH') ? 2 : 1)
          .join(' '),
      ),
  );
}

/**
 * Every check of the issue against one server; `extra` adds the server's own. Runs in
 * order (one session at a time: Cyrus locks a maildrop per session).
 */
export function describeInterop(server: InteropServer, extra: () => void = () => {}): void {
  const raw = new Map<InteropUser, Figures>();
  const stores = new Map<InteropUser, Map<string, string>>();

  before(async () => {
    for (const user of USERS) {
      raw.set(user, await rawFigures(server, user));
      stores.set(user, storeSnapshot(server, user));
    }
  });
  after(stopAllDaemons);

  describe(`${server.name}: what the server itself says`, () => {
    it('alice holds the three fixture messages, empty none', () => {
      const alice = aliceExpected();
      assert.deepEqual(raw.get('alice'), {
        messages: alice.count,
        size_bytes: alice.octets,
        uidl_count: alice.count,
        oldest: alice.dates[0],
      });
      assert.deepEqual(raw.get('empty'), {
        messages: 0,
        size_bytes: 0,
        uidl_count: 0,
        oldest: null,
      });
      assert.equal(stores.get('alice')?.size, 3);
    });
  });

  describe(`${server.name}: probes with default settings`, () => {
    for (const transport of TRANSPORTS) {
      for (const user of USERS) {
        it(`${transport.label}, ${user}: success, the figures the server gives`, async () => {
          const result = await probeMailbox(interopMailbox(server, user, transport));
          assert.deepEqual(figuresOf(result), raw.get(user));
          assert.equal(result.auth_method, 'plain');
          assert.equal(result.pipelined, true, 'the transaction is still pipelined');
          assert.ok(result.capabilities.includes('PIPELINING'));
          if (transport.tls === 'none') assert.equal(result.tls, null);
          else assert.match(result.tls?.protocol ?? '', /^TLSv1\.[23]$/);
        });
      }
    }

    it('plain, on the wire: the login alone, then the transaction in one write', async (t: TestContext) => {
      const proxy = await startRecordingProxy(t, server.plainPort);
      const mailbox = interopMailbox(server, 'alice', TRANSPORTS[0] as Transport, {
        port: proxy.port,
      });
      const result = await probeMailbox(mailbox);
      t.diagnostic(`${server.name} probe transcript:\n${transcript(proxy).join('\n')}`);
      assert.deepEqual(figuresOf(result), raw.get('alice'));
      assert.deepEqual(writes(proxy), [
        ['CAPA'],
        ['AUTH PLAIN'],
        ['STAT', 'NOOP', 'UIDL', 'TOP', 'QUIT'],
      ]);
      // The transaction left only after the server had answered the login.
      const wire = proxy.wire[0] ?? [];
      const login = wire.findIndex((c) => c.from === 'C' && c.text.startsWith('AUTH PLAIN'));
      const tx = wire.findIndex((c) => c.from === 'C' && c.text.startsWith('STAT'));
      assert.ok(wire.slice(login, tx).some((c) => c.from === 'S' && c.text.startsWith('+OK')));
    });

    for (const auth of ['user', 'login'] as const) {
      it(`auth: ${auth} (USER and PASS share a write; SASL LOGIN step by step) succeeds`, async () => {
        const result = await probeMailbox(
          interopMailbox(server, 'alice', TRANSPORTS[0] as Transport, { auth }),
        );
        assert.deepEqual(figuresOf(result), raw.get('alice'));
        assert.equal(result.auth_method, auth);
      });
    }

    for (const transport of [TRANSPORTS[1], TRANSPORTS[0]] as Transport[]) {
      it(`${transport.label}: with cached capabilities (no CAPA) the second probe succeeds too`, async () => {
        const cache = new CapabilityCache();
        const mailbox = interopMailbox(server, 'alice', transport);
        const first = await probeMailbox(mailbox, { capabilityCache: cache });
        const second = await probeMailbox(mailbox, { capabilityCache: cache });
        assert.deepEqual(figuresOf(first), raw.get('alice'));
        assert.deepEqual(figuresOf(second), raw.get('alice'));
        assert.equal('capa' in second.phases, false);
      });
    }

    it('pipelining: full (login and transaction in one write) loses the transaction here', async () => {
      const result = await probeMailbox(
        interopMailbox(server, 'alice', TRANSPORTS[0] as Transport, {
          pipelining: 'full',
          timeout: 3_000,
        }),
      );
      assert.equal(result.success, false);
      assert.equal(result.error?.code, 'timeout');
      assert.equal(result.error?.phase, 'stat');
    });
  });

  describe(`${server.name}: a wrong password`, () => {
    it('is reason auth in phase auth over every transport, the password nowhere', async () => {
      const wrong = 'Wr0ng-Secret-4242';
      // Side by side: Courier answers a wrong password only after 5 s.
      const results = await Promise.all(
        TRANSPORTS.map((transport) =>
          probeMailbox(interopMailbox(server, 'alice', transport, { password: new Secret(wrong) })),
        ),
      );
      for (const result of results) {
        assert.equal(result.success, false);
        assert.equal(result.error?.code, 'auth', JSON.stringify(result.error));
        assert.equal(result.error?.phase, 'auth');
        assert.equal(result.error?.command, 'AUTH PLAIN');
        assert.equal(result.messages, null);
        assert.equal(JSON.stringify(result).includes(wrong), false);
      }
    });
  });

  describe(`${server.name}: the daemon's first round`, () => {
    it('reports every transport in /metrics with the figures the server gives', async () => {
      const mailboxes = TRANSPORTS.map((transport) => ({
        name: `${server.name}-${transport.tls}`,
        host: server.host,
        port: transport.port(server),
        tls: transport.tls,
        tls_ca_file: server.caFile,
        username: 'alice',
        password: password('alice'),
        schedule: '* * * * * *',
      }));
      // One probe at a time: Cyrus locks a maildrop for the whole session.
      const daemon = await Daemon.startReady(
        { config: { scheduler: { max_concurrent_per_host: 1 }, mailboxes } },
        20_000,
      );
      try {
        const scrape = await daemon.scrape();
        const alice = raw.get('alice') as Figures;
        for (const { name: mailbox } of mailboxes) {
          assert.deepEqual(
            [
              scrape.get('pop3_up', { mailbox }),
              scrape.get('pop3_messages', { mailbox }),
              scrape.get('pop3_size_bytes', { mailbox }),
              scrape.get('pop3_oldest_message_timestamp_seconds', { mailbox }),
            ],
            [1, alice.messages, alice.size_bytes, alice.oldest],
            mailbox,
          );
        }
      } finally {
        await daemon.stop();
      }
    });
  });

  extra();

  describe(`${server.name}: the read-only promise`, () => {
    it('every mailbox is byte for byte and figure for figure as before', async () => {
      for (const user of USERS) {
        assert.deepEqual(storeSnapshot(server, user), stores.get(user), user);
        assert.deepEqual(await rawFigures(server, user), raw.get(user), user);
      }
    });
  });
}
