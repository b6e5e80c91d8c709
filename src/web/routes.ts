import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Exposition } from '../metrics/metrics.js';
import { renderProbeMetrics } from '../metrics/probe-exposition.js';
import type { ProbeResult } from '../probe/result.js';
import { formatTranscript } from '../probe/transcript.js';
import type { RequestGuard } from './access.js';
import { STATUS_CSS, STATUS_JS } from './assets.js';
import { acceptsGzip, createMetricsStreamer } from './metrics-stream.js';
import { renderMailboxPage } from './pages/mailbox-page.js';
import { renderStatusPage } from './pages/status-page.js';
import { parseStatusQuery } from './pages/status-query.js';
import { createResponder, type Responder } from './respond.js';
import type { MailboxDetail, StatusSnapshot } from './status.js';

/** What the HTTP server asks of the app (app.ts implements it). */
export interface WebBackend {
  /** The /metrics text, streamed chunk by chunk. */
  exposition(): Exposition;
  /** Config loaded and every mailbox probed once. */
  isReady(): boolean;
  /** Why the process is unhealthy (the scheduler stopped making progress), or null. */
  health(): string | null;
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  status(): StatusSnapshot;
  mailboxDetail(name: string): MailboxDetail | undefined;
  /** A probe of the mailbox now, through the scheduler's limits; undefined for an unknown name. */
  probeNow(name: string): Promise<ProbeAnswer | undefined>;
}

export interface ProbeAnswer {
  result: ProbeResult;
  /** The mailbox's extra labels, as /metrics carries them. */
  labels: Readonly<Record<string, string>>;
  /** Why no new probe ran (backing off after a refused login): the last result stands. */
  held: string | null;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** One line, printable: a name from a URL goes into a plain-text answer. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}

function unknownMailbox(
  respond: Responder,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): void {
  respond.send(
    req,
    res,
    404,
    `unknown mailbox ${quoted(name)}: the config has no mailbox of that name\n`,
  );
}

function decodedName(encoded: string): string | null {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return null;
  }
}

/**
 * The routes: /metrics, /healthz, /readyz, POST /-/reload, the status page at /, one
 * mailbox's page at /mailboxes/NAME, /probe?mailbox=NAME[&debug=true] and the pages'
 * two files under /assets/. Every request is put to the access rules first (`access`:
 * origin, rate limit, credentials), which also give every answer its headers.
 */
export function createRoutes(backend: WebBackend, access: RequestGuard, log?: Logger): Handler {
  const respond = createResponder((kind) => access.headers(kind));
  const { send, sendPage, sendAsset, methodNotAllowed } = respond;
  const metrics = createMetricsStreamer(
    () => backend.exposition(),
    () => access.headers('other'),
    log,
  );

  async function probe(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    const name = params.get('mailbox');
    if (name === null || name === '') {
      return send(req, res, 400, 'the mailbox parameter is missing: /probe?mailbox=NAME\n');
    }
    const answer = await backend.probeNow(name);
    if (answer === undefined) return unknownMailbox(respond, req, res, name);
    const { result, labels, held } = answer;
    if (params.get('debug') === 'true') {
      const state = result.success
        ? `ok, ${result.messages} messages`
        : `failed: ${result.error?.code}: ${result.error?.message}`;
      const head = [
        `mailbox: ${result.mailbox}`,
        `started: ${new Date(result.started_at * 1000).toISOString()}`,
        `result: ${state}`,
        ...(held === null ? [] : [`note: no new probe: ${held}; this is the last result`]),
        '',
      ].join('\n');
      const transcript = result.transcript
        ? formatTranscript(result.transcript)
        : 'no transcript\n';
      return send(req, res, 200, `${head}\n${transcript}`);
    }
    const { contentType, body } = renderProbeMetrics(result, labels);
    return send(req, res, 200, body, { 'Content-Type': contentType });
  }

  return async (req, res) => {
    // Split by hand: new URL() would read `//metrics` as a host name.
    const target = req.url ?? '/';
    const mark = target.indexOf('?');
    const path = mark === -1 ? target : target.slice(0, mark);
    const params = new URLSearchParams(mark === -1 ? '' : target.slice(mark + 1));
    const method = req.method ?? 'GET';
    const readOnly = method === 'GET' || method === 'HEAD';

    const decision = await access.decide({ method, path, headers: req.headers });
    if (!decision.allowed) {
      log?.debug(
        { event: 'http_refused', reason: decision.reason, remote: req.socket.remoteAddress, path },
        'request refused',
      );
      return send(req, res, decision.status, decision.body, decision.headers);
    }
    if (path.startsWith('/mailboxes/')) {
      if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
      const name = decodedName(path.slice('/mailboxes/'.length));
      if (name === null) return send(req, res, 400, 'not a mailbox name\n');
      const detail = backend.mailboxDetail(name);
      if (detail === undefined) return unknownMailbox(respond, req, res, name);
      return sendPage(req, res, 200, renderMailboxPage(detail, parseStatusQuery(params).refresh));
    }
    switch (path) {
      case '/healthz': {
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        const problem = backend.health();
        return problem === null
          ? send(req, res, 200, 'ok\n')
          : send(req, res, 503, `unhealthy: ${problem}\n`);
      }
      case '/readyz':
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        return backend.isReady()
          ? send(req, res, 200, 'ready\n')
          : send(req, res, 503, 'not ready\n');
      case '/metrics': {
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        const gzip = acceptsGzip(req.headers['accept-encoding']);
        // HEAD: the headers a GET would have, without rendering anything.
        if (method === 'HEAD') {
          res.writeHead(200, {
            ...access.headers('other'),
            'Content-Type': backend.exposition().contentType,
            Vary: 'Accept-Encoding',
            ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
          });
          res.end();
          return;
        }
        return metrics.serve(res, gzip);
      }
      case '/-/reload': {
        if (method !== 'POST') return methodNotAllowed(req, res, 'POST');
        let outcome: Awaited<ReturnType<WebBackend['reload']>>;
        try {
          outcome = await backend.reload();
        } catch (err) {
          log?.error({ event: 'http_reload_failed', err }, 'POST /-/reload failed');
          return send(req, res, 500, 'reload failed\n');
        }
        if (outcome.ok) return send(req, res, 200, 'reloaded\n');
        return send(req, res, 500, `reload failed: ${outcome.error}\n`);
      }
      case '/':
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        return sendPage(
          req,
          res,
          200,
          renderStatusPage(backend.status(), parseStatusQuery(params)),
        );
      case '/probe':
        // A probe is work with an effect on the server (a login): GET only, never HEAD.
        if (method !== 'GET') return methodNotAllowed(req, res, 'GET');
        return probe(req, res, params);
      case '/assets/status.css':
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        return sendAsset(req, res, STATUS_CSS, 'text/css; charset=utf-8');
      case '/assets/status.js':
        if (!readOnly) return methodNotAllowed(req, res, 'GET, HEAD');
        return sendAsset(req, res, STATUS_JS, 'text/javascript; charset=utf-8');
      default:
        return send(req, res, 404, 'not found\n');
    }
  };
}
