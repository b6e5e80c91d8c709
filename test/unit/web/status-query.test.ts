import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_QUERY,
  parseStatusQuery,
  queryString,
  type StatusQuery,
  selectMailboxes,
} from '../../../src/web/pages/status-query.js';
import { failed, ok } from '../../fixtures/probe-results.js';
import { NOW, view } from './views.js';

const q = (text: string) => parseStatusQuery(new URLSearchParams(text));
const names = (query: Partial<StatusQuery>, views = FLEET) =>
  selectMailboxes(views, { ...DEFAULT_QUERY, ...query }, NOW).rows.map((v) => v.name);

const T = NOW / 1000;
const FLEET = [
  view(
    'support',
    ok('support', { messages: 3, started_at: T - 30, oldest_message_timestamp: T - 7200 }),
    {
      labels: { team: 'support' },
    },
  ),
  view('billing', failed('billing', 'auth', 'auth', { started_at: T - 20 }), {
    labels: { team: 'finance' },
  }),
  view(
    'invoices',
    ok('invoices', { messages: 40, started_at: T - 10, oldest_message_timestamp: T - 60 }),
    {
      labels: { team: 'finance' },
    },
  ),
  view('new-one'),
  view('empty', ok('empty', { messages: 0, started_at: T - 5 })),
];

describe('parseStatusQuery', () => {
  it('defaults: every state, down first, page 1 of 100, refresh every 30 s', () => {
    assert.deepEqual(q(''), DEFAULT_QUERY);
  });

  it('reads every field and falls back on bad values', () => {
    assert.deepEqual(
      q('q=team%3Dfinance&state=down&sort=messages&dir=desc&page=2&per_page=50&refresh=5'),
      {
        q: 'team=finance',
        state: 'down',
        sort: 'messages',
        dir: 'desc',
        page: 2,
        perPage: 50,
        refresh: 5,
      },
    );
    assert.deepEqual(q('state=sideways&sort=%3Cscript%3E&page=-1&per_page=99999&refresh=x'), {
      ...DEFAULT_QUERY,
      perPage: 1000,
    });
  });

  it('queryString leaves defaults out and round-trips', () => {
    assert.equal(queryString(DEFAULT_QUERY), '?');
    const query = q('q=a+b&sort=name&dir=desc&page=3');
    assert.equal(queryString(query), '?q=a+b&sort=name&dir=desc&page=3');
    assert.deepEqual(q(queryString(query).slice(1)), query);
  });
});

describe('selectMailboxes', () => {
  it('default order: down, not yet probed, up; by name within', () => {
    assert.deepEqual(names({}), ['billing', 'new-one', 'empty', 'invoices', 'support']);
  });

  it('filters by name or label value (all words), key=value exactly, and state', () => {
    assert.deepEqual(names({ q: 'INV' }), ['invoices']);
    assert.deepEqual(names({ q: 'finance' }), ['billing', 'invoices']);
    assert.deepEqual(names({ q: 'team=finance', state: 'up' }), ['invoices']);
    assert.deepEqual(names({ q: 'team=fin' }), []);
    assert.deepEqual(names({ q: 'finance bill' }), ['billing']);
    assert.deepEqual(names({ state: 'pending' }), ['new-one']);
  });

  it('sorts by each column; missing values last in both directions', () => {
    assert.deepEqual(names({ sort: 'messages' }), [
      'empty',
      'support',
      'invoices',
      'billing',
      'new-one',
    ]);
    assert.deepEqual(names({ sort: 'messages', dir: 'desc' }), [
      'invoices',
      'support',
      'empty',
      'billing',
      'new-one',
    ]);
    assert.deepEqual(names({ sort: 'oldest', dir: 'desc' }), [
      'support',
      'invoices',
      'billing',
      'empty',
      'new-one',
    ]);
    assert.deepEqual(names({ sort: 'last', dir: 'desc' }), [
      'empty',
      'invoices',
      'billing',
      'support',
      'new-one',
    ]);
    assert.deepEqual(names({ sort: 'error' }), [
      'billing',
      'empty',
      'invoices',
      'new-one',
      'support',
    ]);
  });

  it('pages, clamping a page past the end', () => {
    const many = Array.from({ length: 250 }, (_, i) => view(`m${String(i).padStart(3, '0')}`));
    const query = { ...DEFAULT_QUERY, sort: 'name' as const };
    const second = selectMailboxes(many, { ...query, page: 2 }, NOW);
    assert.equal(second.pages, 3);
    assert.equal(second.matched, 250);
    assert.equal(second.rows[0]?.name, 'm100');
    assert.equal(second.rows.length, 100);
    const last = selectMailboxes(many, { ...query, page: 9 }, NOW);
    assert.equal(last.page, 3);
    assert.equal(last.rows.length, 50);
  });
});
