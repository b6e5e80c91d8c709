/**
 * Helpers of test/integration/secrets.test.ts: the leak detector, the hostile echo servers
 * (POP3 and SMTP), the built daemon and CLI as child processes with their whole output,
 * and readers for HTTP answers, mail and state files.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  DEFAULT_CAPABILITIES,
  type FakePop3Server,
  type FakeSession,
  startFakePop3Server,
} from '../fixtures/fake-pop3-server.js';
import { poll } from '../fixtures/poll.js';
import { cliCommand, REPO_ROOT } from './shipping-support.js';

/** Every canary of the test starts with this; no output may contain it. */
export const MARK = 'CANARY';

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

const children = new Set<ChildProcess>();

/** SIGKILLs every child still running (for the test's after hook). */
export function killChildren(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}

/**
 * Where a canary shows in `text`: as is (case-insensitive), or inside any base64 run at
 * any of the four alignments (a SASL PLAIN blob puts the password after other fields, so
 * base64(password) is not a substring of it). Also looked for with line breaks removed
 * (a wrapped base64 body) and with quoted-printable soft breaks undone (mail bodies).
 */
export function findLeaks(text: string): string[] {
  const found = new Set<string>();
  const views = [
    text,
    text.replace(/\r?\n/g, ''),
    text
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
  ];
  for (const view of views) {
    const at = view.toUpperCase().indexOf(MARK);
    if (at !== -1) found.add(`text "${view.slice(Math.max(0, at - 40), at + 40)}"`);
    for (const run of view.match(/[A-Za-z0-9+/]{8,}={0,2}/g) ?? []) {
      for (let skip = 0; skip < 4; skip++) {
        const decoded = Buffer.from(run.slice(skip), 'base64').toString('latin1');
        if (decoded.toUpperCase().includes(MARK)) found.add(`base64 "${run.slice(0, 60)}"`);
      }
    }
  }
  return [...found];
}

/** Every (source, text) pair checked, with its leaks. */
export function leaksIn(sources: Record<string, string>): string[] {
  return Object.entries(sources).flatMap(([source, text]) =>
    findLeaks(text).map((leak) => `${source}: ${leak}`),
  );
}

// ---------------------------------------------------------------------------------------
// Hostile servers: a POP3 server and an SMTP server that quote what they receive.

/**
 * Answers every credential with an -ERR quoting the line it got, and its base64 decoded
 * (what a careless server might log and send back). AUTH LOGIN is played through its two
 * challenges so the password line itself is echoed.
 */
export async function startEchoPop3(): Promise<FakePop3Server> {
  const loginStep = new WeakMap<FakeSession, 'user' | 'password'>();
  const echo = (s: FakeSession, line: string, extra = ''): true => {
    const decoded = Buffer.from(line.split(' ').at(-1) ?? '', 'base64')
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '|');
    s.reply(`-ERR [AUTH] ECHO you sent "${line}" decoded "${decoded}"${extra}`);
    return true;
  };
  return startFakePop3Server({
    capabilities: DEFAULT_CAPABILITIES.map((c) => (c.startsWith('SASL ') ? `${c} XOAUTH2` : c)),
    onCommand(s, command, args, line) {
      const step = loginStep.get(s);
      if (step === 'user') {
        loginStep.set(s, 'password');
        s.reply('+ UGFzc3dvcmQ6');
        return true;
      }
      if (step === 'password') {
        loginStep.delete(s);
        return echo(s, line);
      }
      if (command === 'USER') {
        s.reply('+OK send PASS');
        return true;
      }
      if (command === 'PASS') return echo(s, line);
      if (command === 'AUTH' && args[0]?.toUpperCase() === 'LOGIN' && args[1] === undefined) {
        loginStep.set(s, 'user');
        s.reply('+ VXNlcm5hbWU6');
        return true;
      }
      if (command === 'AUTH') return echo(s, line);
      return undefined;
    },
  });
}

export interface EchoSmtp {
  port: number;
  received: string[];
  close(): Promise<void>;
}

/** An SMTP server that offers AUTH without TLS and refuses it with a 535 quoting the line. */
export async function startEchoSmtp(): Promise<EchoSmtp> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = '';
    let pending: 'user' | 'password' | null = null;
    socket.write('220 echo.test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        received.push(line);
        const verb = line.split(' ')[0]?.toUpperCase();
        if (pending === 'user') {
          pending = 'password';
          socket.write('334 UGFzc3dvcmQ6\r\n');
        } else if (pending === 'password') {
          pending = null;
          socket.write(`535 5.7.8 ECHO you sent "${line}"\r\n`);
        } else if (verb === 'EHLO') {
          socket.write('250-echo.test\r\n250 AUTH PLAIN LOGIN\r\n');
        } else if (verb === 'AUTH' && /^AUTH LOGIN$/i.test(line)) {
          pending = 'user';
          socket.write('334 VXNlcm5hbWU6\r\n');
        } else if (verb === 'AUTH') {
          socket.write(`535 5.7.8 ECHO you sent "${line}"\r\n`);
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
        } else {
          socket.write('503 5.5.1 authenticate first\r\n');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------
// The daemons and the CLI.

export interface Daemon {
  name: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

export function startDaemon(
  name: string,
  config: string,
  env: Record<string, string>,
  args: string[] = [],
) {
  const cli = cliCommand();
  const child = spawn(process.execPath, [...cli.args, 'run', '--config', config, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  } satisfies Daemon;
}

export function runCli(args: string[], env: Record<string, string> = {}) {
  const cli = cliCommand();
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [...cli.args, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Polls `check` (real servers and a real clock: the daemon's schedule cannot be injected). */
export function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  return poll(what, check, { timeoutMs: ms, intervalMs: 250 });
}

/** Every file under `dir`, by path relative to it. */
export function filesUnder(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) Object.assign(out, filesUnder(path, `${prefix}${name}/`));
    else out[`${prefix}${name}`] = readFileSync(path, 'latin1');
  }
  return out;
}

export async function fetchText(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; headers: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return {
    status: response.status,
    body: await response.text(),
    headers: JSON.stringify([...response.headers.entries()]),
  };
}

/**
 * A mail's readable text: the raw message, then each MIME part body decoded from
 * quoted-printable or base64 (RFC 2045 §6.7, §6.8), for positive checks of its content.
 */
export function mailText(raw: string): string {
  const parts = raw.split(/\r\n--[^\r\n]+\r\n/);
  const decoded = parts.map((part) => {
    const split = part.indexOf('\r\n\r\n');
    const head = split === -1 ? '' : part.slice(0, split);
    const body = split === -1 ? part : part.slice(split + 4);
    if (/^content-transfer-encoding:\s*base64/im.test(head))
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (/^content-transfer-encoding:\s*quoted-printable/im.test(head))
      return Buffer.from(
        body
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, h: string) =>
            String.fromCharCode(Number.parseInt(h, 16)),
          ),
        'latin1',
      ).toString('utf8');
    return body;
  });
  return [raw, ...decoded].join('\n');
}
