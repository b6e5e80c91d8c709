import { Pop3Error, type Reason } from './errors.js';
import { parseMailDate } from './mail-date.js';

export interface ResponseCode {
  /** Upper-cased, levels joined by "/" ('SYS/TEMP'); null when the text has none. */
  code: string | null;
  /** The human-readable rest. */
  text: string;
}

/** RFC 2449 §8: resp-code = "[" resp-level *("/" resp-level) "]". */
const RESPONSE_CODE =
  /^[ \t]*\[([\x21-\x2e\x30-\x5c\x5e-\x7e]+(?:\/[\x21-\x2e\x30-\x5c\x5e-\x7e]+)*)\][ \t]*/;

export function parseResponseCode(text: string): ResponseCode {
  const match = RESPONSE_CODE.exec(text);
  if (match === null) return { code: null, text };
  return { code: (match[1] as string).toUpperCase(), text: text.slice(match[0].length) };
}

export type ErrContext = 'greeting' | 'auth' | 'stls' | 'command';

/** Known codes (RFC 2449 §8, RFC 3206 §4) and what they mean for the probe. */
const CODE_REASONS: Record<string, Reason> = {
  'IN-USE': 'in_use',
  'LOGIN-DELAY': 'login_delay',
  'SYS/TEMP': 'server_temp',
  'SYS/PERM': 'server_perm',
  AUTH: 'auth',
};

/**
 * Without a known code the context decides. A -ERR greeting: RFC 1939 §4 only defines a
 * +OK greeting, so -ERR means the server refuses to serve us at all ("too many
 * connections", "access denied"); it did not say [SYS/TEMP], so RFC 3206 gives no ground
 * to call it temporary: server_perm. The schedule retries anyway, so a passing refusal
 * clears on its own. A -ERR to STLS means TLS is unavailable: tls.
 */
const CONTEXT_REASONS: Record<ErrContext, Reason> = {
  greeting: 'server_perm',
  auth: 'auth',
  stls: 'tls',
  command: 'protocol',
};

/** The reason for a -ERR reply, given its text (after "-ERR ") and what it answered. */
export function reasonForErr(text: string, context: ErrContext): Reason {
  const { code } = parseResponseCode(text);
  if (code !== null) {
    // RFC 2449 §8: codes are hierarchical; an unknown sub-level (SYS/TEMP/QUOTA) is
    // understood as its parent.
    const levels = code.split('/');
    for (let n = levels.length; n > 0; n--) {
      const reason = CODE_REASONS[levels.slice(0, n).join('/')];
      if (reason !== undefined) return reason;
    }
  }
  return CONTEXT_REASONS[context];
}

export interface Capabilities {
  /** The CAPA lines as sent (blanks around them removed). */
  lines: string[];
  /** Upper-cased first words, each once, in order. */
  names: string[];
  /** Upper-cased SASL mechanisms. */
  sasl: string[];
  user: boolean;
  top: boolean;
  uidl: boolean;
  pipelining: boolean;
  stls: boolean;
  respCodes: boolean;
  authRespCode: boolean;
  loginDelaySeconds: number | null;
  expire: string | null;
  implementation: string | null;
}

export function emptyCapabilities(): Capabilities {
  return {
    lines: [],
    names: [],
    sasl: [],
    user: false,
    top: false,
    uidl: false,
    pipelining: false,
    stls: false,
    respCodes: false,
    authRespCode: false,
    loginDelaySeconds: null,
    expire: null,
    implementation: null,
  };
}

/** CAPA lines beyond this are ignored: a capability list is a few dozen lines. */
export const MAX_CAPA_LINES = 1000;

/** RFC 2449 §5-6: one capability per line, a tag and its parameters. */
export function parseCapa(lines: string[]): Capabilities {
  const caps = emptyCapabilities();
  const names = new Set<string>();
  const sasl = new Set<string>();
  for (const raw of lines.slice(0, MAX_CAPA_LINES)) {
    const line = trimBlanks(raw);
    if (line === '') continue;
    caps.lines.push(line);
    const words = line.split(/[ \t]+/);
    const name = (words[0] as string).toUpperCase();
    names.add(name);
    const first = words[1];
    switch (name) {
      case 'USER':
        caps.user = true;
        break;
      case 'TOP':
        caps.top = true;
        break;
      case 'UIDL':
        caps.uidl = true;
        break;
      case 'PIPELINING':
        caps.pipelining = true;
        break;
      case 'STLS':
        caps.stls = true;
        break;
      case 'RESP-CODES':
        caps.respCodes = true;
        break;
      case 'AUTH-RESP-CODE':
        caps.authRespCode = true;
        break;
      case 'SASL':
        for (const mech of words.slice(1)) sasl.add(mech.toUpperCase());
        break;
      case 'LOGIN-DELAY':
        // RFC 2449 §6.8: "LOGIN-DELAY 900", before login possibly "LOGIN-DELAY 900 USER".
        caps.loginDelaySeconds = first !== undefined ? parseCount(first) : null;
        break;
      case 'EXPIRE':
        // RFC 2449 §6.7: days or NEVER, before login possibly followed by USER.
        caps.expire = first !== undefined ? first.toUpperCase() : null;
        break;
      case 'IMPLEMENTATION':
        caps.implementation = trimBlanks(line.slice(name.length)) || null;
        break;
    }
  }
  caps.names = [...names];
  caps.sasl = [...sasl];
  return caps;
}

/** Trims SP and TAB only: latin1 text may hold 0xA0, which String.trim would eat. */
function trimBlanks(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** A non-negative decimal safe integer written with digits only, or null. */
function parseCount(text: string): number | null {
  if (!/^\d{1,16}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

function malformed(what: string, text: string, command: string): Pop3Error {
  return new Pop3Error('protocol', `malformed ${what}: ${JSON.stringify(text.slice(0, 80))}`, {
    command,
  });
}

/** RFC 1939 §5 STAT: "count octets", possibly followed by more words. */
export function parseStat(text: string): { count: number; octets: number } {
  const words = trimBlanks(text).split(/[ \t]+/);
  const count = parseCount(words[0] ?? '');
  const octets = parseCount(words[1] ?? '');
  if (count === null || octets === null) throw malformed('STAT reply', text, 'STAT');
  return { count, octets };
}

/** RFC 1939 §7 UIDL: "n uid", the uid 1-70 octets in 0x21-0x7E. One regex per line. */
const UIDL_LINE = /^[ \t]*(\d{1,16})[ \t]+([\x21-\x7e]{1,70})[ \t]*$/;

export function parseUidlLines(lines: string[]): { n: number; uid: string }[] {
  const out: { n: number; uid: string }[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) out[i] = parseUidlLine(lines[i] as string);
  return out;
}

/** One line of a UIDL listing; a malformed one is a `protocol` failure. */
export function parseUidlLine(line: string): { n: number; uid: string } {
  const match = UIDL_LINE.exec(line);
  const n = match === null ? 0 : Number(match[1]);
  if (match === null || n === 0 || !Number.isSafeInteger(n)) {
    throw malformed('UIDL line', line, 'UIDL');
  }
  return { n, uid: match[2] as string };
}

export interface Header {
  name: string;
  value: string;
}

/** Headers beyond this are ignored; a folded value stops growing at MAX_HEADER_CHARS. */
export const MAX_HEADERS = 1000;
export const MAX_HEADER_CHARS = 65536;

/**
 * The header section of a TOP reply: fields up to the first empty line (RFC 5322 §2.1),
 * continuation lines unfolded (§2.2.3: the line break before the WSP is removed). Lines
 * that are neither a field nor a continuation (an mbox "From " line) are skipped. Any
 * byte is kept as is; names keep their case.
 */
export function parseHeaderBlock(lines: string[]): Header[] {
  const headers: Header[] = [];
  let current: Header | null = null;
  for (const line of lines) {
    if (line === '') break;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      if (current !== null && current.value.length < MAX_HEADER_CHARS) {
        current.value = (current.value + line).slice(0, MAX_HEADER_CHARS);
      }
      continue;
    }
    const colon = line.indexOf(':');
    // RFC 5322 §4.5.3 allows blanks before the colon (obs-optional).
    const name = colon > 0 ? trimBlanks(line.slice(0, colon)) : '';
    if (name === '' || /[ \t]/.test(name)) {
      current = null;
      continue;
    }
    if (headers.length === MAX_HEADERS) break;
    current = { name, value: line.slice(colon + 1, colon + 1 + MAX_HEADER_CHARS) };
    headers.push(current);
  }
  for (const header of headers) header.value = trimBlanks(header.value);
  return headers;
}

/**
 * When the message was written, in seconds since the epoch: its Date: (RFC 5322 §3.6.1),
 * or when that is absent or unreadable, the date after the last ';' of the first (newest,
 * RFC 5321 §4.4) Received: field. Null when neither parses.
 */
export function messageTimestamp(headers: Header[]): number | null {
  const date = headers.find((h) => h.name.toLowerCase() === 'date');
  const fromDate = date === undefined ? null : parseMailDate(date.value);
  if (fromDate !== null) return fromDate;
  return receivedTimestamp(headers);
}

/**
 * When the receiving server took the message in, seconds since the epoch: the date after
 * the last ';' of the first Received: field, the one the last hop added (RFC 5321 §4.4
 * prepends each). Null when there is none or it does not parse. One-second resolution.
 */
export function receivedTimestamp(headers: Header[]): number | null {
  const received = headers.find((h) => h.name.toLowerCase() === 'received');
  if (received === undefined) return null;
  const semicolon = received.value.lastIndexOf(';');
  return semicolon === -1 ? null : parseMailDate(received.value.slice(semicolon + 1));
}

/**
 * RFC 1939 §7: an APOP-capable server puts a msg-id such as <1896.697170952@host> in its
 * greeting. Servers append it to the greeting text, so when several <...@...> appear the
 * last one is taken, as Python's poplib does.
 */
const APOP_TIMESTAMP = /<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>/g;

export function apopTimestamp(greeting: string): string | null {
  const matches = greeting.match(APOP_TIMESTAMP);
  return matches === null ? null : (matches[matches.length - 1] as string);
}
