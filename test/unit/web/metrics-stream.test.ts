import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { Exposition } from '../../../src/metrics/metrics.js';
import { acceptsGzip } from '../../../src/web/metrics-stream.js';
import { type HttpServer, startHttpServer } from '../../../src/web/server.js';
import { serverOptions } from '../../fixtures/web-backend.js';

const PROM_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: Buffer;
  /** When the last byte arrived (performance.now()). */
  endedAt: number;
}

function get(server: HttpServer, path: string, headers: Record<string, string> = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.address.port, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            raw: Buffer.concat(chunks),
            endedAt: performance.now(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Opens GET /metrics and destroys the socket once the response headers arrive. */
function abandon(server: HttpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.address.port, path: '/metrics', agent: false },
      (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}

/**
 * Renders of `n` chunks (or `n(render)`: the render's number from 1), counted: how many
 * started, run now, ran at most side by side, chunks pulled and renders that finished.
 */
function countingExposition(
  n: number | ((render: number) => number),
  before?: () => Promise<void>,
) {
  const stats = { started: 0, running: 0, maxRunning: 0, pulled: 0, finished: 0 };
  const exposition = (): Exposition => ({
    contentType: PROM_TYPE,
    chunks: (async function* () {
      stats.started += 1;
      stats.running += 1;
      stats.maxRunning = Math.max(stats.maxRunning, stats.running);
      try {
        await before?.();
        const chunks = typeof n === 'number' ? n : n(stats.started);
        for (let i = 0; i < chunks; i++) {
          stats.pulled += 1;
          yield `pop3_chunk{i="${i}",render="${stats.started}"} 1\n`;
        }
        stats.finished += 1;
      } finally {
        stats.running -= 1;
      }
    })(),
  });
  return { stats, exposition };
}

function start(exposition: () => Exposition): Promise<HttpServer> {
  return startHttpServer(serverOptions({ exposition }));
}

describe('acceptsGzip', () => {
  it('reads Accept-Encoding as RFC 9110 does', () => {
    for (const [header, expected] of [
      [undefined, false],
      ['', false],
      ['gzip', true],
      ['identity', false],
      ['deflate, gzip;q=0.5', true],
      ['GZIP', true],
      ['gzip;q=0', false],
      ['gzip; q=0.0, deflate', false],
      ['br, *', true],
      ['*;q=0, gzip', true],
      ['*;q=0', false],
      ['x-gzip', true],
    ] as const) {
      assert.equal(acceptsGzip(header), expected, String(header));
    }
  });
});

describe('GET /metrics streaming', () => {
  it('sends gzip when asked, plain text otherwise, the same text either way', async () => {
    const { exposition } = countingExposition(3000);
    const server = await start(exposition);
    try {
      const plain = await get(server, '/metrics');
      const zipped = await get(server, '/metrics', { 'Accept-Encoding': 'gzip' });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(zipped.headers['content-encoding'], 'gzip');
      assert.equal(zipped.headers.vary, 'Accept-Encoding');
      assert.equal(zipped.headers['content-type'], PROM_TYPE);
      const text = gunzipSync(zipped.raw).toString('utf8');
      assert.equal(text.split('\n').length, 3001);
      assert.equal(text.replaceAll('render="2"', 'render="1"'), plain.raw.toString('utf8'));
      assert.ok(zipped.raw.length * 5 < plain.raw.length, 'gzip did not compress');
    } finally {
      await server.close();
    }
  });

  it('runs one render at a time; scrapes that come meanwhile share the next one', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let first = true;
    const { stats, exposition } = countingExposition(50, async () => {
      if (first) {
        first = false;
        await gate;
      }
    });
    const server = await start(exposition);
    try {
      const scrapes = [get(server, '/metrics')];
      // The first render is held; these five come while it runs.
      while (stats.started === 0) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 5; i++) scrapes.push(get(server, '/metrics'));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(stats.started, 1, 'a second render started beside the first');
      release();
      const replies = await Promise.all(scrapes);
      assert.equal(stats.maxRunning, 1);
      assert.equal(stats.started, 2);
      const bodies = replies.map((r) => r.raw.toString('utf8'));
      assert.ok(bodies[0]?.includes('render="1"'));
      // The later ones got the second, fresh render, all five the same text.
      for (const body of bodies.slice(1)) {
        assert.ok(body.includes('render="2"'));
        assert.equal(body.split('\n').length, 51);
      }
    } finally {
      await server.close();
    }
  });

  it('stops a render whose scraper went away; the next scrape gets a fresh one', async () => {
    const { stats, exposition } = countingExposition((render) => (render === 1 ? 1_000_000 : 10));
    const server = await start(exposition);
    try {
      await abandon(server);
      // The render notices at a chunk boundary and ends without pulling the rest.
      while (stats.running > 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(stats.finished, 0);
      assert.ok(stats.pulled < 1_000_000, `${stats.pulled} chunks pulled`);
      const fresh = await get(server, '/metrics');
      assert.equal(fresh.status, 200);
      assert.equal(stats.started, 2);
      assert.equal(stats.finished, 1);
    } finally {
      await server.close();
    }
  });

  it('answers /healthz and /readyz while a long render keeps the CPU busy', async () => {
    // 400 chunks of 2 ms of work each: 0.8 s of rendering on the event loop's thread.
    const exposition = (): Exposition => ({
      contentType: PROM_TYPE,
      chunks: (async function* () {
        for (let i = 0; i < 400; i++) {
          const until = performance.now() + 2;
          while (performance.now() < until);
          yield `pop3_busy{i="${i}"} 1\n`;
        }
      })(),
    });
    const server = await start(exposition);
    try {
      const metrics = get(server, '/metrics');
      // Once the render is under way (its first bytes are out), ask for health.
      await new Promise((r) => setTimeout(r, 20));
      const [health, ready] = await Promise.all([get(server, '/healthz'), get(server, '/readyz')]);
      const done = await metrics;
      assert.equal(health.status, 200);
      assert.equal(ready.status, 200);
      assert.ok(health.endedAt < done.endedAt, '/healthz waited for the render to end');
      assert.ok(ready.endedAt < done.endedAt, '/readyz waited for the render to end');
    } finally {
      await server.close();
    }
  });
});
