import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderStatusPage } from '../../../src/web/pages/status-page.js';
import { DEFAULT_QUERY, parseStatusQuery } from '../../../src/web/pages/status-query.js';
import { failed, ok } from '../../fixtures/probe-results.js';
import { NOW, snapshot, view } from './views.js';

const T = NOW / 1000;

/** The <tr> of one mailbox in the page. */
function rowOf(page: string, name: string): string {
  const start = page.indexOf(`data-mailbox="${name}"`);
  assert.ok(start !== -1, `no row for ${name}`);
  return page.slice(start, page.indexOf('</tr>', start));
}

const SUPPORT = view(
  'support',
  ok('support', {
    messages: 3,
    size_bytes: 1208,
    started_at: T - 42,
    oldest_message_timestamp: T - 7260,
    phases: { total: 0.093 },
  }),
  { labels: { team: 'support' }, since: T - 3 * 86_400 },
);
const LEGACY = view(
  'legacy',
  failed('legacy', 'auth', 'auth', {
    started_at: T - 5,
    phases: { total: 2.01 },
    error: {
      code: 'auth',
      phase: 'auth',
      message: 'login refused at PASS: -ERR [AUTH] Authentication failed.',
      response: '-ERR [AUTH] Authentication failed.',
      command: 'PASS',
    },
  }),
  { alerts: [{ rule: 'login_failed', severity: 'critical' }] },
);

describe('renderStatusPage', () => {
  const page = renderStatusPage(snapshot([SUPPORT, LEGACY, view('fresh')]), DEFAULT_QUERY);

  it('a row per mailbox with its figures, and the raw values in data-value', () => {
    const row = rowOf(page, 'support');
    assert.match(row, /<a href="mailboxes\/support">support<\/a>/);
    assert.match(row, /<span class="label">team=support<\/span>/);
    assert.match(row, /data-value="up"><span class="badge up">up<\/span>/);
    assert.match(row, /class="since" data-value="\d+"><time [^>]+>3d 0h ago<\/time>/);
    assert.match(row, /class="messages num" data-value="3">3</);
    assert.match(
      row,
      new RegExp(`class="oldest num" data-value="${T - 7260}"><span title="[^"]+">2h 1m</span>`),
    );
    assert.match(row, /<time [^>]+>42s ago<\/time>/);
    assert.match(row, /class="duration num" data-value="0.093">93 ms</);
  });

  it('a failed mailbox shows down with its reason, its error and its alerts', () => {
    const row = rowOf(page, 'legacy');
    assert.match(row, /<span class="badge down">down<\/span> <span class="reason">auth<\/span>/);
    assert.match(
      row,
      /<td class="error">auth: login refused at PASS: -ERR \[AUTH\] Authentication failed\.<\/td>/,
    );
    assert.match(row, /<span class="alert critical">login_failed<\/span>/);
  });

  it('a mailbox not probed yet says so', () => {
    assert.match(rowOf(page, 'fresh'), /<span class="badge pending">pending<\/span>.*not yet/s);
  });

  it('the summary counts states and shows the outbox and the last reload', () => {
    assert.match(page, /<title>pop3-monitor: 3 mailboxes, 1 down<\/title>/);
    assert.match(
      page,
      /<span class="badge up">1 up<\/span> <span class="badge down">1 down<\/span> <span class="badge pending">1 not probed yet<\/span>/,
    );
    assert.match(page, /Alert outbox: empty/);
    assert.match(page, /Config: loaded <time [^>]+>1h 0m ago<\/time>/);
    const failing = renderStatusPage(
      snapshot([SUPPORT], {
        outbox: { pending: 2 },
        reload: { ok: false, at: NOW - 60_000, error: 'mailboxes[0].port: expected 1-65535' },
      }),
      DEFAULT_QUERY,
    );
    assert.match(failing, /2 notifications waiting to be sent/);
    assert.match(
      failing,
      /Config: <span class="bad">the reload <time [^>]+>1m 0s ago<\/time> failed: mailboxes\[0\]\.port: expected 1-65535/,
    );
  });

  it('sort links toggle the direction of the current column and keep the filter', () => {
    const sorted = renderStatusPage(
      snapshot([SUPPORT]),
      parseStatusQuery(new URLSearchParams('sort=messages&q=sup')),
    );
    assert.match(
      sorted,
      /aria-sort="ascending"><a href="\?q=sup&amp;sort=messages&amp;dir=desc">Messages ▲<\/a>/,
    );
    assert.match(sorted, /aria-sort="none"><a href="\?q=sup&amp;sort=name">Mailbox<\/a>/);
  });

  it('the filter is a GET form that works without JavaScript', () => {
    assert.match(page, /<form class="filter" method="get" action="">/);
    assert.match(page, /<input type="search" name="q" value=""/);
    assert.match(page, /<option value="down">down<\/option>/);
  });

  it('refreshes: the script, a <noscript> refresh, and refresh=0 turns both off', () => {
    assert.match(page, /<script src="assets\/status.js" defer><\/script>/);
    assert.match(page, /<noscript><meta http-equiv="refresh" content="30"><\/noscript>/);
    assert.match(page, /<body data-refresh="30">/);
    const still = renderStatusPage(snapshot([SUPPORT]), { ...DEFAULT_QUERY, refresh: 0 });
    assert.doesNotMatch(still, /http-equiv="refresh"|id="autorefresh"/);
  });

  it('everything from a config or a server is escaped', () => {
    const hostile = view(
      'x<script>alert(1)</script>',
      failed('x', 'protocol', 'greeting', {
        error: {
          code: 'protocol',
          phase: 'greeting',
          message: 'bad greeting: <img src=x onerror=alert(2)>',
          response: null,
          command: null,
        },
      }),
      { labels: { team: '"><script>alert(3)</script>' } },
    );
    const out = renderStatusPage(snapshot([hostile]), DEFAULT_QUERY);
    assert.equal(out.match(/<script/g)?.length, 1, 'only the page script');
    assert.doesNotMatch(out, /<img/);
    assert.match(out, /x&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(out, /href="mailboxes\/x%3Cscript%3Ealert\(1\)%3C%2Fscript%3E"/);
    assert.match(out, /team=&quot;&gt;&lt;script&gt;alert\(3\)/);
    const query = renderStatusPage(snapshot([hostile]), { ...DEFAULT_QUERY, q: '"><b>' });
    assert.doesNotMatch(query, /<b>/);
    assert.match(query, /value="&quot;&gt;&lt;b&gt;"/);
  });

  it('pages at 100 rows by default, with links to the next page', () => {
    const many = Array.from({ length: 250 }, (_, i) => view(`m${i}`, ok(`m${i}`)));
    const out = renderStatusPage(snapshot(many), DEFAULT_QUERY);
    assert.equal(out.match(/<tr class="up"/g)?.length, 100);
    assert.match(out, /page 1 of 3 <a href="\?page=2">next ›<\/a>/);
  });
});
