import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createGzip, type Gzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { Exposition } from '../metrics/metrics.js';

/**
 * Rendering /metrics costs one pass over every series, so renders never run side by side:
 * a scrape that comes while one runs waits for it and then shares the next, fresh render
 * with every other scrape that came meanwhile. A render whose scrapers all went away (the
 * scraper's timeout ran out) stops at its next chunk. So scrapes that outlast the scraper
 * cannot pile up renders, and no scrape gets text older than its request.
 *
 * The text is streamed chunk by chunk, and the loop is given back every SLICE_MS, so
 * /healthz and /readyz (and the probes) go on while a large exposition is written.
 */
const SLICE_MS = 8;
/**
 * Text gathered before one write to the socket or to gzip. Each gzip write is one job on
 * libuv's thread pool and one more turn of the loop, so fewer, larger writes finish sooner
 * on a busy machine.
 */
const WRITE_BYTES = 256 * 1024;

/**
 * gzip level 1: half the default level's CPU for an output ~7% larger; the exposition is
 * so repetitive that it still shrinks ~15-fold (docs/BENCHMARKS.md). The buffers let a
 * render hand over a few writes without waiting for each to be compressed.
 */
const GZIP_OPTIONS = { level: 1, chunkSize: 64 * 1024, highWaterMark: 2 * 1024 * 1024 };

/** True when an Accept-Encoding header accepts gzip (RFC 9110 section 12.5.3). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gzip: boolean | undefined;
  let star = false;
  for (const part of header.split(',')) {
    const [token = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const accepted = q === undefined || Number(q.slice(2)) > 0;
    if (token === 'gzip' || token === 'x-gzip') gzip = accepted;
    else if (token === '*') star = accepted;
  }
  return gzip ?? star;
}

interface Scrape {
  res: ServerResponse;
  gzip: Gzip | null;
  gone: boolean;
}

interface Render {
  scrapes: Set<Scrape>;
}

export interface MetricsStreamer {
  /** Answers one GET /metrics (headers included); resolves when the response ended. */
  serve(res: ServerResponse, gzip: boolean): Promise<void>;
  /** Renders started since creation (for tests and benchmarks). */
  readonly renders: number;
}

function waitFor(emitter: NodeJS.EventEmitter, event: string, also: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (also()) return resolve();
    const done = () => {
      emitter.off(event, done);
      emitter.off('close', done);
      resolve();
    };
    emitter.once(event, done);
    emitter.once('close', done);
  });
}

export function createMetricsStreamer(
  exposition: () => Exposition,
  /** The headers of every answer (read at each one: a changed web config applies at once). */
  headers: () => Readonly<Record<string, string | string[]>>,
  log?: Logger,
): MetricsStreamer {
  let running: Promise<void> | null = null;
  let next: Render | null = null;
  let renders = 0;

  function open(scrape: Scrape, contentType: string): void {
    const { res } = scrape;
    res.writeHead(200, {
      ...headers(),
      'Content-Type': contentType,
      Vary: 'Accept-Encoding',
      ...(scrape.gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    if (scrape.gzip) {
      scrape.gzip.pipe(res);
      scrape.gzip.on('error', () => res.destroy());
    }
  }

  /** Writes a chunk to every scrape still there; resolves when each can take more. */
  async function write(render: Render, chunk: string): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const scrape of render.scrapes) {
      if (scrape.gone) continue;
      const out = scrape.gzip ?? scrape.res;
      if (!out.write(chunk)) waits.push(waitFor(out, 'drain', () => scrape.gone));
    }
    await Promise.all(waits);
  }

  async function run(render: Render): Promise<void> {
    const live = () => [...render.scrapes].some((s) => !s.gone);
    if (!live()) return;
    renders += 1;
    const { contentType, chunks } = exposition();
    const iterator = chunks[Symbol.asyncIterator]();
    let opened = false;
    let pending = '';
    const flush = async () => {
      if (!opened) {
        for (const scrape of render.scrapes) if (!scrape.gone) open(scrape, contentType);
        opened = true;
      }
      if (pending === '') return;
      const text = pending;
      pending = '';
      await write(render, text);
    };
    try {
      let slice = performance.now();
      for (;;) {
        if (!live()) break;
        const step = await iterator.next();
        if (step.done) break;
        // Small chunks are gathered: each write (and each gzip call) has a cost of its own.
        pending += step.value;
        if (pending.length >= WRITE_BYTES) await flush();
        if (performance.now() - slice >= SLICE_MS) {
          await flush();
          await yieldToLoop();
          slice = performance.now();
        }
      }
      if (live()) await flush();
      for (const scrape of render.scrapes) if (!scrape.gone) (scrape.gzip ?? scrape.res).end();
    } catch (err) {
      log?.error({ event: 'metrics_render_failed', err }, 'rendering /metrics failed');
      for (const { res } of render.scrapes) {
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(500, { ...headers(), 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('error rendering metrics\n');
        }
      }
    } finally {
      await iterator.return?.();
    }
  }

  /** Runs pending renders one after another until no scrape waits. */
  function drive(): void {
    if (running !== null || next === null) return;
    const render = next;
    next = null;
    running = run(render).finally(() => {
      running = null;
      drive();
    });
  }

  return {
    get renders() {
      return renders;
    },
    serve(res, gzip) {
      const scrape: Scrape = {
        res,
        gzip: gzip ? createGzip(GZIP_OPTIONS) : null,
        gone: false,
      };
      const finished = new Promise<void>((resolve) => {
        res.once('close', () => {
          scrape.gone = true;
          scrape.gzip?.destroy();
          resolve();
        });
      });
      next ??= { scrapes: new Set() };
      next.scrapes.add(scrape);
      drive();
      return finished;
    },
  };
}
