/**
 * The email sender and the outbox against the real test Postfix (test/servers/start.sh):
 * an alert goes out over STARTTLS + AUTH, is delivered, and is read back over POP3 from
 * Dovecot with raw sockets, so what is checked is what a recipient would get.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createEmailSender, type EmailSender } from '../../src/alerts/email.js';
import { Outbox, SendError } from '../../src/alerts/outbox.js';
import { systemClock } from '../../src/clock.js';
import type { SmtpConfig } from '../../src/config/schema.js';
import { Secret } from '../../src/secret.js';
import { notification, snapshot } from '../fixtures/sample-notifications.js';
import { DOVECOT, SMTP, USERS } from '../servers/env.js';
import { RawSession } from '../servers/raw-session.js';

const FROM = 'pop3-monitor <monitor@test.local>';
const TO = `${USERS.ops.user}@${SMTP.domain}`;
const CA = readFileSync(DOVECOT.caFile, 'utf8');

const senders: EmailSender[] = [];
after(() => {
  for (const s of senders) s.close();
});

function submission(fields: Partial<SmtpConfig> = {}): SmtpConfig {
  return {
    host: SMTP.host,
    port: SMTP.submissionPort,
    secure: false,
    require_tls: true,
    username: SMTP.user,
    password: new Secret(SMTP.password),
    from: FROM,
    tls_ca: CA,
    tls_insecure: false,
    timeout: 10_000,
    ...fields,
  };
}

function sender(smtp: SmtpConfig, to = [TO]): EmailSender {
  const s = createEmailSender(smtp, { to, external_url: 'https://monitor.test.local/' });
  senders.push(s);
  return s;
}

/** Header value of an unfolded header block (RFC 5322 §2.2.3). */
function header(lines: string[], name: string): string | undefined {
  const block = lines
    .slice(0, lines.indexOf(''))
    .join('\r\n')
    .replace(/\r\n[ \t]+/g, ' ');
  const prefix = `${name.toLowerCase()}:`;
  return block
    .split('\r\n')
    .find((l) => l.toLowerCase().startsWith(prefix))
    ?.slice(prefix.length)
    .trim();
}

/** Quoted-printable (RFC 2045 §6.7) back to text, enough for the ASCII bodies we send. */
function decodeQp(text: string): string {
  return text
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * Polls the ops mailbox over POP3 until a message with this Message-ID arrives (Postfix
 * delivers asynchronously), and returns it whole. Bounded: 15 s.
 */
async function fetchDelivered(messageId: string): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const pop = await RawSession.connect(DOVECOT.host, DOVECOT.plainPort);
    try {
      assert.match(await pop.readLine(), /^\+OK/);
      assert.match(await pop.command(`USER ${USERS.ops.user}`), /^\+OK/);
      assert.match(await pop.command(`PASS ${USERS.ops.password}`), /^\+OK/);
      const count = Number(/^\+OK (\d+) /.exec(await pop.command('STAT'))?.[1] ?? 0);
      for (let n = count; n >= 1; n--) {
        assert.equal(await pop.command(`TOP ${n} 0`), '+OK');
        if (header(await pop.readDotBlock(), 'Message-ID') !== messageId) continue;
        assert.match(await pop.command(`RETR ${n}`), /^\+OK/);
        const lines = await pop.readDotBlock();
        await pop.command('QUIT');
        return lines;
      }
      await pop.command('QUIT');
    } finally {
      pop.close();
    }
    if (Date.now() > deadline) throw new Error(`${messageId} was not delivered within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('email through the test Postfix', () => {
  test('an alert goes out over STARTTLS with AUTH and arrives with its headers and escaped HTML', async () => {
    const id = `it-${randomUUID()}`;
    const n = notification(id, [
      snapshot({ last_error: { code: 'protocol', message: '-ERR <script>alert(1)</script>' } }),
    ]);
    await sender(submission()).send(n);
    const lines = await fetchDelivered(`<pop3-monitor.${id}@test.local>`);
    assert.equal(header(lines, 'Subject'), '[FIRING:1] pop3-monitor: backlog on support (warning)');
    assert.equal(header(lines, 'Auto-Submitted'), 'auto-generated');
    assert.equal(header(lines, 'X-Pop3-Monitor-Notification'), id);
    // Postfix records "with ESMTPSA": ESMTP over TLS (S) with SMTP AUTH (A), RFC 3848.
    assert.match(header(lines, 'Received') ?? '', /with ESMTPSA/);
    const body = decodeQp(lines.join('\r\n'));
    assert.ok(
      body.includes('-ERR &lt;script&gt;alert(1)&lt;/script&gt;'),
      'escaped in the HTML part',
    );
    assert.equal(body.includes('<script>alert(1)</script></td>'), false);
  });

  test('a wrong password is a permanent failure (535)', async () => {
    const s = sender(submission({ password: new Secret('wrong-password') }));
    await assert.rejects(s.send(notification(`it-${randomUUID()}`)), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'permanent');
      assert.match(err.message, /535/);
      assert.equal(err.message.includes('wrong-password'), false);
      return true;
    });
  });

  test('an unknown recipient on the plain port is a permanent failure (550)', async () => {
    const plain = submission({
      port: SMTP.port,
      require_tls: false,
      username: undefined,
      password: undefined,
    });
    const s = sender(plain, [`nobody@${SMTP.domain}`]);
    await assert.rejects(s.send(notification(`it-${randomUUID()}`)), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'permanent');
      assert.match(err.message, /550 5\.1\.1/);
      return true;
    });
  });

  test('an alert queued while SMTP is unreachable is delivered after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outbox-postfix-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const id = `it-${randomUUID()}`;
    // The outage: nothing listens on port 1.
    let failed = 0;
    const down = new Outbox({
      dir,
      clock: systemClock,
      senders: [sender(submission({ port: 1, timeout: 2000 }))],
      onResult: () => {
        failed += 1;
      },
    });
    await down.open();
    await down.enqueue(notification(id));
    await down.drain(5000);
    await down.close();
    assert.equal(failed >= 1, true);
    assert.equal((await readdir(dir)).length, 1);

    // The restart, with SMTP back.
    let sent = false;
    const up = new Outbox({
      dir,
      clock: systemClock,
      senders: [sender(submission())],
      onResult: (_c, r) => {
        sent = r === 'sent';
      },
    });
    await up.open();
    await up.drain(15_000);
    await up.close();
    assert.equal(sent, true);
    assert.deepEqual(await readdir(dir), []);
    const lines = await fetchDelivered(`<pop3-monitor.${id}@test.local>`);
    assert.equal(header(lines, 'X-Pop3-Monitor-Notification'), id);
  });
});
