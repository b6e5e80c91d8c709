import { performance } from 'node:perf_hooks';
import type { Pipelining, TlsMode } from '../config/schema.js';
import type { Secret } from '../secret.js';
import {
  type AuthChoice,
  apopDigest,
  decodeChallenge,
  describeBearerError,
  encodeInitialResponse,
  fitsInitialResponse,
  OAUTHBEARER_DUMMY_RESPONSE,
  oauthBearer,
  saslLoginResponses,
  saslPlain,
  xoauth2,
} from './auth.js';
import { Deadline, type PeerTls, Pop3Connection, type TlsOptions } from './connection.js';
import { Pop3Error } from './errors.js';
import type { BlockOptions, FramerLimits, Reply } from './framing.js';
import type { Pop3Observer } from './observer.js';
import type { Pop3Phase as Phase } from './phases.js';
import {
  apopTimestamp,
  type Capabilities,
  emptyCapabilities,
  parseCapa,
  reasonForErr,
} from './responses.js';

export interface Pop3ClientOptions {
  host: string;
  port: number;
  tls: TlsMode;
  tlsOptions: TlsOptions;
  /** Whole-session deadline, ms. */
  timeoutMs: number;
  /** Upper bound for any single wait (one phase), ms; defaults to the whole deadline. */
  phaseTimeoutMs?: number;
  /**
   * How far commands are pipelined when the server announces PIPELINING (RFC 2449 §6.6).
   * `true` (the default): commands of one state leave together (USER with PASS; STAT..QUIT
   * once the login's reply arrived), never across the change from AUTHORIZATION to
   * TRANSACTION (RFC 2920 §3.1's rule for SMTP: a command that changes the state ends a
   * group). Servers that hand the session to another process after the login (Courier) or
   * read the login apart (Cyrus after AUTH with an initial response) drop whatever was sent
   * behind it. `'full'`: the transaction also leaves in the login's write, one round trip
   * less, for servers known to keep it (Dovecot). `false`: one command at a time.
   */
  pipelining?: Pipelining;
  limits?: Partial<FramerLimits>;
  /** Sees every line sent and received (unmasked), for a transcript. */
  observer?: Pop3Observer;
}

/**
 * How a multi-line reply is read: fixed, or decided when the reply begins from the replies
 * of the same exchange before it, by command name (UIDL's cap follows STAT's count).
 */
export type BlockSpec = BlockOptions | ((earlier: ReadonlyMap<string, Reply>) => BlockOptions);

/** A command to send. `name` is what errors and logs show: never its arguments. */
export interface Command {
  line: string;
  name: string;
  multiline: boolean;
  phase: Phase;
  block?: BlockSpec;
}

/**
 * CAPA lists a few dozen short lines (RFC 2449 §5); a reply past this is no capability
 * list, and is a `protocol` failure before it can cost memory.
 */
export const CAPA_MAX_BYTES = 16 * 1024;

/** Commands this client never sends; DELE only through dele() (RFC 1939 §5). */
const NEVER_SENT = /^(RETR|RSET)\b/i;
const DELE = /^DELE\b/i;

function blockFor(command: Command, earlier: ReadonlyMap<string, Reply>): BlockOptions {
  const spec = command.block;
  if (spec === undefined) return {};
  return typeof spec === 'function' ? spec(earlier) : spec;
}

export type ClientState = 'new' | 'authorization' | 'transaction' | 'closed';

/**
 * A POP3 session (RFC 1939) with STLS (RFC 2595), CAPA and PIPELINING (RFC 2449) and
 * SASL (RFC 5034). It records per-phase durations; with pipelining a phase ends when its
 * own reply arrives. It never sends RETR or RSET, and DELE only through dele(), which the
 * probe calls for nothing but messages an injected decision marked for deletion (a
 * delivery loop's own verified probe messages).
 */
export class Pop3Client {
  readonly phases: Partial<Record<Phase, number>> = {};
  capabilities: Capabilities | null = null;
  greeting = '';
  tls: PeerTls | null = null;
  state: ClientState = 'new';
  /** Whether any exchange of this session was pipelined. */
  pipelined = false;
  /** Whether QUIT has gone out (alone or in a pipeline): quit() then only closes. */
  quitSent = false;
  /** The phase in progress: where a failure happened. */
  currentPhase: Phase = 'dns';
  readonly #options: Pop3ClientOptions;
  readonly #deadline: Deadline;
  readonly #phaseLimit: number;
  #conn: Pop3Connection | null = null;
  readonly #observer: Pop3Observer | undefined;
  #deleting = false;

  constructor(options: Pop3ClientOptions) {
    this.#options = options;
    this.#deadline = new Deadline(options.timeoutMs);
    this.#phaseLimit = options.phaseTimeoutMs ?? Number.POSITIVE_INFINITY;
    this.#observer = options.observer;
  }

  /** A command's block options; lines streamed to a sink are shown to the observer too. */
  #block(command: Command, earlier: ReadonlyMap<string, Reply>): BlockOptions {
    const options = blockFor(command, earlier);
    const observer = this.#observer;
    const sink = options.onLine;
    if (observer === undefined || sink === undefined) return options;
    return {
      ...options,
      onLine: (line) => {
        observer.streamed(line);
        sink(line);
      },
    };
  }

  #observeTls(tls: PeerTls): void {
    const what = [tls.protocol ?? 'TLS', tls.cipher, tls.resumed ? '(resumed)' : null];
    this.#observer?.event(`TLS ${what.filter((w) => w !== null).join(' ')}`, performance.now());
  }

  #add(phase: Phase, startedAt: number, endedAt = performance.now()): void {
    this.phases[phase] = (this.phases[phase] ?? 0) + (endedAt - startedAt) / 1000;
  }

  get #wire(): Pop3Connection {
    if (!this.#conn || this.#conn.destroyed) {
      throw new Pop3Error('closed', 'the connection is closed');
    }
    return this.#conn;
  }

  /** Resolves, connects, negotiates implicit TLS and reads the greeting. */
  async open(): Promise<void> {
    const { host, port } = this.#options;
    this.currentPhase = 'dns';
    let t = performance.now();
    const { address } = await Pop3Connection.resolve(host, this.#deadline);
    this.#add('dns', t);
    this.currentPhase = 'connect';
    t = performance.now();
    this.#conn = await Pop3Connection.open(address, port, this.#deadline, this.#options.limits);
    this.#add('connect', t);
    this.#observer?.event(`connected to ${address}:${port}`, performance.now());
    if (this.#options.tls === 'implicit') {
      this.currentPhase = 'tls';
      t = performance.now();
      this.tls = await this.#conn.upgrade(host, this.#options.tlsOptions, this.#phaseLimit);
      this.#add('tls', t);
      this.#observeTls(this.tls);
    }
    this.currentPhase = 'greeting';
    t = performance.now();
    const greeting = await this.#conn.read(false, 'the greeting', this.#phaseLimit);
    this.#add('greeting', t, this.#conn.lastReplyAt);
    this.#observer?.received(greeting, null, this.#conn.lastReplyAt);
    this.greeting = greeting.status;
    if (greeting.kind !== 'ok') {
      throw new Pop3Error(
        reasonForErr(greeting.text, 'greeting'),
        `server refused the session: ${greeting.status}`,
        {
          response: greeting.status,
        },
      );
    }
    this.state = 'authorization';
  }

  /** The APOP timestamp of the greeting, if any (RFC 1939 §7). */
  get apopTimestamp(): string | null {
    return apopTimestamp(this.greeting.replace(/^\+OK\s*/i, ''));
  }

  get canPipeline(): boolean {
    return (this.#options.pipelining ?? true) !== false && (this.capabilities?.pipelining ?? false);
  }

  /** Whether the transaction may leave in the same write as the login (`pipelining: full`). */
  get canPipelineAcrossLogin(): boolean {
    return this.#options.pipelining === 'full' && this.canPipeline;
  }

  /** CAPA (RFC 2449 §5); a server without CAPA gets empty capabilities, not an error. */
  async capa(): Promise<Capabilities> {
    const [reply] = await this.exchange(
      [
        {
          line: 'CAPA',
          name: 'CAPA',
          multiline: true,
          phase: 'capa',
          block: { maxBytes: CAPA_MAX_BYTES, what: 'CAPA reply' },
        },
      ],
      false,
    );
    this.capabilities = reply?.kind === 'ok' ? parseCapa(reply.lines ?? []) : emptyCapabilities();
    return this.capabilities;
  }

  /** Uses capabilities known from an earlier session instead of asking (saves a round trip). */
  assumeCapabilities(capabilities: Capabilities): void {
    this.capabilities = capabilities;
  }

  /** STLS (RFC 2595 §4): only when CAPA lists it; the old CAPA is forgotten afterwards. */
  async starttls(): Promise<void> {
    if (!this.capabilities?.stls) {
      throw new Pop3Error('tls', 'server does not offer STLS (tls: starttls needs it; RFC 2595)');
    }
    const [reply] = await this.exchange(
      [{ line: 'STLS', name: 'STLS', multiline: false, phase: 'stls' }],
      false,
    );
    if (reply?.kind !== 'ok') {
      throw new Pop3Error('tls', `server refused STLS: ${reply?.status ?? ''}`, {
        command: 'STLS',
        response: reply?.status,
      });
    }
    // Anything the server sent after +OK and before the handshake could be injected
    // plaintext (the STARTTLS command-injection class of bugs): refuse it.
    if (this.#wire.buffered > 0) {
      throw new Pop3Error(
        'protocol',
        'server sent data after +OK to STLS before the TLS handshake',
        { command: 'STLS' },
      );
    }
    this.currentPhase = 'tls';
    const t = performance.now();
    this.tls = await this.#wire.upgrade(
      this.#options.host,
      this.#options.tlsOptions,
      this.#phaseLimit,
    );
    this.#add('tls', t);
    this.#observeTls(this.tls);
    this.capabilities = null;
  }

  /**
   * Sends commands and reads their replies in order. Pipelined (one write) when allowed
   * and the server announced PIPELINING; otherwise one at a time, stopping at the first
   * -ERR when `stopOnError` is set. Replies are returned as they came.
   */
  async exchange(commands: Command[], pipeline: boolean, stopOnError = false): Promise<Reply[]> {
    for (const command of commands) {
      if (NEVER_SENT.test(command.line) || (DELE.test(command.line) && !this.#deleting)) {
        throw new Error(`Pop3Client: ${command.name} is never sent through exchange()`);
      }
    }
    const wire = this.#wire;
    const replies: Reply[] = [];
    const earlier = new Map<string, Reply>();
    if (pipeline && commands.length > 1) {
      this.pipelined = true;
      if (commands.some((c) => c.name === 'QUIT')) this.quitSent = true;
      const sentAt = performance.now();
      wire.write(commands.map((c) => c.line));
      for (const c of commands) this.#observer?.sent(c.line, c.name, sentAt);
      let previous = sentAt;
      for (const command of commands) {
        this.currentPhase = command.phase;
        let reply: Reply;
        try {
          reply = await wire.read(
            command.multiline,
            `the reply to ${command.name}`,
            this.#phaseLimit,
            this.#block(command, earlier),
          );
        } catch (error) {
          // A server may hang up after refusing a login instead of answering the rest:
          // the -ERR already read is the real outcome.
          if (stopOnError && replies.some((r) => r.kind !== 'ok')) return replies;
          // As in quit(): a server that closes instead of answering QUIT has lost nothing;
          // the replies before it stand (RFC 1939 §6, the session is over either way).
          if (command.name === 'QUIT' && error instanceof Pop3Error && error.code === 'closed') {
            return replies;
          }
          throw error;
        }
        // After a refused login the pipelined STAT..TOP are only drained (the server refuses
        // them too): timing them would feed those phases' histograms with non-transactions.
        const refused = stopOnError && replies.some((r) => r.kind !== 'ok');
        if (!refused) this.#add(command.phase, previous, wire.lastReplyAt);
        previous = wire.lastReplyAt;
        this.#observer?.received(reply, command.name, wire.lastReplyAt);
        replies.push(reply);
        earlier.set(command.name, reply);
      }
      return replies;
    }
    for (const command of commands) {
      this.currentPhase = command.phase;
      const sentAt = performance.now();
      if (command.name === 'QUIT') this.quitSent = true;
      wire.write([command.line]);
      this.#observer?.sent(command.line, command.name, sentAt);
      const reply = await wire.read(
        command.multiline,
        `the reply to ${command.name}`,
        this.#phaseLimit,
        this.#block(command, earlier),
      );
      this.#add(command.phase, sentAt, wire.lastReplyAt);
      this.#observer?.received(reply, command.name, wire.lastReplyAt);
      replies.push(reply);
      earlier.set(command.name, reply);
      if (stopOnError && reply.kind !== 'ok') break;
    }
    return replies;
  }

  /**
   * Logs in with the chosen method. USER and PASS leave in one write when the server
   * pipelines (both belong to the AUTHORIZATION state). `then` commands (the transaction)
   * are sent in the same write as USER/PASS or AUTH PLAIN with an initial response only
   * with `pipelining: full`; their replies are returned (empty when they were not sent).
   */
  async login(
    method: AuthChoice,
    username: string,
    secret: Secret,
    then: Command[] = [],
  ): Promise<Reply[]> {
    const pipeline = this.canPipeline;
    const tail = this.canPipelineAcrossLogin ? then : [];
    switch (method) {
      case 'user': {
        const commands: Command[] = [
          { line: `USER ${username}`, name: 'USER', multiline: false, phase: 'auth' },
          { line: `PASS ${secret.reveal()}`, name: 'PASS', multiline: false, phase: 'auth' },
        ];
        const replies = await this.exchange([...commands, ...tail], pipeline, true);
        this.#checkAuth(replies[0], 'USER');
        this.#checkAuth(replies[1], 'PASS');
        this.state = 'transaction';
        return replies.slice(2);
      }
      case 'apop': {
        const timestamp = this.apopTimestamp;
        if (!timestamp)
          throw new Pop3Error(
            'auth',
            'auth: apop was asked for, but the greeting has no APOP timestamp',
          );
        const digest = apopDigest(timestamp, secret.reveal());
        const [reply] = await this.exchange(
          [{ line: `APOP ${username} ${digest}`, name: 'APOP', multiline: false, phase: 'auth' }],
          false,
        );
        this.#checkAuth(reply, 'APOP');
        this.state = 'transaction';
        return [];
      }
      case 'plain': {
        const response = saslPlain(username, secret.reveal());
        if (fitsInitialResponse('PLAIN', response)) {
          const commands: Command[] = [
            {
              line: `AUTH PLAIN ${encodeInitialResponse(response)}`,
              name: 'AUTH PLAIN',
              multiline: false,
              phase: 'auth',
            },
            ...tail,
          ];
          const replies = await this.exchange(commands, tail.length > 0, true);
          this.#checkAuth(replies[0], 'AUTH PLAIN');
          this.state = 'transaction';
          return replies.slice(1);
        }
        await this.#sasl('PLAIN', [response]);
        return [];
      }
      case 'login': {
        await this.#sasl('LOGIN', saslLoginResponses(username, secret.reveal()));
        return [];
      }
      case 'xoauth2':
      case 'oauthbearer': {
        const mechanism = method === 'xoauth2' ? 'XOAUTH2' : 'OAUTHBEARER';
        const response =
          method === 'xoauth2'
            ? xoauth2(username, secret.reveal())
            : oauthBearer(username, secret.reveal(), this.#options.host, this.#options.port);
        if (fitsInitialResponse(mechanism, response)) {
          const [reply] = await this.exchange(
            [
              {
                line: `AUTH ${mechanism} ${response}`,
                name: `AUTH ${mechanism}`,
                multiline: false,
                phase: 'auth',
              },
            ],
            false,
          );
          await this.#finishSasl(mechanism, reply);
        } else {
          // Two-line form (what Outlook expects, and any token past 255 octets): AUTH
          // mechanism, "+", then the response (RFC 5034 §4).
          await this.#sasl(mechanism, [response]);
        }
        return [];
      }
    }
  }

  /** A SASL exchange answering each "+" challenge in turn (RFC 5034 §4). */
  async #sasl(mechanism: string, responses: string[]): Promise<void> {
    const name = `AUTH ${mechanism}`;
    let [reply] = await this.exchange(
      [{ line: name, name, multiline: false, phase: 'auth' }],
      false,
    );
    for (const response of responses) {
      if (reply?.kind !== 'continue') break;
      decodeChallenge(reply.text);
      [reply] = await this.exchange(
        [{ line: response, name, multiline: false, phase: 'auth' }],
        false,
      );
    }
    await this.#finishSasl(mechanism, reply);
  }

  async #finishSasl(mechanism: string, reply: Reply | undefined): Promise<void> {
    const name = `AUTH ${mechanism}`;
    let detail: string | null = null;
    if (reply?.kind === 'continue') {
      // XOAUTH2 and OAUTHBEARER failures arrive as a "+" carrying a JSON error (RFC 7628
      // §3.2.2); the client ends the exchange (an empty line, or ^A for OAUTHBEARER) and the
      // server answers -ERR. Any other unexpected challenge: cancel.
      const bearer = mechanism === 'XOAUTH2' || mechanism === 'OAUTHBEARER';
      if (bearer) detail = describeBearerError(reply.text);
      const answer = !bearer ? '*' : mechanism === 'XOAUTH2' ? '' : OAUTHBEARER_DUMMY_RESPONSE;
      [reply] = await this.exchange(
        [{ line: answer, name, multiline: false, phase: 'auth' }],
        false,
      );
    }
    this.#checkAuth(reply, name, detail);
    this.state = 'transaction';
  }

  #checkAuth(reply: Reply | undefined, command: string, detail: string | null = null): void {
    if (!reply) {
      this.currentPhase = 'auth';
      throw new Pop3Error('protocol', `no reply to ${command}`, { command });
    }
    if (reply.kind === 'ok') return;
    this.currentPhase = 'auth';
    if (reply.kind === 'continue') {
      // A "+" where the final answer is due (after every response, or after "*", which
      // RFC 5034 §4 says the server must answer with -ERR) refuses no credentials: the
      // server broke the exchange, so it is not counted as a login failure.
      throw new Pop3Error('protocol', `unexpected SASL challenge in reply to ${command}`, {
        command,
        response: reply.status,
      });
    }
    const reason = reasonForErr(reply.text, 'auth');
    const said = detail === null ? '' : ` (server said: ${detail})`;
    throw new Pop3Error(reason, `login refused at ${command}: ${reply.status}${said}`, {
      command,
      response: reply.status,
    });
  }

  /**
   * DELE n (RFC 1939 §5) for each message number, pipelined when the server allows. The
   * server only marks them: they are removed when QUIT moves the session to UPDATE (§6),
   * and a session that ends any other way removes nothing. Replies in order.
   */
  async dele(numbers: readonly number[]): Promise<Reply[]> {
    if (this.state !== 'transaction') throw new Pop3Error('protocol', 'DELE outside TRANSACTION');
    const commands: Command[] = numbers.map((n) => ({
      line: `DELE ${n}`,
      name: 'DELE',
      multiline: false,
      phase: 'dele',
    }));
    this.#deleting = true;
    try {
      return await this.exchange(commands, this.canPipeline);
    } finally {
      this.#deleting = false;
    }
  }

  /**
   * QUIT (RFC 1939 §6): ends the session; in TRANSACTION the server enters UPDATE, which
   * deletes only what dele() marked (normally nothing). A server that closes instead of
   * answering is tolerated.
   */
  async quit(): Promise<Reply | null> {
    if (!this.#conn || this.#conn.destroyed) return null;
    if (this.quitSent) {
      this.close();
      return null;
    }
    try {
      const [reply] = await this.exchange(
        [{ line: 'QUIT', name: 'QUIT', multiline: false, phase: 'quit' }],
        false,
      );
      return reply ?? null;
    } catch (error) {
      if (error instanceof Pop3Error && error.code === 'closed') return null;
      throw error;
    } finally {
      this.close();
    }
  }

  /** Records that a QUIT reply (read as part of a pipeline) ended the session. */
  markQuit(): void {
    this.close();
  }

  close(): void {
    this.state = 'closed';
    this.#conn?.destroy();
  }

  /** ms left of the whole deadline. */
  remainingMs(): number {
    return this.#deadline.remaining();
  }
}
