/**
 * Expect watches end to end (the expected sender's mail missing: expect_overdue fires and
 * is mailed through the real Postfix; the mail arrives: it resolves), and the mistakes a
 * user makes with loops, each a clear error: wrong SMTP credentials, a certificate the
 * monitor does not trust, an unknown mailbox in `loops:`, a missing HMAC key file.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { clearMaildir, SMTP } from '../servers/env.js';
import { postfixControl } from '../servers/tools.js';
import { sample, scrape, waitForMail, waitUntil } from './alerting-support.js';
import { runCli, tempDir } from './daemon-support.js';
import {
  dovecotMailbox,
  events,
  flowDaemon,
  flowFixture,
  loopEntry,
  submission,
} from './mail-flow-support.js';
import { ensureBuilt } from './shipping-support.js';

before(() => {
  ensureBuilt();
  postfixControl('start');
});

describe('expect watches and mistakes with loops', { timeout: 120_000 }, () => {
  test("a watch fires when the expected sender's mail is missing, mails it, and resolves when the mail arrives", {
    timeout: 60_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    clearMaildir('watched');
    const from = `monitor-${fx.tid}@${SMTP.domain}`;
    const ours = (mail: { headers: Map<string, string> }) =>
      (mail.headers.get('from') ?? '').includes(from);
    const daemon = await flowDaemon(fx, {
      mailboxes: [
        dovecotMailbox('watched', 'watched', {
          expect: [
            {
              name: 'nightly',
              from: `backup-${fx.tid}@example\\.test`,
              subject: '^Backup',
              within: '3s',
            },
          ],
        }),
      ],
      alerting: {
        smtp: { host: SMTP.host, port: SMTP.port, from: `pop3-monitor <${from}>`, timeout: '5s' },
        to: [`alerts@${SMTP.domain}`],
        group_wait: '1s',
        send_resolved: true,
      },
    });
    const [firing] = await waitForMail('alerts', ours, (m) => m.length >= 1, 30_000);
    assert.equal(
      firing?.headers.get('subject'),
      '[FIRING:1] pop3-monitor: expect_overdue on watched (expect nightly) (critical)',
    );
    assert.ok(firing?.text.includes('  Condition:    expect_age_seconds > 3'));
    let text = await scrape(daemon);
    assert.equal(
      sample(text, 'pop3_alerts_firing', {
        mailbox: 'watched',
        expect: 'nightly',
        rule: 'expect_overdue',
        severity: 'critical',
      }),
      1,
    );
    assert.equal(
      sample(text, 'pop3_expect_last_seen_timestamp_seconds', {
        mailbox: 'watched',
        expect: 'nightly',
      }),
      undefined,
    );

    // The expected mail, through Postfix like any other: RFC 2047 subject, decoded to match.
    const transport = nodemailer.createTransport({
      host: SMTP.host,
      port: SMTP.port,
      secure: false,
      ignoreTLS: true,
    });
    await transport.sendMail({
      from: `Backup <backup-${fx.tid}@example.test>`,
      to: `watched@${SMTP.domain}`,
      subject: 'Backup réussi',
      text: 'All good.',
    });
    transport.close();
    const sentAt = Date.now() / 1000;
    const both = await waitForMail('alerts', ours, (m) => m.length >= 2, 30_000);
    assert.equal(
      both[1]?.headers.get('subject'),
      '[RESOLVED] pop3-monitor: expect_overdue on watched (expect nightly) (critical)',
    );
    text = await scrape(daemon);
    const lastSeen = sample(text, 'pop3_expect_last_seen_timestamp_seconds', {
      mailbox: 'watched',
      expect: 'nightly',
    });
    t.diagnostic(`expected mail arrived at ${lastSeen} (sent at ${sentAt.toFixed(1)})`);
    // The newest Received: header's time, to the second.
    assert.ok(lastSeen !== undefined && Math.abs(lastSeen - sentAt) < 5);
    assert.equal(events(daemon, 'expect_matched', { expect: 'nightly' }).length, 1);
  });

  test('wrong SMTP credentials and an untrusted certificate: the sends fail with auth and tls', {
    timeout: 60_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    writeFileSync(join(fx.dir, 'wrong-password'), 'not-the-password\n');
    const [badauth, badcert] = [`badauth-${fx.tid}`, `badcert-${fx.tid}`];
    const daemon = await flowDaemon(fx, {
      mailboxes: [dovecotMailbox('loopbox', 'loop')],
      loops: [
        loopEntry(fx, badauth, 'loopbox', 'loop', {
          smtp: submission({ password_file: 'wrong-password' }),
        }),
        // No tls_ca_file: the test CA that signed Postfix's certificate is not trusted.
        loopEntry(fx, badcert, 'loopbox', 'loop', { smtp: submission({ tls_ca_file: undefined }) }),
      ],
    });
    const text = await waitUntil('both sends failed', daemon, async () => {
      const metrics = await scrape(daemon);
      const auth = sample(metrics, 'pop3_delivery_send_failures_total', {
        loop: badauth,
        reason: 'auth',
      });
      const tls = sample(metrics, 'pop3_delivery_send_failures_total', {
        loop: badcert,
        reason: 'tls',
      });
      return auth !== undefined && tls !== undefined ? metrics : undefined;
    });
    const [authFailure] = events(daemon, 'loop_send_failed', { loop: badauth });
    const [tlsFailure] = events(daemon, 'loop_send_failed', { loop: badcert });
    t.diagnostic(`wrong password: ${authFailure?.error}`);
    t.diagnostic(`untrusted certificate: ${tlsFailure?.error}`);
    assert.match(String(authFailure?.error), /535/);
    assert.match(String(tlsFailure?.error), /certificate/i);
    assert.ok(!daemon.log().includes('not-the-password'));
    assert.ok(!daemon.log().includes(SMTP.password));
    assert.equal(sample(text, 'pop3_delivery_sent_total', { loop: badauth }), 0);
  });

  test('check-config: an unknown mailbox in loops: and a missing hmac key file name the field', async (t) => {
    const { dir, remove } = tempDir('mail-flow-config-');
    t.after(remove);
    const config = (loop: Record<string, unknown>) =>
      JSON.stringify({
        mailboxes: [{ name: 'support', host: 'pop.example.com', username: 'u', password: 'p' }],
        loops: [
          {
            name: 'l',
            smtp: { host: 'smtp.example.com' },
            from: 'monitor@example.com',
            to: 'support@example.com',
            mailbox: 'support',
            hmac_key_file: 'key',
            ...loop,
          },
        ],
      });
    writeFileSync(join(dir, 'key'), 'a-loop-key-of-32-characters-here\n');
    writeFileSync(join(dir, 'unknown.yaml'), config({ mailbox: 'nope' }));
    writeFileSync(join(dir, 'nokey.yaml'), config({ hmac_key_file: 'missing-key' }));
    writeFileSync(join(dir, 'ok.yaml'), config({}));
    const unknown = await runCli(['check-config', '--config', join(dir, 'unknown.yaml')]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /loops\[0\]\.mailbox: unknown mailbox "nope" \(a loop's mailbox must be one of mailboxes:\)/,
    );
    const nokey = await runCli(['check-config', '--config', join(dir, 'nokey.yaml')]);
    assert.equal(nokey.code, 2);
    assert.match(
      nokey.stderr,
      /loops\[0\]\.hmac_key_file: cannot read missing-key: no such file \(ENOENT\)/,
    );
    const ok = await runCli(['check-config', '--config', join(dir, 'ok.yaml')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stderr,
      /warning: loops\[0\]\.cleanup: off, so every probe message stays in mailbox support/,
    );
    assert.ok(!ok.stdout.includes('a-loop-key-of-32'));
    assert.match(ok.stdout, /"hmac_key": "\*\*\*"/);
  });
});
