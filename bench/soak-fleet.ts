// The servers of the soak benchmark (bench/soak.ts), in their own process so their CPU and
// memory are not the daemon's: a few healthy fake POP3 servers, a few "chaos" ones whose
// failure mode rotates over time, and an SMTP sink for the alert mail.
//
//   node --import tsx bench/soak-fleet.ts --healthy 3 --chaos 2 --users 200 --rotate 30
//
// Prints `READY {"servers":[{"host","port","kind"}...],"smtp":{"host","port"}}`. A `stats`
// line on stdin is answered with `STATS {"sessions","mails","modes":[...]}`. Exits on
// SIGTERM or when stdin closes.
//
// Every server holds the same users (user0 .. userN-1, password SOAK_PASSWORD, 3 messages).
// A chaos server picks its mode per session from the clock: the mode changes every
// `rotate` seconds, and each chaos server is offset by two modes from the previous one, so
// at any time the fleet shows several failures at once and every mailbox on a chaos server
// goes down and comes back up (alerts fire and resolve) again and again.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { type CapturedMail, startSmtpCapture } from '../src/demo/smtp-capture.js';
import {
  type FakeMailbox,
  type FakePop3Server,
  type FakeSession,
  manyMessages,
  startFakePop3Server,
} from '../test/fixtures/fake-pop3-server.js';
import { isMain } from './lib/main.js';

export const SOAK_PASSWORD = 'soak-pass-1';

/**
 * What a chaos server does in a session:
 * - ok: a correct server;
 * - auth: -ERR [AUTH] to the login (a wrong password, as far as the monitor can tell);
 * - slow: every reply 300 ms late (the probe succeeds in about 2 s: overlaps at 1 s);
 * - close_mid: UIDL's listing is cut off by a close (closed);
 * - sys_temp: -ERR [SYS/TEMP] greeting, then close (server_temp);
 * - stall: no greeting at all (timeout at the probe deadline).
 */
export const CHAOS_MODES = ['ok', 'auth', 'slow', 'close_mid', 'sys_temp', 'stall'] as const;
export type ChaosMode = (typeof CHAOS_MODES)[number];

const SLOW_REPLY_MS = 300;

export function fleetUser(index: number): string {
  return `user${index}`;
}

/** Healthy server i at 127.0.0.31+i, chaos server i at 127.0.0.41+i: distinct hosts. */
export function soakHost(kind: 'healthy' | 'chaos', index: number): string {
  if (index < 0 || index > 9) throw new RangeError('at most 10 servers of a kind');
  return `127.0.0.${(kind === 'healthy' ? 31 : 41) + index}`;
}

/** The mode of chaos server `index` at `nowMs`. */
export function chaosMode(index: number, nowMs: number, rotateMs: number): ChaosMode {
  const slot = Math.floor(nowMs / rotateMs) + index * 2;
  return CHAOS_MODES[slot % CHAOS_MODES.length] as ChaosMode;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Per-session mode, fixed at connect so a session never changes behaviour half-way. */
function chaosHooks(index: number, rotateMs: number) {
  const modes = new WeakMap<FakeSession, ChaosMode>();
  return {
    onConnect(session: FakeSession): boolean | undefined {
      const mode = chaosMode(index, Date.now(), rotateMs);
      modes.set(session, mode);
      if (mode === 'stall') return true;
      if (mode === 'sys_temp') {
        session.reply('-ERR [SYS/TEMP] maintenance, come back later');
        session.close();
        return true;
      }
      return undefined;
    },
    async onCommand(session: FakeSession, command: string): Promise<boolean | undefined> {
      const mode = modes.get(session) ?? 'ok';
      if (mode === 'auth' && (command === 'PASS' || command === 'AUTH')) {
        session.reply('-ERR [AUTH] Authentication failed');
        return true;
      }
      if (mode === 'close_mid' && command === 'UIDL') {
        session.write('+OK\r\n1 fake-1\r\n2 fa');
        session.close();
        return true;
      }
      if (mode === 'slow') await sleep(SLOW_REPLY_MS);
      return undefined;
    },
  };
}

export interface SoakFleetOptions {
  healthy: number;
  chaos: number;
  users: number;
  rotateMs: number;
}

export interface SoakFleet {
  servers: { host: string; port: number; kind: 'healthy' | 'chaos'; pop3: FakePop3Server }[];
  smtp: { host: string; port: number };
  mails(): number;
  close(): Promise<void>;
}

export async function startSoakFleet(options: SoakFleetOptions): Promise<SoakFleet> {
  const messages = manyMessages(3, { subject: 'soak message' });
  const mailboxes: FakeMailbox[] = Array.from({ length: options.users }, (_, i) => ({
    user: fleetUser(i),
    password: SOAK_PASSWORD,
    messages,
  }));
  const common = { mailboxes, recordCommands: false, sessionHistory: 16 };
  const servers: SoakFleet['servers'] = [];
  for (let i = 0; i < options.healthy; i++) {
    const pop3 = await startFakePop3Server({ ...common, host: soakHost('healthy', i) });
    servers.push({ host: pop3.host, port: pop3.port, kind: 'healthy', pop3 });
  }
  for (let i = 0; i < options.chaos; i++) {
    const pop3 = await startFakePop3Server({
      ...common,
      host: soakHost('chaos', i),
      ...chaosHooks(i, options.rotateMs),
    });
    servers.push({ host: pop3.host, port: pop3.port, kind: 'chaos', pop3 });
  }
  let mails = 0;
  // The capture keeps what it received for the demo; the soak only counts (true: keep
  // nothing), so the fleet's memory stays flat however many alerts go out.
  const capture = await startSmtpCapture((_mail: CapturedMail) => {
    mails += 1;
    return true;
  });
  return {
    servers,
    smtp: { host: '127.0.0.1', port: capture.port },
    mails: () => mails,
    async close() {
      await Promise.all([...servers.map((s) => s.pop3.close()), capture.close()]);
    },
  };
}

async function cli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      healthy: { type: 'string', default: '3' },
      chaos: { type: 'string', default: '2' },
      users: { type: 'string', default: '200' },
      rotate: { type: 'string', default: '30' },
    },
  });
  const rotateMs = Number(values.rotate) * 1000;
  if (!(rotateMs > 0)) throw new RangeError('--rotate: seconds above 0');
  const fleet = await startSoakFleet({
    healthy: Number(values.healthy),
    chaos: Number(values.chaos),
    users: Number(values.users),
    rotateMs,
  });
  const ready = {
    servers: fleet.servers.map((s) => ({ host: s.host, port: s.port, kind: s.kind })),
    smtp: fleet.smtp,
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
  const stop = () => {
    void fleet.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== 'stats') return;
    const now = Date.now();
    const stats = {
      sessions: fleet.servers.reduce((sum, s) => sum + s.pop3.totalConnections(), 0),
      mails: fleet.mails(),
      modes: fleet.servers
        .filter((s) => s.kind === 'chaos')
        .map((_, i) => chaosMode(i, now, rotateMs)),
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
  });
  lines.on('close', stop);
}

if (isMain(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`soak-fleet: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
