/**
 * /probe?mailbox=NAME driven by a real Prometheus with the scrape config the project
 * documents (config/prometheus/probe-scrape.yml, its relabelling as is; only the address,
 * the targets and the intervals changed for the test), against the built daemon and the
 * real Dovecot: the series arrive with each mailbox as its instance; promtool accepts the
 * text; an unknown mailbox is 404; a mailbox backing off after a refused login is not
 * tried again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { aliceExpected, dovecotMailbox, USERS } from '../servers/env.js';
import { freePort, prometheusPath, promtoolPath } from '../servers/tools.js';
import { Daemon, parseExposition, stopAllDaemons } from './daemon-support.js';
import { type Child, httpGet, REPO_ROOT, startChild, waitFor } from './shipping-support.js';

const DOCUMENTED = join(REPO_ROOT, 'config', 'prometheus', 'probe-scrape.yml');
/** Once a year: the daemon's own schedule stays out of the way, Prometheus drives the probes. */
const RARELY = '0 0 1 1 *';

let daemon: Daemon;
let prometheus: Child | undefined;
let promUrl = '';
const dir = mkdtempSync(join(tmpdir(), 'pop3-probe-endpoint-'));

function mailbox(name: string, user: 'alice' | 'empty', password?: string) {
  return dovecotMailbox(name, user, {
    password: password ?? USERS[user].password,
    schedule: RARELY,
    labels: { team: 'ops' },
  });
}

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<Series[]> {
  const { body } = await httpGet(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  return (JSON.parse(body) as { data?: { result: Series[] } }).data?.result ?? [];
}

before(async () => {
  daemon = await Daemon.startReady(
    {
      config: {
        mailboxes: [
          mailbox('alice', 'alice'),
          { ...mailbox('wrong', 'empty', 'not-the-password'), auth_failure_backoff: '1h' },
        ],
      },
    },
    30_000,
  );
  const documented = parse(readFileSync(DOCUMENTED, 'utf8')) as {
    scrape_configs: Record<string, unknown>[];
  };
  const job = documented.scrape_configs[0] as {
    static_configs: { targets: string[] }[];
    relabel_configs: { replacement?: string }[];
  } & Record<string, unknown>;
  job.scrape_interval = '1s';
  job.scrape_timeout = '1s';
  job.static_configs = [{ targets: ['alice', 'wrong'] }];
  const address = job.relabel_configs.find((r) => r.replacement === 'pop3-monitor:9469');
  assert.ok(address, 'the documented config sends the scrape to pop3-monitor:9469');
  address.replacement = `127.0.0.1:${daemon.port}`;
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  mkdirSync(join(dir, 'tsdb'));
  writeFileSync(join(dir, 'prometheus.yml'), stringify({ scrape_configs: [job] }));
  prometheus = startChild(prometheusPath(), [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
});

after(async () => {
  await prometheus?.stop('SIGTERM', 10_000);
  await stopAllDaemons();
  rmSync(dir, { recursive: true, force: true });
});

describe('/probe driven by Prometheus', { timeout: 90_000 }, () => {
  it('the documented relabelling: one series set per mailbox, instance = mailbox', async () => {
    const up = await waitFor(
      'pop3_up of both mailboxes in Prometheus',
      async () => {
        const result = await query('pop3_up{job="pop3-probe"}');
        return result.length === 2 ? result : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 500, child: prometheus },
    );
    const byInstance = Object.fromEntries(up.map((s) => [s.metric.instance, s]));
    assert.equal(byInstance.alice?.value[1], '1');
    assert.equal(byInstance.alice?.metric.mailbox, 'alice');
    assert.equal(byInstance.alice?.metric.team, 'ops');
    assert.equal(byInstance.wrong?.value[1], '0');
    const messages = await query('pop3_messages{job="pop3-probe",instance="alice"}');
    assert.equal(messages[0]?.value[1], String(aliceExpected().count));
    const failure = await query('pop3_probe_last_failure_info{job="pop3-probe"}');
    assert.deepEqual(
      failure.map((s) => [s.metric.instance, s.metric.reason, s.metric.phase]),
      [['wrong', 'auth', 'auth']],
    );
    const phases = await query('pop3_probe_last_phase_duration_seconds{instance="alice"}');
    assert.ok(
      ['stls', 'tls', 'auth', 'stat'].every((p) => phases.some((s) => s.metric.phase === p)),
      JSON.stringify(phases.map((s) => s.metric.phase)),
    );
  });

  it('each scrape of alice ran a probe; the refused mailbox was not tried again', async () => {
    // The daemon's own schedule fires once a year: more probes than the start-up one are
    // Prometheus' scrapes.
    const scrape = await daemon.waitForMetrics(
      'three probes of alice',
      (s) => (s.get('pop3_probes_total', { mailbox: 'alice' }) ?? 0) >= 3,
      20_000,
    );
    assert.equal(scrape.get('pop3_probes_total', { mailbox: 'wrong' }), 1, 'backing off');
    const held = await daemon.request('/probe?mailbox=wrong&debug=true');
    assert.equal(held.status, 200);
    assert.match(
      held.body,
      /^note: no new probe: backing off after a refused login for \d+s more \(auth_failure_backoff\); this is the last result$/m,
    );
    assert.match(held.body, /C: AUTH PLAIN \*\*\*/);
    assert.equal(held.body.includes('not-the-password'), false);
  });

  it('promtool accepts what /probe answers; an unknown mailbox is 404 with a clear message', async () => {
    const reply = await daemon.request('/probe?mailbox=alice');
    assert.equal(reply.status, 200);
    assert.ok(parseExposition(reply.body).some((s) => s.name === 'pop3_up'));
    const lint = spawnSync(promtoolPath(), ['check', 'metrics'], {
      input: reply.body,
      encoding: 'utf8',
    });
    assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '');
    const unknown = await daemon.request('/probe?mailbox=nobody');
    assert.deepEqual(
      [unknown.status, unknown.body],
      [404, 'unknown mailbox "nobody": the config has no mailbox of that name\n'],
    );
  });
});
