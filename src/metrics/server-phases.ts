import type { Phase, ProbeResult } from '../probe/result.js';
import { escapeLabelValue, familyHeader } from './exposition.js';
import { HistogramSeries } from './histogram.js';
import { PHASE_BUCKETS, TIMED_PHASES } from './mailbox-series.js';

export const PHASE_FAMILY = {
  name: 'pop3_phase_duration_seconds',
  help: 'Duration of each phase of the probes of every mailbox on a server (server = host:port as configured).',
} as const;

/**
 * `pop3_phase_duration_seconds{server,phase}`: the phases of every probe, aggregated per
 * server, so its size does not grow with the number of mailboxes.
 */
export class ServerPhases {
  readonly #servers = new Map<string, Map<Phase, HistogramSeries>>();

  record(server: string, result: ProbeResult): void {
    let phases = this.#servers.get(server);
    for (const phase of TIMED_PHASES) {
      const seconds = result.phases[phase];
      if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) continue;
      if (phases === undefined) {
        phases = new Map();
        this.#servers.set(server, phases);
      }
      let series = phases.get(phase);
      if (series === undefined) {
        series = new HistogramSeries(PHASE_BUCKETS);
        phases.set(phase, series);
      }
      series.observe(seconds);
    }
  }

  /** Drops the series of servers no configured mailbox uses any more. */
  keepOnly(servers: ReadonlySet<string>): void {
    for (const server of this.#servers.keys())
      if (!servers.has(server)) this.#servers.delete(server);
  }

  get seriesCount(): number {
    let n = 0;
    for (const phases of this.#servers.values()) n += phases.size;
    return n;
  }

  render(): string {
    let out = familyHeader(PHASE_FAMILY.name, PHASE_FAMILY.help, 'histogram');
    for (const [server, phases] of this.#servers) {
      const serverText = `server="${escapeLabelValue(server)}"`;
      for (const [phase, series] of phases) {
        out += series.render(PHASE_FAMILY.name, `${serverText},phase="${phase}"`);
      }
    }
    return out;
  }
}
