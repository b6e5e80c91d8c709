import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { type LineSession, startLineServer } from './line-server.js';

/**
 * The demo's own POP3 server: real POP3 over loopback (RFC 1939 with CAPA, PIPELINING,
 * RESP-CODES, SASL PLAIN), serving in-memory mailboxes. It exists so `pop3-monitor demo`
 * shows the whole loop without an outside server. It is not a mail server: nothing is
 * stored, and RETR/RSET are refused so the demo also shows the monitor never needs them.
 * DELE is kept for the one thing the monitor deletes, its delivery loop's own probe
 * messages: marked, and removed at QUIT (RFC 1939 §6).
 */
export interface DemoAccount {
  user: string;
  password: string;
  messages: string[];
}

export interface DemoPop3Server {
  readonly port: number;
  /** Adds a message to an account's maildrop (the demo's "mail arrives"). */
  deliver(user: string, message: string): void;
  count(user: string): number;
  close(): Promise<void>;
}

const CAPA = [
  'USER',
  'TOP',
  'UIDL',
  'PIPELINING',
  'RESP-CODES',
  'AUTH-RESP-CODE',
  'SASL PLAIN',
  'IMPLEMENTATION pop3-monitor-demo',
];

function octets(message: string): number {
  return Buffer.byteLength(message, 'latin1');
}

function uid(message: string): string {
  return createHash('sha1').update(message).digest('hex').slice(0, 24);
}

function topOf(message: string, lines: number): string[] {
  const all = message.split('\r\n');
  if (all.at(-1) === '') all.pop();
  const blank = all.indexOf('');
  const headerEnd = blank === -1 ? all.length : blank;
  return all.slice(0, Math.min(all.length, headerEnd + 1 + lines));
}

function multi(status: string, lines: string[]): string {
  const body = lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n');
  return `${status}\r\n${body}${lines.length > 0 ? '\r\n' : ''}.\r\n`;
}

function handleSession(socket: Socket, accounts: Map<string, DemoAccount>): LineSession {
  let user: string | null = null;
  let account: DemoAccount | null = null;
  const send = (text: string) => socket.write(text, 'latin1');
  send('+OK pop3-monitor demo POP3 server ready\r\n');

  const authenticated = (candidate: string, password: string) => {
    const found = accounts.get(candidate);
    if (!found || found.password !== password) {
      send('-ERR [AUTH] Authentication failed\r\n');
      return;
    }
    account = found;
    send(`+OK logged in, ${found.messages.length} messages\r\n`);
  };

  const deleted = new Set<string>();
  const command = (line: string) => {
    const [verb = '', ...args] = line.split(' ');
    const cmd = verb.toUpperCase();
    if (cmd === 'QUIT') {
      if (account && deleted.size > 0) {
        const kept = account.messages.filter((m) => !deleted.has(m));
        account.messages.splice(0, account.messages.length, ...kept);
      }
      send('+OK bye\r\n');
      socket.end();
      return;
    }
    if (!account) {
      if (cmd === 'CAPA') send(multi('+OK capabilities follow', CAPA));
      else if (cmd === 'USER') {
        user = args[0] ?? '';
        send('+OK send PASS\r\n');
      } else if (cmd === 'PASS' && user !== null) authenticated(user, args.join(' '));
      else if (cmd === 'AUTH' && args[0]?.toUpperCase() === 'PLAIN' && args[1]) {
        const [, authcid = '', password = ''] = Buffer.from(args[1], 'base64')
          .toString('utf8')
          .split('\0');
        authenticated(authcid, password);
      } else send('-ERR not allowed before login\r\n');
      return;
    }
    const messages = account.messages;
    const n = Number(args[0]);
    const valid = Number.isInteger(n) && n >= 1 && n <= messages.length;
    switch (cmd) {
      case 'CAPA':
        send(multi('+OK capabilities follow', CAPA));
        return;
      case 'STAT':
        send(`+OK ${messages.length} ${messages.reduce((s, m) => s + octets(m), 0)}\r\n`);
        return;
      case 'NOOP':
        send('+OK\r\n');
        return;
      case 'LIST':
      case 'UIDL': {
        // RFC 1939: without an argument every message, with one that message.
        const of = cmd === 'LIST' ? octets : uid;
        if (args.length === 0)
          send(
            multi(
              '+OK',
              messages.map((m, i) => `${i + 1} ${of(m)}`),
            ),
          );
        else if (valid) send(`+OK ${n} ${of(messages[n - 1] as string)}\r\n`);
        else send('-ERR no such message\r\n');
        return;
      }
      case 'TOP':
        if (valid) send(multi('+OK', topOf(messages[n - 1] as string, Number(args[1] ?? 0) || 0)));
        else send('-ERR no such message\r\n');
        return;
      case 'DELE':
        if (valid) {
          deleted.add(messages[n - 1] as string);
          send(`+OK message ${n} deleted\r\n`);
        } else send('-ERR no such message\r\n');
        return;
      default:
        send('-ERR the demo server is read-only\r\n');
    }
  };

  return { onLine: command };
}

export async function startDemoPop3Server(
  accounts: DemoAccount[],
  port = 0,
  host = '127.0.0.1',
): Promise<DemoPop3Server> {
  const byUser = new Map(accounts.map((a) => [a.user, a]));
  const listening = await startLineServer({
    port,
    host,
    encoding: 'latin1',
    maxLine: 8192,
    session: (socket) => handleSession(socket, byUser),
  });
  return {
    port: listening.port,
    close: () => listening.close(),
    deliver(user, message) {
      byUser.get(user)?.messages.push(message);
    },
    count(user) {
      return byUser.get(user)?.messages.length ?? 0;
    },
  };
}

/** A plausible message for the demo: CRLF line ends, a Date: the monitor reads via TOP. */
export function demoMessage(n: number, date: Date): string {
  return [
    `From: "Customer ${n}" <customer${n}@example.net>`,
    'To: invoices@demo.test',
    `Subject: Invoice #${1000 + n}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <demo-${n}-${date.getTime()}@example.net>`,
    '',
    `Please find invoice #${1000 + n} attached.`,
    '',
  ].join('\r\n');
}
