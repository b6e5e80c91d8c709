import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, test } from 'node:test';
import {
  alertmanagerAlerts,
  alertsEndpoint,
  classifyHttpStatus,
  createAlertmanagerSender,
} from '../../../src/alerts/alertmanager.js';
import { SendError } from '../../../src/alerts/outbox.js';
import { HOUR, MINUTE, notification, snapshot, T0 } from '../../fixtures/sample-notifications.js';

interface Captured {
  method: string;
  url: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

/** A node:http stand-in for Alertmanager that records requests and answers with `status`. */
class AlertmanagerStub {
  readonly requests: Captured[] = [];
  status = 200;
  /** When set, requests are held and never answered. */
  hang = false;
  readonly #server: Server;

  private constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  static async start(): Promise<AlertmanagerStub> {
    const stub = new AlertmanagerStub();
    stub.#server.listen(0, '127.0.0.1');
    await once(stub.#server, 'listening');
    return stub;
  }

  get url(): string {
    const { port } = this.#server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
    });
    if (this.hang) return;
    res.writeHead(this.status, { 'content-type': 'application/json' });
    res.end(
      this.status === 200 ? '' : JSON.stringify({ code: this.status, message: 'refused by stub' }),
    );
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A URL on which nothing listens. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('alertmanagerAlerts', () => {
  test('one API v2 alert per snapshot with labels, annotations, startsAt and endsAt', () => {
    const n = notification('n-1', [
      snapshot({
        labels: { team: 'support', service: 'shadowed' },
        last_error: { code: 'timeout', message: 'no greeting within 10s' },
      }),
      snapshot({
        rule: 'login_failed',
        mailbox: 'invoices',
        severity: 'critical',
        status: 'resolved',
        metric: 'consecutive_login_failures',
        op: '>=',
        threshold: 1,
        value: null,
        resolved_at: T0 - MINUTE,
        description: 'Cannot log in',
      }),
    ]);
    const alerts = alertmanagerAlerts(n, {
      externalUrl: 'https://monitor.example.com/',
      repeatIntervalMs: 4 * HOUR,
    });
    assert.deepEqual(alerts, [
      {
        labels: {
          team: 'support',
          service: 'pop3-monitor',
          alertname: 'backlog',
          mailbox: 'support',
          severity: 'warning',
        },
        annotations: {
          summary: 'backlog on support: messages > 100',
          description: 'messages > 100 has held for mailbox support since 2026-01-01T09:43:00.000Z',
          value: '153',
          last_error: 'timeout: no greeting within 10s',
        },
        startsAt: '2026-01-01T09:48:00.000Z',
        // created_at + 4 × repeat_interval, as Prometheus does with its resend interval
        endsAt: '2026-01-02T02:00:00.000Z',
        generatorURL: 'https://monitor.example.com/',
      },
      {
        labels: {
          alertname: 'login_failed',
          mailbox: 'invoices',
          severity: 'critical',
          service: 'pop3-monitor',
        },
        annotations: {
          summary: 'login_failed on invoices: consecutive_login_failures >= 1',
          description: 'Cannot log in',
        },
        startsAt: '2026-01-01T09:48:00.000Z',
        endsAt: '2026-01-01T09:59:00.000Z',
        generatorURL: 'https://monitor.example.com/',
      },
    ]);
  });

  test('without an external URL there is no generatorURL', () => {
    const [alert] = alertmanagerAlerts(notification('n'));
    assert.equal(alert !== undefined && 'generatorURL' in alert, false);
  });

  test('endpoints keep a path prefix; statuses are classified', () => {
    assert.equal(alertsEndpoint('http://am:9093'), 'http://am:9093/api/v2/alerts');
    assert.equal(alertsEndpoint('http://am:9093/am/'), 'http://am:9093/am/api/v2/alerts');
    assert.deepEqual([400, 404, 408, 422, 429, 500, 503].map(classifyHttpStatus), [
      'permanent',
      'permanent',
      'temporary',
      'permanent',
      'temporary',
      'temporary',
      'temporary',
    ]);
  });
});

describe('createAlertmanagerSender', () => {
  const stubs: AlertmanagerStub[] = [];
  afterEach(async () => {
    for (const s of stubs.splice(0)) await s.close();
  });
  async function stub(): Promise<AlertmanagerStub> {
    const s = await AlertmanagerStub.start();
    stubs.push(s);
    return s;
  }

  test('POSTs the alerts as JSON to /api/v2/alerts of every URL', async () => {
    const [a, b] = [await stub(), await stub()];
    const sender = createAlertmanagerSender({ urls: [a.url, `${b.url}/prefix/`], timeout: 5000 });
    const n = notification('n-1');
    await sender.send(n);
    const expected = JSON.parse(JSON.stringify(alertmanagerAlerts(n)));
    assert.deepEqual(a.requests, [
      {
        method: 'POST',
        url: '/api/v2/alerts',
        contentType: 'application/json',
        authorization: undefined,
        body: expected,
      },
    ]);
    assert.deepEqual(b.requests, [
      {
        method: 'POST',
        url: '/prefix/api/v2/alerts',
        contentType: 'application/json',
        authorization: undefined,
        body: expected,
      },
    ]);
  });

  test('succeeds when one of two Alertmanagers is down', async () => {
    const a = await stub();
    const warnings: Record<string, unknown>[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (obj: Record<string, unknown>) => void warnings.push(obj),
      error: () => {},
    };
    const sender = createAlertmanagerSender(
      { urls: [await deadUrl(), a.url], timeout: 5000 },
      { logger },
    );
    await sender.send(notification('n-1'));
    assert.equal(a.requests.length, 1);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.event, 'alertmanager_post_failed');
    assert.match(String(warnings[0]?.err), /ECONNREFUSED/);
  });

  test('400 from every Alertmanager is permanent', async () => {
    const a = await stub();
    a.status = 400;
    const sender = createAlertmanagerSender({ urls: [a.url], timeout: 5000 });
    await assert.rejects(sender.send(notification('n')), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'permanent');
      assert.equal(
        err.message,
        `alertmanager: ${a.url}/api/v2/alerts: HTTP 400: {"code":400,"message":"refused by stub"}`,
      );
      return true;
    });
  });

  test('503 is temporary, and so is a mix of 400 and 503', async () => {
    const [a, b] = [await stub(), await stub()];
    a.status = 503;
    b.status = 400;
    const only503 = createAlertmanagerSender({ urls: [a.url], timeout: 5000 });
    await assert.rejects(
      only503.send(notification('n')),
      (err: unknown) => err instanceof SendError && err.code === 'temporary',
    );
    const mixed = createAlertmanagerSender({ urls: [a.url, b.url], timeout: 5000 });
    await assert.rejects(
      mixed.send(notification('n')),
      (err: unknown) => err instanceof SendError && err.code === 'temporary',
    );
  });

  test('a silent Alertmanager times out as a temporary failure', async () => {
    const a = await stub();
    a.hang = true;
    const sender = createAlertmanagerSender({ urls: [a.url], timeout: 100 });
    await assert.rejects(sender.send(notification('n')), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'temporary');
      assert.equal(err.message, `alertmanager: ${a.url}/api/v2/alerts: timed out`);
      return true;
    });
  });

  test('credentials in the URL become basic auth and stay out of error messages', async () => {
    const a = await stub();
    a.status = 401;
    const withCredentials = a.url.replace('http://', 'http://am%40user:s3cr%3Dt@');
    const sender = createAlertmanagerSender({ urls: [withCredentials], timeout: 5000 });
    await assert.rejects(sender.send(notification('n')), (err: unknown) => {
      assert.ok(err instanceof SendError);
      assert.equal(err.code, 'permanent');
      assert.equal(err.message.includes('s3cr'), false, err.message);
      assert.ok(
        err.message.startsWith(`alertmanager: ${a.url}/api/v2/alerts: HTTP 401`),
        err.message,
      );
      return true;
    });
    assert.equal(
      a.requests[0]?.authorization,
      `Basic ${Buffer.from('am@user:s3cr=t').toString('base64')}`,
    );
  });

  test('uses the injected fetch', async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(null, { status: 200 });
    };
    const sender = createAlertmanagerSender(
      { urls: ['http://am.invalid:9093'], timeout: 5000 },
      { fetch: fakeFetch },
    );
    await sender.send(notification('n'));
    assert.deepEqual(seen, ['http://am.invalid:9093/api/v2/alerts']);
  });
});
