/**
 * Delivery loops when the mail does not flow: Postfix stopped (the send fails with a
 * reason and delivery_lost fires), Postfix holding the message (late but within the
 * deadline: delivered; past it: lost, then late when released), and a daemon restart with
 * a probe message in flight (neither lost nor counted twice). Mail for loophold@ waits in
 * Postfix's hold queue until the test releases it (test/servers/start.sh).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clearMaildir } from '../servers/env.js';
import { postfixControl, postfixQueue } from '../servers/tools.js';
import { sample, scrape, waitUntil } from './alerting-support.js';
import { dovecotMailbox, events, flowDaemon, flowFixture, loopEntry } from './mail-flow-support.js';
import { ensureBuilt } from './shipping-support.js';

before(() => {
  ensureBuilt();
  postfixControl('start');
  postfixQueue('release');
});
after(() => {
  postfixControl('start');
  postfixQueue('release');
});

describe('delivery loops when mail does not flow', { timeout: 180_000 }, () => {
  test('Postfix stopped: the send fails with reason connect and delivery_lost fires; back up, the next one is delivered', {
    timeout: 60_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    clearMaildir('loop');
    const loop = `outage-${fx.tid}`;
    postfixControl('stop');
    try {
      const daemon = await flowDaemon(fx, {
        mailboxes: [dovecotMailbox('loopbox', 'loop')],
        loops: [loopEntry(fx, loop, 'loopbox', 'loop', { schedule: '*/2 * * * * *' })],
      });
      const text = await waitUntil('a failed send and the alert', daemon, async () => {
        const metrics = await scrape(daemon);
        const firing = sample(metrics, 'pop3_alerts_firing', {
          loop,
          rule: 'delivery_lost',
          severity: 'critical',
        });
        return firing === 1 ? metrics : undefined;
      });
      const failed = events(daemon, 'loop_send_failed', { loop })[0];
      t.diagnostic(`send failed: ${JSON.stringify(failed)}`);
      assert.equal(failed?.reason, 'connect');
      assert.match(String(failed?.error), /ECONNREFUSED/);
      assert.ok(
        (sample(text, 'pop3_delivery_send_failures_total', { loop, reason: 'connect' }) ?? 0) >= 1,
      );
      assert.equal(sample(text, 'pop3_delivery_sent_total', { loop }), 0);
      const fired = events(daemon, 'alert_firing', { rule: 'delivery_lost', loop })[0];
      assert.equal(fired?.mailbox, 'loopbox');

      postfixControl('start');
      await waitUntil(
        'a delivery and the alert resolved',
        daemon,
        async () => {
          const metrics = await scrape(daemon);
          const delivered = sample(metrics, 'pop3_delivery_duration_seconds_count', { loop }) ?? 0;
          const firing = sample(metrics, 'pop3_alerts_firing', {
            loop,
            rule: 'delivery_lost',
            severity: 'critical',
          });
          return delivered >= 1 && firing === undefined ? true : undefined;
        },
        30_000,
      );
      assert.equal(events(daemon, 'alert_resolved', { rule: 'delivery_lost', loop }).length, 1);
    } finally {
      postfixControl('start');
    }
  });

  test('Postfix holding the message within the deadline: delivered late, not lost', {
    timeout: 60_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    clearMaildir('loophold');
    const loop = `held-${fx.tid}`;
    const daemon = await flowDaemon(fx, {
      mailboxes: [dovecotMailbox('holdbox', 'loophold')],
      loops: [
        loopEntry(fx, loop, 'holdbox', 'loophold', { schedule: '*/10 * * * * *', deadline: '40s' }),
      ],
    });
    await waitUntil('probe message #1 accepted (and held)', daemon, async () =>
      events(daemon, 'loop_sent', { loop, seq: 1 }).length === 1 ? true : undefined,
    );
    const heldAt = Date.now();
    // Held for at least 4 s, while the mailbox is probed every second.
    await waitUntil('four probes of the mailbox with the message held', daemon, async () =>
      Date.now() - heldAt >= 4000 && postfixQueue('count') >= 1 ? true : undefined,
    );
    assert.equal(events(daemon, 'loop_delivered', { loop }).length, 0);
    postfixQueue('release');
    const delivered = await waitUntil(
      'probe message #1 delivered',
      daemon,
      async () => events(daemon, 'loop_delivered', { loop, seq: 1 })[0],
    );
    t.diagnostic(`held and released: delivered after ${delivered.delivery_seconds} s`);
    assert.ok(Number(delivered.delivery_seconds) >= 4);
    const text = await scrape(daemon);
    assert.equal(sample(text, 'pop3_delivery_lost_total', { loop }), 0);
    assert.equal(sample(text, 'pop3_delivery_late_total', { loop }), 0);
  });

  test('held past the deadline: lost (and the alert fires); released, it is counted late, not delivered', {
    timeout: 60_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    clearMaildir('loophold');
    const loop = `lost-${fx.tid}`;
    const daemon = await flowDaemon(fx, {
      mailboxes: [dovecotMailbox('holdbox', 'loophold')],
      loops: [
        loopEntry(fx, loop, 'holdbox', 'loophold', { schedule: '*/10 * * * * *', deadline: '3s' }),
      ],
    });
    const text = await waitUntil(
      'probe message #1 lost and the alert firing',
      daemon,
      async () => {
        const metrics = await scrape(daemon);
        const firing = sample(metrics, 'pop3_alerts_firing', {
          loop,
          rule: 'delivery_lost',
          severity: 'critical',
        });
        return events(daemon, 'loop_lost', { loop, seq: 1 }).length === 1 && firing === 1
          ? metrics
          : undefined;
      },
      30_000,
    );
    assert.ok((sample(text, 'pop3_delivery_lost_total', { loop }) ?? 0) >= 1);
    postfixQueue('release');
    const late = await waitUntil(
      'probe message #1 seen late',
      daemon,
      async () => events(daemon, 'loop_late', { loop, seq: 1 })[0],
    );
    t.diagnostic(`lost, then seen ${late.seconds} s after SMTP acceptance`);
    assert.equal(events(daemon, 'loop_delivered', { loop, seq: 1 }).length, 0);
    assert.equal(events(daemon, 'loop_lost', { loop, seq: 1 }).length, 1);
    assert.ok((sample(await scrape(daemon), 'pop3_delivery_late_total', { loop }) ?? 0) >= 1);
  });

  test('a daemon restart with a probe message in flight: neither lost nor counted twice', {
    timeout: 90_000,
  }, async (t) => {
    const fx = await flowFixture(t);
    clearMaildir('loophold');
    const loop = `restart-${fx.tid}`;
    const config = {
      mailboxes: [dovecotMailbox('holdbox', 'loophold')],
      loops: [
        loopEntry(fx, loop, 'holdbox', 'loophold', { schedule: '*/10 * * * * *', deadline: '60s' }),
      ],
    };
    const first = await flowDaemon(fx, config);
    await waitUntil('probe message #1 accepted (and held)', first, async () =>
      events(first, 'loop_sent', { loop, seq: 1 }).length === 1 ? true : undefined,
    );
    await first.stop();
    assert.equal(events(first, 'loop_delivered', { loop }).length, 0);
    const second = await flowDaemon(fx, config);
    await waitUntil('the restarted daemon probing the mailbox', second, async () =>
      events(second, 'probe_result').length >= 2 ? true : undefined,
    );
    postfixQueue('release');
    const delivered = await waitUntil(
      'probe message #1 delivered after the restart',
      second,
      async () => events(second, 'loop_delivered', { loop, seq: 1 })[0],
    );
    t.diagnostic(`in flight across a restart: delivered after ${delivered.delivery_seconds} s`);
    // Probes go on after the delivery; it stays counted once and nothing is lost.
    const probes = events(second, 'probe_result').length;
    await waitUntil('three more probes', second, async () =>
      events(second, 'probe_result').length >= probes + 3 ? true : undefined,
    );
    const text = await scrape(second);
    assert.equal(events(second, 'loop_delivered', { loop, seq: 1 }).length, 1);
    assert.equal(events(second, 'loop_lost', { loop }).length, 0);
    assert.equal(sample(text, 'pop3_delivery_lost_total', { loop }), 0);
    // The restarted daemon's sends went on from #2: the pending set and the sequence survived.
    for (const sent of events(second, 'loop_sent', { loop })) assert.ok(Number(sent.seq) >= 2);
  });
});
