/**
 * Where the real test servers started by test/servers/start.sh live. Every integration
 * test imports its hosts, ports, users and paths from here; start.sh (via lib.sh) uses the
 * same values, so change both together.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The runtime dir: configs, certificates, mail, queues and logs of the test servers. */
export const SERVERS_DIR: string = process.env.POP3_TEST_SERVERS_DIR ?? '/tmp/pop3-monitor-servers';

/**
 * Every port is this base plus the service's usual number (10110 for POP3), as in lib.sh;
 * POP3_TEST_PORT_BASE moves a whole independent set of servers.
 */
export const PORT_BASE: number = Number(process.env.POP3_TEST_PORT_BASE ?? 10000);

export const DOVECOT = {
  host: '127.0.0.1',
  /** Plain POP3; STLS offered (RFC 2595). */
  plainPort: PORT_BASE + 110,
  /** Implicit TLS (RFC 8314). */
  tlsPort: PORT_BASE + 995,
  /** The test CA that signed the server certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1). */
  caFile: join(SERVERS_DIR, 'tls', 'ca.pem'),
  /** An unrelated CA that signed nothing: verification against it must fail. */
  otherCaFile: join(SERVERS_DIR, 'tls', 'other-ca.pem'),
  logFile: join(SERVERS_DIR, 'logs', 'dovecot.log'),
} as const;

/** What Courier and Cyrus have in common here (test/servers/courier.sh, cyrus.sh). */
export interface InteropServer {
  readonly name: 'courier' | 'cyrus';
  readonly host: string;
  /** Plain POP3; STLS offered (RFC 2595). */
  readonly plainPort: number;
  /** Implicit TLS (RFC 8314). */
  readonly tlsPort: number;
  /** The same test CA as Dovecot's: one server certificate for every server. */
  readonly caFile: string;
  readonly logFile: string;
}

/** Users of Courier and Cyrus: alice (alice's fixture messages) and empty. */
export type InteropUser = 'alice' | 'empty';

/** Courier 1.0 (courier-pop, courier-authdaemon with a userdb, Maildir). */
export const COURIER: InteropServer = {
  name: 'courier',
  host: '127.0.0.1',
  plainPort: PORT_BASE + 1110,
  tlsPort: PORT_BASE + 1995,
  caFile: DOVECOT.caFile,
  logFile: join(SERVERS_DIR, 'logs', 'courier.log'),
};

/** Cyrus IMAP 3.6 (cyrus-pop3d, its own mailbox store, users in a sasldb). */
export const CYRUS: InteropServer = {
  name: 'cyrus',
  host: '127.0.0.1',
  plainPort: PORT_BASE + 2110,
  tlsPort: PORT_BASE + 2995,
  caFile: DOVECOT.caFile,
  logFile: join(SERVERS_DIR, 'logs', 'cyrus.log'),
};

export const SMTP = {
  host: '127.0.0.1',
  /** Plain SMTP, no auth, no STARTTLS; accepts only known recipients of `domain`. */
  port: PORT_BASE + 25,
  /** STARTTLS required, then SMTP AUTH (PLAIN, LOGIN) with user/password below. */
  submissionPort: PORT_BASE + 587,
  user: 'monitor',
  password: 'monitor-pass-1',
  domain: 'test.local',
  logFile: join(SERVERS_DIR, 'logs', 'postfix.log'),
  /** Postfix's config dir, for `postsuper -c` and `postqueue -c`. */
  configDir: join(SERVERS_DIR, 'postfix', 'etc'),
} as const;

/**
 * The OAuth2 authorization server (oidc-provider, test/servers/oauth-server.ts) and the
 * Dovecot users that log in with its tokens (passdb oauth2, SASL XOAUTH2 and OAUTHBEARER).
 * Every token carries `mailboxes: *@oauth.test`: it opens every mailbox of that domain.
 */
export const OAUTH = {
  host: '127.0.0.1',
  port: PORT_BASE + 9444,
  /** Base URL; the token endpoint is `${url}/token`. */
  url: `http://127.0.0.1:${PORT_BASE + 9444}`,
  tokenUrl: `http://127.0.0.1:${PORT_BASE + 9444}/token`,
  revocationUrl: `http://127.0.0.1:${PORT_BASE + 9444}/token/revocation`,
  /** Access token lifetime, seconds (OAUTH_TEST_TOKEN_TTL at start.sh changes it). */
  tokenTtlSeconds: 10,
  scope: 'mail',
  domain: 'oauth.test',
  /** client_credentials, client_secret_post (like an Entra ID app registration). */
  app: { clientId: 'monitor-app', clientSecret: 'monitor-app-secret-1' },
  /** refresh_token, client_secret_basic, rotated refresh tokens (like a Google client). */
  user: { clientId: 'monitor-user', clientSecret: 'monitor-user-secret-1' },
  /**
   * Clients of the secrets canary test: like app and user, but their secrets and every
   * token the server issues to them contain "CANARY".
   */
  canaryApp: { clientId: 'leak-test-app', clientSecret: 'CANARY-oauth-client-secret-3e1f' },
  canaryUser: { clientId: 'leak-test-user', clientSecret: 'CANARY-oauth-user-secret-8a2d' },
  /** Dovecot's own client, for token introspection (RFC 7662). */
  dovecot: { clientId: 'dovecot', clientSecret: 'dovecot-introspect-1' },
  /** Mailboxes that accept only XOAUTH2 / OAUTHBEARER with a token of this server. */
  users: { app: 'oauth-app@oauth.test', user: 'oauth-user@oauth.test' },
  logFile: join(SERVERS_DIR, 'logs', 'oauth.log'),
} as const;

export type TestUser =
  | 'alice'
  | 'empty'
  | 'alerts'
  | 'ops'
  | 'locked'
  | 'many'
  | 'loop'
  | 'loophold'
  | 'watched';

function credentials(user: TestUser): { user: string; password: string } {
  return { user, password: `${user}-pass-1` };
}

/**
 * POP3 accounts. alice: the 3 fixture messages; empty: none; alerts/ops: where Postfix
 * delivers alerts@test.local / ops@test.local (empty at start); locked: 1 message and
 * pop3_lock_session, so a second concurrent session gets -ERR [IN-USE] (after Dovecot's
 * fixed 10 s lock wait); many: MANY_COUNT messages; loop, loophold, watched: the mail-flow
 * tests' mailboxes, empty at start (Postfix holds mail for loophold@ until released).
 */
export const USERS: Record<TestUser, { user: string; password: string }> = {
  alice: credentials('alice'),
  empty: credentials('empty'),
  alerts: credentials('alerts'),
  ops: credentials('ops'),
  locked: credentials('locked'),
  many: credentials('many'),
  loop: credentials('loop'),
  loophold: credentials('loophold'),
  watched: credentials('watched'),
};

/**
 * A config entry for a test user's mailbox on the real Dovecot (STLS, the test CA), probed
 * every second unless `extra` says otherwise; `extra` overrides any field.
 */
export function dovecotMailbox(
  name: string,
  user: TestUser,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    host: DOVECOT.host,
    port: DOVECOT.plainPort,
    tls: 'starttls',
    tls_ca_file: DOVECOT.caFile,
    username: USERS[user].user,
    password: USERS[user].password,
    schedule: '* * * * * *',
    timeout: '5s',
    ...extra,
  };
}

/** Messages in the `many` mailbox; message n has `Subject: Message n of 500`. */
export const MANY_COUNT = 500;

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/mail/', import.meta.url));

/** The Maildir of a test user, as Dovecot and Postfix see it. */
export function maildirPath(user: string): string {
  return join(SERVERS_DIR, 'mail', user, 'Maildir');
}

/** Seconds since the epoch of a message's Date: header (RFC 5322 section 3.6.1). */
function dateHeaderSeconds(message: string, file: string): number {
  const headers = message.split('\r\n\r\n', 1)[0] ?? '';
  // Unfold (RFC 5322 section 2.2.3) before looking for the field.
  const unfolded = headers.replace(/\r\n[ \t]+/g, ' ');
  const line = unfolded.split('\r\n').find((l) => /^date:/i.test(l));
  const millis = line === undefined ? Number.NaN : Date.parse(line.slice(5).trim());
  if (Number.isNaN(millis)) throw new Error(`${file}: no parsable Date: header`);
  return millis / 1000;
}

/**
 * What Dovecot reports for alice, computed from test/fixtures/mail/alice/: the files use
 * CRLF line ends, so each message's POP3 size (RFC 1939 counts octets with CRLF) equals
 * its file size. Ordered as Dovecot numbers them: oldest Date: first.
 */
export function aliceExpected(): {
  count: number;
  octets: number;
  sizes: number[];
  dates: number[];
} {
  const dir = join(FIXTURES_DIR, 'alice');
  const messages = readdirSync(dir)
    .filter((name) => name.endsWith('.eml'))
    .map((name) => {
      const bytes = readFileSync(join(dir, name));
      return { size: bytes.length, date: dateHeaderSeconds(bytes.toString('latin1'), name) };
    })
    .sort((a, b) => a.date - b.date);
  return {
    count: messages.length,
    octets: messages.reduce((sum, m) => sum + m.size, 0),
    sizes: messages.map((m) => m.size),
    dates: messages.map((m) => m.date),
  };
}

const MAILDIR_SUBDIRS = ['cur', 'new', 'tmp'] as const;

/**
 * Relative path under the user's Maildir (`cur/NAME`, `new/NAME`, `tmp/NAME`) → sha256 of
 * the file's content. File names carry the maildir flags (`:2,S` after a RETR), so any
 * flag change, move from new/ to cur/, expunge or rewrite shows. Dovecot's own index and
 * uidlist files are left out: they change on every login.
 */
export function maildirSnapshot(user: string): Map<string, string> {
  return maildirSnapshotAt(maildirPath(user));
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function sortedMap(entries: [string, string][]): Map<string, string> {
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new Map(entries);
}

/**
 * The message store of a Courier or Cyrus user, as maildirSnapshot gives it for Dovecot:
 * file name → sha256. Courier: `cur/`, `new/`, `tmp/` of the Maildir (its UIDL list,
 * courierpop3dsizelist, is left out like Dovecot's index). Cyrus: the message files
 * (`1.`, `2.`, ...) of the mailbox; its cyrus.* index files change on every login and are
 * left out (with expunge_mode: immediate, a DELE would remove a message file).
 */
export function storeSnapshot(server: InteropServer, user: InteropUser): Map<string, string> {
  if (server.name === 'courier') {
    return maildirSnapshotAt(join(SERVERS_DIR, 'courier', 'mail', user, 'Maildir'));
  }
  const dir = join(SERVERS_DIR, 'cyrus', 'by-user', user);
  const messages = readdirSync(dir).filter((name) => /^\d+\.$/.test(name));
  return sortedMap(messages.map((name) => [name, sha256(join(dir, name))]));
}

function maildirSnapshotAt(root: string): Map<string, string> {
  const entries: [string, string][] = [];
  for (const sub of MAILDIR_SUBDIRS) {
    for (const name of readdirSync(join(root, sub))) {
      entries.push([`${sub}/${name}`, sha256(join(root, sub, name))]);
    }
  }
  return sortedMap(entries);
}

/** Deletes every message in new/ and cur/ (for the alerts/ops mailboxes between tests). */
export function clearMaildir(user: string): void {
  const root = maildirPath(user);
  for (const sub of ['new', 'cur']) {
    for (const name of readdirSync(join(root, sub))) {
      rmSync(join(root, sub, name), { force: true });
    }
  }
}
