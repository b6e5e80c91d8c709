import { humanDuration } from '../../config/duration.js';
import { type Html, html } from '../../html.js';
import type { AlertBadge, LoopView, WatchView } from '../status.js';
import { ago, cut } from './format.js';

/**
 * PURE: the status page's mail flow: each delivery loop (its last delivery and how long it
 * took, the probe messages lost in a row and on their way, its last error) and each expect
 * watch (when its mail last came, against its `within`). Absent when there are none.
 */

type FlowState = 'up' | 'down' | 'pending';

function badges(alerts: readonly AlertBadge[]): Html[] {
  return alerts.map((a) => html`<span class="alert ${a.severity}">${a.rule}</span> `);
}

function state(state: FlowState, text: string): Html {
  return html`<td class="state" data-value="${state}"><span class="badge ${state}">${text}</span></td>`;
}

/** How long a delivery took: tenths of a second under a minute, then minutes. */
function took(seconds: number | null): string {
  if (seconds === null) return '';
  return seconds < 60 ? `${seconds.toFixed(1)} s` : humanDuration(seconds);
}

function loopRow(loop: LoopView, now: number): Html {
  const s: FlowState =
    loop.lostInARow > 0 ? 'down' : loop.lastSuccessAt === null ? 'pending' : 'up';
  const text = s === 'down' ? 'lost' : s === 'pending' ? 'no delivery yet' : 'delivered';
  const error = loop.lastError ? `${loop.lastError.code}: ${loop.lastError.message}` : '';
  return html`<tr class="${s}" data-loop="${loop.name}">
<td class="name">${loop.name}</td>
<td><a href="mailboxes/${encodeURIComponent(loop.mailbox)}">${loop.mailbox}</a></td>
${state(s, text)}
<td class="last" data-value="${loop.lastSuccessAt ?? ''}">${loop.lastSuccessAt === null ? '' : ago(loop.lastSuccessAt / 1000, now)}</td>
<td class="num" data-value="${loop.lastDeliverySeconds ?? ''}">${took(loop.lastDeliverySeconds)}</td>
<td class="num lost" data-value="${loop.lostInARow}">${loop.lostInARow}</td>
<td class="num" data-value="${loop.pending}">${loop.pending}</td>
<td class="error">${cut(error, 120)}</td>
<td class="alerts">${badges(loop.alerts)}</td>
</tr>`;
}

function watchRow(watch: WatchView, now: number): Html {
  const age = now - (watch.lastMatchAt ?? watch.since);
  const s: FlowState = age > watch.withinMs ? 'down' : 'up';
  return html`<tr class="${s}" data-watch="${watch.mailbox}/${watch.name}">
<td><a href="mailboxes/${encodeURIComponent(watch.mailbox)}">${watch.mailbox}</a></td>
<td class="name">${watch.name}</td>
${state(s, s === 'down' ? 'overdue' : 'on time')}
<td class="last" data-value="${watch.lastMatchAt ?? ''}">${watch.lastMatchAt === null ? html`none since ${ago(watch.since / 1000, now)}` : ago(watch.lastMatchAt / 1000, now)}</td>
<td class="num">${humanDuration(watch.withinMs / 1000)}</td>
<td class="alerts">${badges(watch.alerts)}</td>
</tr>`;
}

export function renderFlowSection(
  loops: readonly LoopView[],
  watches: readonly WatchView[],
  now: number,
): Html | string {
  if (loops.length === 0 && watches.length === 0) return '';
  const loopTable =
    loops.length === 0
      ? ''
      : html`<h3>Delivery loops</h3>
<table class="loops">
<thead><tr><th scope="col">Loop</th><th scope="col">Mailbox</th><th scope="col">State</th><th scope="col">Last delivery</th><th scope="col">Took</th><th scope="col">Lost in a row</th><th scope="col">On the way</th><th scope="col">Last error</th><th scope="col">Alerts</th></tr></thead>
<tbody>${loops.map((l) => loopRow(l, now))}</tbody>
</table>`;
  const watchTable =
    watches.length === 0
      ? ''
      : html`<h3>Expected mail</h3>
<table class="watches">
<thead><tr><th scope="col">Mailbox</th><th scope="col">Watch</th><th scope="col">State</th><th scope="col">Last match</th><th scope="col">Within</th><th scope="col">Alerts</th></tr></thead>
<tbody>${watches.map((w) => watchRow(w, now))}</tbody>
</table>`;
  return html`<section class="flow"><h2>Mail flow</h2>${loopTable}${watchTable}</section>`;
}
