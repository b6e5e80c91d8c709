import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { App } from '../../../src/app.js';
import { parseConfig } from '../../../src/config/load.js';
import { FakeClock } from '../../fixtures/fake-clock.js';
import { startFakePop3Server } from '../../fixtures/fake-pop3-server.js';

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
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 30));
    const app = new App(config, { version: 'test', clock, logger: pino({ level: 'silent' }) });
    await app.start();
    t.after(() => app.stop());
    const healthz = async () => {
      const address = app.address;
      const r = await fetch(`http://127.0.0.1:${address?.port}/healthz`);
      return [r.status, await r.text()];
    };
    // The start-up probe (within 10 s) and the one of the next minute.
    await clock.advance(90_000);
    assert.ok(server.totalConnections() >= 1, 'probed');
    assert.deepEqual(await healthz(), [200, 'ok\n']);
    // Time passes and no timer fires: the minute schedule allows 2 minutes plus the
    // probe's deadline and the probe watchdog's grace (10 s + 30 s).
    clock.jump(150_000);
    assert.deepEqual(await healthz(), [200, 'ok\n']);
    clock.jump(20_000);
    const [status, body] = await healthz();
    assert.equal(status, 503);
    assert.match(
      String(body),
      /^unhealthy: no probe started or finished for 1\d\ds since the last one \(expected within 160s\)\n$/,
    );
    // The timers fire again: the next probe makes it healthy.
    await clock.advance(60_000);
    assert.deepEqual(await healthz(), [200, 'ok\n']);
  });
});
