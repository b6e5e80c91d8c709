import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { decodeWords, formatMail, textPart } from '../../../src/demo/print-mail.js';

/** The message as nodemailer puts it on the wire (what the demo's SMTP capture receives). */
function compose(options: ConstructorParameters<typeof MailComposer>[0]): Promise<string> {
  return new Promise((resolve, reject) => {
    new MailComposer(options).compile().build((err, message) => {
      if (err) reject(err);
      else resolve(message.toString('utf8'));
    });
  });
}

describe('decodeWords (RFC 2047)', () => {
  it('drops the white space between adjacent encoded words (section 6.2)', () => {
    assert.equal(
      decodeWords('=?UTF-8?Q?=C3=BCn?= =?UTF-8?Q?=C3=AFc?=\t=?UTF-8?Q?ode?='),
      'ünïcode',
    );
  });

  it('joins a multi-byte character split across two words before decoding it', () => {
    assert.equal(decodeWords('=?UTF-8?Q?gr=C3?= =?UTF-8?Q?=B6=C3=9Fer?='), 'größer');
    assert.equal(decodeWords('=?utf-8?B?4pw=?= =?utf-8?B?kw==?='), '✓');
  });

  it('keeps the white space between an encoded word and plain text', () => {
    assert.equal(decodeWords('Re: =?UTF-8?Q?=C3=BC?= and  more'), 'Re: ü and  more');
    assert.equal(decodeWords('=?ISO-8859-1?Q?caf=E9?= bar'), 'café bar');
  });
});

describe('formatMail', () => {
  it("prints a long non-ASCII subject and the text part of nodemailer's message exactly", async () => {
    const subject =
      '[FIRING:1] pop3-monitor: größer on ünïcode-mailbox with a subject long enough to be split — ✓';
    const text = `* backlog on support (warning)\n  Value:        12\n  ${'x'.repeat(120)}\n  Description:  größer als 5 — ✓\n`;
    // On the wire every line ends in CRLF (nodemailer's SMTP client converts bare LFs).
    const composed = await compose({
      from: 'Grüße <monitor@demo.test>',
      to: 'oncall@demo.test',
      subject,
      text,
      html: '<p>not this</p>',
    });
    const raw = composed.replace(/\r?\n/g, '\r\n');
    // nodemailer really split the subject into several encoded words.
    assert.ok((raw.match(/=\?UTF-8\?/g) ?? []).length > 2, raw);
    const printed = formatMail(raw);
    assert.ok(printed.includes(`\nSubject: ${subject}\n`), printed);
    assert.ok(printed.includes('\nFrom: Grüße <monitor@demo.test>\n'), printed);
    assert.equal(textPart(raw), text.replace(/\n/g, '\r\n'));
    assert.ok(!printed.includes('not this'));
  });

  it('unfolds a folded header without changing its white space (RFC 5322 section 2.2.3)', () => {
    const raw = 'Subject: two  spaces\r\n  and a fold\r\n\r\nbody\r\n';
    assert.ok(formatMail(raw).includes('\nSubject: two  spaces  and a fold\n'));
  });
});
