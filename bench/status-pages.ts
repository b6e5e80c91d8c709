// The status pages at fleet size: `npm run bench:pages -- 1000 10000`.
// For N mailboxes, each with 20 probes recorded in the history (as many as it keeps: 20
// each up to 2,500 mailboxes, fewer beyond; transcripts of a Dovecot STLS session, some
// 55 lines each): the time to render `/` with every mailbox on one page
// and with the default 100 per page, the time to render one `/mailboxes/NAME` page, the
// page sizes, and the heap the history takes. Pure functions, no server: what a request
// costs before the bytes go out.
import { performance } from 'node:perf_hooks';
import { ProbeHistory } from '../src/history/history.js';
import type { ProbeResult } from '../src/probe/result.js';
import type { TranscriptLine } from '../src/probe/transcript.js';
import { renderMailboxPage } from '../src/web/pages/mailbox-page.js';
import { renderStatusPage } from '../src/web/pages/status-page.js';
import { DEFAULT_QUERY, MAX_PER_PAGE } from '../src/web/pages/status-query.js';
import { mailboxViews } from '../src/web/status.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { exampleMailbox } from './lib/mailboxes.js';
import { runMain } from './lib/main.js';

const PROBES = 20;

/** A transcript like a Dovecot STLS probe's, with this probe's own ids and times. */
function transcript(n: number, round: number): TranscriptLine[] {
  const capa = ['+OK', 'CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE'];
  const lines: [string, string][] = [
    ['*', 'connected to 192.0.2.10:110'],
    ['S', `+OK Dovecot (Debian) ready. <${n}.${round}.6b163114.YxyJc/kJ0cybygfBNZtBpg==@mx>`],
    ['C', 'CAPA'],
    ...capa.map((l): [string, string] => ['S', l]),
    ['S', 'STLS'],
    ['S', 'USER'],
    ['S', 'SASL PLAIN LOGIN'],
    ['S', '.'],
    ['C', 'STLS'],
    ['S', '+OK Begin TLS negotiation now.'],
    ['*', 'TLS TLSv1.3 TLS_AES_256_GCM_SHA384'],
    ['C', 'CAPA'],
    ...capa.map((l): [string, string] => ['S', l]),
    ['S', 'USER'],
    ['S', 'SASL PLAIN LOGIN'],
    ['S', '.'],
    ['C', 'AUTH PLAIN ***'],
    ['S', '+OK Logged in.'],
    ...['STAT', 'NOOP', 'UIDL', 'TOP 1 0', 'QUIT'].map((c): [string, string] => ['C', c]),
    ['S', `+OK 3 ${1000 + n}`],
    ['S', '+OK'],
    ['S', '+OK'],
    ...[1, 2, 3].map((i): [string, string] => ['S', `${i} 0000000${i}5a1b2c${n.toString(16)}`]),
    ['S', '.'],
    ['S', '+OK'],
    ['S', `Return-Path: <sender${n}@example.com>`],
    ['S', `Received: from mail.example.com by mx.example.net with ESMTP id ${n}${round}`],
    ['S', 'Date: Mon, 02 Mar 2026 10:00:00 +0000'],
    ['S', `Subject: Invoice ${n}-${round}`],
    ['S', ''],
    ['S', '.'],
    ['S', '+OK Logging out.'],
    ['*', 'probe succeeded'],
  ];
  return lines.map(([dir, text], i) => ({
    at_ms: Math.round(i * 13.7) / 10,
    dir: dir as TranscriptLine['dir'],
    text,
  }));
}

function result(name: string, n: number, round: number, nowSeconds: number): ProbeResult {
  const failed = n % 25 === 0;
  return {
    mailbox: name,
    success: !failed,
    messages: failed ? null : 3,
    size_bytes: failed ? null : 1000 + n,
    phases: { dns: 0.0004, connect: 0.011, tls: 0.031, auth: 0.02, stat: 0.001, total: 0.093 },
    capabilities: ['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'USER', 'SASL PLAIN LOGIN'],
    error: failed
      ? {
          code: 'auth',
          phase: 'auth',
          message: 'login refused at AUTH PLAIN: -ERR [AUTH] Authentication failed.',
          response: '-ERR [AUTH] Authentication failed.',
          command: 'AUTH PLAIN',
        }
      : null,
    started_at: nowSeconds - (PROBES - round) * 60,
    uidl_count: 3,
    oldest_message_timestamp: nowSeconds - 7260,
    tls: null,
    auth_method: 'plain',
    login_delay_seconds: null,
    pipelined: true,
    transcript: { lines: transcript(n, round), omitted: 0 },
  };
}

function median(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function timed(runs: number, f: () => string): { ms: number; bytes: number } {
  let bytes = 0;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    bytes = Buffer.byteLength(f());
    times.push(performance.now() - t);
  }
  return { ms: median(times), bytes };
}

/** The heap and the memory of Buffers outside it (a Buffer's backing store counts whole). */
function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.external) / 2 ** 20;
}

async function main(argv: string[]): Promise<void> {
  const sizes = argv.map(Number).filter((n) => n > 0);
  const now = Date.now();
  console.log(`Machine: ${describeMachine(machineInfo())}`);
  if ((globalThis as { gc?: () => void }).gc === undefined)
    console.log('(run with node --expose-gc for the heap figures)');
  console.log(
    '| mailboxes | `/`, all on one page | `/`, 100 per page | `/mailboxes/NAME` (20 probes) | history memory: heap + buffers (20 probes each) |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const n of sizes.length > 0 ? sizes : [1000, 10_000]) {
    const configs = Array.from({ length: n }, (_, i) =>
      exampleMailbox(`mailbox-${i}`, { labels: { team: `team-${i % 12}` } }),
    );
    const before = heapMiB();
    const history = new ProbeHistory();
    history.setMailboxes(configs.map((c) => c.name));
    for (let round = 0; round < PROBES; round++) {
      for (const [i, c] of configs.entries()) history.record(result(c.name, i, round, now / 1000));
    }
    const heap = heapMiB() - before;
    const snapshot = () => ({
      now,
      version: 'bench',
      ready: true,
      mailboxes: mailboxViews(configs, history, []),
      loops: [],
      watches: [],
      outbox: { pending: 0 },
      reload: { ok: null, at: now, error: null },
    });
    const runs = n > 5000 ? 5 : 11;
    const all = timed(runs, () =>
      renderStatusPage(snapshot(), { ...DEFAULT_QUERY, perPage: Math.min(n, MAX_PER_PAGE) }),
    );
    const paged = timed(runs, () => renderStatusPage(snapshot(), DEFAULT_QUERY));
    const [first] = mailboxViews(configs.slice(0, 1), history, []);
    const one = timed(runs, () =>
      first === undefined
        ? ''
        : renderMailboxPage(
            { now, version: 'bench', mailbox: first, recent: history.recent(first.name) },
            30,
          ),
    );
    const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
    const allLabel = n > MAX_PER_PAGE ? ` (first ${MAX_PER_PAGE})` : '';
    console.log(
      `| ${n} | ${all.ms.toFixed(1)} ms, ${kib(all.bytes)}${allLabel} | ${paged.ms.toFixed(1)} ms, ${kib(paged.bytes)} | ${one.ms.toFixed(1)} ms, ${kib(one.bytes)} | ${heap.toFixed(1)} MiB |`,
    );
  }
}

runMain(import.meta.url, 'bench:pages', main);
