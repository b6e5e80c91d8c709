import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { MailboxConfig } from '../config/schema.js';
import { TokenError } from '../oauth/token-error.js';
import type { TokenLease, TokenProvider } from '../oauth/token-source.js';
import { chooseAuth } from '../pop3/auth.js';
import { type Command, Pop3Client } from '../pop3/client.js';
import { Pop3Error } from '../pop3/errors.js';
import type { Reply } from '../pop3/framing.js';
import type { Pop3Phase as Phase } from '../pop3/phases.js';
import {
  type Capabilities,
  messageTimestamp,
  parseHeaderBlock,
  parseResponseCode,
  parseStat,
  reasonForErr,
} from '../pop3/responses.js';
import { type Secret, secretMasker } from '../secret.js';
import { CapabilityCache } from './capability-cache.js';
import {
  type ProbeScan,
  type ScanPlan,
  scanNewMessages,
  topBlock,
  UidlListing,
} from './new-messages.js';
import { redactSecrets } from './redact.js';
import type { ProbeError, ProbeResult } from './result.js';
import type { TlsSessionStore } from './tls-sessions.js';
import { fetchToken, loginWithToken, type OAuth2Mailbox } from './token-login.js';
import { TranscriptRecorder } from './transcript.js';

export interface ProbeDeps {
  /** Wall clock, ms since the epoch (for started_at). */
  now?: () => number;
  /** TLS session tickets per server, to resume instead of a full handshake. */
  tlsSessions?: TlsSessionStore;
  /**
   * Every other configured secret, also scrubbed from what a server says. Return the same
   * array until the secrets change: masking is prepared once per array.
   */
  otherSecrets?: () => readonly Secret[];
  /** Capabilities remembered between probes, to skip CAPA. */
  capabilityCache?: CapabilityCache;
  /** OAuth2 access tokens for mailboxes with an `oauth2:` block. */
  tokens?: TokenProvider;
  /** The new-message scan of a mailbox with delivery loops or watches (new-messages.ts). */
  scanPlan?: (mailbox: MailboxConfig) => ScanPlan | null;
  /** Record the session's transcript (masked, bounded) in the result. */
  transcript?: boolean;
}

interface Transaction {
  count: number;
  octets: number;
  uidlCount: number | null;
  oldest: number | null;
  /** UIDL -ERR: nothing to diff, no scan. */
  uidlRefused?: boolean;
}

/**
 * A multi-line reply (UIDL, TOP) longer than this ends the probe as `protocol`. The framer
 * keeps each line of a reply as a string, several times its octets for short lines, so its
 * 64 MiB default would let one endless UIDL take hundreds of MB before failing. 16 MiB
 * still holds the UIDL listing of 200,000 messages with 70-octet ids (RFC 1939 §7's
 * maximum).
 */
const PROBE_LIMITS = { maxBlockBytes: 16 * 1024 * 1024 };

function command(line: string, phase: Phase, multiline = false): Command {
  return { line, name: line.split(' ')[0] as string, multiline, phase };
}

/**
 * STAT, NOOP, UIDL, TOP 1 n: what a probe asks once logged in. Never RETR or RSET; DELE
 * only in the new-message scan. The UIDL listing streams into `listing`.
 */
function transactionCommands(
  mailbox: MailboxConfig,
  caps: Capabilities,
  withTop: boolean,
  listing: UidlListing,
): Command[] {
  const commands = [command('STAT', 'stat'), command('NOOP', 'noop')];
  // Without CAPA (empty capabilities) we still try UIDL and TOP: RFC 1939 servers have them.
  const unknown = caps.names.length === 0;
  if (caps.uidl || unknown) commands.push(listing.command());
  if (withTop && (caps.top || unknown))
    commands.push({
      ...command(`TOP 1 ${mailbox.top_lines}`, 'top', true),
      block: topBlock(mailbox.top_lines),
    });
  return commands;
}

/** An -ERR with a response code ends the probe; a plain -ERR to an optional command does not. */
function fatalErr(reply: Reply, name: string, optional: boolean): Pop3Error | null {
  if (reply.kind === 'ok') return null;
  const { code } = parseResponseCode(reply.text);
  if (optional && code === null) return null;
  return new Pop3Error(reasonForErr(reply.text, 'command'), `${name} failed: ${reply.status}`, {
    command: name,
    response: reply.status,
  });
}

/**
 * Reads the replies of a transaction. Replies are read before they are interpreted, so the
 * client's current phase is set to each command's own: a malformed STAT fails in `stat`.
 */
function interpret(
  client: Pop3Client,
  commands: Command[],
  replies: Reply[],
  known: Partial<Transaction>,
  listing: UidlListing,
): Transaction {
  const tx: Transaction = { count: 0, octets: 0, uidlCount: null, oldest: null, ...known };
  commands.forEach((cmd, i) => {
    client.currentPhase = cmd.phase;
    const reply = replies[i];
    if (!reply) {
      if (cmd.name === 'QUIT') return;
      throw new Pop3Error('closed', `server closed the connection before answering ${cmd.name}`, {
        command: cmd.name,
      });
    }
    switch (cmd.name) {
      case 'STAT': {
        const err = fatalErr(reply, 'STAT', false);
        if (err) throw err;
        const stat = parseStat(reply.text);
        tx.count = stat.count;
        tx.octets = stat.octets;
        break;
      }
      case 'NOOP': {
        const err = fatalErr(reply, 'NOOP', false);
        if (err) throw err;
        break;
      }
      case 'UIDL': {
        const err = fatalErr(reply, 'UIDL', true);
        if (err) throw err;
        if (reply.kind === 'ok') tx.uidlCount = listing.count;
        else tx.uidlRefused = true;
        break;
      }
      case 'TOP': {
        // Pipelined TOP goes out before STAT's answer: on an empty maildrop its -ERR is expected.
        if (tx.count === 0) break;
        const err = fatalErr(reply, 'TOP', true);
        if (err) throw err;
        if (reply.kind === 'ok') tx.oldest = messageTimestamp(parseHeaderBlock(reply.lines ?? []));
        break;
      }
    }
  });
  return tx;
}

/** The session's work once logged in; a scan (when planned) reads new messages and QUITs. */
interface Session {
  mailbox: MailboxConfig;
  caps: Capabilities;
  listing: UidlListing;
  plan: ScanPlan | null;
}

async function runTransaction(
  client: Pop3Client,
  session: Session,
  sent: Command[],
  early: Reply[],
): Promise<Transaction & { scan?: ProbeScan }> {
  const { mailbox, caps, listing, plan } = session;
  let tx: Transaction;
  if (early.length > 0) {
    tx = interpret(client, sent, early, {}, listing);
    if (sent.at(-1)?.name === 'QUIT') {
      client.markQuit();
      return tx;
    }
  } else if (client.canPipeline) {
    const commands = transactionCommands(mailbox, caps, true, listing);
    // With a scan, QUIT waits until the new messages were read.
    if (plan === null) commands.push(command('QUIT', 'quit'));
    const replies = await client.exchange(commands, true);
    if (plan === null) client.markQuit();
    tx = interpret(client, commands, replies, {}, listing);
  } else {
    // One command at a time: TOP only when STAT found a message.
    const head = transactionCommands(mailbox, caps, false, listing);
    tx = interpret(client, head, await client.exchange(head, false), {}, listing);
    if (tx.count > 0) {
      const top = transactionCommands(mailbox, caps, true, listing).filter((c) => c.name === 'TOP');
      tx = interpret(client, top, await client.exchange(top, false), tx, listing);
    }
  }
  if (plan !== null && !tx.uidlRefused && tx.uidlCount !== null) {
    return { ...tx, scan: await scanNewMessages(client, plan, listing) };
  }
  if (client.quitSent) client.markQuit();
  else await client.quit();
  return tx;
}

function toProbeError(error: unknown, phase: Phase): ProbeError {
  if (error instanceof TokenError) {
    return {
      code: 'token',
      message: error.message,
      response: null,
      command: null,
      phase: 'token',
      ...(error.oauthError === null ? {} : { oauth_error: error.oauthError }),
      ...(error.credentialsRefused ? { credentials_refused: true } : {}),
    };
  }
  if (error instanceof Pop3Error) {
    return {
      code: error.code,
      message: error.message,
      response: error.response ?? null,
      command: error.command ?? null,
      phase,
    };
  }
  // A bug of ours, not the server's: still a classified result, never a throw.
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: 'protocol',
    message: `internal error: ${message}`,
    response: null,
    command: null,
    phase,
  };
}

/**
 * TLS sessions are only resumed under the same trust settings they were made with: a
 * session from a `tls_insecure` mailbox must never stand in for a verified handshake.
 */
function tlsSessionKey(mailbox: MailboxConfig): string {
  const ca = mailbox.tls_ca
    ? createHash('sha256').update(mailbox.tls_ca).digest('hex').slice(0, 16)
    : '-';
  const name = mailbox.tls_servername ?? mailbox.host;
  return `${mailbox.host}:${mailbox.port}/${mailbox.tls}/${name}/${ca}/${mailbox.tls_insecure ? 'insecure' : 'verified'}`;
}

/**
 * Probes one mailbox: connect, TLS, greeting, CAPA, (STLS, CAPA), login, STAT, NOOP,
 * UIDL, TOP 1 n, QUIT. Never throws: every failure is a result with a classified reason.
 */
export async function probeMailbox(
  mailbox: MailboxConfig,
  deps: ProbeDeps = {},
): Promise<ProbeResult> {
  const startedAt = (deps.now ?? Date.now)();
  const t0 = performance.now();
  const recorder = deps.transcript ? new TranscriptRecorder(t0) : undefined;
  const sessionKey = tlsSessionKey(mailbox);
  let ticket: Buffer | null = null;
  const cacheKey = CapabilityCache.key(mailbox.host, mailbox.port, mailbox.tls);
  let capsLearned: { before: Capabilities; after: Capabilities | null } | null = null;
  const client = new Pop3Client({
    host: mailbox.host,
    port: mailbox.port,
    tls: mailbox.tls,
    timeoutMs: mailbox.timeout,
    pipelining: mailbox.pipelining,
    limits: PROBE_LIMITS,
    observer: recorder,
    tlsOptions: {
      servername: mailbox.tls_servername,
      ca: mailbox.tls_ca,
      insecure: mailbox.tls_insecure,
      session: deps.tlsSessions?.sessionFor(sessionKey),
      onSession: (s) => {
        ticket = s;
      },
    },
  });
  const result: ProbeResult = {
    mailbox: mailbox.name,
    success: false,
    messages: null,
    size_bytes: null,
    phases: client.phases,
    capabilities: [],
    error: null,
    started_at: startedAt / 1000,
    uidl_count: null,
    oldest_message_timestamp: null,
    tls: null,
    auth_method: null,
    login_delay_seconds: null,
    pipelined: false,
  };
  const oauth2 = mailbox.oauth2 ? (mailbox as OAuth2Mailbox) : null;
  const leases: TokenLease[] = [];
  try {
    let lease: TokenLease | null = null;
    if (oauth2) {
      result.oauth2 = { grant: oauth2.oauth2.grant, cached: false, retried: false };
      lease = await fetchToken(oauth2, deps.tokens, client);
      leases.push(lease);
      result.oauth2.cached = lease.cached;
      recorder?.note(`OAuth2 access token ${lease.cached ? 'from the cache' : 'fetched'}`);
    }
    await client.open();
    // Known capabilities save the CAPA round trip(s) (docs/PHASES.md).
    const cached = deps.capabilityCache?.get(cacheKey);
    if (cached) client.assumeCapabilities(cached.before);
    const before = cached ? cached.before : await client.capa();
    let caps = before;
    if (mailbox.tls === 'starttls') {
      await client.starttls();
      if (cached?.after) client.assumeCapabilities(cached.after);
      caps = cached?.after ?? (await client.capa());
    }
    capsLearned = { before, after: mailbox.tls === 'starttls' ? caps : null };
    result.capabilities = caps.lines;
    result.login_delay_seconds = caps.loginDelaySeconds;
    const method = chooseAuth(mailbox.auth, caps, client.apopTimestamp !== null, oauth2 !== null);
    if (method === null) {
      throw new Pop3Error(
        'protocol',
        `auth: ${mailbox.auth} is not possible with this server (APOP needs a timestamp in the greeting)`,
      );
    }
    result.auth_method = method;
    const plan = deps.scanPlan?.(mailbox) ?? null;
    const listing = new UidlListing(plan);
    const sent = transactionCommands(mailbox, caps, true, listing);
    if (plan === null) sent.push(command('QUIT', 'quit'));
    let early: Reply[];
    if (oauth2 && lease && result.oauth2) {
      const info = result.oauth2;
      early = await loginWithToken(client, method, oauth2, deps.tokens, lease, sent, info);
    } else {
      if (!mailbox.password) throw new Pop3Error('auth', 'no password configured');
      early = await client.login(method, mailbox.username, mailbox.password, sent);
    }
    const tx = await runTransaction(client, { mailbox, caps, listing, plan }, sent, early);
    if (tx.scan) result.scan = tx.scan;
    result.messages = tx.count;
    result.size_bytes = tx.octets;
    result.uidl_count = tx.uidlCount;
    result.oldest_message_timestamp = tx.oldest;
    result.success = true;
    if (capsLearned) deps.capabilityCache?.set(cacheKey, capsLearned.before, capsLearned.after);
  } catch (error) {
    result.error = toProbeError(error, client.currentPhase);
    // The read-only promise (README): a session that logged in ends with QUIT, also
    // when the probe failed after the login (a malformed STAT, [SYS/TEMP] to UIDL). A dead
    // connection makes this a no-op; the reads stay bounded by the deadline.
    if (client.state === 'transaction') await client.quit().catch(() => null);
    // Stale capabilities could be the cause: learn them again next time.
    deps.capabilityCache?.delete(cacheKey);
  } finally {
    client.close();
  }
  result.phases.total = (performance.now() - t0) / 1000;
  result.pipelined = client.pipelined;
  if (client.tls) {
    // A resumed session shows no certificate: report the one its full handshake verified.
    deps.tlsSessions?.record(sessionKey, client.tls, ticket);
    const cert = client.tls.resumed
      ? (deps.tlsSessions?.certFor(sessionKey) ?? null)
      : {
          notAfterMs: client.tls.certNotAfterMs,
          subject: client.tls.certSubject,
          issuer: client.tls.certIssuer,
        };
    result.tls = {
      protocol: client.tls.protocol,
      cipher: client.tls.cipher,
      cert_expiry_timestamp: cert?.notAfterMs == null ? null : Math.floor(cert.notAfterMs / 1000),
      cert_subject: cert?.subject ?? null,
      cert_issuer: cert?.issuer ?? null,
      resumed: client.tls.resumed,
    };
  } else if (result.error?.code === 'tls') {
    deps.tlsSessions?.delete(sessionKey);
  }
  if (result.capabilities.length === 0 && client.capabilities)
    result.capabilities = client.capabilities.lines;
  if (!result.error && !recorder) return result;
  const own = secretMasker([
    mailbox.password,
    mailbox.oauth2?.client_secret,
    mailbox.oauth2?.refresh_token,
    ...leases.map((l) => l.token),
    ...(deps.tokens?.secrets() ?? []),
  ]);
  // The config's list is kept until a reload, so its masker is prepared once.
  const others = secretMasker(deps.otherSecrets?.() ?? []);
  const mask = (text: string) => others(own(text));
  if (recorder) {
    const { error } = result;
    recorder.note(
      error ? `failed in ${error.phase}: ${error.code}: ${error.message}` : 'probe succeeded',
    );
    result.transcript = recorder.finish(mask);
  }
  return redactSecrets(result, mask);
}
