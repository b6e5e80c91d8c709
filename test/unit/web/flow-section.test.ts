import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProbeHistory } from '../../../src/history/history.js';
import { renderStatusPage } from '../../../src/web/pages/status-page.js';
import { DEFAULT_QUERY } from '../../../src/web/pages/status-query.js';
import { flowViews, mailboxViews } from '../../../src/web/status.js';
import { exampleMailboxConfig } from '../../fixtures/mailbox-config.js';
import { NOW, snapshot, view } from './views.js';

const MINUTE = 60_000;
const state = (fields: Record<string, unknown> = {}) => ({
  next_seq: 5,
  pending: [],
  lost_in_a_row: 0,
  last_delivery_seconds: null,
  last_success_at: null,
  last_error: null,
  lost_recently: [],
  ...fields,
});
const FLOW = {
  loops: [
    {
      name: 'good-loop',
      mailbox: 'support',
      schedule: '*/5 * * * *',
      deadline_ms: 10 * MINUTE,
      state: state({ last_success_at: NOW - 2 * MINUTE, last_delivery_seconds: 74.2 }),
    },
    {
      name: 'bad-loop',
      mailbox: 'support',
      schedule: '*/5 * * * *',
      deadline_ms: 10 * MINUTE,
      state: state({
        lost_in_a_row: 2,
        pending: [{ seq: 4, sent_at: 0, accepted_at: 0, deadline_at: 0, confirmed: true }],
        last_error: { code: 'connect', message: 'connect to 127.0.0.1:587 failed: <refused>' },
      }),
    },
    {
      name: 'new-loop',
      mailbox: 'support',
      schedule: '* * * * *',
      deadline_ms: MINUTE,
      state: state(),
    },
  ],
  watches: [
    {
      mailbox: 'support',
      name: 'backup',
      within_ms: 26 * 60 * MINUTE,
      last_match_at: NOW - 60 * MINUTE,
      since: 0,
    },
    {
      mailbox: 'support',
      name: 'report',
      within_ms: 60 * MINUTE,
      last_match_at: null,
      since: NOW - 2 * 60 * MINUTE,
    },
  ],
};
const FIRING = [
  { rule: 'delivery_lost', mailbox: 'support', loop: 'bad-loop', severity: 'critical' },
  { rule: 'expect_overdue', mailbox: 'support', expect: 'report', severity: 'critical' },
  { rule: 'backlog', mailbox: 'support', severity: 'warning' },
];

function row(page: string, attribute: string): string {
  const start = page.indexOf(attribute);
  assert.ok(start !== -1, `no row with ${attribute}`);
  return page.slice(start, page.indexOf('</tr>', start));
}

describe('the status page: mail flow', () => {
  const { loops, watches } = flowViews(FLOW, FIRING);
  const page = renderStatusPage(snapshot([view('support')], { loops, watches }), DEFAULT_QUERY);

  it('a loop: delivered, lost (with what is on the way and the error, escaped), or not yet', () => {
    const good = row(page, 'data-loop="good-loop"');
    assert.match(good, /<span class="badge up">delivered<\/span>/);
    assert.match(good, /<time [^>]+>2m 0s ago<\/time>/);
    assert.match(good, /data-value="74.2">1m 14s</);
    const bad = row(page, 'data-loop="bad-loop"');
    assert.match(bad, /<span class="badge down">lost<\/span>/);
    assert.match(bad, /class="num lost" data-value="2">2</);
    assert.match(bad, /class="num" data-value="1">1</);
    assert.match(bad, /connect: connect to 127.0.0.1:587 failed: &lt;refused&gt;/);
    assert.match(bad, /<span class="alert critical">delivery_lost<\/span>/);
    assert.match(
      row(page, 'data-loop="new-loop"'),
      /<span class="badge pending">no delivery yet<\/span>/,
    );
  });

  it('a watch: on time or overdue against its within', () => {
    const backup = row(page, 'data-watch="support/backup"');
    assert.match(backup, /<span class="badge up">on time<\/span>/);
    assert.match(backup, /<td class="num">1d 2h<\/td>/);
    const report = row(page, 'data-watch="support/report"');
    assert.match(report, /<span class="badge down">overdue<\/span>/);
    assert.match(report, /none since <time [^>]+>2h 0m ago<\/time>/);
    assert.match(report, /expect_overdue/);
  });

  it("a loop's and a watch's alerts are theirs, not the mailbox's", () => {
    const [support] = mailboxViews([exampleMailboxConfig('support')], new ProbeHistory(), FIRING);
    assert.deepEqual(support?.alerts, [{ rule: 'backlog', severity: 'warning' }]);
  });

  it('no section without loops or watches', () => {
    assert.doesNotMatch(renderStatusPage(snapshot([view('a')]), DEFAULT_QUERY), /Mail flow/);
  });
});
