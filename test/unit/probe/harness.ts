// Shared by the client, probe, capability-cache and hostile-server tests: a MailboxConfig
// aimed at a fake server, a ledger that holds every fake server a test file starts (for
// the read-only promise checked once per file), and a recording TCP proxy that shows how
// the client split its writes.
import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import type { MailboxConfig } from '../../../src/config/schema.js';
import { type ProbeDeps, probeMailbox } from '../../../src/probe/probe.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import { Secret } from '../../../src/secret.js';
import {
  type FakeMailbox,
  type FakePop3Options,
  type FakePop3Server,
  makeMessage,
  startFakePop3Server,
  TEST_CA_PEM,
} from '../../fixtures/fake-pop3-server.js';
import { mailboxConfig } from '../../fixtures/mailbox-config.js';

export const USER = 'alice';
export const PASSWORD = 'Tr0ub4dor&3-horse';

/** A mailbox of two messages with known Dates (message 1 is the older). */
export function aliceMailbox(messages?: (string | Buffer)[]): FakeMailbox {
  return {
    user: USER,
    password: PASSWORD,
    messages: messages ?? [
      makeMessage({ date: 'Mon, 02 Mar 2026 10:00:00 +0000', subject: 'first' }),
      makeMessage({ date: 'Tue, 03 Mar 2026 11:30:00 +0100', subject: 'second' }),
    ],
  };
}

/** Sum of the messages' octets: what STAT must report. */
export function octets(messages: (string | Buffer)[]): number {
  let sum = 0;
  for (const m of messages) sum += typeof m === 'string' ? Buffer.byteLength(m, 'utf8') : m.length;
  return sum;
}

/** A mailbox config for a fake server on loopback: plaintext, auto auth, pipelining on. */
export function mailboxFor(
  server: { port: number },
  overrides: Partial<MailboxConfig> = {},
): MailboxConfig {
  return mailboxConfig({
    name: 'fake',
    port: server.port,
    username: USER,
    password: new Secret(PASSWORD),
    tls_ca: TEST_CA_PEM.toString(),
    ...overrides,
  });
}

const FORBIDDEN = /^(DELE|RETR|RSET)\b/i;

/**
 * Every fake server of one test file. `start` closes the server when the test ends;
 * `probe` checks that each session a successful probe opened ended with QUIT; `verify`
 * (in the file's after hook) checks that no session of any server ever received DELE,
 * RETR or RSET and that no onCommand/onConnect handler threw.
 */
export class ServerLedger {
  readonly servers: FakePop3Server[] = [];
  readonly problems: string[] = [];
  successfulSessions = 0;

  async start(t: TestContext, options: FakePop3Options = {}): Promise<FakePop3Server> {
    const server = await startFakePop3Server({ mailboxes: [aliceMailbox()], ...options });
    this.servers.push(server);
    t.after(() => server.close());
    return server;
  }

  async probe(
    server: FakePop3Server,
    mailbox: MailboxConfig,
    deps: ProbeDeps = {},
  ): Promise<ProbeResult> {
    const before = server.totalConnections();
    const result = await probeMailbox(mailbox, deps);
    if (result.success) {
      // A session is only found among server.sessions once accepted; by the time the
      // probe resolved, QUIT's reply was read, so the server had recorded it.
      const sessions = server.sessions.filter((s) => s.id > before);
      if (sessions.length === 0) this.problems.push('successful probe opened no session');
      for (const session of sessions) {
        this.successfulSessions++;
        if (session.commands.at(-1) !== 'QUIT') {
          this.problems.push(`session ${session.id} did not end with QUIT: ${session.commands}`);
        }
      }
    }
    return result;
  }

  verify(): void {
    for (const server of this.servers) {
      const forbidden = server.allCommands.filter((line) => FORBIDDEN.test(line));
      assert.deepEqual(forbidden, [], 'the monitor sent DELE, RETR or RSET');
      assert.deepEqual(server.handlerErrors, [], 'a fake server handler threw');
    }
    assert.deepEqual(this.problems, []);
  }
}

/** The sum of every phase but total. */
export function sumOfPhases(result: ProbeResult): number {
  let sum = 0;
  for (const [phase, seconds] of Object.entries(result.phases)) {
    if (phase !== 'total') sum += seconds ?? 0;
  }
  return sum;
}

/** Phases are non-negative seconds, and total covers the others (float noise allowed). */
export function assertPhasesSane(result: ProbeResult): void {
  for (const [phase, seconds] of Object.entries(result.phases)) {
    assert.ok(
      typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0,
      `phase ${phase} is ${seconds}`,
    );
  }
  const total = result.phases.total;
  assert.ok(total !== undefined, 'total phase missing');
  assert.ok(total >= sumOfPhases(result) - 1e-6, `total ${total} < sum ${sumOfPhases(result)}`);
}

export interface RecordingProxy {
  readonly port: number;
  /** Every chunk the client wrote, per connection, in order (latin1 text). */
  readonly chunks: string[][];
  /** Both directions per connection, in the order the proxy saw them: C client, S server. */
  readonly wire: { from: 'C' | 'S'; text: string }[][];
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of `target` that records each chunk the client sends (and, in
 * `wire`, what the server sent back, in order). On loopback
 * a single write of a few hundred octets arrives as one chunk, so `chunks` shows which
 * commands left together.
 */
export async function startRecordingProxy(t: TestContext, target: number): Promise<RecordingProxy> {
  const chunks: string[][] = [];
  const wire: RecordingProxy['wire'][number][] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    const mine: string[] = [];
    const both: RecordingProxy['wire'][number] = [];
    chunks.push(mine);
    wire.push(both);
    const upstream = netConnect({ host: '127.0.0.1', port: target });
    track(client);
    track(upstream);
    client.on('data', (chunk: Buffer) => {
      mine.push(chunk.toString('latin1'));
      both.push({ from: 'C', text: chunk.toString('latin1') });
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      both.push({ from: 'S', text: chunk.toString('latin1') });
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  t.after(close);
  return { port, chunks, wire, close };
}
