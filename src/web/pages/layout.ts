import { type Html, html } from '../../html.js';
import { isoTime } from './format.js';

/**
 * PURE: the frame of every page. Links are relative (`base` is the way back to the root),
 * so the pages work behind a reverse proxy that serves them under a path prefix. Style and
 * script are files of their own (no inline script: a Content-Security-Policy can forbid
 * it); without JavaScript a <noscript> refresh reloads the whole page instead.
 */

export interface PageFrame {
  title: string;
  /** '' for a page at the root, '../' one level down. */
  base: string;
  /** Seconds between refreshes, 0 for none. */
  refresh: number;
  version: string;
  now: number;
  body: Html;
}

export const STYLE_PATH = 'assets/status.css';
export const SCRIPT_PATH = 'assets/status.js';

export function renderPage(frame: PageFrame): string {
  const { base, refresh } = frame;
  const generated = isoTime(Math.floor(frame.now / 1000));
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title}</title>
<link rel="stylesheet" href="${base}${STYLE_PATH}">
<script src="${base}${SCRIPT_PATH}" defer></script>
${refresh > 0 ? html`<noscript><meta http-equiv="refresh" content="${refresh}"></noscript>` : ''}
</head>
<body data-refresh="${refresh}">
<header>
<a class="brand" href="${base === '' ? './' : base}">pop3-monitor</a>
<nav><a href="${base}metrics">metrics</a> <a href="${base}healthz">health</a> <a href="${base}readyz">readiness</a></nav>
${refresh > 0 ? html`<label class="autorefresh" hidden><input type="checkbox" id="autorefresh" checked> refresh every ${refresh}s</label>` : ''}
</header>
<main>
${frame.body}
<p class="generated" id="generated" data-now="${frame.now}">pop3-monitor ${frame.version}, page made at <time datetime="${generated}">${generated}</time></p>
</main>
</body>
</html>
`.text;
}
