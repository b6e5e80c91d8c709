import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { type Logger, pino } from 'pino';
import {
  classifySmtpError,
  createEmailSender,
  type EmailSender,
  emailedPart,
  renderEmail,
  renderSubject,
} from '../../../src/alerts/email.js';
import { Outbox, SendError } from '../../../src/alerts/outbox.js';
import type { SmtpConfig } from '../../../src/config/schema.js';
import { Secret } from '../../../src/secret.js';
import { FakeClock } from '../../fixtures/fake-clock.js';
import { MINUTE, notification, snapshot, T0 } from '../../fixtures/sample-notifications.js';
import { type SinkOptions, SmtpSink } from './smtp-sink.js';

const FROM = 'pop3-monitor <monitor@example.com>';
const RENDER = { from: FROM, to: ['ops@example.com'] };

describe('renderSubject', () => {
  test('one firing alert', () => {
    assert.equal(
      renderSubject(notification('n')),
      '[FIRING:1] pop3-monitor: backlog on support (warning)',
    );
  });

  test('one rule on two mailboxes', () => {
    const n = notification('n', [snapshot(), snapshot({ mailbox: 'invoices' })]);
    assert.equal(
      renderSubject(n),
      '[FIRING:2] pop3-monitor: backlog on support, invoices (warning)',
    );
  });

  test('several rules and mailboxes, in order of appearance, with the highest severity', () => {
    const n = notification('n', [
      snapshot(),
      snapshot({ rule: 'login_failed', mailbox: 'invoices', severity: 'critical' }),
      snapshot({ rule: 'login_failed', mailbox: 'support', severity: 'critical' }),
    ]);
    assert.equal(
      renderSubject(n),
      '[FIRING:3] pop3-monitor: backlog, login_failed on support, invoices (critical)',
    );
  });

  test('all resolved', () => {
    const n = notification('n', [snapshot({ status: 'resolved', resolved_at: T0 })]);
    assert.equal(renderSubject(n), '[RESOLVED] pop3-monitor: backlog on support (warning)');
  });

  test('a mixed batch is FIRING and names only the firing alerts', () => {
    const n = notification('n', [
      snapshot({ status: 'resolved', resolved_at: T0, severity: 'critical' }),
      snapshot({ rule: 'unreachable', mailbox: 'invoices' }),
    ]);
    assert.equal(renderSubject(n), '[FIRING:1] pop3-monitor: unreachable on invoices (warning)');
  });

  test('a long list is cut to 150 characters with an ellipsis, keeping the severity', () => {
    const alerts = Array.from({ length: 30 }, (_, i) => snapshot({ mailbox: `mailbox-${i}` }));
    const subject = renderSubject(notification('n', alerts));
    assert.equal(subject.length, 150);
    assert.ok(
      subject.startsWith('[FIRING:30] pop3-monitor: backlog on mailbox-0, mailbox-1, '),
      subject,
    );
    assert.ok(subject.endsWith('... (warning)'), subject);
  });
});

describe('renderEmail', () => {
  test('an age reads as a duration, in the value and beside the threshold', () => {
    const stale = snapshot({
      rule: 'stale_mail',
      metric: 'oldest_message_age_seconds',
      threshold: 3600,
      value: 7204.56299996376,
    });
    const { text, html } = renderEmail(notification('n', [stale]), RENDER);
    assert.match(text, /\n {2}Condition: {4}oldest_message_age_seconds > 3600 \(1h 0m\)\n/);
    assert.match(text, /\n {2}Value: {8}2h 0m\n/);
    assert.match(html, /<td style="padding:2px 12px">2h 0m<\/td>/);
    const fast = snapshot({ metric: 'probe_duration_seconds', threshold: 2, value: 2.5 });
    assert.match(renderEmail(notification('n', [fast]), RENDER).text, /Value: {8}2\.5s\n/);
  });

  test('the plain-text body of one firing alert', () => {
    const n = notification('n-1', [
      snapshot({
        labels: { team: 'support', env: 'prod' },
        last_error: { code: 'timeout', message: 'no greeting within 10s' },
        description: 'Support backlog',
      }),
    ]);
    const mail = renderEmail(n, { ...RENDER, externalUrl: 'https://monitor.example.com/' });
    assert.equal(
      mail.text,
      [
        'pop3-monitor: 1 alert firing',
        '',
        'FIRING (1)',
        '',
        '* backlog on support (warning)',
        '  Condition:    messages > 100',
        '  Value:        153',
        '  Since:        2026-01-01T09:43:00Z (for 17m)',
        '  Firing since: 2026-01-01T09:48:00Z',
        '  Last error:   timeout: no greeting within 10s',
        '  Description:  Support backlog',
        '  Labels:       env=prod, team=support',
        '',
        '-- ',
        'Sent by pop3-monitor at 2026-01-01T10:00:00Z (state change, notification n-1).',
        'Source: https://monitor.example.com/',
        '',
      ].join('\n'),
    );
  });

  test('resolved alerts get their own section with when they resolved', () => {
    const n = notification('n-2', [
      snapshot({ rule: 'unreachable', mailbox: 'invoices', severity: 'critical' }),
      snapshot({ status: 'resolved', resolved_at: T0 - MINUTE, value: 12.3456789 }),
    ]);
    const text = renderEmail(n, RENDER).text;
    const resolved = text.slice(text.indexOf('RESOLVED (1)'));
    assert.equal(
      resolved.split('\n-- \n')[0],
      [
        'RESOLVED (1)',
        '',
        '* backlog on support (warning)',
        '  Condition:    messages > 100',
        '  Value:        12.3457',
        '  Since:        2026-01-01T09:43:00Z',
        '  Firing since: 2026-01-01T09:48:00Z',
        '  Resolved:     2026-01-01T09:59:00Z (after 16m)',
        '',
      ].join('\n'),
    );
    assert.ok(text.startsWith('pop3-monitor: 1 alert firing, 1 resolved\n\nFIRING (1)\n'));
  });

  test('HTML escapes every value that comes from config or a server', () => {
    const hostile = '<script>alert("x")</script>';
    const n = notification('n-3', [
      snapshot({
        mailbox: hostile,
        last_error: { code: 'protocol', message: `-ERR ${hostile} & 'quoted'` },
        description: '<b>bold</b>',
        labels: { team: '<img src=x onerror=alert(1)>' },
      }),
    ]);
    const { html } = renderEmail(n, RENDER);
    assert.equal(html.includes('<script'), false);
    assert.equal(html.includes('<img'), false);
    assert.equal(html.includes('<b>'), false);
    assert.ok(
      html.includes('backlog on &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; (warning)'),
    );
    assert.ok(
      html.includes(
        'protocol: -ERR &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;',
      ),
    );
    assert.ok(html.includes('team=&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(html.includes('&lt;b&gt;bold&lt;/b&gt;'));
  });

  test('only an http(s) external URL becomes a link', () => {
    const https = renderEmail(notification('n'), {
      ...RENDER,
      externalUrl: 'https://m.example/?a=1&b=2',
    });
    assert.ok(https.html.includes('<a href="https://m.example/?a=1&amp;b=2">'));
    const js = renderEmail(notification('n'), { ...RENDER, externalUrl: 'javascript:alert(1)' });
    assert.equal(js.html.includes('<a '), false);
    assert.equal(js.text.includes('javascript'), false);
  });

  test('Message-ID is stable per notification id and uses the From domain', () => {
    const first = renderEmail(notification('n-42'), RENDER);
    const again = renderEmail(
      notification('n-42', [snapshot({ value: 999 })], { created_at: T0 + 60_000 }),
      RENDER,
    );
    assert.equal(first.messageId, '<pop3-monitor.n-42@example.com>');
    assert.equal(again.messageId, first.messageId);
    assert.deepEqual(first.headers, {
      'Message-ID': '<pop3-monitor.n-42@example.com>',
      'X-Pop3-Monitor-Notification': 'n-42',
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'All',
    });
    assert.equal(
      renderEmail(notification('n-42'), { ...RENDER, hostname: 'mon1.example.net' }).messageId,
      '<pop3-monitor.n-42@mon1.example.net>',
    );
  });

  test('an id with unsafe characters is escaped into the Message-ID and kept off other header lines', () => {
    const mail = renderEmail(notification('a b\r\nBcc: x@evil'), RENDER);
    assert.equal(mail.messageId, '<pop3-monitor.a=20b=0D=0ABcc=3A=20x=40evil@example.com>');
    assert.equal(mail.headers['X-Pop3-Monitor-Notification'], 'a b Bcc: x@evil');
    assert.equal(mail.subject.includes('\n'), false);
  });
});

describe('emailedPart: send_resolved', () => {
  const resolved = snapshot({ status: 'resolved', resolved_at: T0, rule: 'backlog' });
  const firing = snapshot({ rule: 'unreachable', mailbox: 'invoices' });

  test('on: the notification as it is', () => {
    const n = notification('n', [resolved, firing]);
    assert.equal(emailedPart(n, true), n);
  });

  test('off: a resolved-only notification is not mailed', () => {
    assert.equal(emailedPart(notification('n', [resolved], { status: 'resolved' }), false), null);
  });

  test('off: a mixed notification is mailed with its firing alerts only', () => {
    const part = emailedPart(notification('n', [resolved, firing]), false);
    assert.deepEqual(
      part?.alerts.map((a) => `${a.status}:${a.rule}`),
      ['firing:unreachable'],
    );
    assert.equal(part?.status, 'firing');
    assert.equal(part?.id, 'n');
  });
});

describe('classifySmtpError', () => {
  test('5xx is permanent except 503; 4xx and connection failures are temporary', () => {
    assert.equal(classifySmtpError({ responseCode: 550, permanent: true }), 'permanent');
    assert.equal(classifySmtpError({ responseCode: 503, permanent: false }), 'temporary');
    assert.equal(classifySmtpError({ responseCode: 451, permanent: false }), 'temporary');
    assert.equal(classifySmtpError({ responseCode: 554 }), 'permanent');
    assert.equal(classifySmtpError({ code: 'ESOCKET' }), 'temporary');
    assert.equal(classifySmtpError({ code: 'ETIMEDOUT' }), 'temporary');
    assert.equal(classifySmtpError({ code: 'EENVELOPE' }), 'permanent');
    assert.equal(classifySmtpError(new Error('boom')), 'temporary');
  });
});

const CANARY = 'Canary-Pa55word-7f3e';
const tlsDir = new URL('../../fixtures/tls/', import.meta.url);
const CA = readFileSync(new URL('ca.pem', tlsDir), 'utf8');
const LOCALHOST_TLS = {
  key: readFileSync(new URL('localhost.key', tlsDir), 'utf8'),
  cert: readFileSync(new URL('localhost.pem', tlsDir), 'utf8'),
};

function smtpConfig(port: number, fields: Partial<SmtpConfig> = {}): SmtpConfig {
  return {
    host: '127.0.0.1',
    port,
    secure: false,
    require_tls: false,
    username: 'monitor@example.com',
    password: new Secret(CANARY),
    from: FROM,
    tls_ca: undefined,
    tls_insecure: false,
    timeout: 5000,
    ...fields,
  };
}

/** The header block of a captured message, unfolded (RFC 5322 §2.2.3), as name → value. */
function headersOf(data: string): Map<string, string> {
  const block = data.slice(0, data.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const out = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    const at = line.indexOf(':');
    out.set(line.slice(0, at).toLowerCase(), line.slice(at + 1).trim());
  }
  return out;
}

describe('createEmailSender', () => {
  const sinks: SmtpSink[] = [];
  const senders: EmailSender[] = [];
  afterEach(async () => {
    for (const s of senders.splice(0)) s.close();
    for (const s of sinks.splice(0)) await s.close();
  });

  async function setup(
    sinkOpts: SinkOptions = {},
    fields: Partial<SmtpConfig> = {},
    logger?: Logger,
  ): Promise<{ sink: SmtpSink; sender: EmailSender }> {
    const sink = await SmtpSink.start(sinkOpts);
    sinks.push(sink);
    const sender = createEmailSender(
      smtpConfig(sink.port, fields),
      { to: ['ops@example.com', 'oncall@example.com'], external_url: undefined },
      { logger },
    );
    senders.push(sender);
    return { sink, sender };
  }

  test('sends one multipart message with AUTH PLAIN, the stable Message-ID and Auto-Submitted', async () => {
    const { sink, sender } = await setup();
    await sender.send(notification('n-7'));
    assert.equal(sink.messages.length, 1);
    const [message] = sink.messages;
    assert.ok(message);
    assert.equal(message.authUser, 'monitor@example.com');
    assert.equal(message.mailFrom, 'monitor@example.com');
    assert.deepEqual(message.rcptTo, ['ops@example.com', 'oncall@example.com']);
    const headers = headersOf(message.data);
    assert.equal(headers.get('subject'), '[FIRING:1] pop3-monitor: backlog on support (warning)');
    assert.equal(headers.get('message-id'), '<pop3-monitor.n-7@example.com>');
    assert.equal(headers.get('auto-submitted'), 'auto-generated');
    assert.equal(headers.get('x-pop3-monitor-notification'), 'n-7');
    assert.equal(headers.get('date'), 'Thu, 01 Jan 2026 10:00:00 +0000');
    assert.match(headers.get('content-type') ?? '', /^multipart\/alternative;/);
    assert.ok(message.data.includes('Content-Type: text/html'));
  });

  test('a 451 reply is a temporary failure', async () => {
    const { sink, sender } = await setup({ replies: { RCPT: '451 4.3.0 Try again later' } });
    const err = await sender.send(notification('n')).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SendError);
    assert.equal(err.code, 'temporary');
    assert.match(err.message, /451 4\.3\.0 Try again later/);
    assert.equal(sink.messages.length, 0);
  });

  test('a 550 reply is a permanent failure', async () => {
    const { sender } = await setup({ replies: { DATA_END: '550 5.7.1 Message rejected' } });
    await assert.rejects(sender.send(notification('n')), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'permanent');
      assert.match(err.message, /550 5\.7\.1 Message rejected/);
      return true;
    });
  });

  test('a refused connection is a temporary failure', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const sender = createEmailSender(smtpConfig(port), { to: ['ops@example.com'] });
    senders.push(sender);
    await assert.rejects(sender.send(notification('n')), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'temporary');
      return true;
    });
  });

  test('STARTTLS is used when offered and the certificate is checked against tls_ca', async () => {
    const { sink, sender } = await setup({ tls: LOCALHOST_TLS }, { tls_ca: CA });
    await sender.send(notification('n'));
    assert.equal(sink.messages[0]?.secure, true);
    assert.equal(sink.messages[0]?.authUser, 'monitor@example.com');
  });

  test('an untrusted certificate fails (temporarily) before any credentials are sent', async () => {
    const { sink, sender } = await setup({ tls: LOCALHOST_TLS });
    await assert.rejects(sender.send(notification('n')), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'temporary');
      return true;
    });
    assert.deepEqual(sink.authPayloads, []);
    assert.equal(sink.messages.length, 0);
  });

  test('tls_insecure accepts an untrusted certificate', async () => {
    const { sink, sender } = await setup({ tls: LOCALHOST_TLS }, { tls_insecure: true });
    await sender.send(notification('n'));
    assert.equal(sink.messages[0]?.secure, true);
  });

  test('require_tls refuses a server without STARTTLS and never sends the password', async () => {
    const { sink, sender } = await setup({}, { require_tls: true });
    await assert.rejects(sender.send(notification('n')), SendError);
    assert.deepEqual(sink.authPayloads, []);
    assert.equal(sink.messages.length, 0);
  });

  test('verify() connects and authenticates; a refused login is permanent', async () => {
    const good = await setup();
    await good.sender.verify();
    assert.equal(good.sink.authPayloads.length, 1);
    const bad = await setup({ replies: { AUTH: '535 5.7.8 Authentication failed' } });
    await assert.rejects(
      bad.sender.verify(),
      (err: unknown) => err instanceof SendError && err.code === 'permanent',
    );
  });

  test('no recipients is a permanent failure', async () => {
    const sender = createEmailSender(smtpConfig(1), { to: [] });
    senders.push(sender);
    await assert.rejects(
      sender.send(notification('n')),
      (err: unknown) => err instanceof SendError && err.code === 'permanent',
    );
  });

  test('the SMTP password never reaches a log line, even when the server echoes it', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const dir = await mkdtemp(join(tmpdir(), 'email-canary-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const clock = new FakeClock(T0);
    const modes: SinkOptions[] = [
      { replies: { AUTH: '535 5.7.8 Authentication failed for {credentials}' } },
      { replies: { RCPT: '451 4.3.0 Try again later' } },
      { replies: { DATA_END: '550 5.7.1 Message rejected' } },
      {},
    ];
    const results: string[] = [];
    for (const [i, mode] of modes.entries()) {
      const { sink, sender } = await setup(mode, {}, logger);
      let done: () => void = () => {};
      const attempted = new Promise<void>((resolve) => {
        done = resolve;
      });
      const outbox = new Outbox({
        dir: join(dir, String(i)),
        clock,
        senders: [sender],
        logger,
        onResult: (_c, r) => {
          results.push(r);
          done();
        },
      });
      await outbox.open();
      await outbox.enqueue(notification(`n-${i}`));
      await attempted;
      await outbox.close();
      assert.equal(sink.authPayloads.length, 1, `mode ${i} authenticated`);
    }
    assert.deepEqual(results, ['failed', 'failed', 'failed', 'sent']);
    const plainEcho = Buffer.from(`\u0000monitor@example.com\u0000${CANARY}`).toString('base64');
    const log = lines.join('');
    assert.ok(log.includes('alert_notification_failed'), 'failures were logged');
    assert.ok(
      log.includes('Authentication failed for ***'),
      'the echoed credentials were redacted',
    );
    for (const needle of [CANARY, plainEcho, Buffer.from(CANARY).toString('base64')]) {
      assert.equal(log.includes(needle), false, `log contains ${needle}`);
    }
  });
});
