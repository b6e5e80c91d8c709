import { humanDuration } from '../config/duration.js';
import type { ProbeResult } from './result.js';

function ms(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  return seconds >= 1 ? `${seconds.toFixed(2)}s` : `${(seconds * 1000).toFixed(1)}ms`;
}

/** One human-readable line per probe, for `probe` without --json. */
export function formatProbeLine(result: ProbeResult, nameWidth: number, nowMs: number): string {
  const name = result.mailbox.padEnd(nameWidth);
  const phases = Object.entries(result.phases)
    .filter(([phase]) => phase !== 'total')
    .map(([phase, s]) => `${phase} ${ms(s)}`)
    .join(', ');
  const timing = `total ${ms(result.phases.total)} (${phases})`;
  if (!result.success) {
    const err = result.error;
    return `${name}  FAIL  ${err?.code ?? 'unknown'} in ${err?.phase ?? '?'}: ${err?.message ?? ''}  ${timing}`;
  }
  let oldest = '';
  if (result.oldest_message_timestamp !== null) {
    const iso = new Date(result.oldest_message_timestamp * 1000)
      .toISOString()
      .replace('.000Z', 'Z');
    oldest = `, oldest ${iso} (${humanDuration(nowMs / 1000 - result.oldest_message_timestamp)} ago)`;
  }
  const tls = result.tls ? `, ${result.tls.protocol ?? 'TLS'}` : '';
  return `${name}  OK    ${result.messages} messages, ${result.size_bytes} bytes${oldest}${tls}  ${timing}`;
}
