/**
 * Delivery loops end to end, everything real: the built daemon submits signed probe
 * messages to the test Postfix (submission, STARTTLS, AUTH), Postfix delivers them into
 * Dovecot's Maildir, and the daemon's own probes of that mailbox find them with UIDL and
 * TOP n 0. Cleanup deletes exactly the loop's own verified messages; every other file of
 * the Maildir (one carrying a forged probe header among them) stays byte-identical.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { probeHeaderValue } from '../../src/flow/probe-header.js';
import { Secret } from '../../src/secret.js';
import { clearMaildir, DOVECOT, maildirSnapshot } from '../servers/env.js';
import { postfixControl } from '../servers/tools.js';
import { sample, scrape, waitUntil } from './alerting-support.js';
import {
  byMessage,
  deliverRaw,
  dovecotMailbox,
  events,
  flowDaemon,
  flowFixture,
  loopEntry,
  rawMessage,
} from './mail-flow-support.js';
import { ensureBuilt } from './shipping-support.js';

before(() => {
  ensureBuilt();
  postfixControl('start');
});

/** Dovecot's logout lines of `user` since `offset`: "Logged out top=a/b, retr=c/d, del=e/f". */
function dovecotSessions(user: string, offset: number): { retr: number; del: number }[] {
  const text = readFileSync(DOVECOT.logFile, 'latin1').slice(offset);
  const out: { retr: number; del: number }[] = [];
  for (const m of text.matchAll(
    new RegExp(`pop3\\(${user}\\).*Logged out .*retr=(\\d+)/\\d+, del=(\\d+)/`, 'g'),
  )) {
    out.push({ retr: Number(m[1]), del: Number(m[2]) });
  }
  return out;
}

function listing(snapshot: Map<string, string>): string {
  return [...snapshot].map(([name, hash]) => `  ${name}  sha256:${hash.slice(0, 16)}`).join('\n');
}

describe('delivery loops through the real Postfix into the real Dovecot', {
  timeout: 120_000,
}, () => {
  test("a probe message arrives; its delivery time is recorded; cleanup deletes exactly the loop's own verified messages", {
    timeout: 60_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    clearMaildir('loop');
    const loop = `loop-${fx.tid}`;
    // Already in the maildrop: a stranger's mail, and mail carrying this loop's header
    // with a signature made with another key (forged) and one naming no loop of ours.
    const forgedHeader = probeHeaderValue(
      { loop, seq: 1, sent: Date.now() },
      new Secret('not-the-loop-key-0123456789abcdef'),
    );
    const others = [
      deliverRaw(
        'loop',
        rawMessage(
          { From: 'someone@example.test', Subject: 'Hello', Date: new Date().toUTCString() },
          'Hi.',
        ),
        'a',
      ),
      deliverRaw(
        'loop',
        rawMessage(
          { From: 'forger@example.test', Subject: 'forged', 'X-Pop3-Monitor-Probe': forgedHeader },
          'Forged.',
        ),
        'b',
      ),
      deliverRaw(
        'loop',
        rawMessage(
          {
            From: 'other-monitor@example.test',
            Subject: 'foreign',
            'X-Pop3-Monitor-Probe': probeHeaderValue(
              { loop: 'somebody-elses', seq: 9, sent: 1 },
              new Secret('another-monitors-key-0123456789'),
            ),
          },
          'Foreign.',
        ),
        'c',
      ),
    ];
    const dovecotFrom = statSync(DOVECOT.logFile).size;
    const beforeRun = maildirSnapshot('loop');
    t.diagnostic(`maildir before:\n${listing(beforeRun)}`);
    assert.equal(beforeRun.size, 3);

    const daemon = await flowDaemon(fx, {
      mailboxes: [dovecotMailbox('loopbox', 'loop')],
      loops: [loopEntry(fx, loop, 'loopbox', 'loop', { schedule: '*/2 * * * * *' })],
    });
    const text = await waitUntil(
      'two probe messages delivered',
      daemon,
      async () => {
        const metrics = await scrape(daemon);
        const count = sample(metrics, 'pop3_delivery_duration_seconds_count', { loop });
        return count !== undefined && count >= 2 ? metrics : undefined;
      },
      40_000,
    );
    const delivered = events(daemon, 'loop_delivered', { loop });
    for (const d of delivered) {
      t.diagnostic(
        `delivered #${d.seq}: ${d.delivery_seconds} s from SMTP acceptance to the probe that saw it (server part ${d.server_seconds} s)`,
      );
    }
    const first = delivered[0];
    assert.ok(first);
    assert.equal(first.seq, 1);
    assert.ok(typeof first.delivery_seconds === 'number' && first.delivery_seconds < 10);
    assert.ok((sample(text, 'pop3_delivery_sent_total', { loop }) ?? 0) >= 2);
    assert.equal(sample(text, 'pop3_delivery_lost_total', { loop }), 0);
    assert.ok(
      (sample(text, 'pop3_delivery_last_success_timestamp_seconds', { loop }) ?? 0) >
        Date.now() / 1000 - 60,
    );
    assert.ok((sample(text, 'pop3_delivery_duration_seconds_sum', { loop }) ?? -1) >= 0);
    // The forged message is counted once, however often the mailbox is probed.
    assert.equal(sample(text, 'pop3_delivery_forged_total', { loop }), 1);
    assert.equal(events(daemon, 'probe_message_foreign', { loop: 'somebody-elses' }).length, 1);

    // Every delivered probe message is deleted; nothing else is touched.
    const after = await waitUntil(
      'the delivered probe messages deleted',
      daemon,
      async () => {
        const snapshot = maildirSnapshot('loop');
        const deliveredNow = events(daemon, 'loop_delivered', { loop }).length;
        const sent = events(daemon, 'loop_sent', { loop }).length;
        // Between a delivery and its deletion (next probe) one probe file may be there.
        return snapshot.size === 3 && deliveredNow === sent ? snapshot : undefined;
      },
      20_000,
    );
    await daemon.stop();
    const final = maildirSnapshot('loop');
    t.diagnostic(
      `maildir after (${events(daemon, 'loop_delivered', { loop }).length} probe messages delivered and deleted):\n${listing(final)}`,
    );
    assert.deepEqual(after, beforeRun);
    assert.deepEqual(final, beforeRun);
    for (const name of others) assert.equal(final.get(name), beforeRun.get(name));
    // Dovecot's own account of the sessions: never a RETR; DELE exactly once per probe message.
    const sessions = dovecotSessions('loop', dovecotFrom);
    t.diagnostic(
      `Dovecot: ${sessions.length} sessions, retr ${sessions.reduce((n, x) => n + x.retr, 0)}, del ${sessions.reduce((n, x) => n + x.del, 0)}`,
    );
    assert.ok(sessions.length > 0);
    assert.ok(sessions.every((s) => s.retr === 0));
    assert.equal(
      sessions.reduce((sum, s) => sum + s.del, 0),
      events(daemon, 'loop_delivered', { loop }).length,
    );
  });

  test('with cleanup off the monitor changes nothing in the mailbox: every file byte-identical', {
    timeout: 60_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    clearMaildir('loop');
    const loop = `keep-${fx.tid}`;
    deliverRaw('loop', rawMessage({ From: 'someone@example.test', Subject: 'Hello' }, 'Hi.'), 'k');
    const daemon = await flowDaemon(fx, {
      mailboxes: [dovecotMailbox('loopbox', 'loop')],
      loops: [
        loopEntry(fx, loop, 'loopbox', 'loop', { schedule: '*/2 * * * * *', cleanup: false }),
      ],
    });
    assert.equal(
      events(daemon, 'config_warning').filter((e) =>
        String(e.warning).startsWith('loops[0].cleanup: off'),
      ).length,
      1,
    );
    await waitUntil(
      'two probe messages delivered',
      daemon,
      async () => {
        const count = sample(await scrape(daemon), 'pop3_delivery_duration_seconds_count', {
          loop,
        });
        return count !== undefined && count >= 2 ? true : undefined;
      },
      40_000,
    );
    const snapshot = byMessage(maildirSnapshot('loop'));
    const probesBefore = events(daemon, 'probe_result').length;
    // Several more probes of the mailbox (and sends): what was there stays as it was.
    await waitUntil('three more probes', daemon, async () =>
      events(daemon, 'probe_result').length >= probesBefore + 3 ? true : undefined,
    );
    await daemon.stop();
    const final = byMessage(maildirSnapshot('loop'));
    for (const [name, hash] of snapshot)
      assert.equal(final.get(name), hash, `${name} changed or went`);
    const sent = events(daemon, 'loop_sent', { loop }).length;
    // Each probe message Postfix delivered is still there, plus the stranger's mail.
    assert.ok(final.size >= snapshot.size);
    assert.ok(final.size <= sent + 1);
  });
});
