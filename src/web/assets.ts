/**
 * The pages' style sheet and their one small script, served as files of their own (no
 * inline script or style, no CDN). The script only refreshes: it fetches the page again,
 * swaps its <main> for the new one and keeps open probes open; it pauses while the tab is
 * hidden or the box is unticked. Without it, a <noscript> refresh reloads the page.
 */

export const STATUS_CSS = `:root { color-scheme: light dark; --up: #2e7d32; --down: #c62828; --pending: #8a6d00; --muted: #777; --line: #8884; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; }
header { display: flex; gap: 1.5em; align-items: center; padding: .5em 1em; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 600; text-decoration: none; color: inherit; }
header nav a { margin-right: .75em; }
.autorefresh { margin-left: auto; color: var(--muted); }
main { padding: 0 1em 1em; }
h1 { font-size: 1.4em; }
h2 { font-size: 1.15em; margin-top: 1.5em; }
h3 { font-size: 1em; margin: .5em 0; }
table { border-collapse: collapse; }
th, td { padding: .25em .6em; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.mailboxes, table.loops, table.watches { width: 100%; }
table.mailboxes thead th { position: sticky; top: 0; background: Canvas; }
th a { color: inherit; text-decoration: none; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.since, td.oldest, td.last, td.duration, td.state, th { white-space: nowrap; }
.summary p { margin: .25em 0; }
.badge { display: inline-block; padding: 0 .45em; border-radius: .6em; color: #fff; font-size: .9em; }
.badge.up { background: var(--up); }
.badge.down { background: var(--down); }
.badge.pending { background: var(--pending); }
.reason { font-family: ui-monospace, monospace; }
.labels { display: block; }
.label { font-size: .8em; color: var(--muted); }
.alert { font-size: .85em; padding: 0 .4em; border-radius: .3em; border: 1px solid; }
.alert.critical { color: var(--down); }
.alert.warning { color: var(--pending); }
.error { color: var(--down); }
td.error { max-width: 40em; overflow-wrap: anywhere; }
.bad { color: var(--down); }
.none, .generated, .matched { color: var(--muted); }
form.filter { margin: 1em 0; display: flex; gap: 1em; flex-wrap: wrap; }
form.filter input[type=search] { min-width: 22em; }
.pager { margin: 1em 0; }
dl.settings, dl.error { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl dt { font-weight: 600; }
dl dd { margin: 0; }
details.probe { border: 1px solid var(--line); border-radius: .3em; margin: .5em 0; padding: .3em .6em; }
details.probe summary { cursor: pointer; }
.columns { display: flex; gap: 2em; flex-wrap: wrap; }
.columns .wide { flex: 1; min-width: 30em; }
table.transcript code { white-space: pre-wrap; overflow-wrap: anywhere; }
table.transcript tr.dir-C td.line { color: #1565c0; }
table.transcript tr.dir-note td.line { color: var(--muted); font-style: italic; }
table.transcript td.at { color: var(--muted); white-space: nowrap; }
tr.total th, tr.total td { font-weight: 600; }
`;

export const STATUS_JS = `'use strict';
(function () {
  var seconds = Number(document.body.getAttribute('data-refresh') || 0);
  if (!(seconds > 0) || !window.fetch || !window.DOMParser) return;
  var box = document.getElementById('autorefresh');
  var key = 'pop3-monitor.autorefresh';
  if (box) {
    try { box.checked = localStorage.getItem(key) !== 'off'; } catch (e) {}
    box.addEventListener('change', function () {
      try { localStorage.setItem(key, box.checked ? 'on' : 'off'); } catch (e) {}
    });
    box.parentNode.hidden = false;
  }
  var busy = false;
  function refresh() {
    if (busy || document.hidden || (box && !box.checked)) return;
    busy = true;
    fetch(location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (text) {
        if (text === null) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var next = doc.querySelector('main');
        var current = document.querySelector('main');
        if (!next || !current) return;
        var open = {};
        current.querySelectorAll('details[id]').forEach(function (d) { open[d.id] = d.open; });
        current.replaceWith(document.adoptNode(next));
        document.querySelectorAll('details[id]').forEach(function (d) {
          if (d.id in open) d.open = open[d.id];
        });
        document.title = doc.title;
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(refresh, seconds * 1000);
})();
`;
