// A tiny in-process SMTP server for the email sender tests: EHLO, STARTTLS (optional),
// AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT; it captures every accepted message and
// can be told to answer a command with a chosen reply (451, 550, ...).
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface SinkMessage {
  mailFrom: string;
  rcptTo: string[];
  /** The DATA content with dot-stuffing undone, CRLF line ends. */
  data: string;
  /** True when it arrived after STARTTLS. */
  secure: boolean;
  /** The decoded AUTH PLAIN identity, if the client authenticated. */
  authUser: string | null;
}

export interface SinkOptions {
  /** Offer STARTTLS with this key and certificate. */
  tls?: { key: string; cert: string };
  /** Offer AUTH PLAIN (default true). */
  auth?: boolean;
  /**
   * Replace the reply to a command: keys MAIL, RCPT, DATA (the 354 step), DATA_END (after
   * the final dot) and AUTH. `{credentials}` in an AUTH reply echoes what the client sent.
   */
  replies?: Partial<Record<'MAIL' | 'RCPT' | 'DATA' | 'DATA_END' | 'AUTH', string>>;
}

export class SmtpSink {
  readonly messages: SinkMessage[] = [];
  /** Every AUTH PLAIN payload received (base64, as on the wire). */
  readonly authPayloads: string[] = [];
  /** Every command line received (AUTH payloads included: tests look for them). */
  readonly commands: string[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #opts: SinkOptions;

  private constructor(opts: SinkOptions) {
    this.#opts = opts;
    this.#server = createServer((socket) => this.#session(socket));
  }

  static async start(opts: SinkOptions = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(opts);
    sink.#server.listen(0, '127.0.0.1');
    await once(sink.#server, 'listening');
    return sink;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    return address.port;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #session(raw: Socket): void {
    this.#sockets.add(raw);
    raw.on('close', () => this.#sockets.delete(raw));
    raw.on('error', () => {});
    let stream: Socket | TLSSocket = raw;
    let secure = false;
    let buffer = '';
    let inData = false;
    let dataLines: string[] = [];
    let mailFrom = '';
    let rcptTo: string[] = [];
    let authUser: string | null = null;
    let authPending = false;
    const replies = this.#opts.replies ?? {};
    const reply = (line: string): void => {
      stream.write(`${line}\r\n`);
    };

    const onLine = (line: string): void => {
      if (inData) {
        if (line === '.') {
          inData = false;
          const override = replies.DATA_END;
          if (override !== undefined) {
            reply(override);
            return;
          }
          this.messages.push({
            mailFrom,
            rcptTo,
            data: `${dataLines.join('\r\n')}\r\n`,
            secure,
            authUser,
          });
          reply(`250 2.0.0 Ok: queued as M${this.messages.length}`);
          return;
        }
        // RFC 5321 §4.5.2: a leading dot was doubled by the client.
        dataLines.push(line.startsWith('.') ? line.slice(1) : line);
        return;
      }
      this.commands.push(line);
      if (authPending) {
        authPending = false;
        this.#auth(line, reply, (user) => {
          authUser = user;
        });
        return;
      }
      const verb = (line.split(' ')[0] ?? '').toUpperCase();
      switch (verb) {
        case 'EHLO': {
          const ext = ['250-sink.test'];
          if (this.#opts.tls && !secure) ext.push('250-STARTTLS');
          if (this.#opts.auth !== false) ext.push('250-AUTH PLAIN');
          ext.push('250 HELP');
          reply(ext.join('\r\n'));
          return;
        }
        case 'STARTTLS': {
          const tlsOpts = this.#opts.tls;
          if (!tlsOpts || secure) {
            reply('502 5.5.1 STARTTLS not offered');
            return;
          }
          reply('220 2.0.0 Ready to start TLS');
          raw.removeListener('data', onData);
          const upgraded = new TLSSocket(raw, {
            isServer: true,
            key: tlsOpts.key,
            cert: tlsOpts.cert,
          });
          upgraded.on('error', () => raw.destroy());
          upgraded.on('data', onData);
          stream = upgraded;
          secure = true;
          buffer = '';
          return;
        }
        case 'AUTH': {
          const [, mech, initial] = line.split(' ');
          if (mech?.toUpperCase() !== 'PLAIN') {
            reply('504 5.5.4 mechanism not supported');
            return;
          }
          if (initial === undefined) {
            authPending = true;
            reply('334 ');
            return;
          }
          this.#auth(initial, reply, (user) => {
            authUser = user;
          });
          return;
        }
        case 'MAIL':
          if (replies.MAIL !== undefined) {
            reply(replies.MAIL);
            return;
          }
          mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? '';
          rcptTo = [];
          {
            reply('250 2.1.0 Ok');
            return;
          }
        case 'RCPT':
          if (replies.RCPT !== undefined) {
            reply(replies.RCPT);
            return;
          }
          rcptTo.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          {
            reply('250 2.1.5 Ok');
            return;
          }
        case 'DATA':
          if (replies.DATA !== undefined) {
            reply(replies.DATA);
            return;
          }
          inData = true;
          dataLines = [];
          {
            reply('354 End data with <CR><LF>.<CR><LF>');
            return;
          }
        case 'RSET':
          mailFrom = '';
          rcptTo = [];
          {
            reply('250 2.0.0 Ok');
            return;
          }
        case 'NOOP': {
          reply('250 2.0.0 Ok');
          return;
        }
        case 'QUIT':
          reply('221 2.0.0 Bye');
          stream.end();
          return;
        default: {
          reply('502 5.5.2 Error: command not recognized');
          return;
        }
      }
    };

    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('latin1');
      for (let at = buffer.indexOf('\r\n'); at >= 0; at = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        onLine(line);
      }
    };
    raw.on('data', onData);
    reply('220 sink.test ESMTP');
  }

  #auth(payload: string, reply: (line: string) => void, setUser: (user: string) => void): void {
    this.authPayloads.push(payload);
    const override = this.#opts.replies?.AUTH;
    if (override !== undefined) {
      reply(override.replace('{credentials}', payload));
      return;
    }
    // RFC 4616: authzid NUL authcid NUL passwd
    const [, user] = Buffer.from(payload, 'base64').toString('utf8').split('\u0000');
    setUser(user ?? '');
    reply('235 2.7.0 Authentication successful');
  }
}
