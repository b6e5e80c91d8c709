/**
 * Turns a captured MIME message into what a person reads: the main headers and the
 * text/plain part, decoded. Enough MIME (RFC 2045/2046) for what nodemailer writes.
 */
function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? '' : raw.slice(end + 4);
  const headers = new Map<string, string>();
  // Unfolding removes only the CRLF, keeping the white space (RFC 5322 section 2.2.3).
  for (const line of head.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

/** The bytes of one RFC 2047 encoded word's text (section 4: B is base64, Q is like QP). */
function wordBytes(encoding: string, text: string): Buffer {
  if (encoding.toUpperCase() === 'B') return Buffer.from(text, 'base64');
  return Buffer.from(
    text
      .replace(/_/g, ' ')
      .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) =>
        String.fromCharCode(Number.parseInt(h, 16)),
      ),
    'latin1',
  );
}

function decodeCharset(bytes: Buffer, charset: string): string {
  // RFC 2231 section 5 allows a language after the charset: `UTF-8*en`.
  const label = charset.split('*', 1)[0] ?? 'utf-8';
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/**
 * RFC 2047 encoded words, as nodemailer writes non-ASCII headers. White space between
 * two adjacent encoded words is not part of the text (section 6.2), and a long value is
 * split into several words, possibly inside a multi-byte character: the bytes of
 * adjacent words are joined before they are decoded.
 */
export function decodeWords(value: string): string {
  let out = '';
  let pending: Buffer[] = [];
  let charset = '';
  let last = 0;
  const flush = (): string => {
    const text = pending.length === 0 ? '' : decodeCharset(Buffer.concat(pending), charset);
    pending = [];
    return text;
  };
  for (const m of value.matchAll(ENCODED_WORD)) {
    const [word, wordCharset = '', encoding = '', text = ''] = m;
    const between = value.slice(last, m.index);
    const adjacent = pending.length > 0 && /^[ \t]*$/.test(between);
    if (!adjacent || wordCharset.toLowerCase() !== charset.toLowerCase()) out += flush();
    if (!adjacent) out += between;
    charset = wordCharset;
    pending.push(wordBytes(encoding, text));
    last = m.index + word.length;
  }
  return out + flush() + value.slice(last);
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable': {
      const bytes = body
        .replace(/=\r\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) =>
          String.fromCharCode(Number.parseInt(h, 16)),
        );
      return Buffer.from(bytes, 'latin1').toString('utf8');
    }
    default:
      return body;
  }
}

export function textPart(raw: string): string {
  const { headers, body } = splitHeaders(raw);
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!type.toLowerCase().startsWith('multipart/') || !boundary) {
    return decodeBody(body, headers.get('content-transfer-encoding'));
  }
  // RFC 2046 section 5.1.1: the CRLF before "--boundary" belongs to the delimiter, not to
  // the part before it. The first piece is the preamble; the closing delimiter ends in "--".
  for (const part of `\r\n${body}`.split(`\r\n--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const inner = part.replace(/^[ \t]*\r\n/, '');
    const text = textPart(inner);
    const { headers: partHeaders } = splitHeaders(inner);
    const partType = (partHeaders.get('content-type') ?? 'text/plain').toLowerCase();
    if (partType.startsWith('text/plain') || partType.startsWith('multipart/')) return text;
  }
  return '';
}

/** The message as the demo prints it: a frame, the headers a reader looks at, the text. */
export function formatMail(raw: string): string {
  const { headers } = splitHeaders(raw);
  const lines = ['From', 'To', 'Subject', 'Date', 'Message-ID']
    .map((name) => [name, headers.get(name.toLowerCase())] as const)
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => `${name}: ${decodeWords(v as string)}`);
  const rule = '─'.repeat(72);
  return [
    rule,
    '  ALERT EMAIL (captured by the demo SMTP server)',
    rule,
    ...lines,
    '',
    textPart(raw).trimEnd(),
    rule,
    '',
  ].join('\n');
}
