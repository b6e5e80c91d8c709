import type { MailboxView } from '../status.js';

/**
 * PURE: the status page's query string (filter, state, sort, page) and the rows it
 * selects. A bad value falls back to the default: this is a page for people, who follow
 * its links, not an API.
 */

export const SORT_KEYS = [
  'name',
  'state',
  'since',
  'messages',
  'oldest',
  'last',
  'duration',
  'error',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export const STATE_FILTERS = ['all', 'down', 'up', 'pending'] as const;
export type StateFilter = (typeof STATE_FILTERS)[number];

export const DEFAULT_PER_PAGE = 100;
export const MAX_PER_PAGE = 1000;
export const DEFAULT_REFRESH_SECONDS = 30;

export interface StatusQuery {
  /** Words that must all match: `key=value` a label exactly, other words a name or label value. */
  q: string;
  state: StateFilter;
  sort: SortKey;
  dir: 'asc' | 'desc';
  page: number;
  perPage: number;
  /** Seconds between refreshes; 0 turns them off. */
  refresh: number;
}

export const DEFAULT_QUERY: StatusQuery = {
  q: '',
  state: 'all',
  sort: 'state',
  dir: 'asc',
  page: 1,
  perPage: DEFAULT_PER_PAGE,
  refresh: DEFAULT_REFRESH_SECONDS,
};

function oneOf<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

function integer(value: string | null, min: number, max: number, fallback: number): number {
  if (value === null || !/^\d{1,7}$/.test(value)) return fallback;
  return Math.min(max, Math.max(min, Number(value)));
}

export function parseStatusQuery(params: URLSearchParams): StatusQuery {
  return {
    q: (params.get('q') ?? '').slice(0, 200),
    state: oneOf(params.get('state'), STATE_FILTERS, DEFAULT_QUERY.state),
    sort: oneOf(params.get('sort'), SORT_KEYS, DEFAULT_QUERY.sort),
    dir: params.get('dir') === 'desc' ? 'desc' : 'asc',
    page: integer(params.get('page'), 1, 1_000_000, 1),
    perPage: integer(params.get('per_page'), 1, MAX_PER_PAGE, DEFAULT_PER_PAGE),
    refresh: integer(params.get('refresh'), 0, 3600, DEFAULT_REFRESH_SECONDS),
  };
}

/** The query string of `query`, leaving defaults out: `?q=team%3Dbilling&sort=name`. */
export function queryString(query: StatusQuery, change: Partial<StatusQuery> = {}): string {
  const next = { ...query, ...change };
  const params = new URLSearchParams();
  if (next.q !== '') params.set('q', next.q);
  if (next.state !== DEFAULT_QUERY.state) params.set('state', next.state);
  if (next.sort !== DEFAULT_QUERY.sort) params.set('sort', next.sort);
  if (next.dir !== DEFAULT_QUERY.dir) params.set('dir', next.dir);
  if (next.page !== 1) params.set('page', String(next.page));
  if (next.perPage !== DEFAULT_PER_PAGE) params.set('per_page', String(next.perPage));
  if (next.refresh !== DEFAULT_REFRESH_SECONDS) params.set('refresh', String(next.refresh));
  const text = params.toString();
  return text === '' ? '?' : `?${text}`;
}

export type RowState = 'up' | 'down' | 'pending';

export function stateOf(view: MailboxView): RowState {
  if (view.latest === undefined) return 'pending';
  return view.latest.success ? 'up' : 'down';
}

function matches(view: MailboxView, words: readonly string[]): boolean {
  return words.every((word) => {
    const eq = word.indexOf('=');
    if (eq > 0) return view.labels[word.slice(0, eq)] === word.slice(eq + 1);
    const lower = word.toLowerCase();
    if (view.name.toLowerCase().includes(lower)) return true;
    return Object.values(view.labels).some((v) => v.toLowerCase().includes(lower));
  });
}

const STATE_ORDER: Record<RowState, number> = { down: 0, pending: 1, up: 2 };

/** Sort values: numbers compare as numbers, undefined last whatever the direction. */
function sortValue(
  view: MailboxView,
  key: SortKey,
  nowSeconds: number,
): number | string | undefined {
  const r = view.latest;
  switch (key) {
    case 'name':
      return view.name;
    case 'state':
      return STATE_ORDER[stateOf(view)];
    case 'since':
      return view.since;
    case 'messages':
      return r?.messages ?? undefined;
    case 'oldest': {
      const t = r?.messages === 0 ? null : r?.oldest_message_timestamp;
      return t === null || t === undefined ? undefined : nowSeconds - t;
    }
    case 'last':
      return r?.started_at;
    case 'duration':
      return r?.phases.total;
    case 'error':
      return r?.error ? `${r.error.code} ${r.error.message}` : undefined;
  }
}

function compare(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

export interface Selection {
  rows: MailboxView[];
  /** Mailboxes matching the filter. */
  matched: number;
  /** The page shown (clamped) and how many there are. */
  page: number;
  pages: number;
}

export function selectMailboxes(
  views: readonly MailboxView[],
  query: StatusQuery,
  nowMs: number,
): Selection {
  const words = query.q.split(/\s+/).filter((w) => w !== '');
  const now = nowMs / 1000;
  const chosen = views.filter(
    (v) => (query.state === 'all' || stateOf(v) === query.state) && matches(v, words),
  );
  const sign = query.dir === 'desc' ? -1 : 1;
  const keyed = chosen.map((view) => ({ view, key: sortValue(view, query.sort, now) }));
  keyed.sort((x, y) => {
    if (x.key === undefined || y.key === undefined) {
      if (x.key !== y.key) return x.key === undefined ? 1 : -1;
    } else {
      const c = compare(x.key, y.key) * sign;
      if (c !== 0) return c;
    }
    return compare(x.view.name, y.view.name);
  });
  const pages = Math.max(1, Math.ceil(keyed.length / query.perPage));
  const page = Math.min(query.page, pages);
  const start = (page - 1) * query.perPage;
  return {
    rows: keyed.slice(start, start + query.perPage).map((k) => k.view),
    matched: keyed.length,
    page,
    pages,
  };
}
