import { humanDuration } from '../../config/duration.js';
import { type Html, html } from '../../html.js';
import type { MailboxView, StatusSnapshot } from '../status.js';
import { renderFlowSection } from './flow-section.js';
import { ago, cut, isoTime, millis } from './format.js';
import { renderPage } from './layout.js';
import {
  DEFAULT_QUERY,
  queryString,
  type SortKey,
  STATE_FILTERS,
  type StatusQuery,
  selectMailboxes,
  stateOf,
} from './status-query.js';

/**
 * PURE: the status page at `/`: every mailbox with its state and since when, messages,
 * the oldest message's age, the last probe's time and duration, its error and the alerts
 * firing; the outbox and the last reload above. Filtered, sorted and paged on the server
 * (links and a GET form), so it works without JavaScript and stays fast at thousands of
 * mailboxes. Cells carry their raw value in `data-value` for scripts and tests.
 */

const COLUMNS: readonly { key: SortKey; title: string }[] = [
  { key: 'name', title: 'Mailbox' },
  { key: 'state', title: 'State' },
  { key: 'since', title: 'Since' },
  { key: 'messages', title: 'Messages' },
  { key: 'oldest', title: 'Oldest' },
  { key: 'last', title: 'Last probe' },
  { key: 'duration', title: 'Duration' },
  { key: 'error', title: 'Last error' },
];

const ERROR_CHARS = 120;

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function header(query: StatusQuery): Html {
  const cells = COLUMNS.map(({ key, title }) => {
    const current = query.sort === key;
    const dir = current && query.dir === 'asc' ? 'desc' : 'asc';
    const mark = current ? (query.dir === 'asc' ? ' ▲' : ' ▼') : '';
    const sort = current ? (query.dir === 'asc' ? 'ascending' : 'descending') : 'none';
    return html`<th scope="col" aria-sort="${sort}"><a href="${queryString(query, { sort: key, dir, page: 1 })}">${title}${mark}</a></th>`;
  });
  return html`<thead><tr>${cells}<th scope="col">Alerts</th></tr></thead>`;
}

function labels(view: MailboxView): Html | string {
  const entries = Object.entries(view.labels);
  if (entries.length === 0) return '';
  return html`<span class="labels">${entries.map(([k, v]) => html`<span class="label">${k}=${v}</span> `)}</span>`;
}

function row(view: MailboxView, now: number): Html {
  const r = view.latest;
  const state = stateOf(view);
  const reason = r?.error ? r.error.code : '';
  const oldest = r && r.messages !== 0 ? r.oldest_message_timestamp : null;
  const age = oldest === null || oldest === undefined ? null : Math.max(0, now / 1000 - oldest);
  const error = r?.error ? `${r.error.code}: ${r.error.message}` : '';
  const alerts = view.alerts.map((a) => html`<span class="alert ${a.severity}">${a.rule}</span> `);
  return html`<tr class="${state}" data-mailbox="${view.name}">
<td class="name"><a href="mailboxes/${encodeURIComponent(view.name)}">${view.name}</a> ${labels(view)}</td>
<td class="state" data-value="${state}"><span class="badge ${state}">${state}</span>${reason === '' ? '' : html` <span class="reason">${reason}</span>`}</td>
<td class="since" data-value="${view.since ?? ''}">${view.since === undefined ? '' : ago(view.since, now)}</td>
<td class="messages num" data-value="${r?.messages ?? ''}">${r?.messages ?? ''}</td>
<td class="oldest num" data-value="${oldest ?? ''}">${age === null ? '' : html`<span title="${isoTime(oldest as number)}">${humanDuration(age)}</span>`}</td>
<td class="last" data-value="${r?.started_at ?? ''}">${r === undefined ? 'not yet' : ago(r.started_at, now)}</td>
<td class="duration num" data-value="${r?.phases.total ?? ''}">${millis(r?.phases.total)}</td>
<td class="error">${cut(error, ERROR_CHARS)}</td>
<td class="alerts">${alerts}</td>
</tr>`;
}

function filterForm(query: StatusQuery): Html {
  const options = STATE_FILTERS.map(
    (s) => html`<option value="${s}"${query.state === s ? html` selected` : ''}>${s}</option>`,
  );
  const hidden = (name: string, value: string | number, fallback: string | number) =>
    value === fallback ? '' : html`<input type="hidden" name="${name}" value="${value}">`;
  return html`<form class="filter" method="get" action="">
<label>Filter <input type="search" name="q" value="${query.q}" placeholder="name, label value or key=value"></label>
<label>State <select name="state">${options}</select></label>
${hidden('sort', query.sort, DEFAULT_QUERY.sort)}${hidden('dir', query.dir, DEFAULT_QUERY.dir)}${hidden('per_page', query.perPage, DEFAULT_QUERY.perPage)}${hidden('refresh', query.refresh, DEFAULT_QUERY.refresh)}
<button type="submit">Show</button>
</form>`;
}

function pager(query: StatusQuery, page: number, pages: number): Html | string {
  if (pages <= 1) return '';
  const link = (p: number, text: string) =>
    p === page || p < 1 || p > pages
      ? html`<span>${text}</span>`
      : html`<a href="${queryString(query, { page: p })}">${text}</a>`;
  return html`<nav class="pager" aria-label="pages">${link(page - 1, '‹ previous')} page ${page} of ${pages} ${link(page + 1, 'next ›')}</nav>`;
}

function summary(snapshot: StatusSnapshot): Html {
  let up = 0;
  let down = 0;
  let pending = 0;
  for (const view of snapshot.mailboxes) {
    const state = stateOf(view);
    if (state === 'up') up += 1;
    else if (state === 'down') down += 1;
    else pending += 1;
  }
  const { reload, outbox } = snapshot;
  const reloadText =
    reload.ok === null
      ? html`Config: loaded ${ago(reload.at / 1000, snapshot.now)}`
      : reload.ok
        ? html`Config: reloaded ${ago(reload.at / 1000, snapshot.now)}`
        : html`Config: <span class="bad">the reload ${ago(reload.at / 1000, snapshot.now)} failed: ${reload.error ?? ''}</span> (the previous config keeps running)`;
  return html`<section class="summary">
<p><span class="count" id="count-mailboxes">${snapshot.mailboxes.length}</span> ${snapshot.mailboxes.length === 1 ? 'mailbox' : 'mailboxes'}: <span class="badge up">${up} up</span> <span class="badge down">${down} down</span>${pending > 0 ? html` <span class="badge pending">${pending} not probed yet</span>` : ''}</p>
<p id="outbox">Alert outbox: ${outbox.pending === 0 ? 'empty' : html`<span class="bad">${outbox.pending} notification${outbox.pending === 1 ? '' : 's'} waiting to be sent</span>`}</p>
<p id="reload">${reloadText}</p>
</section>`;
}

export function renderStatusPage(snapshot: StatusSnapshot, query: StatusQuery): string {
  const { now } = snapshot;
  const { rows, matched, page, pages } = selectMailboxes(snapshot.mailboxes, query, now);
  const down = snapshot.mailboxes.filter((m) => stateOf(m) === 'down').length;
  const shown =
    matched === snapshot.mailboxes.length
      ? ''
      : html`<p class="matched">${matched} of ${snapshot.mailboxes.length} mailboxes match.</p>`;
  const body = html`<h1>Mailboxes</h1>
${summary(snapshot)}
${filterForm(query)}
${shown}
<table class="mailboxes">
${header(query)}
<tbody>
${rows.map((view) => row(view, now))}
</tbody>
</table>
${rows.length === 0 ? html`<p class="empty">No mailbox matches.</p>` : ''}
${pager(query, page, pages)}
${renderFlowSection(snapshot.loops, snapshot.watches, now)}`;
  return renderPage({
    title: `pop3-monitor: ${plural(snapshot.mailboxes.length, 'mailbox', 'mailboxes')}${down > 0 ? `, ${down} down` : ''}`,
    base: '',
    refresh: query.refresh,
    version: snapshot.version,
    now,
    body,
  });
}
