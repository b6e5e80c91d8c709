/**
 * `pop3-monitor demo`, the built CLI: within a minute its /metrics shows the three demo
 * mailboxes, the login_failed alert email is printed, and SIGTERM ends it cleanly; its
 * delivery loop shows delivery times and, when the demo drops a probe message, a loss.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { freePort, runCli, Scrape, tempDir } from './daemon-support.js';
import { cliCommand, ensureBuilt, REPO_ROOT } from './shipping-support.js';

const RULE = '─'.repeat(72);

interface PrintedMail {
  headers: Map<string, string>;
  text: string;
}

/** The "ALERT EMAIL" blocks the demo printed: a rule, the title, a rule, headers, text, a rule. */
function printedMails(stdout: string): PrintedMail[] {
  const lines = stdout.split('\n');
  const mails: PrintedMail[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]?.includes('ALERT EMAIL') || lines[i + 1] !== RULE) continue;
    const end = lines.indexOf(RULE, i + 2);
    if (end === -1) break;
    const block = lines.slice(i + 2, end);
    const blank = block.indexOf('');
    const headers = new Map<string, string>();
    for (const line of block.slice(0, blank)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    mails.push({ headers, text: block.slice(blank + 1).join('\n') });
    i = end;
  }
  return mails;
}

interface RunningDemo {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  output(): string;
}

/** `pop3-monitor demo --listen 127.0.0.1:PORT`, its output collected. */
function spawnDemo(port: number, tmpdir: string): RunningDemo {
  const cli = cliCommand();
  const child = spawn(process.execPath, [...cli.args, 'demo', '--listen', `127.0.0.1:${port}`], {
    cwd: REPO_ROOT,
    // The demo's temp state dir goes here, so the test can see it removed.
    env: { ...process.env, TMPDIR: tmpdir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exit,
    stdout: () => stdout,
    output: () => `--- stdout\n${stdout}\n--- stderr\n${stderr}`,
  };
}

describe('pop3-monitor demo', { concurrency: true }, () => {
  const tmp = tempDir('pop3-monitor-demo-test-');
  after(() => tmp.remove());

  it('serves the demo mailboxes, prints the login_failed email, and stops on SIGTERM', async () => {
    ensureBuilt();
    const port = await freePort();
    const demo = spawnDemo(port, tmp.dir);
    const { child, exit, output } = demo;
    try {
      const deadline = Date.now() + 60_000;
      let scrape: Scrape | undefined;
      let mail: PrintedMail | undefined;
      const up = (s: Scrape | undefined) =>
        ['invoices', 'support', 'legacy'].map((mailbox) => s?.get('pop3_up', { mailbox }));
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
            signal: AbortSignal.timeout(2_000),
          });
          if (response.ok) scrape = new Scrape(await response.text());
        } catch {
          // not listening yet
        }
        mail = printedMails(demo.stdout()).find((m) =>
          m.headers.get('subject')?.includes('login_failed'),
        );
        if (mail !== undefined && up(scrape).join() === '1,1,0') break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(up(scrape), [1, 1, 0], output());
      assert.ok(mail !== undefined, `no login_failed alert email printed\n${output()}`);
      // The labels of config/demo.yaml are on the series.
      assert.equal(scrape?.get('pop3_up', { mailbox: 'legacy', team: 'it' }), 0);
      // Phases per server, and per mailbox too (config/demo.yaml turns mailbox_phases on).
      const phases = scrape?.all('pop3_phase_duration_seconds_count', { phase: 'auth' }) ?? [];
      assert.deepEqual(
        phases.map((s) => s.labels.server),
        [`127.0.0.1:${/demo POP3 server +127\.0\.0\.1:(\d+)/.exec(demo.stdout())?.[1]}`],
      );
      assert.ok(
        (scrape?.get('pop3_mailbox_phase_duration_seconds_count', {
          mailbox: 'invoices',
          phase: 'auth',
        }) ?? 0) >= 1,
        output(),
      );

      // The text part, decoded: the rule, the mailbox and the value.
      assert.match(mail.text, /^\* login_failed on legacy \(critical\)$/m);
      assert.match(mail.text, /^ {2}Condition: +consecutive_login_failures >= 1$/m);
      assert.match(mail.text, /^ {2}Value: +1$/m);
      assert.match(mail.text, /Authentication failed/);
      // Not the HTML part, nor undecoded quoted-printable.
      assert.doesNotMatch(mail.text, /<html|<p>|=\r?$|=3D/im);
      assert.equal(mail.headers.get('to'), 'oncall@demo.test');
      assert.match(mail.headers.get('from') ?? '', /monitor@demo\.test/);
      // The state dir lives while the demo runs.
      assert.equal(
        readdirSync(tmp.dir).filter((n) => n.startsWith('pop3-monitor-demo-')).length,
        1,
      );

      child.kill('SIGTERM');
      // A second signal during the clean-up (npx forwards Ctrl-C once more) changes nothing.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        exit,
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), 10_000);
        }),
      ]);
      clearTimeout(timer);
      assert.deepEqual(result, { code: 0, signal: null }, output());
      assert.match(demo.stdout(), /demo stopped; \d+ alert email\(s\) were sent\.\n$/);
      // Its temp state dir is gone.
      assert.deepEqual(
        readdirSync(tmp.dir).filter((n) => n.startsWith('pop3-monitor-demo-')),
        [],
      );
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    }
  });

  it('shows a delivery loop: pop3_delivery_duration_seconds, and a dropped probe counted lost', {
    timeout: 90_000,
  }, async (t) => {
    ensureBuilt();
    const port = await freePort();
    // Its own TMPDIR: the other test counts the demo state dirs in its own.
    const own = tempDir('pop3-monitor-demo-loop-test-');
    t.after(() => own.remove());
    const demo = spawnDemo(port, own.dir);
    try {
      const deadline = Date.now() + 80_000;
      let scrape: Scrape | undefined;
      let lostMail: PrintedMail | undefined;
      while (Date.now() < deadline && demo.child.exitCode === null) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
            signal: AbortSignal.timeout(2_000),
          });
          if (response.ok) scrape = new Scrape(await response.text());
        } catch {
          // not listening yet
        }
        lostMail = printedMails(demo.stdout()).find((m) =>
          m.headers.get('subject')?.includes('delivery_lost on loop demo-loop'),
        );
        if (
          lostMail !== undefined &&
          scrape?.get('pop3_delivery_lost_total', { loop: 'demo-loop' }) === 1
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const loop = { loop: 'demo-loop' };
      assert.equal(scrape?.get('pop3_delivery_lost_total', loop), 1, demo.output());
      assert.ok((scrape?.get('pop3_delivery_duration_seconds_count', loop) ?? 0) >= 2);
      assert.ok((scrape?.get('pop3_delivery_sent_total', loop) ?? 0) >= 3);
      assert.ok(lostMail !== undefined, `no delivery_lost alert email printed\n${demo.output()}`);
      assert.match(demo.stdout(), /the SMTP capture drops delivery probe message #3/);
      assert.match(lostMail.text, /^\* delivery_lost on loop demo-loop \(critical\)$/m);
    } finally {
      if (demo.child.exitCode === null && demo.child.signalCode === null)
        demo.child.kill('SIGTERM');
      await demo.exit;
    }
  });

  it('refuses a bad --listen with the field path, exit 2, and leaves no temp dir behind', async () => {
    const own = tempDir('pop3-monitor-demo-bad-');
    try {
      const result = await runCli(['demo', '--listen', 'nowhere'], { env: { TMPDIR: own.dir } });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /--listen: expected host:port/);
      assert.deepEqual(
        readdirSync(own.dir).filter((n) => n.startsWith('pop3-monitor-demo-')),
        [],
      );
    } finally {
      own.remove();
    }
  });
});
