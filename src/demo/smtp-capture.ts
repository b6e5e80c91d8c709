import type { Socket } from 'node:net';
import { type LineSession, startLineServer } from './line-server.js';

/**
 * The demo's SMTP sink (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT):
 * it accepts every message on loopback and hands it over, so the demo can print the alert
 * email the monitor sent, exactly as a real server would have received it.
 */
export interface CapturedMail {
  from: string;
  to: string[];
  /** The message as transmitted, dot-unstuffed, CRLF line ends. */
  data: string;
}

export interface SmtpCapture {
  readonly port: number;
  readonly messages: CapturedMail[];
  close(): Promise<void>;
}

const MAX_MESSAGE = 4 * 1024 * 1024;

function session(socket: Socket, onMail: (mail: CapturedMail) => void): LineSession {
  let from = '';
  let to: string[] = [];
  let inData = false;
  let data: string[] = [];
  let size = 0;
  const reply = (line: string) => socket.write(`${line}\r\n`);
  reply('220 pop3-monitor-demo ESMTP capture');

  const line = (text: string) => {
    if (inData) {
      if (text === '.') {
        inData = false;
        onMail({ from, to, data: `${data.join('\r\n')}\r\n` });
        data = [];
        size = 0;
        to = [];
        reply('250 2.0.0 OK: captured');
        return;
      }
      size += text.length + 2;
      if (size <= MAX_MESSAGE) data.push(text.startsWith('.') ? text.slice(1) : text);
      return;
    }
    const verb = text.slice(0, 4).toUpperCase();
    switch (verb) {
      case 'EHLO':
        socket.write(
          '250-pop3-monitor-demo\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 4194304\r\n',
        );
        return;
      case 'HELO':
        reply('250 pop3-monitor-demo');
        return;
      case 'MAIL':
        from = /<([^>]*)>/.exec(text)?.[1] ?? '';
        reply('250 2.1.0 OK');
        return;
      case 'RCPT':
        to.push(/<([^>]*)>/.exec(text)?.[1] ?? '');
        reply('250 2.1.5 OK');
        return;
      case 'DATA':
        inData = true;
        reply('354 End data with <CR><LF>.<CR><LF>');
        return;
      case 'RSET':
        to = [];
        reply('250 2.0.0 OK');
        return;
      case 'NOOP':
        reply('250 2.0.0 OK');
        return;
      case 'QUIT':
        reply('221 2.0.0 Bye');
        socket.end();
        return;
      default:
        reply('502 5.5.2 Command not implemented');
    }
  };

  return { onLine: line };
}

/**
 * `onMail` gets every accepted message; `messages` keeps those it did not return true for:
 * the alert emails. A handler returns true for mail it delivered elsewhere (the demo's
 * delivery loop messages go into the demo POP3 server).
 */
export async function startSmtpCapture(
  onMail: (mail: CapturedMail) => boolean | undefined,
  port = 0,
  host = '127.0.0.1',
): Promise<SmtpCapture> {
  const messages: CapturedMail[] = [];
  // utf8: 8BITMIME and SMTPUTF8 are offered.
  const listening = await startLineServer({
    port,
    host,
    encoding: 'utf8',
    maxLine: 65536,
    session: (socket) =>
      session(socket, (mail) => {
        if (onMail(mail) !== true) messages.push(mail);
      }),
  });
  return { port: listening.port, messages, close: () => listening.close() };
}
