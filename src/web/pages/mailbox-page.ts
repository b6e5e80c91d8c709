import { type Html, html } from '../../html.js';
import { PHASES, type ProbeResult } from '../../probe/result.js';
import type { Transcript } from '../../probe/transcript.js';
import type { MailboxDetail } from '../status.js';
import { ago, bytes, isoTime, millis } from './format.js';
import { renderPage } from './layout.js';
import { stateOf } from './status-query.js';

/**
 * PURE: the page of one mailbox: its settings, its state, and its recent probes, newest
 * first, each with its phases and its protocol transcript (masked and bounded by the
 * probe). The newest probe is open; the others fold.
 */

const DIRECTION_TITLE = { C: 'sent by the monitor', S: 'sent by the server', '*': 'note' };

function transcriptTable(transcript: Transcript | undefined): Html {
  if (transcript === undefined) return html`<p class="none">No transcript was kept.</p>`;
  const rows = transcript.lines.map(
    (l) =>
      html`<tr class="dir-${l.dir === '*' ? 'note' : l.dir}"><td class="at num">${l.at_ms.toFixed(1)} ms</td><td class="dir" title="${DIRECTION_TITLE[l.dir]}">${l.dir === '*' ? '' : `${l.dir}:`}</td><td class="line"><code>${l.text}</code></td></tr>`,
  );
  const omitted =
    transcript.omitted > 0
      ? html`<p class="none">${transcript.omitted} more lines were not kept.</p>`
      : '';
  return html`<table class="transcript"><tbody>${rows}</tbody></table>${omitted}`;
}

function phaseTable(result: ProbeResult): Html {
  const rows = PHASES.filter((p) => result.phases[p] !== undefined).map(
    (p) =>
      html`<tr${p === 'total' ? html` class="total"` : ''}><th scope="row">${p}</th><td class="num">${millis(result.phases[p])}</td></tr>`,
  );
  return html`<table class="phases"><tbody>${rows}</tbody></table>`;
}

function errorBlock(result: ProbeResult): Html | string {
  const error = result.error;
  if (error === null) return '';
  return html`<dl class="error">
<dt>Reason</dt><dd class="reason">${error.code}</dd>
<dt>Phase</dt><dd>${error.phase}</dd>
<dt>Message</dt><dd>${error.message}</dd>
${error.response === null ? '' : html`<dt>Server said</dt><dd><code>${error.response}</code></dd>`}
</dl>`;
}

function probe(result: ProbeResult, index: number, now: number): Html {
  const outcome = result.success
    ? html`<span class="badge up">ok</span> ${result.messages} messages, ${bytes(result.size_bytes)}`
    : html`<span class="badge down">failed</span> <span class="reason">${result.error?.code ?? ''}</span>`;
  const id = `probe-${Math.round(result.started_at * 1000)}`;
  const tls = result.tls
    ? html`, ${result.tls.protocol ?? 'TLS'}${result.tls.resumed ? ' (resumed)' : ''}`
    : '';
  return html`<details class="probe" id="${id}"${index === 0 ? html` open` : ''}>
<summary><time datetime="${isoTime(result.started_at)}">${isoTime(result.started_at)}</time> (${ago(result.started_at, now)}) ${outcome}, ${millis(result.phases.total)}</summary>
<div class="probe-body">
${errorBlock(result)}
<p class="facts">Login: ${result.auth_method ?? 'none'}${tls}${result.pipelined ? ', pipelined' : ''}</p>
<div class="columns">
<section><h3>Phases</h3>${phaseTable(result)}</section>
<section class="wide"><h3>Transcript</h3>${transcriptTable(result.transcript)}</section>
</div>
</div>
</details>`;
}

export function renderMailboxPage(detail: MailboxDetail, refresh: number): string {
  const { mailbox: view, recent, now } = detail;
  const state = stateOf(view);
  const labels = Object.entries(view.labels).map(
    ([k, v]) => html`<span class="label">${k}=${v}</span> `,
  );
  const alerts = view.alerts.map((a) => html`<span class="alert ${a.severity}">${a.rule}</span> `);
  const body = html`<p><a href="../">← all mailboxes</a></p>
<h1>Mailbox <span class="mailbox-name">${view.name}</span></h1>
<dl class="settings">
<dt>State</dt><dd><span class="badge ${state}">${state}</span>${view.since === undefined ? '' : html` since ${ago(view.since, now)}`}</dd>
<dt>Server</dt><dd>${view.server}, tls ${view.tls}, auth ${view.auth}</dd>
<dt>Schedule</dt><dd><code>${view.schedule}</code></dd>
${labels.length > 0 ? html`<dt>Labels</dt><dd>${labels}</dd>` : ''}
${alerts.length > 0 ? html`<dt>Alerts firing</dt><dd>${alerts}</dd>` : ''}
</dl>
<h2>Last ${recent.length} probe${recent.length === 1 ? '' : 's'}</h2>
${recent.length === 0 ? html`<p class="none">Not probed yet.</p>` : recent.map((r, i) => probe(r, i, now))}`;
  return renderPage({
    title: `pop3-monitor: ${view.name} (${state})`,
    base: '../',
    refresh,
    version: detail.version,
    now,
    body,
  });
}
