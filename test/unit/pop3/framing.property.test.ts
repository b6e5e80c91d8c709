import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Pop3Error } from '../../../src/pop3/errors.js';
import { type FramerLimits, type Reply, ReplyFramer } from '../../../src/pop3/framing.js';
import {
  messageTimestamp,
  parseHeaderBlock,
  parseStat,
  parseUidlLines,
} from '../../../src/pop3/responses.js';

// Fixed so a run is reproducible; FC_SEED=n tries another. fast-check prints the seed and
// the counterexample path when a property fails.
const seed = Number(process.env.FC_SEED ?? 1939);
const params = { seed, numRuns: 500 };

/** Any octet but CR and LF, as a latin1 character, with '.' and blanks made common. */
const lineChar = fc
  .oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 255 }) },
    { weight: 2, arbitrary: fc.constantFrom(0x2e, 0x20, 0x09) },
  )
  .filter((c) => c !== 0x0a && c !== 0x0d)
  .map((c) => String.fromCharCode(c));

const lineText = fc.string({ unit: lineChar, maxLength: 120 });
/** A block line: sometimes exactly ".", "..", or starting with dots. */
const blockLine = fc.oneof(
  lineText,
  fc.constantFrom('.', '..', '...', ''),
  lineText.map((t) => `.${t}`),
);
/** Status text: the framer drops blanks after the indicator, so none lead here. */
const statusText = lineText.filter((t) => t[0] !== ' ' && t[0] !== '\t');

interface Expected {
  reply: Reply;
  multiline: boolean;
  wire: string;
}

const replyArb: fc.Arbitrary<Expected> = fc
  .record({
    kind: fc.constantFrom('ok', 'err', 'continue') as fc.Arbitrary<Reply['kind']>,
    text: statusText,
    multiline: fc.boolean(),
    lines: fc.array(blockLine, { maxLength: 12 }),
    bareLf: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
  })
  .map(({ kind, text, multiline, lines, bareLf }) => {
    const indicator = kind === 'ok' ? '+OK' : kind === 'err' ? '-ERR' : '+';
    const status = text === '' ? indicator : `${indicator} ${text}`;
    // RFC 1939 §3 line end is CRLF; a few bare LFs check the lenient path.
    const eol = (i: number) => (bareLf[i % bareLf.length] && i % 3 === 0 ? '\n' : '\r\n');
    let wire = status + eol(0);
    const block = kind === 'ok' && multiline;
    if (block) {
      lines.forEach((line, i) => {
        wire += (line.startsWith('.') ? `.${line}` : line) + eol(i + 1);
      });
      wire += `.${eol(13)}`;
    }
    return {
      multiline,
      wire,
      reply: { kind, status, text, lines: block ? lines : null, bytes: wire.length },
    };
  });

/** Splits `wire` into chunks whose sizes cycle through `sizes`. */
function chunk(wire: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < wire.length; i++) {
    const size = sizes[i % sizes.length] as number;
    chunks.push(wire.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

const chunkSizes = fc.array(
  fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 4096 })),
  { minLength: 1, maxLength: 16 },
);

function isProtocolError(error: unknown): boolean {
  return error instanceof Pop3Error && error.code === 'protocol';
}

describe('ReplyFramer properties', () => {
  it('yields exactly the replies sent, for any chunking', () => {
    fc.assert(
      fc.property(fc.array(replyArb, { minLength: 1, maxLength: 8 }), chunkSizes, (sent, sizes) => {
        const wire = Buffer.from(sent.map((s) => s.wire).join(''), 'latin1');
        const framer = new ReplyFramer();
        const got: Reply[] = [];
        for (const piece of chunk(wire, sizes)) {
          framer.push(piece);
          for (;;) {
            const expected = sent[got.length];
            if (expected === undefined) break;
            const reply = framer.next(expected.multiline);
            if (reply === null) break;
            got.push(reply);
          }
        }
        assert.deepEqual(
          got,
          sent.map((s) => s.reply),
        );
        assert.equal(framer.buffered, 0);
      }),
      params,
    );
  });

  /** Fragments that make random input reach past the status line now and then. */
  const fragment = fc.oneof(
    fc.constantFrom('+OK', '-ERR', '+', ' ', '\r\n', '\n', '\r', '.', '..', '.\r\n', 'x'),
    fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a).toString('latin1')),
  );
  const limitsArb: fc.Arbitrary<FramerLimits> = fc.record({
    maxStatusBytes: fc.integer({ min: 1, max: 64 }),
    maxLineBytes: fc.integer({ min: 1, max: 64 }),
    maxBlockBytes: fc.integer({ min: 1, max: 512 }),
  });

  it('on random bytes returns replies or throws a protocol error, staying bounded', () => {
    fc.assert(
      fc.property(
        fc.array(fragment, { maxLength: 60 }),
        chunkSizes,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        limitsArb,
        (fragments, sizes, flags, limits) => {
          const wire = Buffer.from(fragments.join(''), 'latin1');
          const framer = new ReplyFramer(limits);
          const lineLimit = Math.max(limits.maxStatusBytes, limits.maxLineBytes);
          let calls = 0;
          for (const piece of chunk(wire, sizes)) {
            framer.push(piece);
            assert.ok(framer.buffered <= lineLimit + piece.length, 'buffered after push');
            try {
              for (;;) {
                const reply = framer.next(flags[calls++ % flags.length] as boolean);
                if (reply === null) break;
                assert.ok(['ok', 'err', 'continue'].includes(reply.kind));
                assert.ok(reply.bytes > reply.status.length);
                assert.ok(reply.lines === null || reply.kind === 'ok');
              }
            } catch (error) {
              assert.ok(isProtocolError(error), String(error));
              // The framer stays broken, still with a protocol error.
              assert.throws(() => framer.next(false), isProtocolError);
              return;
            }
            assert.ok(framer.buffered < lineLimit, 'buffered after next');
          }
        },
      ),
      params,
    );
  });
});

describe('parser properties', () => {
  const token = fc.oneof(
    fc.constantFrom(' ', '\t', '0', '1', '42', '007', '-1', '9007199254740993', 'x', ':', ';'),
    fc.constantFrom('Mon,', 'Jul', 'feb', '2003', '97', '10:52:37', '25:61', '+0200', '-9999'),
    fc.constantFrom('GMT', 'EST', 'z', '(', ')', '(UTC)', '\\', 'Date', 'Received', '\xa0'),
    fc.string({ unit: lineChar, maxLength: 8 }),
  );
  const text = fc.array(token, { maxLength: 16 }).map((parts) => parts.join(''));

  function returnsOrProtocol(fn: () => unknown): void {
    try {
      fn();
    } catch (error) {
      assert.ok(isProtocolError(error), String(error));
    }
  }

  it('parseStat and parseUidlLines return or throw a protocol error', () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 6 }), (lines) => {
        returnsOrProtocol(() => parseStat(lines[0] ?? ''));
        returnsOrProtocol(() => parseUidlLines(lines));
      }),
      params,
    );
  });

  it('parseHeaderBlock and messageTimestamp never throw and stay in range', () => {
    const headerLine = fc.oneof(
      text,
      fc.tuple(fc.constantFrom('Date', 'Received', 'date', 'X'), text).map(([n, v]) => `${n}:${v}`),
    );
    fc.assert(
      fc.property(fc.array(headerLine, { maxLength: 12 }), (lines) => {
        const headers = parseHeaderBlock(lines);
        assert.ok(headers.length <= lines.length);
        for (const h of headers) assert.ok(h.name.length > 0 && !h.name.includes(':'));
        const at = messageTimestamp(headers);
        assert.ok(at === null || Number.isSafeInteger(at), String(at));
      }),
      params,
    );
  });

  it('parseUidlLines reads back every valid listing', () => {
    const uid = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 70,
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), uid)), (entries) => {
        const lines = entries.map(([n, u]) => `${n} ${u}`);
        assert.deepEqual(
          parseUidlLines(lines),
          entries.map(([n, u]) => ({ n, uid: u })),
        );
      }),
      params,
    );
  });
});
