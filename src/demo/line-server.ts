import { createServer, type Server, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

/** What the demo's servers (POP3 and the SMTP capture) have in common: a line protocol on loopback. */

export interface Listening {
  readonly port: number;
  /** Stops listening and ends the open sessions too, so it never waits on a client. */
  close(): Promise<void>;
}

export interface LineSession {
  /** Called with each line received, without its CRLF. */
  onLine(text: string): void;
}

export interface LineServerOptions {
  port: number;
  host: string;
  encoding: 'latin1' | 'utf8';
  /** More than this many characters without a CRLF end the session. */
  maxLine: number;
  /** A new connection: greet it, return what handles its lines. */
  session(socket: Socket): LineSession;
}

/** Listens on host:port (0: any free port); an idle session ends after a minute. */
export function startLineServer(options: LineServerOptions): Promise<Listening> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setTimeout(60_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    const session = options.session(socket);
    // A multi-byte character may be split between two reads.
    const decoder = new StringDecoder(options.encoding);
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += decoder.write(chunk);
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        session.onLine(line);
      }
      if (buffer.length > options.maxLine) socket.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : options.port,
        close() {
          for (const socket of sockets) socket.destroy();
          return new Promise<void>((done) => server.close(() => done()));
        },
      });
    });
  });
}
