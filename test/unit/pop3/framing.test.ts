import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pop3Error } from '../../../src/pop3/errors.js';
import { DEFAULT_FRAMER_LIMITS, type Reply, ReplyFramer } from '../../../src/pop3/framing.js';

const bin = (text: string): Buffer => Buffer.from(text, 'latin1');

function framerWith(text: string, limits = {}): ReplyFramer {
  const framer = new ReplyFramer(limits);
  framer.push(bin(text));
  return framer;
}

function assertProtocolError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Pop3Error);
    assert.equal(error.code, 'protocol');
    assert.match(error.message, message);
    return true;
  });
}

describe('ReplyFramer', () => {
  it('has the documented default limits', () => {
    assert.deepEqual(DEFAULT_FRAMER_LIMITS, {
      maxStatusBytes: 4096,
      maxLineBytes: 65536,
      maxBlockBytes: 67108864,
    });
  });

  it('parses a single-line +OK with its text and wire size', () => {
    const framer = framerWith('+OK 3 825\r\n');
    assert.deepEqual(framer.next(false), {
      kind: 'ok',
      status: '+OK 3 825',
      text: '3 825',
      lines: null,
      bytes: 11,
    } satisfies Reply);
    assert.equal(framer.next(false), null);
    assert.equal(framer.buffered, 0);
  });

  it('parses -ERR, a bare +OK and both forms of SASL continuation', () => {
    const framer = framerWith('-ERR [IN-USE] locked\r\n+OK\r\n+ VXNlcm5hbWU6\r\n+\r\n');
    assert.deepEqual(framer.next(false), {
      kind: 'err',
      status: '-ERR [IN-USE] locked',
      text: '[IN-USE] locked',
      lines: null,
      bytes: 22,
    });
    assert.deepEqual(framer.next(false), {
      kind: 'ok',
      status: '+OK',
      text: '',
      lines: null,
      bytes: 5,
    });
    assert.deepEqual(framer.next(false), {
      kind: 'continue',
      status: '+ VXNlcm5hbWU6',
      text: 'VXNlcm5hbWU6',
      lines: null,
      bytes: 16,
    });
    assert.deepEqual(framer.next(false), {
      kind: 'continue',
      status: '+',
      text: '',
      lines: null,
      bytes: 3,
    });
  });

  it('parses a multi-line reply and undoes dot-stuffing (RFC 1939 §3)', () => {
    const wire = '+OK 2 messages\r\n1 120\r\n..foo\r\n..\r\n...\r\nbar.\r\n\r\n.\r\n';
    const framer = framerWith(wire);
    assert.deepEqual(framer.next(true), {
      kind: 'ok',
      status: '+OK 2 messages',
      text: '2 messages',
      lines: ['1 120', '.foo', '.', '..', 'bar.', ''],
      bytes: wire.length,
    });
    assert.equal(framer.buffered, 0);
  });

  it('parses an empty block', () => {
    const framer = framerWith('+OK\r\n.\r\n');
    assert.deepEqual(framer.next(true)?.lines, []);
  });

  it('treats -ERR and + as single-line even when a block was expected', () => {
    const framer = framerWith('-ERR no such message\r\n+ \r\n+OK\r\n.\r\n');
    assert.deepEqual(framer.next(true)?.lines, null);
    assert.deepEqual(framer.next(true)?.kind, 'continue');
    assert.deepEqual(framer.next(true)?.lines, []);
  });

  it('waits for a terminator that arrives byte by byte', () => {
    const framer = new ReplyFramer();
    framer.push(bin('+OK\r\nline one\r\n'));
    const rest = '.\r\n';
    for (const byte of rest.slice(0, -1)) {
      framer.push(bin(byte));
      assert.equal(framer.next(true), null);
    }
    framer.push(bin(rest.slice(-1)));
    assert.deepEqual(framer.next(true), {
      kind: 'ok',
      status: '+OK',
      text: '',
      lines: ['line one'],
      bytes: 18,
    });
  });

  it('does not mistake "\\r\\n.." or ".x" at a chunk edge for the terminator', () => {
    const framer = new ReplyFramer();
    for (const chunk of ['+OK\r\n', '.', '.\r', '\n.', 'x\r\n', '.', '\r', '\n']) {
      framer.push(bin(chunk));
      const reply = framer.next(true);
      if (reply !== null) {
        assert.deepEqual(reply.lines, ['.', 'x']);
        return;
      }
    }
    assert.fail('the reply never completed');
  });

  it('accepts bare LF line ends and strips one CR only', () => {
    const framer = framerWith('+OK hi\n..a\r\r\nb\n.\n');
    assert.deepEqual(framer.next(true), {
      kind: 'ok',
      status: '+OK hi',
      text: 'hi',
      lines: ['.a\r', 'b'],
      bytes: 17,
    });
  });

  it('keeps every byte value through latin1', () => {
    const bytes = Buffer.from([
      0x2b, 0x4f, 0x4b, 0x0d, 0x0a, 0x00, 0xff, 0x80, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a,
    ]);
    const framer = new ReplyFramer();
    framer.push(bytes);
    const line = framer.next(true)?.lines?.[0] ?? '';
    assert.deepEqual([...Buffer.from(line, 'latin1')], [0x00, 0xff, 0x80]);
  });

  it('leaves pipelined replies buffered and reports their size', () => {
    const framer = framerWith('+OK\r\n+OK 1 2\r\n-ERR x\r\n');
    assert.equal(framer.buffered, 22);
    assert.equal(framer.next(false)?.status, '+OK');
    assert.equal(framer.buffered, 17);
    assert.equal(framer.next(false)?.status, '+OK 1 2');
    assert.equal(framer.next(false)?.status, '-ERR x');
    assert.equal(framer.buffered, 0);
  });

  it('counts the bytes sent after a reply (the STLS injection check refuses them)', () => {
    const framer = framerWith('+OK Begin TLS\r\nCAPA\r\n');
    assert.equal(framer.next(false)?.text, 'Begin TLS');
    assert.equal(framer.buffered, 6);
  });

  it('refuses a status line that is not +OK, -ERR or +', () => {
    assertProtocolError(() => framerWith('HTTP/1.1 400 Bad\r\n').next(false), /\+OK, -ERR or \+/);
    assertProtocolError(() => framerWith('+OKAY\r\n').next(false), /\+OK, -ERR or \+/);
    assertProtocolError(() => framerWith('-ERROR\r\n').next(false), /\+OK, -ERR or \+/);
    assertProtocolError(() => framerWith('+ok\r\n').next(false), /\+OK, -ERR or \+/);
    assertProtocolError(() => framerWith('\r\n').next(false), /\+OK, -ERR or \+/);
  });

  it('quotes the offending status line in the error', () => {
    const framer = framerWith('* OK IMAP4rev1 ready\r\n');
    assert.throws(
      () => framer.next(false),
      (error: unknown) => error instanceof Pop3Error && error.response === '* OK IMAP4rev1 ready',
    );
  });

  it('detects an over-long status line before its CRLF arrives', () => {
    const framer = new ReplyFramer({ maxStatusBytes: 16 });
    framer.push(bin('+OK 123456789'));
    assert.equal(framer.next(false), null); // 13 octets: with CRLF it could still fit
    framer.push(bin('abc'));
    assertProtocolError(() => framer.next(false), /status line longer than 16 octets/);
  });

  it('accepts a status line of exactly the limit, CRLF included', () => {
    const framer = framerWith('+OK 1234567890\r\n', { maxStatusBytes: 16 });
    assert.equal(framer.next(false)?.text, '1234567890');
    assertProtocolError(
      () => framerWith('+OK 12345678901\r\n', { maxStatusBytes: 16 }).next(false),
      /status line longer than 16 octets/,
    );
  });

  it('applies the line limit to block lines', () => {
    const framer = framerWith('+OK\r\n123456789\r\n', { maxLineBytes: 10 });
    assertProtocolError(() => framer.next(true), /reply line longer than 10 octets/);
    const partial = framerWith('+OK\r\n1234567890', { maxLineBytes: 10 });
    assertProtocolError(() => partial.next(true), /reply line longer than 10 octets/);
  });

  it('refuses a block over its limit, also before it ends', () => {
    // Block "a\r\nb\r\n.\r\n" is 9 octets.
    assert.deepEqual(framerWith('+OK\r\na\r\nb\r\n.\r\n', { maxBlockBytes: 9 }).next(true)?.lines, [
      'a',
      'b',
    ]);
    assertProtocolError(
      () => framerWith('+OK\r\na\r\nb\r\n.\r\n', { maxBlockBytes: 8 }).next(true),
      /multi-line reply longer than 8 octets/,
    );
    const framer = framerWith('+OK\r\naaaa\r\nbbb', { maxBlockBytes: 9 });
    assertProtocolError(() => framer.next(true), /multi-line reply longer than 9 octets/);
  });

  it('stays broken after a framing error', () => {
    const framer = framerWith('garbage\r\n');
    assert.throws(() => framer.next(false), Pop3Error);
    framer.push(bin('+OK\r\n'));
    assertProtocolError(() => framer.next(false), /\+OK, -ERR or \+/);
  });

  it('keeps the block shape a reply started with', () => {
    const framer = framerWith('+OK\r\nline\r\n');
    assert.equal(framer.next(true), null);
    framer.push(bin('.\r\n'));
    assert.deepEqual(framer.next(false)?.lines, ['line']);
  });

  it('parses a 200,000-line UIDL block pushed in 64 KiB chunks', () => {
    const count = 200_000;
    const parts = ['+OK\r\n'];
    for (let n = 1; n <= count; n++) parts.push(`${n} uid-${n.toString(36)}-0123456789abcdef\r\n`);
    parts.push('.\r\n');
    const wire = Buffer.from(parts.join(''), 'latin1');
    const framer = new ReplyFramer();
    let reply: Reply | null = null;
    for (let at = 0; at < wire.length; at += 65536) {
      assert.equal(reply, null);
      framer.push(wire.subarray(at, at + 65536));
      reply = framer.next(true);
      assert.ok(framer.buffered < 65536 + DEFAULT_FRAMER_LIMITS.maxLineBytes);
    }
    assert.equal(reply?.lines?.length, count);
    assert.equal(reply?.lines?.[count - 1], `${count} uid-${count.toString(36)}-0123456789abcdef`);
    assert.equal(reply?.bytes, wire.length);
  });
});

describe('ReplyFramer: per-reply caps and streamed blocks', () => {
  it('hands block lines to onLine, dot-stuffing undone, and keeps none', () => {
    const seen: string[] = [];
    const framer = framerWith('+OK\r\n1 a\r\n..2 b\r\n.\r\n');
    const reply = framer.next(true, { onLine: (line) => seen.push(line) });
    assert.deepEqual(seen, ['1 a', '.2 b']);
    assert.deepEqual(reply?.lines, []);
    assert.equal(reply?.bytes, 5 + 5 + 7 + 3);
  });

  it('a block past its own cap is a protocol failure naming the reply, before the terminator', () => {
    const framer = framerWith('+OK\r\n0123456789\r\n0123456789\r\n');
    assertProtocolError(
      () => framer.next(true, { maxBytes: 20, what: 'UIDL listing' }),
      /^UIDL listing longer than 20 octets$/,
    );
  });

  it('the cap counts the terminator: a block of exactly the cap passes', () => {
    const framer = framerWith('+OK\r\n0123456789\r\n.\r\n');
    assert.deepEqual(framer.next(true, { maxBytes: 15 })?.lines, ['0123456789']);
  });

  it('a sink that throws fails the reply and the framer stays broken', () => {
    const framer = framerWith('+OK\r\nbad\r\n.\r\n+OK\r\n');
    const boom = new Pop3Error('protocol', 'malformed UIDL line');
    assert.throws(
      () =>
        framer.next(true, {
          onLine: () => {
            throw boom;
          },
        }),
      boom,
    );
    assert.throws(() => framer.next(false), boom);
  });

  it('60 MiB streamed through onLine in 64 KiB chunks: the buffer never grows past 256 KiB', () => {
    const framer = new ReplyFramer();
    framer.push(bin('+OK\r\n'));
    const chunk = Buffer.alloc(64 * 1024, '12 0123456789abcdef0123456789abcdef\r\n');
    let lines = 0;
    let peak = 0;
    for (let i = 0; i < 960; i++) {
      framer.push(chunk);
      assert.equal(framer.next(true, { onLine: () => lines++ }), null);
      peak = Math.max(peak, framer.capacity);
    }
    assert.ok(lines > 1_700_000, `${lines} lines`);
    assert.ok(peak <= 256 * 1024, `buffer capacity reached ${peak} octets`);
  });
});

describe('ReplyFramer edges', () => {
  it('keeps the buffered bytes when it compacts the buffer', () => {
    const framer = framerWith('+OK 0');
    for (let i = 0; i < 2000; i++) {
      framer.push(bin(`\r\n+OK ${i + 1}`));
      assert.equal(framer.next(false)?.text, String(i), `reply ${i}`);
    }
  });

  it('keeps a buffer of up to 1 MiB once drained, and drops a larger one', () => {
    const lines = (n: number) => `${'a'.repeat(998)}\r\n`.repeat(n);
    const kept = framerWith(`+OK\r\n${lines(300)}.\r\n`); // 300 kB: 1 MiB of buffer
    assert.equal(kept.next(true)?.lines?.length, 300);
    assert.equal(kept.capacity, 1024 * 1024);
    const dropped = framerWith(`+OK\r\n${lines(600)}.\r\n`); // 600 kB: 2 MiB of buffer
    assert.equal(dropped.next(true)?.lines?.length, 600);
    assert.equal(dropped.capacity, 0);
  });

  it('waits for a line one octet short of a limit without failing', () => {
    assert.equal(framerWith('+OK 45678', { maxStatusBytes: 10 }).next(false), null);
    const block = framerWith('+OK\r\nabc');
    assert.equal(block.next(true, { maxBytes: 4 }), null);
  });

  it('turns an error thrown by onLine into a protocol error, and stays failed', () => {
    const framer = framerWith('+OK\r\nline\r\n.\r\n');
    const cause = new Error('consumer broke');
    const onLine = () => {
      throw cause;
    };
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => framer.next(true, { onLine }),
        (error: unknown) =>
          error instanceof Pop3Error &&
          error.code === 'protocol' &&
          error.message === 'reply framing failed' &&
          error.cause === cause,
      );
    }
  });

  it('takes a bare +OK, strips every leading blank, and quotes at most 200 characters of a bad status', () => {
    assert.deepEqual(framerWith('+OK\r\n').next(false)?.text, '');
    assert.equal(framerWith('+OK \t two\r\n').next(false)?.text, 'two');
    assert.equal(framerWith('-ERR\tx\r\n').next(false)?.text, 'x');
    assert.throws(
      () => framerWith(`${'x'.repeat(300)}\r\n`).next(false),
      (error: unknown) => error instanceof Pop3Error && error.response === 'x'.repeat(200),
    );
  });
});
