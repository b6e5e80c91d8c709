/**
 * HTML escaping, the one owner of it. Mailbox names, labels, server replies and error
 * messages come from configs and servers: the `html` template escapes every value it is
 * given, so a page is safe unless a value is deliberately marked as markup with `Html`.
 */

/** Escapes the five characters that matter in HTML text and (quoted) attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Markup that is already safe: made by `html`, or a constant of ours through `trusted`. */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

/** What may go into `html`: text (escaped), markup, lists of either; null/undefined/false render nothing. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** A template whose values are escaped: html`<td>${name}</td>`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + strings[i + 1];
  return new Html(out);
}

/** A constant of the program's own as markup (never anything from a config or a server). */
export function trusted(markup: string): Html {
  return new Html(markup);
}
