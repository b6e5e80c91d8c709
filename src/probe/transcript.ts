import { performance } from 'node:perf_hooks';
import type { Reply } from '../pop3/framing.js';
import type { Pop3Observer } from '../pop3/observer.js';
import { MASK, type Masker } from '../secret.js';

/**
 * The conversation of one probe as an operator reads it: every command and reply line with
 * its time offset. This is the one place where it is masked: the password (PASS, APOP's
 * digest, AUTH's initial response and every SASL line the client sends) by the command it
 * belongs to, and any configured secret a server echoes back by value. It is bounded: a
 * long multi-line reply (UIDL of a big maildrop) shows its first lines and a count, a long
 * line is cut, and past `maxLines` lines only a count is kept.
 */

/** `C` the client sent it, `S` the server, `*` a note of the monitor (connected, TLS, error). */
export type TranscriptDirection = 'C' | 'S' | '*';

export interface TranscriptLine {
  /** ms since the probe started, to 0.1 ms. */
  at_ms: number;
  dir: TranscriptDirection;
  /** Masked, printable (control characters as \xHH) and at most maxLineChars long. */
  text: string;
}

export interface Transcript {
  lines: TranscriptLine[];
  /** Lines left out past the limit. */
  omitted: number;
}

export interface TranscriptLimits {
  maxLines: number;
  /** Body lines shown of one multi-line reply. */
  maxBlockLines: number;
  maxLineChars: number;
}

export const TRANSCRIPT_LIMITS: TranscriptLimits = {
  maxLines: 100,
  maxBlockLines: 12,
  maxLineChars: 200,
};

/** Commands whose arguments are never secret (RFC 1939, RFC 2449, RFC 2595). */
const PLAIN_COMMANDS = new Set([
  'DELE',
  'CAPA',
  'STLS',
  'USER',
  'STAT',
  'NOOP',
  'UIDL',
  'TOP',
  'LIST',
  'QUIT',
]);

/**
 * A command line as the transcript shows it. AUTH keeps its mechanism and masks an initial
 * response; the lines of a SASL exchange after it (named like the AUTH command) are masked
 * whole, but for the cancel `*` and the empty line that ends a failed XOAUTH2 exchange.
 * APOP keeps the user name. Any other command not known to be harmless keeps its verb only.
 */
export function maskCommandLine(line: string, command: string): string {
  const verb = command.split(' ', 1)[0]?.toUpperCase() ?? '';
  if (verb === 'AUTH') {
    // A base64 response has no space, so only the AUTH command itself starts with it.
    if (line.toUpperCase().startsWith(`${command.toUpperCase()} `)) return `${command} ${MASK}`;
    if (line.toUpperCase() === command.toUpperCase()) return line;
    return line === '*' || line === '' ? line : MASK;
  }
  if (PLAIN_COMMANDS.has(verb)) return line;
  if (verb === 'APOP') {
    const [apop, user] = line.split(' ');
    return `${apop} ${user ?? ''} ${MASK}`;
  }
  const space = line.indexOf(' ');
  return space === -1 ? line : `${line.slice(0, space)} ${MASK}`;
}

const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** Control characters as \xHH (a server's escape sequences never reach a terminal), then cut. */
function printableLine(text: string, maxChars: number): string {
  const shown = text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return shown.length > maxChars ? `${shown.slice(0, maxChars - 1)}…` : shown;
}

/**
 * Records a probe's session through the client's observer. Lines are kept as they come,
 * with SASL and password lines already masked; finish() masks echoed secrets and returns
 * the transcript.
 */
export class TranscriptRecorder implements Pop3Observer {
  readonly #t0: number;
  readonly #limits: TranscriptLimits;
  readonly #lines: TranscriptLine[] = [];
  #omitted = 0;
  /** The first lines of a block streamed to a sink, and how many there were. */
  #streamed: string[] = [];
  #streamedCount = 0;

  constructor(t0: number = performance.now(), limits: TranscriptLimits = TRANSCRIPT_LIMITS) {
    this.#t0 = t0;
    this.#limits = limits;
  }

  #push(at: number, dir: TranscriptDirection, text: string): void {
    if (this.#lines.length >= this.#limits.maxLines) {
      this.#omitted += 1;
      return;
    }
    const at_ms = Math.max(0, Math.round((at - this.#t0) * 10) / 10);
    this.#lines.push({ at_ms, dir, text });
  }

  sent(line: string, command: string, at: number): void {
    this.#push(at, 'C', maskCommandLine(line, command));
  }

  streamed(line: string): void {
    this.#streamedCount += 1;
    if (this.#streamed.length < this.#limits.maxBlockLines) this.#streamed.push(line);
  }

  received(reply: Reply, _command: string | null, at: number): void {
    const streamed = this.#streamed;
    const streamedCount = this.#streamedCount;
    this.#streamed = [];
    this.#streamedCount = 0;
    this.#push(at, 'S', reply.status);
    if (reply.lines === null) return;
    const [lines, total] =
      reply.lines.length === 0 && streamedCount > 0
        ? [streamed, streamedCount]
        : [reply.lines, reply.lines.length];
    const shown = Math.min(lines.length, this.#limits.maxBlockLines);
    for (let i = 0; i < shown; i++) {
      const line = lines[i] as string;
      // As on the wire: a line starting with "." is dot-stuffed (RFC 1939 section 3).
      this.#push(at, 'S', line.startsWith('.') ? `.${line}` : line);
    }
    const more = total - shown;
    if (more > 0) this.#push(at, '*', `(${more} more line${more === 1 ? '' : 's'} not shown)`);
    this.#push(at, 'S', '.');
  }

  event(text: string, at: number): void {
    this.#push(at, '*', text);
  }

  /** A note of the monitor's own at this moment (the probe's outcome). */
  note(text: string): void {
    this.#push(performance.now(), '*', text);
  }

  /**
   * The transcript, every line masked (against the mailbox's own secrets and every other
   * configured one: a server may quote any it has seen), made printable and cut to length.
   */
  finish(mask: Masker): Transcript {
    const { maxLineChars } = this.#limits;
    return {
      lines: this.#lines.map((l) => ({
        at_ms: l.at_ms,
        dir: l.dir,
        text: printableLine(mask(l.text), maxLineChars),
      })),
      omitted: this.#omitted,
    };
  }
}

/** The transcript as plain text, one line each: `   12.3 ms  C: STAT`. */
export function formatTranscript(transcript: Transcript): string {
  const out = transcript.lines.map((l) => {
    const at = l.at_ms.toFixed(1).padStart(8);
    const who = l.dir === '*' ? '  ' : `${l.dir}:`;
    return `${at} ms  ${who} ${l.text}`;
  });
  if (transcript.omitted > 0) out.push(`(${transcript.omitted} more lines not kept)`);
  return `${out.join('\n')}\n`;
}
