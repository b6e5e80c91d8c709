/**
 * Alerting end to end, everything real: the built daemon (`pop3-monitor run`) probes, its
 * rules fire, the outbox hands the email to the test Postfix, Postfix delivers it into
 * Dovecot's Maildir, and the test reads it back over POP3 with the project's own client.
 * Each test signs its mail with its own From address, so the shared `alerts` maildrop may
 * hold anything else. Postfix is shared: a test that stops it starts it again in finally.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { Notification } from '../../src/alerts/types.js';
import {
  type FakeMailbox,
  type FakePop3Server,
  makeMessage,
  startFakePop3Server,
} from '../fixtures/fake-pop3-server.js';
import { DOVECOT, SMTP, USERS } from '../servers/env.js';
import { postfixControl } from '../servers/tools.js';
import {
  type Daemon,
  delay,
  describeMail,
  messageIdOf,
  outboxNotifications,
  type ReceivedMail,
  sample,
  scrape,
  startDaemon,
  waitForMail,
  waitUntil,
} from './alerting-support.js';
import { ensureBuilt } from './shipping-support.js';

const ALERTS_TO = `${USERS.alerts.user}@${SMTP.domain}`;
const EVERY_SECOND = '* * * * * *';

before(() => {
  ensureBuilt();
  // An earlier run that died mid-outage may have left it stopped.
  postfixControl('start');
});
// The safety net behind each test's own finally.
after(() => {
  postfixControl('start');
});

interface Fixture {
  /** Unique per test: in the From address and the mailbox names. */
  tid: string;
  dir: string;
  stateDir: string;
  from: string;
  address: string;
  /** Matches the mail this test's daemon sent. */
  ours(mail: ReceivedMail): boolean;
  /**
   * Registers a cleanup; they run last-in first-out after the test, so daemons stop
   * (and write their last state) before the fake servers close and the directory goes.
   */
  defer(cleanup: () => unknown): void;
}

async function fixture(t: TestContext): Promise<Fixture> {
  const tid = randomUUID().slice(0, 8);
  const dir = await mkdtemp(join(tmpdir(), 'alerting-postfix-'));
  const cleanups: (() => unknown)[] = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  });
  const address = `monitor-${tid}@${SMTP.domain}`;
  return {
    tid,
    dir,
    stateDir: join(dir, 'state'),
    from: `pop3-monitor <${address}>`,
    address,
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
    ours: (mail) => (mail.headers.get('from') ?? '').includes(`<${address}>`),
  };
}

interface Fake {
  server: FakePop3Server;
  mailbox: FakeMailbox;
}

/** A fake POP3 server whose single mailbox the test fills and drains while the daemon runs. */
async function fakeMailbox(fx: Fixture, count: number): Promise<Fake> {
  const mailbox: FakeMailbox = { user: 'watcher', password: 'watcher-pass', messages: [] };
  fill(mailbox, count);
  const server = await startFakePop3Server({ mailboxes: [mailbox] });
  fx.defer(() => server.close());
  return { server, mailbox };
}

function fill(mailbox: FakeMailbox, count: number): void {
  for (let i = 1; i <= count; i++) {
    mailbox.messages.push(makeMessage({ subject: `Waiting ${i}` }));
  }
}

interface ConfigOptions {
  listen: string;
  fx: Fixture;
  mailboxes: Record<string, unknown>[];
  repeatInterval?: string;
}

const BACKLOG_RULE = {
  name: 'backlog',
  metric: 'messages',
  op: '>',
  value: 2,
  for: '0s',
  severity: 'warning',
};

/** The daemon's config; JSON is YAML. */
function config(o: ConfigOptions): string {
  return JSON.stringify(
    {
      server: { listen: o.listen },
      state_dir: o.fx.stateDir,
      mailboxes: o.mailboxes,
      alerting: {
        smtp: { host: SMTP.host, port: SMTP.port, from: o.fx.from, timeout: '5s' },
        to: [ALERTS_TO],
        group_wait: '1s',
        repeat_interval: o.repeatInterval ?? '1h',
        send_resolved: true,
        rules: [BACKLOG_RULE],
      },
    },
    null,
    2,
  );
}

function fakeEntry(name: string, { server, mailbox }: Fake): Record<string, unknown> {
  return {
    name,
    host: server.host,
    port: server.port,
    tls: 'none',
    username: mailbox.user,
    password: mailbox.password,
    schedule: EVERY_SECOND,
    timeout: '5s',
  };
}

async function daemonFor(
  fx: Fixture,
  options: Omit<ConfigOptions, 'listen' | 'fx'>,
): Promise<Daemon> {
  const daemon = await startDaemon(fx.dir, (listen) => config({ listen, fx, ...options }));
  fx.defer(() => daemon.stop());
  return daemon;
}

async function metricsOf(daemon: Daemon): Promise<{
  pending: number | undefined;
  sent: number | undefined;
  failed: number | undefined;
  text: string;
}> {
  const text = await scrape(daemon);
  return {
    pending: sample(text, 'pop3_alert_outbox_pending'),
    sent: sample(text, 'pop3_alert_notifications_total', { result: 'sent' }),
    failed: sample(text, 'pop3_alert_notifications_total', { result: 'failed' }),
    text,
  };
}

function firingSubject(rule: string, mailbox: string, severity: string): string {
  return `[FIRING:1] pop3-monitor: ${rule} on ${mailbox} (${severity})`;
}

const MESSAGE_ID = /^<pop3-monitor\.(\d{13}-[0-9a-f]{16})@test\.local>$/;

function lines(mail: ReceivedMail): string[] {
  return mail.text.split(/\r?\n/);
}

/** Waits until the outbox holds one notification that failed at least once (SMTP is down). */
async function waitForStuckNotification(daemon: Daemon, fx: Fixture): Promise<Notification> {
  await waitUntil('the first failed attempt with Postfix down', daemon, async () => {
    const m = await metricsOf(daemon);
    return m.pending === 1 && (m.failed ?? 0) >= 1 ? true : undefined;
  });
  const queued = outboxNotifications(fx.stateDir);
  assert.equal(queued.length, 1);
  return queued[0] as Notification;
}

describe('alerting through the real Postfix and Dovecot', { timeout: 120_000 }, () => {
  test('a threshold alert mails FIRING when the backlog crosses it and RESOLVED when it drains', {
    timeout: 45_000,
  }, async (t) => {
    const fx = await fixture(t);
    const name = `backlog-${fx.tid}`;
    const pop = await fakeMailbox(fx, 0);
    const daemon = await daemonFor(fx, { mailboxes: [fakeEntry(name, pop)] });
    await waitUntil('a probe of the empty mailbox', daemon, async () =>
      sample(await scrape(daemon), 'pop3_messages', { mailbox: name }) === 0 ? true : undefined,
    );
    fill(pop.mailbox, 3);

    const [firing] = await waitForMail('alerts', fx.ours, (m) => m.length >= 1);
    assert.ok(firing);
    t.diagnostic(`received alert email:\n${describeMail(firing)}`);
    const h = firing.headers;
    assert.equal(h.get('subject'), firingSubject('backlog', name, 'warning'));
    // nodemailer writes the display name as a quoted-string (RFC 5322 §3.4).
    assert.equal(h.get('from'), `"pop3-monitor" <${fx.address}>`);
    assert.equal(h.get('to'), ALERTS_TO);
    assert.equal(h.get('auto-submitted'), 'auto-generated');
    const id = MESSAGE_ID.exec(h.get('message-id') ?? '')?.[1];
    assert.ok(id, `Message-ID ${h.get('message-id')} has the form <pop3-monitor.<id>@test.local>`);
    assert.equal(h.get('x-pop3-monitor-notification'), id);
    assert.match(h.get('content-type') ?? '', /^multipart\/alternative;/);
    const text = lines(firing);
    assert.equal(text[0], 'pop3-monitor: 1 alert firing');
    assert.ok(text.includes('FIRING (1)'));
    assert.ok(text.includes(`* backlog on ${name} (warning)`));
    assert.ok(text.includes('  Condition:    messages > 2'));
    assert.ok(text.includes('  Value:        3'));
    assert.ok(text.some((l) => l.startsWith(`Sent by pop3-monitor at `) && l.includes(id)));

    pop.mailbox.messages.length = 0;
    const both = await waitForMail('alerts', fx.ours, (m) => m.length >= 2);
    assert.deepEqual(
      both.map((m) => m.headers.get('subject')),
      [
        firingSubject('backlog', name, 'warning'),
        `[RESOLVED] pop3-monitor: backlog on ${name} (warning)`,
      ],
    );
    const resolved = both[1] as ReceivedMail;
    assert.notEqual(resolved.headers.get('message-id'), h.get('message-id'));
    assert.match(resolved.headers.get('message-id') ?? '', MESSAGE_ID);
    const rtext = lines(resolved);
    assert.equal(rtext[0], 'pop3-monitor: 1 resolved');
    assert.ok(rtext.includes('RESOLVED (1)'));
    assert.ok(rtext.includes(`* backlog on ${name} (warning)`));
    assert.ok(rtext.includes('  Condition:    messages > 2'));
    assert.ok(rtext.includes('  Value:        0'));
    assert.ok(rtext.some((l) => l.startsWith('  Resolved:     ')));
    // The counter moves after the outbox removed the item, which may be after delivery.
    await waitUntil('both notifications counted as sent', daemon, async () =>
      (await metricsOf(daemon)).sent === 2 ? true : undefined,
    );
    const m = await metricsOf(daemon);
    assert.deepEqual([m.sent, m.failed, m.pending], [2, 0, 0]);
  });

  test('a wrong password mails login_failed with the server reply, and the password appears nowhere', {
    timeout: 45_000,
  }, async (t) => {
    const fx = await fixture(t);
    const name = `wrong-${fx.tid}`;
    const canary = `canary-${randomUUID()}`;
    const daemon = await daemonFor(fx, {
      mailboxes: [
        {
          name,
          host: DOVECOT.host,
          port: DOVECOT.plainPort,
          tls: 'starttls',
          tls_ca_file: DOVECOT.caFile,
          username: USERS.empty.user,
          password: canary,
          schedule: EVERY_SECOND,
          timeout: '5s',
        },
      ],
    });

    const [mail] = await waitForMail('alerts', fx.ours, (m) => m.length >= 1);
    assert.ok(mail);
    assert.equal(mail.headers.get('subject'), firingSubject('login_failed', name, 'critical'));
    const text = lines(mail);
    assert.ok(text.includes(`* login_failed on ${name} (critical)`));
    assert.ok(text.includes('  Condition:    consecutive_login_failures >= 1'));
    assert.ok(text.includes('  Value:        1'));
    assert.ok(
      text.includes(
        '  Last error:   auth: login refused at AUTH PLAIN: -ERR [AUTH] Authentication failed.',
      ),
      mail.text,
    );
    assert.match(mail.html, /-ERR \[AUTH\] Authentication failed\./);

    // The password, and the forms it takes on the wire (SASL PLAIN is base64 of
    // "\0user\0password", RFC 4616), must not leak into the mail, the log or the state.
    const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
    const needles = [
      canary,
      b64(canary).replace(/=+$/, ''),
      b64(`\u0000${USERS.empty.user}\u0000${canary}`).replace(/=+$/, ''),
    ];
    await daemon.stop();
    const log = daemon.log();
    assert.match(log, /"event":"mailbox_down"/, 'the log holds the failure, so it was checked');
    const stateFiles = readdirSync(fx.stateDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
    const places: [string, string][] = [
      ['raw email', mail.raw],
      ['text part', mail.text],
      ['html part', mail.html],
      ['daemon log', log],
      ...stateFiles.map((s, i) => [`state file ${i}`, s] as [string, string]),
    ];
    for (const [where, content] of places) {
      for (const needle of needles) {
        assert.equal(content.includes(needle), false, `${where} contains the password (${needle})`);
      }
    }
  });

  test('an alert raised while Postfix is down is delivered exactly once after it comes back', {
    timeout: 60_000,
  }, async (t) => {
    const fx = await fixture(t);
    const name = `outage-${fx.tid}`;
    postfixControl('stop');
    try {
      const pop = await fakeMailbox(fx, 3);
      const daemon = await daemonFor(fx, { mailboxes: [fakeEntry(name, pop)] });
      const stuck = await waitForStuckNotification(daemon, fx);
      assert.equal(stuck.status, 'firing');
      assert.deepEqual(
        stuck.alerts.map((a) => [a.rule, a.mailbox]),
        [['backlog', name]],
      );
      assert.equal((await metricsOf(daemon)).sent, 0);

      postfixControl('start');
      // The next attempt comes after the backoff (5 s ± 20 %, then 10 s).
      await waitUntil(
        'the outbox to deliver after Postfix is back',
        daemon,
        async () => {
          const m = await metricsOf(daemon);
          return m.pending === 0 && m.sent === 1 ? true : undefined;
        },
        30_000,
      );
      const messageId = messageIdOf(stuck);
      const withId = (mail: ReceivedMail): boolean => mail.headers.get('message-id') === messageId;
      await waitForMail('alerts', withId, (m) => m.length >= 1);
      // Room for a duplicate to arrive, if there were one.
      await delay(3000);
      const delivered = await waitForMail('alerts', fx.ours, () => true);
      assert.deepEqual(
        delivered.map((m) => [m.headers.get('message-id'), m.headers.get('subject')]),
        [[messageId, firingSubject('backlog', name, 'warning')]],
      );
      const m = await metricsOf(daemon);
      assert.equal(m.pending, 0);
      assert.equal(m.sent, 1);
      assert.ok((m.failed ?? 0) >= 1);
      assert.deepEqual(outboxNotifications(fx.stateDir), []);
    } finally {
      postfixControl('start');
    }
  });

  test('a daemon killed with an alert in its outbox delivers it once after a restart, and does not re-send the still-firing alert', {
    timeout: 60_000,
  }, async (t) => {
    const fx = await fixture(t);
    const name = `crash-${fx.tid}`;
    postfixControl('stop');
    try {
      const pop = await fakeMailbox(fx, 3);
      const options = { mailboxes: [fakeEntry(name, pop)] };
      const first = await daemonFor(fx, options);
      const stuck = await waitForStuckNotification(first, fx);
      await first.stop('SIGKILL');
      assert.equal(first.process.signalCode, 'SIGKILL');
      assert.deepEqual(
        outboxNotifications(fx.stateDir).map((n) => n.id),
        [stuck.id],
        'the notification survived the kill on disk',
      );
      assert.ok(existsSync(join(fx.stateDir, 'alerts-state.json')));

      postfixControl('start');
      const second = await daemonFor(fx, options);
      // A restart retries the outbox at once.
      await waitUntil('the restarted daemon to deliver the queued alert', second, async () => {
        const m = await metricsOf(second);
        return m.pending === 0 && m.sent === 1 ? true : undefined;
      });
      const messageId = messageIdOf(stuck);
      await waitForMail(
        'alerts',
        (m) => m.headers.get('message-id') === messageId,
        (m) => m.length >= 1,
      );

      // The alert still fires (3 messages). Persisted state knows it was notified: the
      // probes after the restart must not make a new FIRING mail before repeat_interval.
      await waitUntil('three probes by the restarted daemon', second, async () => {
        const probes = sample(await scrape(second), 'pop3_probes_total', { mailbox: name });
        return (probes ?? 0) >= 3 ? true : undefined;
      });
      // group_wait (1 s) plus delivery: what a wrong re-send would take to show up.
      await delay(3000);
      const m = await metricsOf(second);
      assert.equal(
        sample(m.text, 'pop3_alerts_firing', {
          rule: 'backlog',
          mailbox: name,
          severity: 'warning',
        }),
        1,
      );
      assert.deepEqual([m.sent, m.pending], [1, 0]);
      const delivered = await waitForMail('alerts', fx.ours, () => true);
      assert.deepEqual(
        delivered.map((mail) => [mail.headers.get('message-id'), mail.headers.get('subject')]),
        [[messageId, firingSubject('backlog', name, 'warning')]],
      );
    } finally {
      postfixControl('start');
    }
  });

  test('a still-firing alert is mailed again after repeat_interval, with a new Message-ID', {
    timeout: 45_000,
  }, async (t) => {
    const fx = await fixture(t);
    const name = `repeat-${fx.tid}`;
    const pop = await fakeMailbox(fx, 3);
    await daemonFor(fx, { mailboxes: [fakeEntry(name, pop)], repeatInterval: '3s' });

    const mails = await waitForMail('alerts', fx.ours, (m) => m.length >= 2, 25_000);
    const [first, second] = mails as [ReceivedMail, ReceivedMail];
    for (const mail of [first, second]) {
      assert.equal(mail.headers.get('subject'), firingSubject('backlog', name, 'warning'));
    }
    const ids = [first, second].map(
      (mail) => MESSAGE_ID.exec(mail.headers.get('message-id') ?? '')?.[1],
    );
    assert.ok(ids[0] && ids[1] && ids[0] !== ids[1], `two Message-IDs: ${ids.join(', ')}`);
    // The id starts with the notification's creation time (ms). Both went through the
    // same group_wait, so they are repeat_interval apart: not sooner (a timer may round a
    // millisecond down), and not much later (the engine arms its own repeat timer).
    const created = ids.map((id) => Number(id?.split('-')[0]));
    const gap = (created[1] as number) - (created[0] as number);
    assert.ok(gap >= 2_990 && gap <= 6_000, `created ${created.join(' and ')}: ${gap} ms apart`);
    assert.ok(lines(first).some((l) => l.includes('(state change, notification ')));
    assert.ok(
      lines(second).some((l) => l.includes('(repeat of still-firing alerts, notification ')),
    );
  });
});
