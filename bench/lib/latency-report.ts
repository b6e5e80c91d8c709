// Tables and verdicts of the probe-latency benchmark, from a LatencyReport.
import { PHASES, type Phase } from '../../src/probe/result.js';
import {
  CLI_SUBJECT,
  CLI_SUBJECT_FULL,
  CLI_SUBJECT_NO_EXTRA_CA,
  FLOOR_RTT,
  type LatencyReport,
  ourSubject,
  PIPELINING_VARIANTS,
  type Series,
} from './latency-types.js';
import type { Mode } from './mailboxes.js';
import { fmt, markdownTable, median, quantile, verdictAtMost, verdictBelow } from './stats.js';

function find(
  report: LatencyReport,
  subject: string,
  mode: Mode,
  process: 'warm' | 'cold',
  via: 'proxy' | 'direct',
) {
  return report.series.find(
    (s) => s.subject === subject && s.mode === mode && s.process === process && s.via === via,
  );
}

/** Round trips attributable to the network: (median via proxy − median direct) / RTT. */
export function netRoundTrips(
  report: LatencyReport,
  subject: string,
  mode: Mode,
  process: 'warm' | 'cold' = 'warm',
): number {
  const proxied = find(report, subject, mode, process, 'proxy');
  const direct = find(report, subject, mode, process, 'direct');
  if (!proxied || !direct) return Number.NaN;
  return (median(proxied.wallMs) - median(direct.wallMs)) / report.rttMeasuredMs;
}

export interface Verdict {
  target: string;
  measured: string;
  verdict: string;
}

/** The issue's per-probe targets, each met or missed by how much. */
export function latencyVerdicts(report: LatencyReport): Verdict[] {
  const out: Verdict[] = [];
  const tolerance = 0.5; // timer jitter and server-time overlap; a whole extra trip is 1.0
  for (const mode of ['plain', 'implicit'] as const) {
    if (!report.options.modes.includes(mode)) continue;
    for (const variant of PIPELINING_VARIANTS) {
      for (const cached of [true, false]) {
        const subject = ourSubject(cached, variant);
        if (!find(report, subject, mode, 'warm', 'proxy')) continue;
        const floor = FLOOR_RTT[mode][cached ? 'cached' : 'uncached'];
        const rt = netRoundTrips(report, subject, mode);
        const label = `${mode === 'plain' ? 'Plain' : 'Implicit TLS'} probe, ${cached ? 'cached capabilities' : 'no cache'}, pipelining ${variant.label}: ≤ ${floor} round trips`;
        out.push({
          target: label,
          measured: `${fmt(rt, 2)} round trips`,
          verdict:
            rt <= floor + tolerance
              ? `met (${fmt(rt, 2)} ≤ ${floor} + ${tolerance} jitter allowance)`
              : verdictAtMost(rt, floor + tolerance, ' RTT'),
        });
      }
    }
  }
  const poplib = find(report, 'poplib (Python)', 'plain', 'cold', 'proxy');
  for (const subject of [CLI_SUBJECT, CLI_SUBJECT_NO_EXTRA_CA, CLI_SUBJECT_FULL]) {
    const ours = find(report, subject, 'plain', 'cold', 'proxy');
    if (!ours || !poplib || ours.ok === 0 || poplib.ok === 0) continue;
    const env =
      subject === CLI_SUBJECT
        ? ''
        : subject === CLI_SUBJECT_FULL
          ? ', pipelining: full'
          : ', NODE_EXTRA_CA_CERTS unset';
    const rtt = `${report.options.rttMs} ms RTT`;
    if (subject !== CLI_SUBJECT_NO_EXTRA_CA && ours.sessionMs && poplib.sessionMs) {
      const session = median(ours.sessionMs) / median(poplib.sessionMs);
      out.push({
        target: `Plain, through a ${rtt} proxy, cold processes: the probe's phases (connect to QUIT reply) ≤ 0.35 × poplib's session${env}`,
        measured: `${fmt(median(ours.sessionMs), 1)} ms / ${fmt(median(poplib.sessionMs), 1)} ms = ${fmt(session, 3)}× (CAPA skipped in ${ours.capaSkipped ?? 0} of ${ours.ok})`,
        verdict: verdictAtMost(session, 0.35, '×', 3),
      });
    }
    const ratio = median(ours.wallMs) / median(poplib.wallMs);
    out.push({
      target: `Plain, through a ${rtt} proxy: the whole \`probe\` process ≤ 1.0 × \`python3 poplib_probe.py\`${env}`,
      measured: `${fmt(median(ours.wallMs), 0)} ms / ${fmt(median(poplib.wallMs), 0)} ms = ${fmt(ratio, 2)}×`,
      verdict: verdictAtMost(ratio, 1, '×'),
    });
  }
  const cpuOurs = report.cpu.find((r) =>
    r.subject.startsWith('pop3-monitor probeMailbox, uncached'),
  );
  const cpuOursCached = report.cpu.find((r) =>
    r.subject.startsWith('pop3-monitor probeMailbox, cached'),
  );
  const cpuBlackbox = report.cpu.find((r) => r.subject.startsWith('blackbox_exporter'));
  if (cpuOurs && cpuBlackbox) {
    for (const row of [cpuOurs, cpuOursCached]) {
      if (!row) continue;
      const ratio = row.cpuPerProbeMs / cpuBlackbox.cpuPerProbeMs;
      out.push({
        target: `CPU per plain probe (${row.subject.includes('cached') && !row.subject.includes('uncached') ? 'cached' : 'uncached'}) below blackbox_exporter's`,
        measured: `${fmt(row.cpuPerProbeMs, 2)} ms vs ${fmt(cpuBlackbox.cpuPerProbeMs, 2)} ms = ${fmt(ratio, 2)}×`,
        verdict: verdictBelow(ratio, 1, '×'),
      });
    }
  }
  return out;
}

export function renderLatency(report: LatencyReport): string {
  const rtt = report.rttMeasuredMs;
  const parts: string[] = [];
  if (report.dovecotRestarted) {
    parts.push(
      '**Warning: the shared test Dovecot was restarted during this run; rows with failures measured a server that went away.**',
    );
  }
  parts.push(
    `Proxy RTT set to ${report.options.rttMs} ms; measured (1-byte echo through the proxy, median) ${fmt(rtt, 2)} ms, used as the RTT below. ` +
      `${report.options.rounds} probes per row, interleaved round by round.`,
  );

  // Round trips of our probe.
  const rtRows: string[][] = [];
  for (const mode of report.options.modes) {
    for (const variant of PIPELINING_VARIANTS) {
      for (const cached of [false, true]) {
        const subject = ourSubject(cached, variant);
        const direct = find(report, subject, mode, 'warm', 'direct');
        const proxied = find(report, subject, mode, 'warm', 'proxy');
        if (!direct || !proxied) continue;
        const floor = FLOOR_RTT[mode][cached ? 'cached' : 'uncached'] + variant.extraRtt;
        const net = netRoundTrips(report, subject, mode);
        const capa =
          cached && proxied.capaSkipped !== undefined
            ? `${proxied.capaSkipped}/${proxied.ok} skipped CAPA`
            : 'CAPA asked';
        rtRows.push([
          mode,
          variant.label,
          cached ? 'cache + TLS ticket' : 'none',
          capa,
          fmt(median(direct.wallMs), 1),
          fmt(median(proxied.wallMs), 1),
          fmt(median(proxied.wallMs) / rtt, 2),
          fmt(net, 2),
          String(floor),
          `${proxied.ok}/${proxied.n}`,
        ]);
      }
    }
  }
  parts.push(
    '#### Round trips per probe (pop3-monitor, in-process, warm)\n\n' +
      'Pipelining default (true): the login, then STAT..QUIT in one write; full: login and STAT..QUIT in one write (docs/PHASES.md).\n\n' +
      markdownTable(
        [
          'mode',
          'pipelining',
          'cache',
          'CAPA',
          'median wall direct (ms)',
          'median wall via proxy (ms)',
          'wall / RTT',
          'round trips (proxy − direct) / RTT',
          'floor',
          'ok',
        ],
        rtRows,
      ),
  );

  // Phases.
  // Every phase but dns: the benchmark connects to an address.
  const phaseNames: Phase[] = PHASES.filter((phase) => phase !== 'dns');
  const phaseRows: string[][] = [];
  for (const s of report.series) {
    if (!s.subject.startsWith('pop3-monitor,') || s.via !== 'proxy' || !s.phases) continue;
    phaseRows.push([
      s.mode,
      s.subject.replace('pop3-monitor, ', ''),
      ...phaseNames.map((p) => (s.phases?.[p] === undefined ? '–' : fmt(s.phases[p], 1))),
    ]);
  }
  parts.push(
    '#### Median phase durations via the proxy (ms)\n\n' +
      'The proxy cannot delay the TCP handshake itself, so it delays the upstream connect instead: the connect round trip shows in `greeting`, not `connect`.\n\n' +
      markdownTable(['mode', 'cache', ...phaseNames], phaseRows),
  );

  // Peers.
  for (const mode of report.options.modes) {
    const rows: string[][] = [];
    for (const s of report.series.filter((x) => x.mode === mode)) {
      if (
        s.via === 'direct' &&
        s.process === 'warm' &&
        s.subject !== 'poplib (Python)' &&
        !s.subject.startsWith('blackbox')
      ) {
        continue;
      }
      const cpuMedian = s.cpuMs.length > 0 ? fmt(median(s.cpuMs), 2) : 'see CPU table';
      const direct =
        s.via === 'proxy' ? find(report, s.subject, mode, s.process, 'direct') : undefined;
      const rts = direct ? fmt((median(s.wallMs) - median(direct.wallMs)) / rtt, 2) : '–';
      rows.push([
        s.subject,
        s.process === 'cold' ? 'cold (new process)' : 'warm',
        s.via,
        fmt(median(s.wallMs), 1),
        fmt(quantile(s.wallMs, 0.9), 1),
        cpuMedian,
        rts,
        `${s.ok}/${s.n}`,
      ]);
    }
    const failed = report.series
      .filter((x) => x.mode === mode && Object.keys(x.failures).length > 0)
      .map(
        (x) =>
          `${x.subject} (${x.process}, ${x.via}): ${Object.entries(x.failures)
            .map(([k, v]) => `${v}× ${k}`)
            .join('; ')}`,
      );
    parts.push(
      `#### ${mode}: pop3-monitor and peers, same mailbox, same proxy, same run\n\n` +
        (failed.length > 0 ? `Failures: ${failed.join(' | ')}\n\n` : '') +
        markdownTable(
          [
            'tool',
            'process',
            'via',
            'median wall (ms)',
            'p90 wall (ms)',
            'median CPU user+sys (ms)',
            'round trips',
            'ok',
          ],
          rows,
        ),
    );
  }

  if (report.cpu.length > 0) {
    parts.push(
      '#### CPU per plain probe (sequential, straight to Dovecot)\n\n' +
        markdownTable(
          ['subject', 'probes', 'ok', 'CPU per probe (ms)', 'wall per probe (ms)', 'how measured'],
          report.cpu.map((r) => [
            r.subject,
            String(r.probes),
            String(r.ok),
            fmt(r.cpuPerProbeMs, 3),
            fmt(r.wallPerProbeMs, 1),
            r.method,
          ]),
        ),
    );
  }

  // Cold processes: the session inside, and the whole process.
  const coldRows: string[][] = [];
  for (const mode of report.options.modes) {
    const poplib = find(report, 'poplib (Python)', mode, 'cold', 'proxy');
    for (const s of report.series.filter((x) => x.mode === mode && x.process === 'cold')) {
      if (!s.sessionMs || s.ok === 0) continue;
      const session = median(s.sessionMs);
      const vsPoplib =
        poplib?.sessionMs && poplib.ok > 0 ? fmt(session / median(poplib.sessionMs), 3) : 'n/a';
      const wallVs =
        poplib && poplib.ok > 0 ? fmt(median(s.wallMs) / median(poplib.wallMs), 2) : 'n/a';
      coldRows.push([
        mode,
        s.subject,
        fmt(session, 1),
        vsPoplib,
        fmt(median(s.wallMs), 0),
        wallVs,
        fmt(median(s.cpuMs), 0),
        s.capaSkipped === undefined ? '–' : `${s.capaSkipped}/${s.ok}`,
      ]);
    }
  }
  if (coldRows.length > 0) {
    parts.push(
      '#### Cold processes: the session inside, and the whole process (through the proxy)\n\n' +
        "Session: ours is the sum of the probe's phases, connect to the QUIT reply (`probe --json`); poplib's is the script's own timing of its session. The CLI reads the capabilities its warm-up run left in `state_dir`.\n\n" +
        markdownTable(
          [
            'mode',
            'tool',
            'median session (ms)',
            "session / poplib's",
            'median process wall (ms)',
            "process / poplib's",
            'median process CPU (ms)',
            'CAPA skipped',
          ],
          coldRows,
        ),
    );
  }

  // Ratios.
  const ratioRows: string[][] = [];
  for (const mode of report.options.modes) {
    const oursCold = find(report, CLI_SUBJECT, mode, 'cold', 'proxy');
    const popCold = find(report, 'poplib (Python)', mode, 'cold', 'proxy');
    const oursWarm = find(report, 'pop3-monitor, uncached', mode, 'warm', 'proxy');
    const oursWarmCached = find(report, 'pop3-monitor, cached', mode, 'warm', 'proxy');
    const popWarm = find(report, 'poplib (Python)', mode, 'warm', 'proxy');
    const ratio = (a?: Series, b?: Series) =>
      a && b && a.ok > 0 && b.ok > 0 ? fmt(median(a.wallMs) / median(b.wallMs), 2) : 'n/a';
    const cpuRatio = (a?: Series, b?: Series) =>
      a && b && a.cpuMs.length > 0 && b.cpuMs.length > 0
        ? fmt(median(a.cpuMs) / median(b.cpuMs), 2)
        : 'n/a';
    ratioRows.push([
      mode,
      ratio(oursCold, popCold),
      cpuRatio(oursCold, popCold),
      ratio(oursWarm, popWarm),
      ratio(oursWarmCached, popWarm),
      cpuRatio(oursWarm, popWarm),
    ]);
  }
  parts.push(
    '#### Ratios (median over median, same run)\n\n' +
      markdownTable(
        [
          'mode',
          'wall: CLI cold / poplib cold',
          'CPU: CLI cold / poplib cold',
          'wall: in-process uncached / poplib warm',
          'wall: in-process cached / poplib warm',
          'CPU: in-process uncached / poplib warm',
        ],
        ratioRows,
      ),
  );
  return parts.join('\n\n');
}
