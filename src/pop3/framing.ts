import { Pop3Error } from './errors.js';

/**
 * Bounds on what the framer keeps in memory. Line limits count the line's own octets
 * including its CRLF (or bare LF); the block limit counts every octet after the status
 * line, the terminating "." line included.
 */
export interface FramerLimits {
  maxStatusBytes: number;
  maxLineBytes: number;
  maxBlockBytes: number;
}

/**
 * RFC 1939 §3 caps a status line at 512 octets, but real servers send longer greetings
 * and -ERR texts now and then; 4096 keeps them working while staying bounded.
 */
export const DEFAULT_FRAMER_LIMITS: FramerLimits = {
  maxStatusBytes: 4096,
  maxLineBytes: 65536,
  maxBlockBytes: 64 * 1024 * 1024,
};

/**
 * How one multi-line reply is read. `maxBytes` caps its block by what its command can
 * need (CAPA and TOP headers: kilobytes; UIDL: in proportion to the STAT count), below the
 * framer's maxBlockBytes; past it the reply is a `protocol` failure. With `onLine` every
 * block line goes to the sink as it arrives (dot-stuffing undone) and is not kept, so a
 * long listing costs no memory here; a throw from the sink fails the reply like a framing
 * error. `what` names the reply in the error (default "multi-line reply").
 */
export interface BlockOptions {
  maxBytes?: number;
  onLine?: (line: string) => void;
  what?: string;
}

export type ReplyKind = 'ok' | 'err' | 'continue';

export interface Reply {
  /** '+OK', '-ERR', or '+' (a SASL continuation, RFC 5034 §4). */
  kind: ReplyKind;
  /** The status line without its line end. */
  status: string;
  /** What follows the status indicator, leading blanks removed (may be ''). */
  text: string;
  /**
   * Block lines of a multi-line +OK reply, dot-stuffing undone, terminator excluded (empty
   * when they went to BlockOptions.onLine).
   */
  lines: string[] | null;
  /** Octets this reply took on the wire. */
  bytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const INITIAL_CAPACITY = 4096;
/** Runs up to this many bytes are copied or scanned in a plain loop, not through a native call. */
const SMALL_RUN = 32;
/** An empty buffer larger than this is dropped, so one big reply does not pin memory. */
const RETAINED_CAPACITY = 1024 * 1024;

interface PartialReply {
  kind: 'ok';
  status: string;
  text: string;
  lines: string[];
  statusBytes: number;
  blockBytes: number;
  maxBytes: number;
  onLine: ((line: string) => void) | null;
  what: string;
}

/**
 * Turns the byte stream from a POP3 server into replies. Bytes are kept in one growable
 * buffer with a read position, so a long block arriving in tiny chunks costs linear time;
 * each call to next() consumes complete lines as far as it can and remembers where a
 * multi-line reply stood, so unconsumed bytes stay below one line limit plus one chunk.
 */
export class ReplyFramer {
  readonly #limits: FramerLimits;
  #buf: Buffer = Buffer.allocUnsafe(0);
  /** Unconsumed bytes are #buf[#start, #end). */
  #start = 0;
  #end = 0;
  /** Where the search for the next LF resumes (bytes before it hold none). */
  #scan = 0;
  #partial: PartialReply | null = null;
  #failure: Pop3Error | null = null;

  constructor(limits: Partial<FramerLimits> = {}) {
    this.#limits = { ...DEFAULT_FRAMER_LIMITS, ...limits };
  }

  /** Buffers a chunk. Never throws; limits are enforced by next(). */
  push(chunk: Buffer): void {
    const length = chunk.length;
    if (length === 0) return;
    if (this.#end + length > this.#buf.length) this.#makeRoom(length);
    if (length <= SMALL_RUN) {
      // Buffer#copy has a fixed cost that dominates for a trickle of tiny chunks.
      const buf = this.#buf;
      let at = this.#end;
      for (let i = 0; i < length; i++) buf[at++] = chunk[i] as number;
    } else {
      chunk.copy(this.#buf, this.#end);
    }
    this.#end += length;
  }

  /**
   * The next complete reply, or null when more bytes are needed. `multiline` says whether
   * a +OK to the command in flight carries a block; it is read when the status line is
   * parsed, so a reply already in progress keeps the shape it started with; so does
   * `block`, which bounds and streams that reply's block.
   */
  next(multiline: boolean, block: BlockOptions = {}): Reply | null {
    if (this.#failure !== null) throw this.#failure;
    try {
      return this.#advance(multiline, block);
    } catch (error) {
      // After a framing error the stream position is unknown: stay broken.
      this.#failure =
        error instanceof Pop3Error
          ? error
          : new Pop3Error('protocol', 'reply framing failed', { cause: error });
      throw this.#failure;
    }
  }

  /** Octets of buffer held now (what the framer itself costs in memory, besides kept lines). */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Bytes received and not yet consumed by next(). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  #advance(multiline: boolean, block: BlockOptions): Reply | null {
    if (this.#partial === null) {
      const status = this.#readLine(this.#limits.maxStatusBytes, 'status line', null);
      if (status === null) return null;
      const reply = parseStatus(status.text, status.bytes);
      if (!multiline || reply.kind !== 'ok') return reply;
      this.#partial = {
        kind: 'ok',
        status: reply.status,
        text: reply.text,
        lines: [],
        statusBytes: status.bytes,
        blockBytes: 0,
        maxBytes: Math.min(block.maxBytes ?? Number.POSITIVE_INFINITY, this.#limits.maxBlockBytes),
        onLine: block.onLine ?? null,
        what: block.what ?? 'multi-line reply',
      };
    }
    return this.#continueBlock(this.#partial);
  }

  #continueBlock(partial: PartialReply): Reply | null {
    for (;;) {
      const line = this.#readLine(this.#limits.maxLineBytes, 'reply line', partial);
      if (line === null) return null;
      partial.blockBytes += line.bytes;
      if (partial.blockBytes > partial.maxBytes) throw blockTooLong(partial);
      let text = line.text;
      if (text.charCodeAt(0) === 0x2e) {
        // RFC 1939 §3: a lone "." ends the block; otherwise one leading "." was stuffed.
        if (text.length === 1) {
          this.#partial = null;
          return {
            kind: partial.kind,
            status: partial.status,
            text: partial.text,
            lines: partial.lines,
            bytes: partial.statusBytes + partial.blockBytes,
          };
        }
        text = text.slice(1);
      }
      if (partial.onLine === null) partial.lines.push(text);
      else partial.onLine(text);
    }
  }

  /**
   * The next complete line (latin1, line end removed) and its size on the wire, or null
   * when its LF has not arrived. Throws as soon as the incomplete line already exceeds
   * `limit` (or the block limit), so a server that never sends LF cannot grow the buffer.
   */
  #readLine(
    limit: number,
    what: string,
    block: PartialReply | null,
  ): { text: string; bytes: number } | null {
    const lf = this.#findLf();
    if (lf === -1) {
      this.#scan = this.#end;
      const pending = this.#end - this.#start;
      // Even if its LF came next, the line would take pending + 1 octets.
      if (pending + 1 > limit) throw this.#lineTooLong(what, limit);
      if (block !== null && block.blockBytes + pending + 1 > block.maxBytes) {
        throw blockTooLong(block);
      }
      return null;
    }
    const bytes = lf + 1 - this.#start;
    if (bytes > limit) throw this.#lineTooLong(what, limit);
    // Lenient: a bare LF ends a line too; strip the CR of a CRLF.
    const contentEnd = lf > this.#start && this.#buf[lf - 1] === CR ? lf - 1 : lf;
    const text = this.#buf.toString('latin1', this.#start, contentEnd);
    this.#start = lf + 1;
    this.#scan = this.#start;
    if (this.#start === this.#end) this.#reset();
    return { text, bytes };
  }

  /** The position of the first LF in [#scan, #end), or -1. */
  #findLf(): number {
    const buf = this.#buf;
    const end = this.#end;
    if (end - this.#scan <= SMALL_RUN) {
      for (let i = this.#scan; i < end; i++) if (buf[i] === LF) return i;
      return -1;
    }
    // Bounded view: indexOf on #buf itself would also search the stale bytes after #end.
    const found = buf.subarray(this.#scan, end).indexOf(LF);
    return found === -1 ? -1 : this.#scan + found;
  }

  #reset(): void {
    this.#start = 0;
    this.#end = 0;
    this.#scan = 0;
    if (this.#buf.length > RETAINED_CAPACITY) this.#buf = Buffer.allocUnsafe(0);
  }

  /** Compacts or grows so that `extra` more bytes fit; amortised O(1) per byte. */
  #makeRoom(extra: number): void {
    const live = this.#end - this.#start;
    const needed = live + extra;
    if (needed * 2 <= this.#buf.length) {
      this.#buf.copy(this.#buf, 0, this.#start, this.#end);
    } else {
      let capacity = Math.max(this.#buf.length, INITIAL_CAPACITY);
      while (capacity < needed * 2) capacity *= 2;
      const grown = Buffer.allocUnsafe(capacity);
      this.#buf.copy(grown, 0, this.#start, this.#end);
      this.#buf = grown;
    }
    this.#scan -= this.#start;
    this.#start = 0;
    this.#end = live;
  }

  #lineTooLong(what: string, limit: number): Pop3Error {
    return new Pop3Error('protocol', `${what} longer than ${limit} octets`);
  }
}

function blockTooLong(partial: PartialReply): Pop3Error {
  return new Pop3Error('protocol', `${partial.what} longer than ${partial.maxBytes} octets`);
}

/** Status lines this long are cut when quoted in an error. */
const QUOTED_STATUS_CHARS = 200;

/**
 * RFC 1939 §3: "+OK" or "-ERR" in upper case, then optionally a space and text.
 * RFC 5034 §4: a SASL challenge is "+" alone or "+ " and base64.
 */
function parseStatus(status: string, bytes: number): Reply {
  let kind: ReplyKind;
  let rest: string;
  if (status.startsWith('+OK')) {
    kind = 'ok';
    rest = status.slice(3);
  } else if (status.startsWith('-ERR')) {
    kind = 'err';
    rest = status.slice(4);
  } else if (status.startsWith('+')) {
    kind = 'continue';
    rest = status.slice(1);
  } else {
    throw badStatus(status);
  }
  const separator = rest.charCodeAt(0);
  if (rest.length > 0 && separator !== 0x20 && separator !== 0x09) {
    // "+OKAY" or "-ERROR" is no status indicator; "+x" no SASL continuation.
    throw badStatus(status);
  }
  return { kind, status, text: rest.replace(/^[ \t]+/, ''), lines: null, bytes };
}

function badStatus(status: string): Pop3Error {
  return new Pop3Error('protocol', 'reply does not start with +OK, -ERR or +', {
    response: status.slice(0, QUOTED_STATUS_CHARS),
  });
}
