import type { LoopConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { FlowMetrics } from '../metrics/flow-metrics.js';
import type { MessageAction, NewMessage, ScannedMessage } from '../probe/new-messages.js';
import type { LoopEvent, Sighting } from './loop-state.js';
import { PROBE_HEADER, parseProbeHeader, verifyProbeHeader } from './probe-header.js';

/**
 * What the loops make of the messages a scan read: the keep/delete decision during the
 * session, the verified sightings afterwards, and the metrics and logs of loop events.
 */

export interface FlowSinks {
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  metrics: FlowMetrics;
}

/**
 * delete only for a probe message of a loop with cleanup on whose mailbox this is, whose
 * signature verifies with that loop's key; keep everything else.
 */
export function cleanupDecision(
  loops: ReadonlyMap<string, LoopConfig>,
  mailbox: string,
  message: NewMessage,
): MessageAction {
  const name = PROBE_HEADER.toLowerCase();
  const header = message.headers.find((h) => h.name.toLowerCase() === name);
  if (header === undefined) return 'keep';
  const parsed = parseProbeHeader(header.value);
  const loop = parsed === null ? undefined : loops.get(parsed.loop);
  if (parsed === null || loop === undefined || loop.mailbox !== mailbox || !loop.cleanup) {
    return 'keep';
  }
  return verifyProbeHeader(parsed, loop.hmac_key) ? 'delete' : 'keep';
}

/** This mailbox's verified probe messages by loop; forged ones are counted and logged. */
export function loopSightings(
  loops: ReadonlyMap<string, LoopConfig>,
  mailbox: string,
  messages: readonly ScannedMessage[],
  sinks: FlowSinks,
): Map<string, Sighting[]> {
  const out = new Map<string, Sighting[]>();
  for (const message of messages) {
    if (message.probe === null) continue;
    const parsed = parseProbeHeader(message.probe);
    const loop = parsed === null ? undefined : loops.get(parsed.loop);
    if (parsed === null || loop === undefined || loop.mailbox !== mailbox) {
      sinks.logger.info(
        { event: 'probe_message_foreign', mailbox, uid: message.uid, loop: parsed?.loop ?? null },
        'a message with a probe header of no loop of this mailbox; left alone',
      );
      continue;
    }
    if (!verifyProbeHeader(parsed, loop.hmac_key)) {
      sinks.metrics.recordForged(loop.name);
      sinks.logger.warn(
        {
          event: 'probe_message_forged',
          loop: loop.name,
          mailbox,
          uid: message.uid,
          seq: parsed.seq,
        },
        "a message carries this loop's probe header with a signature that does not verify; left alone",
      );
      continue;
    }
    const list = out.get(loop.name) ?? [];
    list.push({ seq: parsed.seq, received_at: message.received_at });
    out.set(loop.name, list);
  }
  return out;
}

/** The metrics and the log line of one loop event. */
export function reportLoopEvent(
  loop: LoopConfig,
  event: LoopEvent,
  seenAt: number,
  sinks: FlowSinks,
): void {
  const { logger: log, metrics } = sinks;
  const base = { loop: loop.name, mailbox: loop.mailbox, seq: event.seq };
  switch (event.kind) {
    case 'delivered':
      metrics.recordDelivered(loop.name, event.seconds, event.server_seconds, seenAt);
      log.info(
        {
          event: 'loop_delivered',
          ...base,
          delivery_seconds: event.seconds,
          server_seconds: event.server_seconds,
        },
        'probe message delivered',
      );
      return;
    case 'lost':
      metrics.recordLost(loop.name);
      log.warn(
        { event: 'loop_lost', ...base, deadline: new Date(event.deadline_at).toISOString() },
        'probe message not seen by its deadline',
      );
      return;
    case 'late':
      metrics.recordLate(loop.name);
      log.warn(
        { event: 'loop_late', ...base, seconds: event.seconds },
        'a lost probe message arrived late',
      );
      return;
    case 'dropped':
      log.info(
        { event: 'loop_dropped', ...base },
        'an unconfirmed send was never seen; not counted',
      );
      return;
    case 'duplicate':
      log.debug({ event: 'loop_duplicate', ...base }, 'a probe message seen again; not counted');
      return;
  }
}
