/**
 * Turns a captured MIME message into what a person reads: the main headers and the
 * text/plain part, decoded. Enough MIME (RFC 2045/2046) for what nodemailer writes.
 */
function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? '' : raw.slice(end + 4);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function decodeWords(value: string): string {
  // RFC 2047 encoded words, as nodemailer writes non-ASCII subjects.
  return value.replace(
    /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g,
    (_m, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) =>
                String.fromCharCode(Number.parseInt(h, 16)),
              ),
            'latin1',
          ).toString('utf8'),
  );
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
  // The first piece is the preamble and the one after the closing delimiter the epilogue.
  for (const part of body.split(`--${boundary}`).slice(1)) {
    const inner = part.replace(/^\r\n/, '');
    if (inner.startsWith('--')) continue;
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
