/**
 * A deliberately small line-oriented client over node:net / node:tls for checking the
 * test servers themselves (POP3 and SMTP), independent of the project's POP3 client.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';

const DEFAULT_TIMEOUT_MS = 5000;

interface Waiter {
  resolve: (line: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class RawSession {
  private socket: Socket;
  private buffer = '';
  private readonly lines: string[] = [];
  private readonly waiters: Waiter[] = [];
  private ended: Error | undefined;
  private destroyed = false;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onEnd = (): void => this.fail(new Error('connection closed by the server'));
  private readonly onError = (error: Error): void => this.fail(error);
  private readonly onClose = (): void => this.fail(new Error('connection closed'));

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects without TLS; resolves once the TCP connection is up. */
  static connect(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawSession> {
    return RawSession.open(netConnect({ host, port }), 'connect', timeoutMs);
  }

  /** Connects with implicit TLS; rejects when the certificate does not verify. */
  static connectTls(
    options: ConnectionOptions & { host: string; port: number },
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<RawSession> {
    return RawSession.open(tlsConnect(options), 'secureConnect', timeoutMs);
  }

  private static open(socket: Socket, ready: string, timeoutMs: number): Promise<RawSession> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => {
        socket.off('error', onError);
        socket.destroy();
        reject(new Error(`no ${ready} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', onError);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RawSession(socket));
      });
    });
  }

  /** The TLS socket after connectTls or startTls (for certificate checks). */
  get tlsSocket(): TLSSocket | undefined {
    return 'encrypted' in this.socket ? (this.socket as TLSSocket) : undefined;
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** The next line without its CRLF. */
  readLine(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`no line within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Sends a command and returns the one-line reply. */
  async command(line: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    this.send(line);
    return this.readLine(timeoutMs);
  }

  /**
   * The lines of a POP3 multi-line body up to the "." terminator, exactly as sent (still
   * dot-stuffed, RFC 1939 section 3), so tests can see the stuffing itself.
   */
  async readDotBlock(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line === '.') return out;
      out.push(line);
    }
  }

  /** An SMTP reply (RFC 5321 section 4.2): lines "250-..." up to the last "250 ...". */
  async readSmtpReply(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      out.push(line);
      if (line.charAt(3) !== '-') return out;
    }
  }

  /** Upgrades the connection in place after STLS / STARTTLS was accepted. */
  startTls(options: ConnectionOptions, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    if (this.buffer !== '' || this.lines.length > 0) {
      return Promise.reject(new Error('data arrived before the TLS handshake'));
    }
    this.detach(this.socket);
    const raw = this.socket;
    return new Promise((resolve, reject) => {
      const secure = tlsConnect({ ...options, socket: raw });
      this.socket = secure;
      const onError = (error: Error): void => {
        clearTimeout(timer);
        secure.destroy();
        this.fail(error);
        reject(error);
      };
      const timer = setTimeout(() => {
        onError(new Error(`no TLS handshake within ${timeoutMs} ms`));
      }, timeoutMs);
      secure.once('error', onError);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.off('error', onError);
        this.attach(secure);
        resolve();
      });
    });
  }

  /** Closes the connection; safe to call more than once. */
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.fail(new Error('session closed'));
    this.socket.destroy();
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private receive(chunk: Buffer): void {
    this.buffer += chunk.toString('latin1');
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end < 0) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const waiter = this.waiters.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        waiter.resolve(line);
      } else {
        this.lines.push(line);
      }
    }
  }

  private fail(error: Error): void {
    this.ended ??= error;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
