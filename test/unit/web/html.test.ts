import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, html, trusted } from '../../../src/html.js';

describe('html', () => {
  it('escapes the five characters that matter', () => {
    assert.equal(
      escapeHtml(`<a href="x" title='y'>&</a>`),
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });

  it('escapes every value of the template, in text and attributes', () => {
    const name = '"><script>alert(1)</script>';
    assert.equal(
      html`<td title="${name}">${name}</td>`.text,
      '<td title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>',
    );
  });

  it('keeps markup made by html or trusted, joins lists, drops null, undefined and false', () => {
    const cells = ['a<', 'b'].map((t) => html`<td>${t}</td>`);
    assert.equal(
      html`<tr>${cells}${null}${undefined}${false}${trusted('<td>ok</td>')}${0}</tr>`.text,
      '<tr><td>a&lt;</td><td>b</td><td>ok</td>0</tr>',
    );
  });
});
