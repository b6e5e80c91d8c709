/**
 * Helpers of the mail-flow tests: a daemon config with delivery loops through the real
 * Postfix (submission: STARTTLS, AUTH) into the real Dovecot, the daemon's log read as
 * events, and messages put straight into a test user's Maildir.
 */
import { randomUUID } from 'node:crypto';
import { chownSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DOVECOT, maildirPath, SMTP, type TestUser, USERS } from '../servers/env.js';
import { type Daemon, startDaemon } from './alerting-support.js';

export const EVERY_SECOND = '* * * * * *';

export interface FlowFixture {
  /** Unique per test: in loop names and addresses. */
  tid: string;
  dir: string;
  stateDir: string;
  keyFile: string;
  defer(cleanup: () => unknown): void;
}

export async function flowFixture(t: TestContext): Promise<FlowFixture> {
  const tid = randomUUID().slice(0, 8);
  const dir = await mkdtemp(join(tmpdir(), 'mail-flow-'));
  const cleanups: (() => unknown)[] = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const keyFile = join(dir, 'loop-key');
  writeFileSync(keyFile, `test-loop-key-${tid}-0123456789abcdef\n`);
  writeFileSync(join(dir, 'smtp-password'), `${SMTP.password}\n`);
  return {
    tid,
    dir,
    stateDir: join(dir, 'state'),
    keyFile,
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
  };
}

export { dovecotMailbox } from '../servers/env.js';

/** The submission service of the test Postfix, as a loop's smtp: block. */
export function submission(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    host: SMTP.host,
    port: SMTP.submissionPort,
    secure: false,
    username: SMTP.user,
    password_file: 'smtp-password',
    tls_ca_file: DOVECOT.caFile,
    timeout: '5s',
    ...extra,
  };
}

/** A loop sending every `every` seconds to `user`@test.local, probed in mailbox `mailbox`. */
export function loopEntry(
  fx: FlowFixture,
  name: string,
  mailbox: string,
  user: TestUser,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    schedule: '*/3 * * * * *',
    smtp: submission(),
    from: `monitor-${fx.tid}@${SMTP.domain}`,
    to: `${USERS[user].user}@${SMTP.domain}`,
    mailbox,
    deadline: '30s',
    cleanup: true,
    hmac_key_file: fx.keyFile,
    ...extra,
  };
}

export interface FlowConfig {
  mailboxes: Record<string, unknown>[];
  loops?: Record<string, unknown>[];
  alerting?: Record<string, unknown>;
}

/** Starts the built daemon with this config (JSON is YAML) in the fixture's directory. */
export async function flowDaemon(fx: FlowFixture, config: FlowConfig): Promise<Daemon> {
  const daemon = await startDaemon(fx.dir, (listen) =>
    JSON.stringify(
      {
        server: { listen },
        state_dir: fx.stateDir,
        mailboxes: config.mailboxes,
        loops: config.loops ?? [],
        ...(config.alerting ? { alerting: config.alerting } : {}),
      },
      null,
      2,
    ),
  );
  fx.defer(() => daemon.stop());
  return daemon;
}

export type LogEvent = Record<string, unknown> & { event?: string };

/** The daemon's JSON log lines with this event (and these fields). */
export function events(
  daemon: Daemon,
  event: string,
  fields: Record<string, unknown> = {},
): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of daemon.log().split('\n')) {
    if (!line.startsWith('{')) continue;
    let parsed: LogEvent;
    try {
      parsed = JSON.parse(line) as LogEvent;
    } catch {
      continue;
    }
    if (parsed.event !== event) continue;
    if (Object.entries(fields).every(([k, v]) => parsed[k] === v)) out.push(parsed);
  }
  return out;
}

/**
 * Puts `message` into `user`'s Maildir cur/ with no flags (`:2,`), as Dovecot leaves a
 * message it has listed, owned by the mail user, mode 0600; returns its snapshot name.
 */
export function deliverRaw(user: TestUser, message: string, tag: string): string {
  const root = maildirPath(user);
  const name = `${Math.floor(Date.now() / 1000)}.M${process.pid}P${tag}.flowtest:2,`;
  const file = join(root, 'cur', name);
  writeFileSync(file, message, { mode: 0o600 });
  const owner = statSync(root);
  chownSync(file, owner.uid, owner.gid);
  return `cur/${name}`;
}

/**
 * A snapshot keyed by the message's maildir base name: Dovecot moves a message it lists
 * from new/NAME to cur/NAME:2, (no flags), which changes nothing about the message; a
 * flag (`:2,S` after a RETR), a rewrite or an expunge still shows.
 */
export function byMessage(snapshot: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, hash] of snapshot) {
    out.set(name.replace(/^(new|cur)\//, '').replace(/:2,$/, ''), hash);
  }
  return out;
}

/** A small RFC 5322 message with CRLF line ends. */
export function rawMessage(headers: Record<string, string>, body: string): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}\r\n`;
}
