import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { MailboxConfig, Pipelining, TlsMode } from '../../src/config/schema.js';
import { Secret } from '../../src/secret.js';
import { DOVECOT, SERVERS_DIR, USERS } from '../../test/servers/env.js';

/** The three ways to reach a POP3 server: plain (110), STLS on 110, implicit TLS (995). */
export const MODES = ['plain', 'starttls', 'implicit'] as const;
export type Mode = (typeof MODES)[number];

export const TLS_OF: Record<Mode, TlsMode> = {
  plain: 'none',
  starttls: 'starttls',
  implicit: 'implicit',
};

/** The Dovecot port a mode talks to (test/servers/start.sh). */
export function dovecotPort(mode: Mode): number {
  return mode === 'implicit' ? DOVECOT.tlsPort : DOVECOT.plainPort;
}

export const BENCH_USER = USERS.alice;
export const DOVECOT_HOST = DOVECOT.host;
export const DOVECOT_CA_FILE = DOVECOT.caFile;

export interface MailboxSpec {
  name: string;
  host: string;
  port: number;
  mode: Mode;
  username: string;
  password: string;
  caPem?: string | undefined;
  caFile?: string | undefined;
  schedule?: string;
  timeoutMs?: number;
  /** Default true, as the config loader's. */
  pipelining?: Pipelining;
}

/** A resolved MailboxConfig as the config loader would produce it, with the defaults. */
export function mailboxConfig(spec: MailboxSpec): MailboxConfig {
  return {
    name: spec.name,
    host: spec.host,
    port: spec.port,
    username: spec.username,
    password: new Secret(spec.password),
    schedule: spec.schedule ?? '*/60 * * * * *',
    timeout: spec.timeoutMs ?? 10_000,
    tls: TLS_OF[spec.mode],
    tls_ca: spec.caPem,
    tls_ca_file: spec.caFile,
    tls_insecure: false,
    tls_servername: undefined,
    auth: 'auto',
    top_lines: 0,
    pipelining: spec.pipelining ?? true,
    auth_failure_backoff: 15 * 60_000,
    labels: {},
    max_new_messages: 20,
    expect: [],
  };
}

/** A mailbox on an example host (implicit TLS, port 995) for benchmarks that never connect. */
export function exampleMailbox(
  name: string,
  overrides: Partial<MailboxConfig> = {},
): MailboxConfig {
  return {
    ...mailboxConfig({
      name,
      host: 'pop.example.com',
      port: 995,
      mode: 'implicit',
      username: `${name}@example.com`,
      password: 'unused',
    }),
    ...overrides,
  };
}

export function readCa(file: string): string {
  if (!existsSync(file))
    throw new Error(
      `CA file ${file} not found: start the test servers (bash test/servers/start.sh)`,
    );
  return readFileSync(file, 'utf8');
}

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Which Dovecot instance is running: its master pid and when its CA was made. The test
 * servers are shared: another engineer's integration run restarts them (with a new CA),
 * and a benchmark that spans a restart measured two servers and failures.
 */
export function dovecotInstance(): string {
  try {
    const pid = readFileSync(join(SERVERS_DIR, 'dovecot', 'run', 'master.pid'), 'utf8').trim();
    return `${pid}@${statSync(DOVECOT.caFile).mtimeMs}`;
  } catch {
    return 'not running';
  }
}
