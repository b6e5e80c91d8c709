/**
 * What the /metrics benchmarks scrape: the monitor's metrics for a fleet of mailboxes on
 * `hosts` servers, each with one successful probe recorded, and a web backend that serves
 * only /metrics, /healthz and /readyz.
 */
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { PHASES, type ProbeResult } from '../../src/probe/result.js';
import type { WebBackend } from '../../src/web/routes.js';
import { exampleMailbox } from './mailboxes.js';

export interface FleetMetricsOptions {
  mailboxes: number;
  hosts: number;
  /** Implicit TLS (a TLS series per mailbox) or plain. */
  tls: boolean;
  /** Phase durations spread by up to 10 ms, so the per-server histograms fill several buckets. */
  spread?: boolean;
  /** prom-client's process metrics too (default true). */
  defaultMetrics?: boolean;
}

const TLS: ProbeResult['tls'] = {
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_256_GCM_SHA384',
  cert_expiry_timestamp: 1_800_000_000,
  cert_subject: null,
  cert_issuer: null,
  resumed: false,
};

export function fleetMetrics(options: FleetMetricsOptions): Metrics {
  const metrics = createMetrics({
    version: 'bench',
    defaultMetrics: options.defaultMetrics ?? true,
  });
  const boxes = Array.from({ length: options.mailboxes }, (_, i) =>
    exampleMailbox(`mbx-${String(i).padStart(5, '0')}`, {
      host: `pop${i % options.hosts}.example.com`,
      ...(options.tls ? {} : { tls: 'none', port: 110 }),
    }),
  );
  metrics.setMailboxes(boxes);
  for (const box of boxes) {
    metrics.recordProbe({
      mailbox: box.name,
      success: true,
      messages: 3,
      size_bytes: 1208,
      phases: Object.fromEntries(
        PHASES.map((p) => [p, 0.004 + (options.spread ? Math.random() * 0.01 : 0)]),
      ),
      capabilities: [],
      error: null,
      started_at: 1_767_601_800,
      uidl_count: 3,
      oldest_message_timestamp: 1_767_601_800,
      tls: options.tls ? TLS : null,
      auth_method: 'plain',
      login_delay_seconds: null,
      pipelined: true,
    });
  }
  return metrics;
}

function notServed(): never {
  throw new Error('not served by the /metrics benchmarks');
}

/** A backend for startHttpServer that answers /metrics from `metrics` and nothing else. */
export function metricsBackend(metrics: Metrics): WebBackend {
  return {
    exposition: () => metrics.exposition(),
    isReady: () => true,
    health: () => null,
    reload: async () => ({ ok: true }),
    status: notServed,
    mailboxDetail: notServed,
    probeNow: notServed,
  };
}
