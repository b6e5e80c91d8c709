/**
 * Helpers of alerting-postfix.test.ts: the real daemon as a child process with its whole
 * log kept in a file, its /metrics read as numbers, and the mail Postfix delivered read
 * back from Dovecot over POP3 with the project's own client (TOP n 10000 instead of RETR:
 * it gives the whole of a small message and changes nothing in the maildrop).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseItemFile } from '../../src/alerts/outbox-file.js';
import type { Notification } from '../../src/alerts/types.js';
import { textPart } from '../../src/demo/print-mail.js';
import { Pop3Client } from '../../src/pop3/client.js';
import { Secret } from '../../src/secret.js';
import { poll } from '../fixtures/poll.js';
import { DOVECOT, type TestUser, USERS } from '../servers/env.js';
import { freePort } from '../servers/tools.js';
import { cliCommand, REPO_ROOT } from './shipping-support.js';

// ---------------------------------------------------------------------------------------
// Reading mail back

/** One message of a Dovecot maildrop, as a recipient would see it. */
export interface ReceivedMail {
  /** POP3 message number in the session that read it. */
  number: number;
  /** The whole message, CRLF line ends, dot-stuffing undone. */
  raw: string;
  /** Unfolded header fields (RFC 5322 §2.2.3), lower-case names; the first of each name. */
  headers: Map<string, string>;
  /** The decoded text/plain part. */
  text: string;
  /** The decoded text/html part ('' when there is none). */
  html: string;
}

/** Header name (lower case) → value, unfolded. */
export function parseHeaders(raw: string): Map<string, string> {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

/** Quoted-printable (RFC 2045 §6.7) or base64 body → text. */
function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) =>
            String.fromCharCode(Number.parseInt(h, 16)),
          ),
        'latin1',
      ).toString('utf8');
    default:
      return body;
  }
}

/** The decoded text/html part of a multipart/alternative message (RFC 2046 §5.1). */
export function htmlPart(raw: string): string {
  const type = parseHeaders(raw).get('content-type') ?? '';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (boundary === undefined) return '';
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  for (const piece of body.split(`--${boundary}`).slice(1)) {
    const part = piece.replace(/^\r\n/, '');
    const headers = parseHeaders(part);
    if (!(headers.get('content-type') ?? '').toLowerCase().startsWith('text/html')) continue;
    const start = part.indexOf('\r\n\r\n');
    return decodeBody(
      start === -1 ? '' : part.slice(start + 4),
      headers.get('content-transfer-encoding'),
    );
  }
  return '';
}

/** Logs in as `user` on the test Dovecot with the project's Pop3Client. */
async function openMaildrop(user: TestUser): Promise<Pop3Client> {
  const client = new Pop3Client({
    host: DOVECOT.host,
    port: DOVECOT.plainPort,
    tls: 'none',
    tlsOptions: { servername: undefined, ca: undefined, insecure: false },
    timeoutMs: 15_000,
    pipelining: false,
  });
  try {
    await client.open();
    await client.capa();
    await client.login('user', USERS[user].user, new Secret(USERS[user].password));
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

/**
 * Every message in `user`'s maildrop, read whole with `TOP n 10000` (RFC 1939 §7): the
 * client has no RETR on purpose, and TOP does not mark anything as read.
 */
export async function readMaildrop(user: TestUser): Promise<ReceivedMail[]> {
  const client = await openMaildrop(user);
  try {
    const [stat] = await client.exchange(
      [{ line: 'STAT', name: 'STAT', multiline: false, phase: 'stat' }],
      false,
    );
    const count = Number(/^(\d+) /.exec(stat?.text ?? '')?.[1]);
    if (stat?.kind !== 'ok' || !Number.isInteger(count))
      throw new Error(`STAT failed: ${stat?.status}`);
    const mails: ReceivedMail[] = [];
    for (let n = 1; n <= count; n++) {
      const [top] = await client.exchange(
        [{ line: `TOP ${n} 10000`, name: 'TOP', multiline: true, phase: 'top' }],
        false,
      );
      if (top?.kind !== 'ok' || top.lines === null)
        throw new Error(`TOP ${n} failed: ${top?.status}`);
      const raw = `${top.lines.join('\r\n')}\r\n`;
      mails.push({
        number: n,
        raw,
        headers: parseHeaders(raw),
        text: textPart(raw),
        html: htmlPart(raw),
      });
    }
    return mails;
  } finally {
    await client.quit().catch(() => client.close());
  }
}

/**
 * Polls `user`'s maildrop until `enough` holds for the messages that `match` (Postfix
 * delivers asynchronously), and returns those messages. Bounded by timeoutMs.
 */
export async function waitForMail(
  user: TestUser,
  match: (mail: ReceivedMail) => boolean,
  enough: (mails: ReceivedMail[]) => boolean,
  timeoutMs = 20_000,
): Promise<ReceivedMail[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = (await readMaildrop(user)).filter(match);
    if (enough(mails)) return mails;
    if (Date.now() > deadline) {
      throw new Error(
        `mail in ${user}'s maildrop did not arrive within ${timeoutMs} ms; matching so far: ` +
          JSON.stringify(mails.map((m) => m.headers.get('subject'))),
      );
    }
    await delay(300);
  }
}

/** The header block as received (Postfix's trace fields included) and the text part. */
export function describeMail(mail: ReceivedMail): string {
  const end = mail.raw.indexOf('\r\n\r\n');
  const head = end === -1 ? mail.raw : mail.raw.slice(0, end);
  return `${head.replaceAll('\r\n', '\n')}\n\n${mail.text.trimEnd()}`;
}

// ---------------------------------------------------------------------------------------
// The daemon

export interface Daemon {
  readonly process: ChildProcess;
  readonly metricsUrl: string;
  /** Everything the daemon logged so far (stdout and stderr, whole). */
  log(): string;
  /** Sends `signal` and waits for the exit (SIGKILL after graceMs). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/**
 * Spawns `pop3-monitor run --config <dir>/config.yaml`, its output appended to
 * <dir>/daemon-<n>.log, and resolves once /metrics answers.
 */
export async function startDaemon(
  dir: string,
  config: (listen: string) => string,
  env: NodeJS.ProcessEnv = {},
): Promise<Daemon> {
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, config(`127.0.0.1:${port}`));
  const logPath = join(
    dir,
    `daemon-${readdirSync(dir).filter((f) => f.endsWith('.log')).length}.log`,
  );
  const fd = openSync(logPath, 'a');
  const cli = cliCommand();
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...cli.args, 'run', '--config', configPath], {
      cwd: REPO_ROOT,
      env: { ...process.env, POP3_MONITOR_LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const daemon: Daemon = {
    process: child,
    metricsUrl,
    log: () => readFileSync(logPath, 'utf8'),
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), graceMs);
      });
      const first = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (first === 'late') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  try {
    await waitUntil('the daemon serving /metrics', daemon, async () =>
      (await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined,
    );
  } catch (error) {
    await daemon.stop('SIGKILL');
    throw error;
  }
  return daemon;
}

/**
 * Polls `check` until it returns a value other than undefined; fails after timeoutMs with
 * the daemon's log tail, or at once when the daemon exited.
 */
export function waitUntil<T>(
  what: string,
  daemon: Daemon,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  return poll(what, check, {
    timeoutMs,
    stop: () => {
      const { exitCode, signalCode } = daemon.process;
      return exitCode !== null || signalCode !== null
        ? `the daemon exited (${exitCode ?? signalCode})`
        : null;
    },
    context: () => tail(daemon),
  });
}

function tail(daemon: Daemon): string {
  return `daemon log (tail):\n${daemon.log().split('\n').slice(-30).join('\n')}`;
}

/** The daemon's /metrics text. */
export async function scrape(daemon: Daemon): Promise<string> {
  const response = await fetch(daemon.metricsUrl, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
  return response.text();
}

/**
 * The value of one series in a Prometheus text exposition, or undefined when absent.
 * `labels` must list every label of the series, in any order.
 */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = (m[2] ?? '')
      .split(/,(?=[a-zA-Z_][a-zA-Z0-9_]*=")/)
      .filter((p) => p !== '')
      .sort()
      .join(',');
    if (have === want) return Number(m[3]);
  }
  return undefined;
}

/** The notifications waiting in <stateDir>/outbox, in enqueue order. */
export function outboxNotifications(stateDir: string): Notification[] {
  const dir = join(stateDir, 'outbox');
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  return names
    .map((name) => parseItemFile(readFileSync(join(dir, name), 'utf8')))
    .filter((file) => file !== null)
    .sort((a, b) => a.seq - b.seq)
    .map((file) => file.item.notification);
}

/** The Message-ID an alert email of this notification carries (email-render.ts). */
export function messageIdOf(notification: Notification, domain = 'test.local'): string {
  return `<pop3-monitor.${notification.id}@${domain}>`;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
