import { promises as dns } from 'node:dns';
import { isIP, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  createSecureContext,
  rootCertificates,
  type SecureContext,
  type SecureContextOptions,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls';
import { Pop3Error, type Reason } from './errors.js';
import { type BlockOptions, type FramerLimits, type Reply, ReplyFramer } from './framing.js';

/**
 * Waits for one `event` of a socket (connect, secureConnect) for at most `ms`. An 'error'
 * or 'close' first, or the time running out, rejects with what `fail` makes of it. It
 * settles once; the timer and every listener it added are gone either way.
 */
function settleOn(
  socket: Socket,
  event: string,
  ms: number,
  fail: (why: 'timeout' | 'close' | NodeJS.ErrnoException) => Pop3Error,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (error: Pop3Error | null) => {
      clearTimeout(timer);
      socket.off(event, onEvent);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onEvent = () => finish(null);
    const onError = (err: NodeJS.ErrnoException) => finish(fail(err));
    const onClose = () => finish(fail('close'));
    const timer = setTimeout(() => finish(fail('timeout')), ms);
    socket.once(event, onEvent);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/** TLS settings of one mailbox. Verification is on unless `insecure` is set. */
export interface TlsOptions {
  /** Name to verify the certificate against (and to send as SNI); defaults to the host. */
  servername: string | undefined;
  /** Extra trusted CA (PEM), added to Node's root store rather than replacing it. */
  ca: string | undefined;
  insecure: boolean;
  /** A TLS session from an earlier connection to resume (RFC 8446 tickets). */
  session?: Buffer | undefined;
  /** Called with each session ticket the server issues, for the next connection. */
  onSession?: ((session: Buffer) => void) | undefined;
}

export interface PeerTls {
  protocol: string | null;
  cipher: string | null;
  /** notAfter of the peer certificate, ms since the epoch. */
  certNotAfterMs: number | null;
  certSubject: string | null;
  certIssuer: string | null;
  resumed: boolean;
}

/**
 * Secure contexts by extra CA. Building one parses Node's whole root store plus the CA
 * (tens of ms of CPU), so it is done once per distinct CA, not once per handshake.
 */
const contexts = new Map<string, SecureContext>();
const MAX_CONTEXTS = 256;

function secureContextFor(ca: string | undefined): SecureContext {
  const key = ca ?? '';
  let context = contexts.get(key);
  if (!context) {
    context = createSecureContext({
      minVersion: 'TLSv1.2',
      ca: ca ? [...rootCertificates, ca] : undefined,
    });
    if (contexts.size >= MAX_CONTEXTS) contexts.clear();
    contexts.set(key, context);
  }
  return context;
}

/**
 * The deadline of a whole probe. Every wait on the wire is bounded by it, and by a
 * per-phase limit when one is given, so a silent or trickling server ends in `timeout`.
 */
export class Deadline {
  readonly at: number;
  constructor(ms: number) {
    this.at = performance.now() + ms;
  }
  remaining(): number {
    return Math.max(0, this.at - performance.now());
  }
}

interface PendingRead {
  multiline: boolean;
  block: BlockOptions;
  /** performance.now() when the read began. */
  since: number;
  resolve(reply: Reply): void;
  reject(error: Pop3Error): void;
}

/** Node's TLS error codes that mean "the certificate was not trusted". */
function describeTlsError(error: NodeJS.ErrnoException): string {
  const code = error.code ?? 'TLS_ERROR';
  return `TLS handshake failed: ${error.message} (${code})`;
}

function networkReason(error: NodeJS.ErrnoException): Reason {
  switch (error.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return 'dns';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'closed';
    default:
      return 'connect';
  }
}

/**
 * One POP3 transport: a TCP socket (optionally upgraded to TLS), the reply framer, and
 * reads bounded by the probe deadline. It is destroyed exactly once, on every path.
 */
export class Pop3Connection {
  #socket: Socket | TLSSocket;
  readonly #framer: ReplyFramer;
  #pending: PendingRead | null = null;
  #failure: Pop3Error | null = null;
  #destroyed = false;
  #paused = false;
  readonly #deadline: Deadline;
  #timer: NodeJS.Timeout | null = null;
  #phaseLabel = 'connect';
  #lastChunkAt = 0;
  /**
   * When (performance.now) the chunk that completed the last reply arrived, or when the
   * read began if that reply was already buffered (a server that answered ahead), so a
   * phase measured up to it is never negative.
   */
  lastReplyAt = 0;

  private constructor(
    socket: Socket,
    deadline: Deadline,
    limits: Partial<FramerLimits> | undefined,
  ) {
    this.#socket = socket;
    this.#deadline = deadline;
    this.#framer = new ReplyFramer(limits);
    this.#attach(socket);
  }

  /** Resolves the host; records the time. Separate from connect so the phases are apart. */
  static async resolve(
    host: string,
    deadline: Deadline,
  ): Promise<{ address: string; family: number }> {
    const family = isIP(host);
    if (family !== 0) return { address: host, family };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Pop3Error('timeout', `DNS lookup of ${host} timed out`)),
        deadline.remaining(),
      );
    });
    try {
      return await Promise.race([dns.lookup(host), timeout]);
    } catch (error) {
      if (error instanceof Pop3Error) throw error;
      const err = error as NodeJS.ErrnoException;
      throw new Pop3Error('dns', `DNS lookup of ${host} failed: ${err.code ?? err.message}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens the TCP connection; `connect` errors and the deadline are classified. */
  static async open(
    address: string,
    port: number,
    deadline: Deadline,
    limits?: Partial<FramerLimits>,
  ): Promise<Pop3Connection> {
    const socket = new Socket();
    socket.setNoDelay(true);
    const to = `${address}:${port}`;
    const connected = settleOn(socket, 'connect', deadline.remaining(), (why) => {
      if (why === 'timeout') return new Pop3Error('timeout', `connect to ${to} timed out`);
      if (why === 'close') return new Pop3Error('connect', `connect to ${to} failed: closed`);
      const reason = networkReason(why) === 'dns' ? 'dns' : 'connect';
      const message = `connect to ${to} failed: ${why.code ?? why.message}`;
      return new Pop3Error(reason, message, { cause: why });
    });
    socket.connect({ host: address, port });
    try {
      await connected;
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return new Pop3Connection(socket, deadline, limits);
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('end', this.#onEnd);
  }

  #detach(socket: Socket | TLSSocket): void {
    socket.off('data', this.#onData);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    socket.off('end', this.#onEnd);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#paused) return;
    this.#lastChunkAt = performance.now();
    this.#framer.push(chunk);
    this.#pump();
  };

  readonly #onError = (err: NodeJS.ErrnoException): void => {
    // After the handshake a bad TLS record (garbage, a wrong MAC, an alert) surfaces here
    // as ERR_SSL_*: the TLS layer failed, not the connection attempt.
    const reason: Reason = err.code?.startsWith('ERR_SSL_')
      ? 'tls'
      : err.code === 'ECONNRESET' || err.code === 'EPIPE'
        ? 'closed'
        : 'connect';
    this.#fail(
      new Pop3Error(
        reason,
        `connection error while waiting for ${this.#phaseLabel}: ${err.code ?? err.message}`,
        { cause: err },
      ),
    );
  };

  readonly #onEnd = (): void => {
    // Replies already buffered are still served; the close handler fails what is left.
    this.#pump();
  };

  readonly #onClose = (): void => {
    this.#fail(
      new Pop3Error('closed', `server closed the connection while waiting for ${this.#phaseLabel}`),
    );
  };

  #pump(): void {
    const pending = this.#pending;
    if (!pending || this.#failure) return;
    let reply: Reply | null;
    try {
      reply = this.#framer.next(pending.multiline, pending.block);
    } catch (error) {
      this.#fail(
        error instanceof Pop3Error
          ? error
          : new Pop3Error('protocol', String(error), { cause: error }),
      );
      return;
    }
    if (reply) {
      this.#pending = null;
      this.#clearTimer();
      this.lastReplyAt = Math.max(this.#lastChunkAt, pending.since);
      pending.resolve(reply);
    }
  }

  #fail(error: Pop3Error): void {
    if (!this.#failure) this.#failure = error;
    const pending = this.#pending;
    this.#pending = null;
    this.#clearTimer();
    this.destroy();
    pending?.reject(this.#failure);
  }

  #clearTimer(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /**
   * Waits for the next reply. `label` names what is awaited, for timeout messages; `block`
   * bounds (and may stream) a multi-line reply's block.
   */
  read(
    multiline: boolean,
    label: string,
    phaseLimitMs = Number.POSITIVE_INFINITY,
    block: BlockOptions = {},
  ): Promise<Reply> {
    if (this.#pending) throw new Error('Pop3Connection.read: a read is already pending');
    this.#phaseLabel = label;
    const since = performance.now();
    return new Promise<Reply>((resolve, reject) => {
      if (this.#failure) {
        // Replies that arrived before the failure (e.g. the server said -ERR then closed)
        // are still served first.
        try {
          const reply = this.#framer.next(multiline, block);
          if (reply) {
            this.lastReplyAt = Math.max(this.#lastChunkAt, since);
            resolve(reply);
            return;
          }
        } catch {
          // fall through to the recorded failure
        }
        reject(this.#failure);
        return;
      }
      this.#pending = { multiline, block, since, resolve, reject };
      const wait = Math.min(this.#deadline.remaining(), phaseLimitMs);
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#fail(new Pop3Error('timeout', `timed out waiting for ${label}`));
      }, wait);
      this.#pump();
    });
  }

  /** Sends command lines in one write (pipelining sends several). */
  write(lines: string[]): void {
    if (this.#failure || this.#destroyed) return;
    this.#socket.write(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
  }

  /** Bytes received and not consumed; must be 0 right after +OK to STLS (RFC 2595 §4). */
  get buffered(): number {
    return this.#framer.buffered;
  }

  /** Wraps the socket in TLS (implicit TLS or after STLS) and waits for the handshake. */
  upgrade(
    host: string,
    options: TlsOptions,
    phaseLimitMs = Number.POSITIVE_INFINITY,
  ): Promise<PeerTls> {
    const raw = this.#socket;
    this.#detach(raw);
    this.#phaseLabel = 'TLS handshake';
    const servername = options.servername ?? host;
    const secure: SecureContextOptions & Record<string, unknown> = {
      socket: raw,
      host: servername,
      // SNI is only sent for names, never for addresses (RFC 6066 §3).
      servername: isIP(servername) ? undefined : servername,
      rejectUnauthorized: !options.insecure,
      minVersion: 'TLSv1.2',
      secureContext: secureContextFor(options.ca),
      session: options.session,
    };
    const tlsSocket = tlsConnect(secure);
    this.#socket = tlsSocket;
    if (options.onSession) tlsSocket.on('session', options.onSession);
    raw.once('error', () => undefined);
    const limit = Math.min(this.#deadline.remaining(), phaseLimitMs);
    return settleOn(tlsSocket, 'secureConnect', limit, (why) => {
      if (why === 'timeout') return new Pop3Error('timeout', 'timed out in the TLS handshake');
      if (why === 'close')
        return new Pop3Error('tls', 'server closed the connection during the TLS handshake');
      return new Pop3Error('tls', describeTlsError(why), { cause: why });
    }).then(
      () => {
        this.#attach(tlsSocket);
        return peerTls(tlsSocket);
      },
      (error: Pop3Error) => {
        this.#failure ??= error;
        this.destroy();
        throw error;
      },
    );
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Ends the connection; safe to call more than once. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#clearTimer();
    this.#paused = true;
    const socket = this.#socket;
    // Keep an error listener so a late error on a destroyed socket is never unhandled.
    socket.on('error', () => undefined);
    socket.destroy();
  }
}

function peerTls(socket: TLSSocket): PeerTls {
  const cert = socket.getPeerCertificate();
  const notAfter = cert?.valid_to ? Date.parse(cert.valid_to) : Number.NaN;
  const name = (part: Record<string, string | string[]> | undefined): string | null => {
    if (!part) return null;
    const cn = part['CN'];
    return (Array.isArray(cn) ? cn[0] : cn) ?? null;
  };
  return {
    protocol: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    certNotAfterMs: Number.isFinite(notAfter) ? notAfter : null,
    certSubject: name(cert?.subject as unknown as Record<string, string | string[]> | undefined),
    certIssuer: name(cert?.issuer as unknown as Record<string, string | string[]> | undefined),
    resumed: socket.isSessionReused(),
  };
}
