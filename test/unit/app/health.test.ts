import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { App } from '../../../src/app.js';
import { parseConfig } from '../../../src/config/load.js';
import { startFakePop3Server } from '../../fixtures/fake-pop3-server.js';
import { GlobalFakeTime } from '../../fixtures/global-fake-time.js';

const dir = mkdtempSync(join(tmpdir(), 'pop3-monitor-health-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The app's /healthz against its scheduler: healthy while probes start and finish, 503
 * once no timer of the scheduler has fired for longer than the schedule allows.
 */
describe('App: /healthz follows the scheduler', { timeout: 30_000 }, () => {
  it('200 while probes run; 503 with the reason when the timers stop; 200 again after a probe', async (t) => {
    const server = await startFakePop3Server({
      mailboxes: [{ user: 'alice', password: 'alice-pass-1', messages: [] }],
    });
    t.after(() => server.close());
    const config = parseConfig(
      [
        'server: { listen: "127.0.0.1:0" }',
        `state_dir: ${JSON.stringify(join(dir, 'state'))}`,
        'mailboxes:',
        `  - { name: a, host: 127.0.0.1, port: ${server.port}, tls: none, username: alice, password: alice-pass-1, schedule: "0 * * * * *" }`,
        '',
      ].join('\n'),
      { env: {} },
    );
    // node-cron fires the schedule: fake time on the globals drives it and the app's clock.
    const time = new GlobalFakeTime(Date.UTC(2026, 0, 1, 12, 0, 30));
    t.after(() => time.uninstall());
    const app = new App(config, {
      version: 'test',
      clock: time.clock,
      logger: pino({ level: 'silent' }),
    });
    await app.start();
    t.after(() => app.stop());
    const healthz = async () => {
      const address = app.address;
      const r = await fetch(`http://127.0.0.1:${address?.port}/healthz`);
      return [r.status, await r.text()];
    };
    // The start-up probe (within 10 s) and the one of the next minute.
    await time.advance(90_000);
    assert.ok(server.totalConnections() >= 1, 'probed');
    assert.deepEqual(await healthz(), [200, 'ok\n']);
    // Time passes and no timer fires. The last probe started or finished within the last
    // minute (the schedule's), and the minute schedule allows 2 minutes plus the probe's
    // deadline and the probe watchdog's grace (10 s + 30 s): 100 s on is at most 160 s idle.
    time.setWallClock(time.now() + 100_000);
    assert.deepEqual(await healthz(), [200, 'ok\n']);
    time.setWallClock(time.now() + 70_000);
    const [status, body] = await healthz();
    assert.equal(status, 503);
    const idle =
      /^unhealthy: no probe started or finished for (\d+)s since the last one \(expected within 160s\)\n$/.exec(
        String(body),
      );
    assert.ok(idle, String(body));
    assert.ok(Number(idle[1]) >= 170 && Number(idle[1]) < 230, String(body));
    // The timers fire again: the next probe makes it healthy.
    await time.advance(60_000);
    assert.deepEqual(await healthz(), [200, 'ok\n']);
  });
});
