/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The status pages in a real browser (Debian's chromium through playwright-core), served
 * by the built daemon polling the real Dovecot: the table against /metrics, a refused
 * login with its masked transcript, an STLS session's transcript, hostile names and
 * replies shown as text, and the page refreshing itself. A server that greets with markup
 * is the scripted fake server (no real server does that). The screenshot in the README
 * is taken here: `UPDATE_SCREENSHOT=1` writes it to docs/status-page.png.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, openBrowser } from '../fixtures/browser.js';
import { type FakePop3Server, startFakePop3Server } from '../fixtures/fake-pop3-server.js';
import { traceOf } from '../fixtures/secret-trace.js';
import { aliceExpected, DOVECOT, dovecotMailbox, USERS } from '../servers/env.js';
import { Daemon, type Scrape, stopAllDaemons } from './daemon-support.js';
import { REPO_ROOT } from './shipping-support.js';

const WRONG = 'Wrong-Passw0rd-7731';
const HOSTILE_NAME = '<script>document.title="pwned-name"</script>';
const HOSTILE_GREETING = '+OK <img src=x onerror="document.title=\'pwned-greeting\'"> ready';
const HOSTILE_ERR = '-ERR [AUTH] <script>document.title="pwned-reply"</script>';
/** Every two seconds: the table changes while the page is open. A server on this machine draws no warning. */
const SCHEDULE = '*/2 * * * * *';

function dovecot(name: string, user: 'alice' | 'empty', extra: Record<string, unknown> = {}) {
  return dovecotMailbox(name, user, {
    schedule: SCHEDULE,
    labels: { env: 'prod', team: 'ops' },
    ...extra,
  });
}

let daemon: Daemon;
let hostile: FakePop3Server;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];

before(async () => {
  hostile = await startFakePop3Server({
    greeting: HOSTILE_GREETING,
    mailboxes: [{ user: 'x', password: 'the-real-one', messages: [] }],
    onCommand: (session, command) => {
      if (command !== 'PASS' && command !== 'AUTH') return undefined;
      session.reply(HOSTILE_ERR);
      return true;
    },
  });
  daemon = await Daemon.startReady(
    {
      config: {
        mailboxes: [
          dovecot('support', 'alice', { labels: { env: 'prod', team: 'support' } }),
          dovecot('invoices', 'alice', {
            port: DOVECOT.tlsPort,
            tls: 'implicit',
            labels: { env: 'prod', team: 'billing' },
          }),
          dovecot('archive', 'empty'),
          dovecot('legacy', 'empty', {
            password: WRONG,
            auth: 'plain',
            auth_failure_backoff: '1h',
            labels: { env: 'prod', team: 'it' },
          }),
          {
            name: HOSTILE_NAME,
            host: '127.0.0.1',
            port: hostile.port,
            tls: 'none',
            username: 'x',
            password: 'hostile-pass-1',
            auth: 'user',
            schedule: SCHEDULE,
            timeout: '5s',
            auth_failure_backoff: '0s',
          },
        ],
      },
    },
    30_000,
  );
  browser = await openBrowser();
  page = await browser.context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
});

after(async () => {
  await browser?.close();
  await stopAllDaemons();
  await hostile?.close();
});

/** The cells of a mailbox's row, by column class: text and data-value. */
async function row(name: string): Promise<Record<string, { text: string; value: string | null }>> {
  return page.evaluate((mailbox) => {
    const tr = [...document.querySelectorAll('tr[data-mailbox]')].find(
      (r) => r.getAttribute('data-mailbox') === mailbox,
    );
    if (!tr) throw new Error(`no row for ${mailbox}`);
    const out: Record<string, { text: string; value: string | null }> = {};
    for (const td of tr.querySelectorAll('td')) {
      out[td.className.split(' ')[0] as string] = {
        text: (td.textContent ?? '').trim(),
        value: td.getAttribute('data-value'),
      };
    }
    return out;
  }, name);
}

/** Text of the page's transcript lines (direction and text), in order. */
function transcriptLines(): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('details[open] table.transcript tr')].map((tr) => {
      const dir = tr.querySelector('td.dir')?.textContent ?? '';
      return `${dir} ${tr.querySelector('td.line')?.textContent ?? ''}`.trim();
    }),
  );
}

async function assertNoScriptRan(): Promise<void> {
  // Each hostile script would set the whole title to "pwned-...".
  assert.doesNotMatch(await page.title(), /^pwned-/);
  assert.deepEqual(dialogs, []);
  const scripts = await page.evaluate(() =>
    [...document.scripts].map((s) => s.getAttribute('src')),
  );
  assert.equal(scripts.length, 1, `only the page's own script: ${scripts}`);
  assert.match(scripts[0] ?? '', /assets\/status\.js$/);
  assert.equal(await page.locator('img').count(), 0);
}

describe('the status page in chromium, against the daemon and Dovecot', {
  timeout: 120_000,
}, () => {
  it('shows every mailbox with the figures /metrics has', async () => {
    // A probe between the page and the scrape could change a figure: compare a page and a
    // scrape that agree on every mailbox's probe count... the figures here do not change.
    await page.goto(`${daemon.url}/?refresh=0`);
    const scrape: Scrape = await daemon.scrape();
    const alice = aliceExpected();
    assert.equal(await page.locator('tr[data-mailbox]').count(), 5);
    for (const name of ['support', 'invoices', 'archive']) {
      const cells = await row(name);
      assert.equal(cells.state?.value, 'up', name);
      assert.equal(scrape.value('pop3_up', { mailbox: name }), 1);
      assert.equal(Number(cells.messages?.value), scrape.value('pop3_messages', { mailbox: name }));
      const oldest = scrape.get('pop3_oldest_message_timestamp_seconds', { mailbox: name });
      assert.equal(cells.oldest?.value === '' ? undefined : Number(cells.oldest?.value), oldest);
    }
    assert.equal(Number((await row('support')).messages?.value), alice.count);
    assert.match((await row('support')).oldest?.text ?? '', /^\d+d \d+h$/);
    assert.equal((await row('archive')).oldest?.text, '');
  });

  it('a refused login shows down, auth, the alert, and its transcript with the password masked', async () => {
    const cells = await row('legacy');
    assert.equal(cells.state?.value, 'down');
    assert.equal(cells.state?.text, 'down auth');
    assert.match(cells.error?.text ?? '', /^auth: login refused at AUTH PLAIN: -ERR \[AUTH\] /);
    assert.match(cells.alerts?.text ?? '', /login_failed/);
    const scrape = await daemon.scrape();
    assert.equal(scrape.value('pop3_up', { mailbox: 'legacy' }), 0);

    await page.locator('tr[data-mailbox="legacy"] td.name a').click();
    await page.waitForURL(/\/mailboxes\/legacy$/);
    const lines = await transcriptLines();
    assert.ok(lines.includes('C: AUTH PLAIN ***'), lines.join('\n'));
    assert.ok(
      lines.some((l) => /^S: -ERR \[AUTH\] /.test(l)),
      lines.join('\n'),
    );
    assert.equal(await page.locator('dd.reason').first().textContent(), 'auth');
    const text = await page.evaluate(() => document.documentElement.outerHTML);
    assert.equal(traceOf(text, WRONG), null, 'the wrong password shows nowhere');
  });

  it('an STLS session: CAPA, STLS, TLS, CAPA, AUTH and STAT, the password and the AUTH payload masked', async () => {
    await page.goto(`${daemon.url}/mailboxes/support?refresh=0`);
    // The first probe asked CAPA; later ones use the capabilities it learned (one round
    // trip less), so the oldest probe kept is the one with the whole conversation.
    await page.evaluate(() => {
      const probes = document.querySelectorAll<HTMLDetailsElement>('details.probe');
      for (const d of probes) d.open = false;
      const oldest = probes[probes.length - 1];
      if (oldest) oldest.open = true;
    });
    const lines = await transcriptLines();
    const commands = lines.filter((l) => l.startsWith('C: '));
    assert.deepEqual(commands.slice(0, 4), ['C: CAPA', 'C: STLS', 'C: CAPA', 'C: AUTH PLAIN ***']);
    assert.ok(commands.includes('C: STAT'), commands.join('\n'));
    assert.ok(
      lines.some((l) => /^TLS TLSv1\.[23] /.test(l)),
      lines.join('\n'),
    );
    assert.ok(lines.includes('S: +OK Begin TLS negotiation now.'), lines.join('\n'));
    const html = await page.evaluate(() => document.documentElement.outerHTML);
    assert.equal(traceOf(html, USERS.alice.password), null);
    const blob = Buffer.from(`\0${USERS.alice.user}\0${USERS.alice.password}`).toString('base64');
    assert.equal(html.includes(blob), false);
    assert.equal((await page.locator('details.probe').count()) >= 1, true);
  });

  it('a hostile mailbox name and server reply are shown as text; no script runs', async () => {
    await page.goto(`${daemon.url}/?refresh=0`);
    await assertNoScriptRan();
    const name = await page.evaluate((hostileName) => {
      const tr = [...document.querySelectorAll('tr[data-mailbox]')].find(
        (r) => r.getAttribute('data-mailbox') === hostileName,
      );
      return tr?.querySelector('td.name a')?.textContent ?? null;
    }, HOSTILE_NAME);
    assert.equal(name, HOSTILE_NAME);
    assert.match(
      (await row(HOSTILE_NAME)).error?.text ?? '',
      /<script>document\.title="pwned-reply"<\/script>/,
    );

    await page.goto(`${daemon.url}/mailboxes/${encodeURIComponent(HOSTILE_NAME)}?refresh=0`);
    await assertNoScriptRan();
    assert.equal(await page.locator('.mailbox-name').textContent(), HOSTILE_NAME);
    const lines = await transcriptLines();
    assert.ok(lines.includes(`S: ${HOSTILE_GREETING}`), lines.join('\n'));
    assert.ok(lines.includes(`S: ${HOSTILE_ERR}`), lines.join('\n'));
  });

  it('filters by label and sorts by a column, without JavaScript', async () => {
    const context = await browser.context.browser()?.newContext({ javaScriptEnabled: false });
    const plain = context ? await context.newPage() : page;
    try {
      await plain.goto(`${daemon.url}/`);
      await plain.fill('input[name=q]', 'team=ops');
      await plain.click('form.filter button');
      await plain.waitForURL(/q=team%3Dops/);
      const names = await plain
        .locator('tr[data-mailbox]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-mailbox')));
      assert.deepEqual(names, ['archive']);
      await plain.goto(`${daemon.url}/?sort=messages&dir=desc`);
      const byMessages = await plain
        .locator('tr[data-mailbox]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-mailbox')));
      assert.deepEqual(byMessages.slice(0, 3).sort(), ['archive', 'invoices', 'support']);
      assert.equal(byMessages.at(-1) === 'legacy' || byMessages.at(-1) === HOSTILE_NAME, true);
    } finally {
      await context?.close();
    }
  });

  it('refreshes itself: the page is made again without a navigation', async () => {
    await page.goto(`${daemon.url}/?refresh=1`);
    const first = await page.locator('#generated').getAttribute('data-now');
    await page.evaluate(() => {
      (window as unknown as { stayed: boolean }).stayed = true;
    });
    await page.waitForFunction(
      (before) => document.querySelector('#generated')?.getAttribute('data-now') !== before,
      first,
      { timeout: 10_000, polling: 100 },
    );
    assert.equal(
      await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed),
      true,
      'the same document: refreshed by the script, not reloaded',
    );
    assert.equal(await page.locator('label.autorefresh').isVisible(), true);
    await assertNoScriptRan();
  });

  it('a screenshot of the status page (docs/status-page.png with UPDATE_SCREENSHOT=1)', async () => {
    await page.setViewportSize({ width: 1280, height: 560 });
    await page.goto(`${daemon.url}/?q=env%3Dprod&refresh=0`);
    const path =
      process.env.UPDATE_SCREENSHOT === '1'
        ? join(REPO_ROOT, 'docs', 'status-page.png')
        : join(daemon.dir, 'status-page.png');
    await page.screenshot({ path, fullPage: true });
    assert.ok(statSync(path).size > 10_000, 'a real image');
  });
});
