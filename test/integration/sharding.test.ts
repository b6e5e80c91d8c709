/**
 * Sharding against real systems: shardOf is what Prometheus' own `hashmod` relabelling
 * computes (a real Prometheus reports the label it put on 50 targets), and daemons run
 * with `--shard I/N`, `shard:` in the config or `--shard auto/N` split the mailboxes of
 * one config between them exactly, each probing its part on the real Dovecot.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { shardOf } from '../../src/shard.js';
import { DOVECOT, USERS } from '../servers/env.js';
import { freePort, prometheusPath } from '../servers/tools.js';
import {
  type Child,
  cliCommand,
  ensureBuilt,
  httpGet,
  run,
  startChild,
  waitFor,
} from './shipping-support.js';

const dir = mkdtempSync(join(tmpdir(), 'pop3-monitor-sharding-'));
const children: Child[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL', 5_000)));
  rmSync(dir, { recursive: true, force: true });
});

/** Moduli to compare: small shard counts, a prime, and one past 2^32 (all 64 bits count). */
const MODULI = [2, 3, 7, 1_000_003, 2 ** 32 + 15] as const;

/** 50 label values: plain names, addresses, and two with non-ASCII UTF-8 bytes. */
const NAMES: string[] = [
  ...Array.from({ length: 44 }, (_, i) => `mailbox-${i}`),
  'invoices@example.com',
  'support',
  'Billing Dept',
  'a',
  'boîte-aux-lettres',
  'почта',
];

interface Target {
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  scrapePool: string;
}

describe('shardOf equals Prometheus hashmod relabelling', () => {
  let targets: { active: Target[]; dropped: Target[] };

  before(async () => {
    assert.equal(new Set(NAMES).size, 50);
    const port = await freePort();
    // Scrapes would go to the discard port, hourly: only the relabelled targets matter.
    const config = {
      global: { scrape_interval: '1h' },
      scrape_configs: [
        {
          job_name: 'hashmod',
          static_configs: NAMES.map((mailbox) => ({
            targets: ['127.0.0.1:9'],
            labels: { mailbox },
          })),
          relabel_configs: MODULI.map((modulus) => ({
            source_labels: ['mailbox'],
            modulus,
            target_label: `shard_${modulus}`,
            action: 'hashmod',
          })),
        },
        {
          // How a Prometheus shards its own scrapes: hashmod into a temporary label, keep one.
          // Modulus 7, not 3: 256 ≡ 1 (mod 3), so mod 3 cannot tell the byte order apart.
          job_name: 'keep-2-of-7',
          static_configs: NAMES.map((mailbox) => ({
            targets: ['127.0.0.1:9'],
            labels: { mailbox },
          })),
          relabel_configs: [
            {
              source_labels: ['mailbox'],
              modulus: 7,
              target_label: '__tmp_hash',
              action: 'hashmod',
            },
            { source_labels: ['__tmp_hash'], regex: '2', action: 'keep' },
          ],
        },
      ],
    };
    const configPath = join(dir, 'prometheus.yml');
    writeFileSync(configPath, stringify(config));
    const prometheus = startChild(prometheusPath(), [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    children.push(prometheus);
    targets = await waitFor(
      'Prometheus to list all 100 targets',
      async () => {
        const { status, body } = await httpGet(`http://127.0.0.1:${port}/api/v1/targets?state=any`);
        if (status !== 200) return undefined;
        const data = (
          JSON.parse(body) as { data: { activeTargets: Target[]; droppedTargets: Target[] } }
        ).data;
        return data.activeTargets.length + data.droppedTargets.length === 2 * NAMES.length
          ? { active: data.activeTargets, dropped: data.droppedTargets }
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, child: prometheus },
    );
  });

  test('the label Prometheus put on each of the 50 targets equals shardOf for every modulus', () => {
    const hashmod = targets.active.filter((t) => t.scrapePool === 'hashmod');
    assert.deepEqual(hashmod.map((t) => t.labels.mailbox).sort(), [...NAMES].sort());
    for (const target of hashmod) {
      const mailbox = target.labels.mailbox as string;
      for (const modulus of MODULI) {
        assert.equal(
          target.labels[`shard_${modulus}`],
          String(shardOf(mailbox, modulus)),
          `${JSON.stringify(mailbox)} mod ${modulus}`,
        );
      }
    }
    // The 50 names reach every shard of 3: the comparison is not about one value.
    assert.deepEqual([...new Set(NAMES.map((name) => shardOf(name, 3)))].sort(), [0, 1, 2]);
  });

  test('a Prometheus keeping hashmod 2 of 7 keeps exactly the names shardOf puts in shard 2', () => {
    const kept = targets.active.filter((t) => t.scrapePool === 'keep-2-of-7');
    const dropped = targets.dropped.filter((t) => t.discoveredLabels.job === 'keep-2-of-7');
    const expected = NAMES.filter((name) => shardOf(name, 7) === 2).sort();
    assert.deepEqual(kept.map((t) => t.labels.mailbox).sort(), expected);
    assert.deepEqual(
      dropped.map((t) => t.discoveredLabels.mailbox).sort(),
      NAMES.filter((name) => shardOf(name, 7) !== 2).sort(),
    );
  });
});

/** 12 mailboxes, all the real Dovecot user `empty`, distinct names. */
const MAILBOXES = [
  'invoices',
  'support',
  'billing',
  'sales',
  'hr',
  'legal',
  'press',
  'jobs',
  'abuse',
  'postmaster',
  'noc',
  'security',
];
const IN_SHARD = [0, 1].map((index) =>
  MAILBOXES.filter((name) => shardOf(name, 2) === index).sort(),
);

function writeShardConfig(name: string, shard?: string): string {
  const path = join(dir, `${name}.yaml`);
  const config = {
    server: { listen: '127.0.0.1:0' },
    state_dir: join(dir, `${name}-state`),
    ...(shard === undefined ? {} : { shard }),
    mailboxes: MAILBOXES.map((mailbox) => ({
      name: mailbox,
      host: DOVECOT.host,
      port: DOVECOT.plainPort,
      tls: 'none',
      username: USERS.empty.user,
      password: USERS.empty.password,
      schedule: '*/2 * * * * *',
      timeout: '5s',
    })),
  };
  writeFileSync(path, stringify(config));
  return path;
}

/** The JSON log lines of a child's output (its kept tail: a cut first line is skipped). */
function logEvents(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

interface Started {
  child: Child;
  /** The `started` log event. */
  started: Record<string, unknown>;
  /** pop3_up by mailbox, read once /readyz said every mailbox was probed. */
  up: Map<string, number>;
}

/** Runs `pop3-monitor run --config FILE ...args` until ready, and reads its pop3_up series. */
async function runShard(
  configPath: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Started> {
  const cli = cliCommand();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, POP3_MONITOR_LOG_FORMAT: 'json', ...env };
  if (env.POD_NAME === undefined) delete childEnv.POD_NAME;
  const child = startChild(
    process.execPath,
    [...cli.args, 'run', '--config', configPath, ...args],
    { env: childEnv },
  );
  children.push(child);
  const started = await waitFor(
    'the started log event',
    async () => logEvents(child.output()).find((e) => e.event === 'started'),
    { timeoutMs: 20_000, child },
  );
  const base = `http://${String(started.listen)}`;
  await waitFor(
    '/readyz 200',
    async () => ((await httpGet(`${base}/readyz`)).status === 200 ? true : undefined),
    { timeoutMs: 20_000, child },
  );
  const { body } = await httpGet(`${base}/metrics`);
  const up = new Map<string, number>();
  for (const m of body.matchAll(/^pop3_up\{mailbox="([^"]*)"\} (\S+)$/gm)) {
    up.set(m[1] as string, Number(m[2]));
  }
  return { child, started, up };
}

describe('daemons on one config split its 12 mailboxes', () => {
  const daemons = new Map<string, Started>();

  before(async () => {
    ensureBuilt();
    // Started together, each with its own state_dir: each probes its own part of the 12.
    const runs: [string, Promise<Started>][] = [
      ['--shard 0/2', runShard(writeShardConfig('flag-0'), ['--shard', '0/2'])],
      ['--shard 1/2', runShard(writeShardConfig('flag-1'), ['--shard', '1/2'])],
      ['shard: "1/2"', runShard(writeShardConfig('key-1', '1/2'), [])],
      [
        'shard: "1/2" and --shard 0/2',
        runShard(writeShardConfig('key-1-flag-0', '1/2'), ['--shard', '0/2']),
      ],
      [
        '--shard auto/2',
        runShard(writeShardConfig('auto'), ['--shard', 'auto/2'], { POD_NAME: 'pop3-monitor-1' }),
      ],
    ];
    const started = await Promise.all(runs.map(([, run]) => run));
    for (const [i, [name]] of runs.entries()) daemons.set(name, started[i] as Started);
  });

  function upOf(name: string): Map<string, number> {
    const daemon = daemons.get(name);
    assert.ok(daemon, name);
    return daemon.up;
  }

  test('--shard 0/2 and --shard 1/2: every mailbox is up in exactly one of them', () => {
    assert.ok(IN_SHARD[0]?.length && IN_SHARD[1]?.length, 'both shards have mailboxes');
    const zero = upOf('--shard 0/2');
    const one = upOf('--shard 1/2');
    assert.deepEqual([...zero.keys()].sort(), IN_SHARD[0]);
    assert.deepEqual([...one.keys()].sort(), IN_SHARD[1]);
    assert.deepEqual([...zero.keys(), ...one.keys()].sort(), [...MAILBOXES].sort());
    assert.deepEqual(
      [...zero.keys()].filter((name) => one.has(name)),
      [],
    );
    const down = [...daemons.values()].flatMap((d) =>
      logEvents(d.child.output()).filter((e) => e.event === 'mailbox_down'),
    );
    for (const [name, value] of [...zero, ...one])
      assert.equal(value, 1, `pop3_up of ${name}; mailbox_down events: ${JSON.stringify(down)}`);
    assert.equal(daemons.get('--shard 0/2')?.started.shard, '0/2');
    assert.equal(daemons.get('--shard 0/2')?.started.mailboxes, IN_SHARD[0]?.length);
    assert.equal(daemons.get('--shard 1/2')?.started.mailboxes, IN_SHARD[1]?.length);
  });

  test('shard: "1/2" in the config gives the same mailboxes as --shard 1/2', () => {
    assert.deepEqual([...upOf('shard: "1/2"').keys()].sort(), IN_SHARD[1]);
    assert.equal(daemons.get('shard: "1/2"')?.started.shard, '1/2');
  });

  test('--shard overrides shard: in the config', () => {
    assert.deepEqual([...upOf('shard: "1/2" and --shard 0/2').keys()].sort(), IN_SHARD[0]);
    assert.equal(daemons.get('shard: "1/2" and --shard 0/2')?.started.shard, '0/2');
  });

  test('--shard auto/2 with POD_NAME=pop3-monitor-1 runs shard 1/2', () => {
    assert.deepEqual([...upOf('--shard auto/2').keys()].sort(), IN_SHARD[1]);
    assert.equal(daemons.get('--shard auto/2')?.started.shard, '1/2');
  });

  test('each daemon stops cleanly on SIGTERM', async () => {
    for (const [name, daemon] of daemons) {
      const exit = await daemon.child.stop('SIGTERM', 10_000);
      assert.deepEqual(exit, { code: 0, signal: null, withinGrace: true }, name);
    }
  });
});

describe('a --shard the daemon cannot use', () => {
  test('--shard 2/2 ends the run before it starts, naming the problem', () => {
    ensureBuilt();
    const cli = cliCommand();
    const result = run(process.execPath, [
      ...cli.args,
      'run',
      '--config',
      writeShardConfig('bad-flag'),
      '--shard',
      '2/2',
    ]);
    assert.notEqual(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /--shard: INDEX 2 is not below COUNT 2 \(the shards are 0 to 1\)/);
    assert.doesNotMatch(result.stdout, /"event":"started"/);
  });

  test('--shard auto/2 without a pod ordinal names POD_NAME', () => {
    const cli = cliCommand();
    const env: NodeJS.ProcessEnv = { ...process.env, HOSTNAME: 'monitor' };
    delete env.POD_NAME;
    const result = run(
      process.execPath,
      [...cli.args, 'run', '--config', writeShardConfig('bad-auto'), '--shard', 'auto/2'],
      { env },
    );
    assert.notEqual(result.status, 0, result.stdout + result.stderr);
    assert.match(
      result.stderr,
      /--shard auto\/2: HOSTNAME="monitor" does not end in -ORDINAL \(such as pop3-monitor-0\)/,
    );
  });
});
