import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Transcript, TranscriptDirection, TranscriptLine } from '../probe/transcript.js';

/**
 * A transcript as the history keeps it: its lines as text, deflated with a dictionary of
 * what every POP3 session says (CAPA's list, the usual commands and replies). A transcript
 * of some forty lines takes about 600 octets this way, against some 4 KiB as objects, so a
 * thousand mailboxes keep their last twenty probes in about 28 MiB with their results
 * (npm run bench:pages).
 *
 * The text is one line per transcript line, `at_ms TAB dir TAB text`, after a first line
 * with the count of lines not kept; a transcript line never holds a control character
 * (the probe escaped them), so a newline always separates lines.
 */

const DICTIONARY = Buffer.from(
  [
    '+OK Capability list follows',
    'CAPA',
    'TOP',
    'UIDL',
    'RESP-CODES',
    'PIPELINING',
    'AUTH-RESP-CODE',
    'STLS',
    'USER',
    'SASL PLAIN LOGIN',
    'IMPLEMENTATION',
    'EXPIRE',
    'LOGIN-DELAY',
    '+OK Begin TLS negotiation now.',
    'TLS TLSv1.3 TLS_AES_256_GCM_SHA384',
    'TLS TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384',
    'AUTH PLAIN ***',
    'AUTH LOGIN',
    'PASS ***',
    'STAT',
    'NOOP',
    'TOP 1 0',
    'QUIT',
    '+OK Logged in.',
    '+OK Logging out.',
    'Return-Path: ',
    'Delivered-To: ',
    'Received: from ',
    'Date: ',
    'From: ',
    'To: ',
    'Subject: ',
    'Message-ID: ',
    'connected to ',
    'probe succeeded',
    'failed in auth: auth: login refused at ',
    '-ERR [AUTH] Authentication failed.',
    '\tS\t+OK\n',
    '\tS\t.\n',
    '\tC\t',
    '\tS\t',
    '\t*\t',
  ].join('\n'),
);

export function packTranscript(transcript: Transcript): Buffer {
  let text = `${transcript.omitted}\n`;
  for (const line of transcript.lines) text += `${line.at_ms}\t${line.dir}\t${line.text}\n`;
  // deflateRawSync answers with a view of its whole 16 KiB output buffer: kept as it is,
  // each transcript of 600 octets would hold 16 KiB outside the heap (10,000 mailboxes
  // × 3 probes = 480 MB). A copy of its own (not a slice of Node's 8 KiB pool, which the
  // other small buffers of a probe leave mostly empty) keeps only the octets.
  const deflated = deflateRawSync(text, { dictionary: DICTIONARY });
  const own = Buffer.allocUnsafeSlow(deflated.length);
  deflated.copy(own);
  return own;
}

export function unpackTranscript(packed: Buffer): Transcript {
  const text = inflateRawSync(packed, { dictionary: DICTIONARY }).toString('utf8');
  const [head = '0', ...rows] = text.split('\n');
  rows.pop(); // after the last newline
  const lines: TranscriptLine[] = rows.map((row) => {
    const tab = row.indexOf('\t');
    return {
      at_ms: Number(row.slice(0, tab)),
      dir: row.slice(tab + 1, tab + 2) as TranscriptDirection,
      text: row.slice(tab + 3),
    };
  });
  return { lines, omitted: Number(head) };
}
