/**
 * `pop3-monitor run`, the built daemon, against the real Dovecot (and, where a server
 * must be slow on purpose, the scripted fake POP3 server in this process): metric values
 * after the first round, promtool on its /metrics, overlap skips, login-failure backoff,
 * reloads, graceful shutdown and the HTTP endpoints. Each test runs its own daemon, and
 * the tests run concurrently.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  type FakePop3Server,
  type FakeSession,
  makeMessage,
  startFakePop3Server,
} from '../fixtures/fake-pop3-server.js';
import { aliceExpected, DOVECOT, SERVERS_DIR, SMTP, USERS } from '../servers/env.js';
import { promtoolPath } from '../servers/tools.js';
import {
  Daemon,
  type LogLine,
  packageVersion,
  runCli,
  type Scrape,
  stopAllDaemons,
  tempDir,
} from './daemon-support.js';

const EVERY_SECOND = '* * * * * *';
/**
 * How long a daemon may take to start (node, config, listen) on a loaded 2-core machine;
 * the timings under test are measured from its `started` log line or from the event itself.
 */
const START_MS = 20_000;

after(stopAllDaemons);

/** A Dovecot mailbox over plain POP3 (the STLS one sets tls itself). */
function dovecot(name: string, user: keyof typeof USERS, extra: Record<string, unknown> = {}) {
  return {
    name,
    host: DOVECOT.host,
    port: DOVECOT.plainPort,
    tls: 'none',
    username: USERS[user].user,
    password: USERS[user].password,
    schedule: EVERY_SECOND,
    timeout: '5s',
    ...extra,
  };
}

/** A fake POP3 server whose STAT answer waits `delayMs`; `statSeen` resolves at the first STAT. */
async function slowServer(delayMs: number): Promise<{
  server: FakePop3Server;
  statSeen: Promise<FakeSession>;
  mailbox: (name: string, extra?: Record<string, unknown>) => Record<string, unknown>;
  /** Closes the server and clears the STAT delays still pending. */
  close: () => Promise<void>;
}> {
  let seen: (session: FakeSession) => void = () => {};
  const statSeen = new Promise<FakeSession>((resolve) => {
    seen = resolve;
  });
  const delays = new Set<NodeJS.Timeout>();
  const server = await startFakePop3Server({
    mailboxes: [{ user: 'slow', password: 'slow-pass', messages: [makeMessage()] }],
    onCommand: async (session, command) => {
      if (command !== 'STAT') return undefined;
      seen(session);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          delays.delete(timer);
          resolve();
        }, delayMs);
        delays.add(timer);
      });
      return undefined;
    },
  });
  return {
    server,
    statSeen,
    close: async () => {
      for (const timer of delays) clearTimeout(timer);
      delays.clear();
      await server.close();
    },
    mailbox: (name, extra = {}) => ({
      name,
      host: server.host,
      port: server.port,
      tls: 'none',
      username: 'slow',
      password: 'slow-pass',
      schedule: EVERY_SECOND,
      timeout: '5s',
      ...extra,
    }),
  };
}

/** `promise`, or an error naming `what` after timeoutMs. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds since the epoch of the Dovecot test certificate's notAfter. */
function dovecotCertExpiry(): number {
  const cert = new X509Certificate(readFileSync(join(SERVERS_DIR, 'tls', 'server.pem')));
  return Date.parse(cert.validTo) / 1000;
}

function promtoolCheck(text: string): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtoolPath(), ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const keep = (c: Buffer): void => {
      output += c.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, lines: output.split('\n').filter((l) => l !== '') }),
    );
    child.stdin.end(text);
  });
}

const probes = (s: Scrape, mailbox: string): number => s.value('pop3_probes_total', { mailbox });
/** A counter by reason appears with its first count: absent reads as 0. */
const skipped = (s: Scrape, mailbox: string, reason: string): number =>
  s.get('pop3_probe_skipped_total', { mailbox, reason }) ?? 0;

// Separate daemons, so the tests run side by side; four at a time keeps a loaded 2-core
// machine able to keep the timings.
describe('pop3-monitor run against the real Dovecot', { concurrency: 4 }, () => {
  // One daemon, checked step by step: these run in order.
  describe('after the first round of polls', { concurrency: 1 }, () => {
    let daemon: Daemon;
    let scrape: Scrape;
    let startedAt: number;

    it('reports /readyz 200 once every mailbox was probed once', async () => {
      startedAt = Date.now() / 1000;
      daemon = await Daemon.startReady(
        {
          config: {
            mailboxes: [
              dovecot('alice', 'alice', {
                port: DOVECOT.plainPort,
                tls: 'starttls',
                tls_ca_file: DOVECOT.caFile,
                labels: { team: 'mail', site: 'lab' },
              }),
              dovecot('empty', 'empty'),
              dovecot('many', 'many'),
              dovecot('wrong', 'empty', { password: 'not-the-password' }),
            ],
          },
        },
        START_MS,
      );
      scrape = await daemon.scrape();
      // /readyz turns 200 before the log line may have been read from the pipe: wait for it.
      await daemon.waitForLog('first_round_complete', (l) => l.event === 'first_round_complete');
      assert.equal(daemon.events('first_round_complete').length, 1);
    });

    it('shows pop3_up, pop3_messages and pop3_size_bytes as Dovecot reports them', () => {
      const up = ['alice', 'empty', 'many', 'wrong'].map((mailbox) =>
        scrape.get('pop3_up', { mailbox }),
      );
      assert.deepEqual(up, [1, 1, 1, 0]);
      const messages = ['alice', 'empty', 'many'].map((mailbox) =>
        scrape.get('pop3_messages', { mailbox }),
      );
      assert.deepEqual(messages, [3, 0, 500]);
      assert.equal(scrape.get('pop3_size_bytes', { mailbox: 'alice' }), aliceExpected().octets);
      assert.equal(scrape.get('pop3_size_bytes', { mailbox: 'empty' }), 0);
      // A mailbox that never logged in has no count to show.
      assert.equal(scrape.get('pop3_messages', { mailbox: 'wrong' }), undefined);
    });

    it("shows alice's oldest Date: and the expiry of Dovecot's certificate", () => {
      assert.equal(
        scrape.get('pop3_oldest_message_timestamp_seconds', { mailbox: 'alice' }),
        aliceExpected().dates[0],
      );
      assert.equal(
        scrape.get('pop3_oldest_message_timestamp_seconds', { mailbox: 'empty' }),
        undefined,
      );
      assert.equal(
        scrape.get('pop3_tls_cert_expiry_timestamp_seconds', { mailbox: 'alice' }),
        dovecotCertExpiry(),
      );
      // No TLS, no certificate.
      assert.equal(
        scrape.get('pop3_tls_cert_expiry_timestamp_seconds', { mailbox: 'empty' }),
        undefined,
      );
      const lastSuccess = scrape.value('pop3_last_success_timestamp_seconds', { mailbox: 'alice' });
      assert.ok(
        lastSuccess >= startedAt && lastSuccess <= Date.now() / 1000,
        `last success ${lastSuccess} not since the start ${startedAt}`,
      );
    });

    it("still shows the certificate's expiry after later probes of alice", async () => {
      const probesNow = probes(scrape, 'alice');
      const later = await daemon.waitForMetrics(
        'two more probes of alice',
        (s) => probes(s, 'alice') >= probesNow + 2,
        10_000,
      );
      assert.equal(
        later.get('pop3_tls_cert_expiry_timestamp_seconds', { mailbox: 'alice' }),
        dovecotCertExpiry(),
      );
    });

    it('counts the wrong password as an auth failure and a login failure', () => {
      const wrong = { mailbox: 'wrong' };
      assert.ok(scrape.value('pop3_probe_failures_total', { ...wrong, reason: 'auth' }) >= 1);
      assert.ok(scrape.value('pop3_login_failures_total', { ...wrong, reason: 'auth' }) >= 1);
      // Failures are counted per probe: every probe of `wrong` so far failed on auth.
      assert.equal(
        scrape.value('pop3_probe_failures_total', { ...wrong, reason: 'auth' }),
        probes(scrape, 'wrong'),
      );
      // Mailboxes that never failed have no failure series at all.
      for (const mailbox of ['alice', 'empty', 'many']) {
        assert.deepEqual(scrape.all('pop3_probe_failures_total', { mailbox }), []);
        assert.deepEqual(scrape.all('pop3_login_failures_total', { mailbox }), []);
      }
    });

    it('has a whole-probe histogram per mailbox and the phases per server, +Inf = count', () => {
      for (const mailbox of ['alice', 'empty', 'many', 'wrong']) {
        const labels = { mailbox };
        const count = scrape.value('pop3_probe_duration_seconds_count', labels);
        assert.ok(count >= 1, `${mailbox}: count ${count}`);
        assert.equal(count, probes(scrape, mailbox));
        assert.equal(
          scrape.value('pop3_probe_duration_seconds_bucket', { ...labels, le: '+Inf' }),
          count,
        );
        assert.ok(scrape.value('pop3_probe_duration_seconds_sum', labels) > 0);
      }
      // Every mailbox here is on the plain port: one server, every phase of every probe.
      const server = `${DOVECOT.host}:${DOVECOT.plainPort}`;
      const all = ['alice', 'empty', 'many', 'wrong'].reduce((n, m) => n + probes(scrape, m), 0);
      for (const phase of ['connect', 'greeting', 'auth', 'quit']) {
        const labels = { server, phase };
        const count = scrape.value('pop3_phase_duration_seconds_count', labels);
        assert.ok(count >= 1 && count <= all, `${phase}: count ${count} of ${all} probes`);
        assert.equal(
          scrape.value('pop3_phase_duration_seconds_bucket', { ...labels, le: '+Inf' }),
          count,
        );
      }
      // Only alice uses STLS.
      assert.equal(
        scrape.value('pop3_phase_duration_seconds_count', { server, phase: 'stls' }),
        probes(scrape, 'alice'),
      );
      // No series mixes a mailbox with a phase, and there is no phase="total".
      assert.deepEqual(
        scrape.samples.filter(
          (x) => 'phase' in x.labels && ('mailbox' in x.labels || x.labels.phase === 'total'),
        ),
        [],
      );
      // Buckets are cumulative.
      const buckets = scrape
        .all('pop3_probe_duration_seconds_bucket', { mailbox: 'many' })
        .map((s) => s.value);
      assert.ok(buckets.length > 2 && buckets.length <= 10);
      assert.deepEqual(
        buckets,
        [...buckets].sort((a, b) => a - b),
      );
    });

    it('carries build_info with the package version and the mailbox labels on every series', () => {
      assert.equal(scrape.get('pop3_monitor_build_info', { version: packageVersion() }), 1);
      const alice = scrape.withLabel('mailbox', 'alice');
      assert.ok(alice.length >= 18 && alice.length <= 24, `${alice.length} series for alice`);
      const unlabelled = alice.filter((s) => s.labels.team !== 'mail' || s.labels.site !== 'lab');
      assert.deepEqual(unlabelled, []);
      // Mailboxes without those labels get them empty (one label set per metric).
      const empty = scrape.withLabel('mailbox', 'empty');
      assert.deepEqual(
        empty.filter((s) => s.labels.team !== '' || s.labels.site !== ''),
        [],
      );
    });

    it('passes promtool check metrics without a lint line about a pop3_ metric', async () => {
      const body = (await daemon.scrape()).body;
      const { code, lines } = await promtoolCheck(body);
      assert.ok(code === 0 || code === 3, `promtool exited ${code}: ${lines.join('\n')}`);
      assert.deepEqual(
        lines.filter((l) => l.startsWith('error') || l.includes('parsing error')),
        [],
      );
      assert.deepEqual(
        lines.filter((l) => l.includes('pop3_')),
        [],
      );
      await daemon.stop();
    });
  });

  it('skips ticks while a probe still runs (overlap), one probe at a time', async () => {
    const slow = await slowServer(2_500);
    const daemon = await Daemon.start({
      config: { mailboxes: [slow.mailbox('slow')] },
      env: { POP3_MONITOR_LOG_LEVEL: 'debug' },
    });
    try {
      await within(slow.statSeen, START_MS, 'the first STAT');
      const firstProbeAt = Date.now();
      const scrape = await daemon.waitForMetrics(
        'two probes done and three overlap skips',
        (s) => probes(s, 'slow') >= 2 && skipped(s, 'slow', 'overlap') >= 3,
        START_MS,
      );
      // From a little before the first STAT: each probe takes at least 2.5 s.
      const elapsed = (Date.now() - firstProbeAt) / 1000 + 0.5;
      assert.ok(
        probes(scrape, 'slow') <= Math.floor(elapsed / 2.5) + 1,
        `${probes(scrape, 'slow')} probes in ${elapsed} s`,
      );
      assert.equal(scrape.value('pop3_up', { mailbox: 'slow' }), 1);
      assert.equal(skipped(scrape, 'slow', 'auth_backoff'), 0);
      // Never two probes of the mailbox at once: each probe's time span ends before the next begins.
      const spans = daemon
        .events('probe_result')
        .map((l) => l.result as { started_at: number; phases: { total: number } })
        .map((r) => [r.started_at, r.started_at + r.phases.total] as const)
        .sort((a, b) => a[0] - b[0]);
      assert.ok(spans.length >= 2);
      // (2 ms for the two clocks involved: started_at is Date.now(), the duration comes
      // from performance.now().)
      for (let i = 1; i < spans.length; i++) {
        assert.ok(
          (spans[i]?.[0] ?? 0) >= (spans[i - 1]?.[1] ?? 0) - 0.002,
          `probe ${i} overlaps: ${JSON.stringify(spans)}`,
        );
      }
      for (const span of spans) assert.ok(span[1] - span[0] >= 2.5, JSON.stringify(span));
    } finally {
      await daemon.stop();
      await slow.close();
    }
  });

  it('backs off after a refused login and clears the backoff when the config changes', async () => {
    const mailbox = dovecot('backoff', 'empty', {
      password: 'wrong-password',
      auth_failure_backoff: '1h',
    });
    const daemon = await Daemon.start({ config: { mailboxes: [mailbox] } });
    try {
      await daemon.waitForMetrics('the first probe', (s) => probes(s, 'backoff') === 1, START_MS);
      const firstAt = Date.now();
      const before = await daemon.waitForMetrics(
        'five more seconds of ticks',
        (s) => skipped(s, 'backoff', 'auth_backoff') >= 3 && Date.now() - firstAt >= 5_000,
        10_000,
      );
      assert.equal(probes(before, 'backoff'), 1);
      assert.equal(before.value('pop3_up', { mailbox: 'backoff' }), 0);
      assert.equal(
        before.value('pop3_probe_failures_total', { mailbox: 'backoff', reason: 'auth' }),
        1,
      );
      assert.equal(
        before.value('pop3_login_failures_total', { mailbox: 'backoff', reason: 'auth' }),
        1,
      );
      assert.equal(daemon.events('auth_backoff').length, 1);

      const mark = daemon.logs().length;
      daemon.writeConfig({ mailboxes: [{ ...mailbox, password: USERS.empty.password }] });
      daemon.signal('SIGHUP');
      await daemon.waitForLog('reloaded', (l) => l.event === 'reloaded', 5_000, mark);
      const fixed = await daemon.waitForMetrics(
        'pop3_up 1 after the password was fixed',
        (s) => s.get('pop3_up', { mailbox: 'backoff' }) === 1,
        5_000,
      );
      // Counters carry on over the reload, and no probe after it failed. (A third probe may
      // already have run: the schedule is every second.)
      assert.ok(probes(fixed, 'backoff') >= 2);
      assert.equal(
        fixed.value('pop3_probe_failures_total', { mailbox: 'backoff', reason: 'auth' }),
        1,
      );
      assert.equal(fixed.value('pop3_messages', { mailbox: 'backoff' }), 0);
    } finally {
      await daemon.stop();
    }
  });

  it('reloads on SIGHUP and POST /-/reload; a broken config is rejected and the old one keeps running', async () => {
    const alice = dovecot('alice', 'alice', { labels: { team: 'a' } });
    const empty = dovecot('empty', 'empty');
    const many = dovecot('many', 'many', { labels: { team: 'm' } });
    const daemon = await Daemon.startReady({ config: { mailboxes: [alice, empty] } }, START_MS);
    try {
      // Add a mailbox with SIGHUP: its series appear.
      let mark = daemon.logs().length;
      daemon.writeConfig({ mailboxes: [alice, empty, many] });
      daemon.signal('SIGHUP');
      await daemon.waitForLog('reloaded', (l) => l.event === 'reloaded', 5_000, mark);
      let s = await daemon.waitForMetrics(
        'the added mailbox probed',
        (x) => x.get('pop3_up', { mailbox: 'many' }) === 1,
        10_000,
      );
      assert.equal(s.value('pop3_messages', { mailbox: 'many', team: 'm' }), 500);
      assert.equal(s.value('pop3_monitor_config_reloads_total', { result: 'success' }), 1);
      assert.equal(s.value('pop3_monitor_config_last_reload_successful'), 1);

      // Remove one with POST /-/reload: every series of it goes.
      assert.ok(s.withLabel('mailbox', 'empty').length >= 10);
      daemon.writeConfig({ mailboxes: [alice, many] });
      const removed = await daemon.request('/-/reload', 'POST');
      assert.deepEqual([removed.status, removed.body], [200, 'reloaded\n']);
      s = await daemon.scrape();
      assert.deepEqual(s.withLabel('mailbox', 'empty'), []);
      const aliceProbes = probes(s, 'alice');
      // Still gone once later probes (and any probe of `empty` that was in flight) ended.
      s = await daemon.waitForMetrics(
        'two more probes of alice',
        (x) => probes(x, 'alice') >= aliceProbes + 2,
        10_000,
      );
      assert.deepEqual(s.withLabel('mailbox', 'empty'), []);
      assert.ok(!s.body.includes('mailbox="empty"'));

      // A broken config: 500 naming the field, counted, and the old config keeps running.
      daemon.writeConfig({ mailboxes: [alice, { ...many, port: 70000 }] });
      const broken = await daemon.request('/-/reload', 'POST');
      assert.equal(broken.status, 500);
      assert.match(broken.body, /mailboxes\[1\]\.port/);
      s = await daemon.scrape();
      assert.equal(s.value('pop3_monitor_config_last_reload_successful'), 0);
      assert.equal(s.value('pop3_monitor_config_reloads_total', { result: 'failure' }), 1);
      assert.equal(s.value('pop3_monitor_config_reloads_total', { result: 'success' }), 2);
      assert.equal(daemon.events('reload_failed').length, 1);
      const counts = { alice: probes(s, 'alice'), many: probes(s, 'many') };
      s = await daemon.waitForMetrics(
        'both old mailboxes probed again',
        (x) => probes(x, 'alice') >= counts.alice + 2 && probes(x, 'many') >= counts.many + 2,
        10_000,
      );
      assert.deepEqual(
        [s.get('pop3_up', { mailbox: 'alice' }), s.get('pop3_up', { mailbox: 'many' })],
        [1, 1],
      );
      assert.equal(
        s.value('pop3_mailbox_info', { mailbox: 'many', port: String(DOVECOT.plainPort) }),
        1,
      );

      // Then a good config (SIGHUP): successful again. Its new server.listen needs a
      // restart: logged, and the daemon keeps serving where it was.
      mark = daemon.logs().length;
      // alice's label changes too: her series move to the new value, none stays behind.
      const upBefore = s.value('pop3_up', { mailbox: 'alice' });
      daemon.writeConfig({
        server: { listen: '127.0.0.1:1' },
        mailboxes: [{ ...alice, labels: { team: 'b' } }],
      });
      daemon.signal('SIGHUP');
      await daemon.waitForLog('reloaded', (l) => l.event === 'reloaded', 5_000, mark);
      s = await daemon.scrape();
      assert.deepEqual(
        s.withLabel('mailbox', 'alice').filter((x) => x.labels.team !== 'b'),
        [],
      );
      // The gauge carries over to the new labels at once.
      assert.equal(s.value('pop3_up', { mailbox: 'alice', team: 'b' }), upBefore);
      assert.equal(s.value('pop3_monitor_config_last_reload_successful'), 1);
      assert.equal(s.value('pop3_monitor_config_reloads_total', { result: 'success' }), 3);
      assert.equal(s.value('pop3_monitor_config_reloads_total', { result: 'failure' }), 1);
      assert.deepEqual(s.withLabel('mailbox', 'many'), []);
      assert.deepEqual(
        daemon.events('reload_needs_restart').map((l) => l.field),
        ['server'],
      );
    } finally {
      await daemon.stop();
    }
  });

  it('uses a changed SMTP password after a reload (the refused alert email is then sent)', async () => {
    const smtp = {
      host: SMTP.host,
      port: SMTP.submissionPort,
      secure: false,
      require_tls: true,
      tls_ca_file: DOVECOT.caFile,
      username: SMTP.user,
      password: 'not-the-smtp-password',
      from: `pop3-monitor <monitor@${SMTP.domain}>`,
    };
    const config = (password: string) => ({
      mailboxes: [
        dovecot('locked-out', 'empty', { password: 'wrong', auth_failure_backoff: '1h' }),
      ],
      alerting: {
        smtp: { ...smtp, password },
        to: [`${USERS.alerts.user}@${SMTP.domain}`],
        group_wait: '0s',
      },
    });
    const daemon = await Daemon.start({ config: config('not-the-smtp-password') });
    try {
      // login_failed fires; Postfix refuses the SMTP login, so the email stays in the outbox.
      await daemon.waitForMetrics(
        'the alert email refused',
        (s) =>
          s.value('pop3_alert_notifications_total', { result: 'failed' }) >= 1 &&
          s.value('pop3_alert_outbox_pending') === 1,
        15_000,
      );
      const mark = daemon.logs().length;
      daemon.writeConfig(config(SMTP.password));
      daemon.signal('SIGHUP');
      await daemon.waitForLog('reloaded', (l) => l.event === 'reloaded', 5_000, mark);
      const s = await daemon.waitForMetrics(
        'the alert email sent with the new password',
        (x) => x.value('pop3_alert_notifications_total', { result: 'sent' }) === 1,
        10_000,
      );
      assert.equal(s.value('pop3_alert_outbox_pending'), 0);
    } finally {
      await daemon.stop();
    }
  });

  // A terminal's Ctrl-C under `npx` reaches the daemon twice (from the terminal and
  // forwarded by npm): a repeated signal must not cut the graceful stop short.
  for (const signals of [['SIGTERM'], ['SIGINT'], ['SIGINT', 'SIGINT', 'SIGTERM']] as const) {
    it(`on ${signals.join(' + ')} waits for the probe in flight, logs stopped and exits 0`, async () => {
      const slow = await slowServer(2_000);
      const daemon = await Daemon.start({ config: { mailboxes: [slow.mailbox('slow')] } });
      try {
        const session = await within(slow.statSeen, START_MS, 'the first STAT');
        const sentAt = Date.now();
        for (const signal of signals) {
          daemon.signal(signal);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const exit = await daemon.exitWithin(5_000 + 3_000);
        const tookMs = Date.now() - sentAt;
        assert.deepEqual(exit, { code: 0, signal: null }, daemon.output());
        // It waited for the STAT answer (2 s after the STAT, which came before the signal).
        assert.ok(tookMs >= 1_500, `exited after ${tookMs} ms: did not wait for the probe`);
        const events = daemon.logs().map((l: LogLine) => l.event);
        const order = ['signal', 'stopping', 'mailbox_up', 'stopped'].map((e) => events.indexOf(e));
        assert.ok(
          order.every((i, n) => i !== -1 && (n === 0 || i > (order[n - 1] ?? -1))),
          `events out of order: ${JSON.stringify(events)}`,
        );
        assert.equal(events.at(-1), 'stopped', daemon.output());
        assert.deepEqual(
          daemon.events('signal').map((l) => l.signal),
          [...signals],
        );
        // The probe ended its session properly (RFC 1939 section 6).
        assert.equal(session.commands.at(-1), 'QUIT');
      } finally {
        await daemon.stop();
        await slow.close();
      }
    });
  }

  it('on SIGTERM cuts a probe that outlasts its timeout at the timeout, then exits 0', async () => {
    const slow = await slowServer(30_000);
    const daemon = await Daemon.start({
      config: { mailboxes: [slow.mailbox('stuck', { timeout: '2s' })] },
    });
    try {
      await within(slow.statSeen, START_MS, 'the first STAT');
      const sentAt = Date.now();
      daemon.signal('SIGTERM');
      const exit = await daemon.exitWithin(2_000 + 3_000);
      assert.deepEqual(exit, { code: 0, signal: null }, daemon.output());
      assert.ok(Date.now() - sentAt < 2_000 + 3_000);
      const down = daemon.events('mailbox_down');
      assert.deepEqual(
        down.map((l) => l.reason),
        ['timeout'],
      );
      assert.equal(daemon.logs().at(-1)?.event, 'stopped');
    } finally {
      await daemon.stop();
      await slow.close();
    }
  });

  it('refuses a bad config at start: exit 2, the field path on stderr', async () => {
    const tmp = tempDir('pop3-monitor-bad-');
    try {
      const path = join(tmp.dir, 'config.yaml');
      writeFileSync(
        path,
        [
          'server: { listen: "127.0.0.1:0" }',
          `state_dir: ${JSON.stringify(join(tmp.dir, 'state'))}`,
          'mailboxes:',
          '  - { name: ok, host: 127.0.0.1, port: 110, username: u, password: p }',
          '  - { name: bad, host: 127.0.0.1, port: 70000, username: u, password: p }',
          '',
        ].join('\n'),
      );
      const result = await runCli(['run', '--config', path]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /mailboxes\[1\]\.port: expected 1-65535/);
      assert.equal(result.stdout, '');
    } finally {
      tmp.remove();
    }
  });

  it('exits 1 and says why when server.listen is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const daemon = await Daemon.start({
      config: {
        server: { listen: `127.0.0.1:${port}` },
        mailboxes: [dovecot('empty', 'empty')],
      },
    });
    try {
      const exit = await daemon.exitWithin(START_MS);
      assert.deepEqual(exit, { code: 1, signal: null }, daemon.output());
      const failed = daemon.events('start_failed');
      assert.equal(failed.length, 1, daemon.output());
      assert.match(JSON.stringify(failed[0]?.err), /"message":"[^"]*EADDRINUSE/);
    } finally {
      await daemon.stop();
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('answers /healthz at once, /readyz 503 until the first round and then 200; 405 and 404', async () => {
    const slow = await slowServer(4_000);
    const daemon = await Daemon.start({ config: { mailboxes: [slow.mailbox('slow')] } });
    try {
      // Listening comes before any probe: /healthz answers at the first request.
      await daemon.waitForLog('started', (l) => l.event === 'started', START_MS);
      const health = await daemon.request('/healthz');
      assert.deepEqual([health.status, health.body], [200, 'ok\n']);
      const notReady = await daemon.request('/readyz');
      assert.deepEqual([notReady.status, notReady.body], [503, 'not ready\n']);
      const get = await daemon.request('/-/reload');
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
      assert.equal((await daemon.request('/no-such-path')).status, 404);
      await daemon.waitForStatus('/readyz', 200, 10_000);
      const ready = await daemon.request('/readyz');
      assert.deepEqual([ready.status, ready.body], [200, 'ready\n']);
      // /readyz answered before the log line may have been read from the pipe: wait for it.
      await daemon.waitForLog('first_round_complete', (l) => l.event === 'first_round_complete');
      assert.equal(daemon.events('first_round_complete').length, 1);
    } finally {
      await daemon.stop();
      await slow.close();
    }
  });
});

describe('pop3-monitor run: a crash ends the process non-zero, logged', { concurrency: 2 }, () => {
  // A module preloaded into the daemon (NODE_OPTIONS --import) that fails once the daemon
  // runs: what a bug of ours would look like. The supervisor must see a non-zero exit.
  for (const [kind, code] of [
    ['uncaught_exception', "setTimeout(() => { throw new Error('boom from a test'); }, 1500);"],
    [
      'unhandled_rejection',
      "setTimeout(() => { Promise.reject(new Error('boom from a test')); }, 1500);",
    ],
  ] as const) {
    it(`${kind}: a fatal log line, then exit 70`, async () => {
      const dir = tempDir('pop3-monitor-crash-');
      const preload = join(dir.dir, 'crash.mjs');
      writeFileSync(preload, `${code}\n`);
      const daemon = await Daemon.start({
        config: { mailboxes: [dovecot('empty', 'empty')] },
        env: { NODE_OPTIONS: `--import ${pathToFileURL(preload).href}` },
      });
      try {
        await daemon.waitForLog('started', (l) => l.event === 'started', 10_000);
        const exit = await daemon.exitWithin(10_000);
        assert.deepEqual(exit, { code: 70, signal: null });
        const fatal = daemon.events(kind);
        assert.equal(fatal.length, 1, JSON.stringify(daemon.logs().slice(-5)));
        assert.equal(fatal[0]?.level, 'fatal');
        // Type, message and stack only (log.ts errorFields).
        const err = fatal[0]?.err as Record<string, unknown>;
        assert.deepEqual(Object.keys(err).sort(), ['message', 'stack', 'type']);
        assert.match(String(err.message), /boom from a test/);
      } finally {
        await daemon.stop();
        dir.remove();
      }
    });
  }
});
