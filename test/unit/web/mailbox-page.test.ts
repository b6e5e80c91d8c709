import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProbeResult } from '../../../src/probe/result.js';
import { renderMailboxPage } from '../../../src/web/pages/mailbox-page.js';
import { failed, ok } from '../../fixtures/probe-results.js';
import { NOW, view } from './views.js';

const T = NOW / 1000;

const GOOD: ProbeResult = ok('support', {
  messages: 3,
  size_bytes: 1208,
  started_at: T - 60,
  phases: { connect: 0.0012, auth: 0.015, stat: 0.0003, total: 0.093 },
  auth_method: 'plain',
  transcript: {
    lines: [
      { at_ms: 0.4, dir: '*', text: 'connected to 127.0.0.1:995' },
      { at_ms: 1.2, dir: 'S', text: '+OK ready <x@y>' },
      { at_ms: 1.5, dir: 'C', text: 'AUTH PLAIN ***' },
      { at_ms: 9.8, dir: 'S', text: '+OK Logged in.' },
    ],
    omitted: 0,
  },
});

const BAD: ProbeResult = failed('support', 'auth', 'auth', {
  started_at: T - 5,
  phases: { connect: 0.001, auth: 2, total: 2.01 },
  error: {
    code: 'auth',
    phase: 'auth',
    message: 'login refused at PASS: -ERR [AUTH] <b>no</b>',
    response: '-ERR [AUTH] <b>no</b>',
    command: 'PASS',
  },
  transcript: {
    lines: [{ at_ms: 2000.5, dir: 'S', text: '-ERR [AUTH] <script>alert(1)</script>' }],
    omitted: 7,
  },
});

describe('renderMailboxPage', () => {
  const page = renderMailboxPage(
    {
      now: NOW,
      version: '9.9.9',
      mailbox: view('support', BAD, {
        labels: { team: 'support' },
        since: T - 5,
        alerts: [{ rule: 'login_failed', severity: 'critical' }],
      }),
      recent: [BAD, GOOD],
    },
    30,
  );

  it('the settings and state of the mailbox', () => {
    assert.match(page, /<title>pop3-monitor: support \(down\)<\/title>/);
    assert.match(page, /<dt>Server<\/dt><dd>pop.example.com:995, tls implicit, auth auto<\/dd>/);
    assert.match(page, /<span class="badge down">down<\/span> since <time [^>]+>5s ago<\/time>/);
    assert.match(page, /<span class="alert critical">login_failed<\/span>/);
    assert.match(page, /<a href="\.\.\/">← all mailboxes<\/a>/);
    assert.match(page, /<link rel="stylesheet" href="\.\.\/assets\/status.css">/);
  });

  it('each probe, newest first and open, with its phases and transcript', () => {
    const first = page.indexOf(`id="probe-${(T - 5) * 1000}" open`);
    const second = page.indexOf(`id="probe-${(T - 60) * 1000}">`);
    assert.ok(first > 0 && second > first, 'newest first, only it open');
    assert.match(page, /<h2>Last 2 probes<\/h2>/);
    const good = page.slice(second);
    assert.match(good, /<span class="badge up">ok<\/span> 3 messages, 1.2 KiB, 93 ms<\/summary>/);
    assert.match(good, /<th scope="row">connect<\/th><td class="num">1.2 ms<\/td>/);
    assert.match(good, /<tr class="total"><th scope="row">total<\/th><td class="num">93 ms<\/td>/);
    assert.match(
      good,
      /<tr class="dir-C"><td class="at num">1.5 ms<\/td><td class="dir" title="sent by the monitor">C:<\/td><td class="line"><code>AUTH PLAIN \*\*\*<\/code><\/td><\/tr>/,
    );
    assert.match(
      good,
      /<tr class="dir-note"><td class="at num">0.4 ms<\/td><td class="dir" title="note"><\/td>/,
    );
  });

  it('a failed probe: reason, phase, message and reply, escaped; lines not kept are counted', () => {
    const bad = page.slice(
      page.indexOf('id="probe-'),
      page.indexOf(`id="probe-${(T - 60) * 1000}"`),
    );
    assert.match(bad, /<dd class="reason">auth<\/dd>/);
    assert.match(
      bad,
      /<dt>Server said<\/dt><dd><code>-ERR \[AUTH\] &lt;b&gt;no&lt;\/b&gt;<\/code><\/dd>/,
    );
    assert.match(bad, /<code>-ERR \[AUTH\] &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/code>/);
    assert.match(bad, /7 more lines were not kept/);
    assert.equal(page.match(/<script/g)?.length, 1, 'only the page script');
  });

  it('a mailbox not probed yet', () => {
    const empty = renderMailboxPage({ now: NOW, version: 'v', mailbox: view('x'), recent: [] }, 30);
    assert.match(empty, /<span class="badge pending">pending<\/span>/);
    assert.match(empty, /Not probed yet\./);
  });
});
