import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The mail-flow metrics: per delivery loop (label `loop`) and per expect watch (labels
 * `mailbox`, `expect`), on the registry passed in. A failure reason's series appears at its
 * first occurrence; the counters of a loop start at 0 when it is declared, and every series
 * of a loop or watch the config no longer has is removed.
 */

/**
 * Buckets of pop3_delivery_duration_seconds: a loopback delivery takes about a second, a
 * queue retry minutes; past half an hour a message is lost to most deadlines.
 */
export const DELIVERY_BUCKETS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800] as const;

export interface WatchLabels {
  mailbox: string;
  expect: string;
}

export interface FlowMetrics {
  /** Declares the loops and watches: starts their counters, removes the series of others. */
  setTargets(loops: readonly string[], watches: readonly WatchLabels[]): void;
  recordSent(loop: string): void;
  recordSendFailure(loop: string, reason: string): void;
  /** A delivery: its time, the server-side part (newest Received: − acceptance) and when. */
  recordDelivered(loop: string, seconds: number, serverSeconds: number | null, atMs: number): void;
  recordLost(loop: string): void;
  recordLate(loop: string): void;
  recordForged(loop: string): void;
  /** When a watch's newest match arrived, ms; null: none yet (no series). */
  setExpectLastSeen(watch: WatchLabels, atMs: number | null): void;
}

export function createFlowMetrics(registry: Registry): FlowMetrics {
  const registers = [registry];
  const duration = new Histogram({
    name: 'pop3_delivery_duration_seconds',
    help: "Delivery loop: seconds from the SMTP server's acceptance of a probe message to the probe that saw it in the mailbox.",
    labelNames: ['loop'],
    buckets: [...DELIVERY_BUCKETS],
    registers,
  });
  const serverSeconds = new Gauge({
    name: 'pop3_delivery_server_seconds',
    help: "Delivery loop: seconds from SMTP acceptance to the newest Received: header of the last delivered probe message (the servers' part, without the poll interval; 1 s resolution).",
    labelNames: ['loop'],
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'pop3_delivery_last_success_timestamp_seconds',
    help: 'Delivery loop: when a probe message was last seen delivered, seconds since the epoch.',
    labelNames: ['loop'],
    registers,
  });
  const sent = new Counter({
    name: 'pop3_delivery_sent_total',
    help: 'Delivery loop: probe messages the SMTP server accepted.',
    labelNames: ['loop'],
    registers,
  });
  const lost = new Counter({
    name: 'pop3_delivery_lost_total',
    help: "Delivery loop: probe messages not seen in the mailbox by the loop's deadline.",
    labelNames: ['loop'],
    registers,
  });
  const late = new Counter({
    name: 'pop3_delivery_late_total',
    help: 'Delivery loop: probe messages seen after they were counted lost.',
    labelNames: ['loop'],
    registers,
  });
  const sendFailures = new Counter({
    name: 'pop3_delivery_send_failures_total',
    help: 'Delivery loop: probe messages the SMTP server did not accept, by reason.',
    labelNames: ['loop', 'reason'],
    registers,
  });
  const forged = new Counter({
    name: 'pop3_delivery_forged_total',
    help: "Delivery loop: messages carrying this loop's probe header whose signature does not verify (left alone).",
    labelNames: ['loop'],
    registers,
  });
  const expectLastSeen = new Gauge({
    name: 'pop3_expect_last_seen_timestamp_seconds',
    help: 'Expect watch: when the newest message matching the watch arrived (its newest Received: header), seconds since the epoch.',
    labelNames: ['mailbox', 'expect'],
    registers,
  });

  let loops = new Set<string>();
  let watches = new Map<string, WatchLabels>();
  const reasons = new Map<string, Set<string>>();
  const watchKey = (w: WatchLabels) => `${w.mailbox}\u0000${w.expect}`;

  function removeLoop(loop: string): void {
    for (const metric of [duration, serverSeconds, lastSuccess, sent, lost, late, forged]) {
      metric.remove({ loop });
    }
    for (const reason of reasons.get(loop) ?? []) sendFailures.remove({ loop, reason });
    reasons.delete(loop);
  }

  return {
    setTargets(loopNames, watchList) {
      const next = new Set(loopNames);
      for (const loop of loops) if (!next.has(loop)) removeLoop(loop);
      for (const loop of next) {
        if (loops.has(loop)) continue;
        for (const counter of [sent, lost, late, forged]) counter.inc({ loop }, 0);
      }
      loops = next;
      const nextWatches = new Map(watchList.map((w) => [watchKey(w), w]));
      for (const [key, w] of watches) if (!nextWatches.has(key)) expectLastSeen.remove({ ...w });
      watches = nextWatches;
    },
    recordSent(loop) {
      if (loops.has(loop)) sent.inc({ loop });
    },
    recordSendFailure(loop, reason) {
      if (!loops.has(loop)) return;
      sendFailures.inc({ loop, reason });
      const seen = reasons.get(loop) ?? new Set<string>();
      seen.add(reason);
      reasons.set(loop, seen);
    },
    recordDelivered(loop, seconds, server, atMs) {
      if (!loops.has(loop)) return;
      duration.observe({ loop }, seconds);
      lastSuccess.set({ loop }, atMs / 1000);
      if (server === null) serverSeconds.remove({ loop });
      else serverSeconds.set({ loop }, server);
    },
    recordLost(loop) {
      if (loops.has(loop)) lost.inc({ loop });
    },
    recordLate(loop) {
      if (loops.has(loop)) late.inc({ loop });
    },
    recordForged(loop) {
      if (loops.has(loop)) forged.inc({ loop });
    },
    setExpectLastSeen(watch, atMs) {
      if (!watches.has(watchKey(watch))) return;
      if (atMs === null) expectLastSeen.remove({ ...watch });
      else expectLastSeen.set({ ...watch }, atMs / 1000);
    },
  };
}
