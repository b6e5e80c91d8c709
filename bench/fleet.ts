// A fleet of fake POP3 servers for the benchmarks, meant to run in its own process so its
// CPU is not charged to the client being measured. One server per loopback address
// (127.0.0.11, .12, ...: distinct hosts, as the scheduler's per-host limit sees them),
// all serving the same `users` mailboxes (user0 .. userN-1, password bench-pass-1,
// 3 messages each), fully RFC 1939/2449 with PIPELINING, over plain TCP (STLS offered
// when --tls starttls) or implicit TLS.
//
//   node --import tsx bench/fleet.ts --hosts 8 --users 10000 [--tls none|starttls|implicit]
//
// Prints `READY {"servers":[{"host","port"}...]}`. A `stats` line on stdin is answered
// with `STATS {"cpuMs","rssMb","sessions"}`. Exits on SIGTERM or when stdin closes.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  type FakeMailbox,
  type FakePop3Server,
  manyMessages,
  startFakePop3Server,
  TEST_CA_PEM,
  tlsFixture,
} from '../test/fixtures/fake-pop3-server.js';
import { isMain } from './lib/main.js';

export const FLEET_PASSWORD = 'bench-pass-1';
export const FLEET_MESSAGES = 3;
/** The fixture certificate names localhost; clients set tls_servername to it. */
export const FLEET_SERVERNAME = 'localhost';
/** The CA that signed the fleet's certificate, for the clients' tls_ca. */
export const FLEET_CA_PEM = TEST_CA_PEM.toString('utf8');

export function fleetUser(index: number): string {
  return `user${index}`;
}

/** The address of fleet host i (0-based): 127.0.0.11 upwards, never 127.0.0.1. */
export function fleetHost(index: number): string {
  if (index < 0 || index > 240) throw new RangeError('--hosts: 1 to 241');
  return `127.0.0.${11 + index}`;
}

export interface FleetOptions {
  hosts: number;
  users: number;
  tls: 'none' | 'starttls' | 'implicit';
}

export async function startFleet(options: FleetOptions): Promise<FakePop3Server[]> {
  const messages = manyMessages(FLEET_MESSAGES, { subject: 'fleet message' });
  const mailboxes: FakeMailbox[] = Array.from({ length: options.users }, (_, i) => ({
    user: fleetUser(i),
    password: FLEET_PASSWORD,
    messages,
  }));
  const tls =
    options.tls === 'none' ? undefined : { mode: options.tls, ...tlsFixture('localhost') };
  const servers: FakePop3Server[] = [];
  for (let i = 0; i < options.hosts; i++) {
    servers.push(
      await startFakePop3Server({
        host: fleetHost(i),
        mailboxes,
        tls,
        recordCommands: false,
        sessionHistory: 16,
      }),
    );
  }
  return servers;
}

async function cli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      hosts: { type: 'string', default: '8' },
      users: { type: 'string', default: '1000' },
      tls: { type: 'string', default: 'none' },
    },
  });
  const tls = values.tls;
  if (tls !== 'none' && tls !== 'starttls' && tls !== 'implicit')
    throw new RangeError('--tls: none, starttls or implicit');
  const servers = await startFleet({
    hosts: Number(values.hosts),
    users: Number(values.users),
    tls,
  });
  process.stdout.write(
    `READY ${JSON.stringify({ servers: servers.map((s) => ({ host: s.host, port: s.port })) })}\n`,
  );
  const stop = () => {
    void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== 'stats') return;
    const cpu = process.cpuUsage();
    const stats = {
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      sessions: servers.reduce((sum, s) => sum + s.totalConnections(), 0),
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
  });
  lines.on('close', stop);
}

if (isMain(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`fleet: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
