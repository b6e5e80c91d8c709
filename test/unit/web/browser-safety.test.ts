import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  answerHeaders,
  originVerdict,
  PAGE_CONTENT_SECURITY_POLICY,
} from '../../../src/web/browser-safety.js';

const HOST = { host: 'monitor.example:9469' };

describe('originVerdict: which requests another site may make', () => {
  const cases: Array<[string, string, Record<string, string>, boolean]> = [
    ['curl or Prometheus (neither header)', 'POST', HOST, true],
    [
      'our own page',
      'POST',
      { ...HOST, 'sec-fetch-site': 'same-origin', origin: 'https://monitor.example:9469' },
      true,
    ],
    [
      'a form on another site',
      'POST',
      { ...HOST, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      false,
    ],
    [
      'another site, Sec-Fetch-Site only',
      'POST',
      { ...HOST, 'sec-fetch-site': 'cross-site' },
      false,
    ],
    [
      'a sibling subdomain (same-site)',
      'POST',
      { ...HOST, 'sec-fetch-site': 'same-site', origin: 'https://wiki.monitor.example' },
      false,
    ],
    [
      'a sibling subdomain, Sec-Fetch-Site only',
      'POST',
      { ...HOST, 'sec-fetch-site': 'same-site' },
      false,
    ],
    [
      'an older browser: a foreign Origin only',
      'POST',
      { ...HOST, origin: 'http://evil.example' },
      false,
    ],
    [
      'the same host on another port',
      'POST',
      { ...HOST, origin: 'http://monitor.example:8080' },
      false,
    ],
    ['Origin: null (a sandboxed frame, a file: page)', 'POST', { ...HOST, origin: 'null' }, false],
    [
      'our own host, default port written out',
      'POST',
      { host: 'monitor.example:443', origin: 'https://monitor.example' },
      true,
    ],
    [
      'our own host, other case',
      'POST',
      { host: 'Monitor.Example', origin: 'https://monitor.example' },
      true,
    ],
    ['a user typing the address (none)', 'POST', { ...HOST, 'sec-fetch-site': 'none' }, true],
    [
      'a link from another site (navigation)',
      'GET',
      {
        ...HOST,
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
      },
      true,
    ],
    [
      'another site loading /probe as an image',
      'GET',
      {
        ...HOST,
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'no-cors',
        'sec-fetch-dest': 'image',
      },
      false,
    ],
    [
      'another site framing a page as an object',
      'GET',
      {
        ...HOST,
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'object',
      },
      false,
    ],
    [
      'another site fetching /metrics',
      'GET',
      { ...HOST, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' },
      false,
    ],
    [
      'our page refreshing itself',
      'GET',
      { ...HOST, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' },
      true,
    ],
  ];
  for (const [what, method, headers, allowed] of cases) {
    it(`${method} from ${what}: ${allowed ? 'allowed' : 'refused'}`, () => {
      assert.equal(originVerdict({ method, headers }).allowed, allowed);
    });
  }
});

describe('answerHeaders', () => {
  it('pages: a CSP without inline script, no framing, no referrer, nosniff', () => {
    const headers = answerHeaders('page', {});
    assert.equal(headers['Content-Security-Policy'], PAGE_CONTENT_SECURITY_POLICY);
    assert.match(PAGE_CONTENT_SECURITY_POLICY, /script-src 'self';/);
    assert.doesNotMatch(PAGE_CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/);
    assert.match(PAGE_CONTENT_SECURITY_POLICY, /frame-ancestors 'none'/);
    assert.equal(headers['Referrer-Policy'], 'no-referrer');
    assert.equal(headers['X-Content-Type-Options'], 'nosniff');
  });

  it('configured headers go on every answer; a configured CSP comes beside the page one', () => {
    const configured = {
      'Content-Security-Policy': "default-src 'self'",
      'Strict-Transport-Security': 'max-age=60',
      'X-Content-Type-Options': 'nosniff',
      'X-XSS-Protection': '',
    };
    const page = answerHeaders('page', configured);
    assert.deepEqual(page['Content-Security-Policy'], [
      PAGE_CONTENT_SECURITY_POLICY,
      "default-src 'self'",
    ]);
    assert.equal(page['Strict-Transport-Security'], 'max-age=60');
    assert.equal(page['X-Content-Type-Options'], 'nosniff');
    assert.equal(page['X-XSS-Protection'], undefined);
    const other = answerHeaders('other', configured);
    assert.equal(other['Content-Security-Policy'], "default-src 'self'");
    assert.equal(other['Referrer-Policy'], undefined);
  });
});
