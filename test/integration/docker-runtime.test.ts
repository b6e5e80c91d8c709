/**
 * The container image, without a Docker engine: the Dockerfile is parsed and the
 * instructions the image relies on are asserted, then its runtime stage is reproduced in
 * a clean folder (package*.json, `npm ci --omit=dev --ignore-scripts`, dist/, the built-in
 * config) and run there: --version, check-config on the image's config, and a short
 * `demo` that must answer /healthz (through the HEALTHCHECK's own command), serve
 * pop3_up and exit 0 on SIGTERM. Runs on Node 24 (the image's) when npx can provide it,
 * else on the Node running the tests.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cliCommand,
  ensureBuilt,
  freePort,
  httpGet,
  REPO_ROOT,
  run,
  startChild,
  waitFor,
} from './shipping-support.js';

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions in order: continuation lines joined, comments and blank lines dropped. */
export function parseDockerfile(text: string): {
  globalArgs: Map<string, string>;
  stages: Stage[];
} {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (pending !== '' && trimmed.startsWith('#')) continue; // comments inside a continuation
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${trimmed}`.trim());
    pending = '';
  }
  if (pending !== '') logical.push(pending.trim());
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(line);
    if (m === null) continue;
    const keyword = (m[1] ?? '').toUpperCase();
    const args = m[2] ?? '';
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      const image = (from?.[1] ?? '').replace(
        /\$\{(\w+)\}|\$(\w+)/g,
        (_, a, b) => globalArgs.get((a ?? b) as string) ?? '',
      );
      stages.push({ image, name: from?.[2], instructions: [] });
    } else if (stages.length === 0 && keyword === 'ARG') {
      const [name, value = ''] = args.split('=', 2);
      globalArgs.set(name ?? '', value);
    } else {
      stages.at(-1)?.instructions.push({ keyword, args });
    }
  }
  return { globalArgs, stages };
}

/** `.dockerignore` semantics: globs with * ? and **, `!` re-includes, the last match wins. */
export function dockerIgnored(patterns: readonly string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const glob = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
    let source = '';
    for (let i = 0; i < glob.length; i++) {
      const c = glob[i] as string;
      if (c === '*' && glob[i + 1] === '*') {
        source += '.*';
        i += glob[i + 2] === '/' ? 2 : 1;
      } else if (c === '*') source += '[^/]*';
      else if (c === '?') source += '[^/]';
      else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    // A pattern naming a folder excludes everything under it.
    if (new RegExp(`^${source}(?:/.*)?$`).test(path)) ignored = !negate;
  }
  return ignored;
}

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

function stage(name: string): Stage {
  const found = dockerfile.stages.find((s) => s.name === name);
  assert.ok(found, `no stage named ${name}`);
  return found;
}
function all(s: Stage, keyword: string): string[] {
  return s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}
function last(s: Stage, keyword: string): string | undefined {
  return all(s, keyword).at(-1);
}

/** The exec form of the runtime stage's HEALTHCHECK: `CMD ["node", ...]`. */
function healthcheckCommand(): string[] {
  const healthcheck = last(stage('runtime'), 'HEALTHCHECK') ?? '';
  const cmd = /\bCMD\s+(\[.*\])$/.exec(healthcheck);
  assert.ok(cmd, healthcheck);
  return JSON.parse(cmd[1] as string) as string[];
}

/** ENV a=b c=d (and the old `ENV a b` form) as a map. */
function envOf(s: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const args of all(s, 'ENV')) {
    if (!args.includes('=')) {
      const [k, ...v] = args.split(/\s+/);
      env.set(k ?? '', v.join(' '));
      continue;
    }
    for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
      env.set(m[1] ?? '', (m[2] ?? '').replace(/^"|"$/g, ''));
  }
  return env;
}

/** The sed the runtime stage runs on config/example.yaml, done the same way here. */
const STATE_DIR_SED = "sed 's|^state_dir:.*$|state_dir: /var/lib/pop3-monitor|'";
function imageConfig(example: string): string {
  return example.replace(/^state_dir:.*$/gm, 'state_dir: /var/lib/pop3-monitor');
}

describe('Dockerfile', () => {
  test('builds on node:24-bookworm-slim in two stages, build then runtime', () => {
    assert.deepEqual(
      dockerfile.stages.map((s) => [s.name, s.image]),
      [
        ['build', 'node:24-bookworm-slim'],
        ['runtime', 'node:24-bookworm-slim'],
      ],
    );
  });

  test('the build stage installs everything with npm ci and runs npm run build', () => {
    const runs = all(stage('build'), 'RUN');
    assert.ok(
      runs.some((r) => /^npm ci\b/.test(r)),
      runs.join('\n'),
    );
    assert.ok(runs.includes('npm run build'), runs.join('\n'));
  });

  test('the runtime stage installs production dependencies without scripts and copies dist/', () => {
    const runtime = stage('runtime');
    assert.ok(
      all(runtime, 'RUN').some((r) => r.startsWith('npm ci --omit=dev --ignore-scripts')),
      all(runtime, 'RUN').join('\n'),
    );
    const copies = all(runtime, 'COPY');
    assert.ok(copies.includes('package.json package-lock.json ./'), copies.join('\n'));
    assert.ok(copies.includes('--from=build /src/dist ./dist'), copies.join('\n'));
    assert.ok(copies.includes('config/example.yaml ./config/example.yaml'), copies.join('\n'));
    assert.ok(copies.includes('config/demo.yaml ./config/demo.yaml'), copies.join('\n'));
    assert.equal(last(runtime, 'WORKDIR'), '/app');
  });

  test('the built-in config is the example with state_dir on the volume', () => {
    const runs = all(stage('runtime'), 'RUN').join('\n');
    assert.ok(runs.includes(STATE_DIR_SED), runs);
    assert.ok(
      runs.includes("grep -qx 'state_dir: /var/lib/pop3-monitor' /etc/pop3-monitor/config.yaml"),
    );
    const example = readFileSync(join(REPO_ROOT, 'config', 'example.yaml'), 'utf8');
    assert.match(
      example,
      /^state_dir:/m,
      'config/example.yaml has a top-level state_dir line to rewrite',
    );
  });

  test('runs as the unprivileged node user with the config, state volume and port of the image', () => {
    const runtime = stage('runtime');
    const user = last(runtime, 'USER');
    assert.equal(user, 'node');
    assert.deepEqual(Object.fromEntries(envOf(runtime)), {
      NODE_ENV: 'production',
      POP3_MONITOR_CONFIG: '/etc/pop3-monitor/config.yaml',
    });
    assert.deepEqual(all(runtime, 'VOLUME'), ['/var/lib/pop3-monitor']);
    assert.deepEqual(all(runtime, 'EXPOSE'), ['9469']);
  });

  test('HEALTHCHECK runs `healthcheck` (the configured port), ENTRYPOINT runs dist/cli.js, CMD is run', () => {
    const runtime = stage('runtime');
    assert.deepEqual(healthcheckCommand(), ['node', '/app/dist/cli.js', 'healthcheck']);
    assert.deepEqual(JSON.parse(last(runtime, 'ENTRYPOINT') ?? 'null'), [
      'node',
      '/app/dist/cli.js',
    ]);
    assert.deepEqual(JSON.parse(last(runtime, 'CMD') ?? 'null'), ['run']);
  });

  test('carries the OCI labels', () => {
    const labels = all(stage('runtime'), 'LABEL').join(' ');
    for (const key of [
      'title',
      'description',
      'version',
      'revision',
      'created',
      'licenses',
      'base.name',
    ]) {
      assert.match(
        labels,
        new RegExp(`org\\.opencontainers\\.image\\.${key.replace('.', '\\.')}=`),
        key,
      );
    }
  });

  test('.dockerignore keeps local state out of the context but lets every COPY source in', () => {
    for (const path of [
      'node_modules',
      'dist/cli.js',
      '.git/HEAD',
      '.tmp/x',
      'data/outbox',
      'test/unit',
      'bench/x.ts',
    ]) {
      assert.equal(dockerIgnored(dockerignore, path), true, `${path} should be ignored`);
    }
    const sources = dockerfile.stages
      .flatMap((s) => all(s, 'COPY'))
      .filter((args) => !args.startsWith('--from='))
      .flatMap((args) => args.split(/\s+/).slice(0, -1));
    assert.deepEqual(sources.sort(), [
      'config/demo.yaml',
      'config/example.yaml',
      'package-lock.json',
      'package-lock.json',
      'package.json',
      'package.json',
      'scripts/build.mjs',
      'src',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
    for (const path of [...sources, 'src/cli.ts']) {
      assert.equal(dockerIgnored(dockerignore, path), false, `${path} must reach the build`);
    }
  });
});

describe('the runtime stage, reproduced in a clean folder', () => {
  let dir = '';
  let app = '';
  let node = process.execPath;

  /** Node 24 (as in the image) through npx when it comes quickly, else this Node. */
  function pickNode(): { path: string; why: string } {
    const npx = run(
      'npx',
      [
        '--yes',
        '--prefer-offline',
        '-p',
        'node@24',
        'node',
        '-p',
        'process.execPath + " " + process.version',
      ],
      { cwd: tmpdir(), timeoutMs: 120_000 },
    );
    const [path, version] = npx.stdout.trim().split(' ');
    if (npx.status === 0 && path && version?.startsWith('v24.')) {
      return { path, why: `Node ${version} from npx -p node@24 (the image's major version)` };
    }
    return {
      path: process.execPath,
      why: `Node ${process.version} (npx -p node@24 was not available: ${(npx.stderr || npx.stdout).trim().split('\n').at(-1)})`,
    };
  }

  function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
    return run(node, [join(app, 'dist', 'cli.js'), ...args], {
      cwd: app,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...env },
      timeoutMs: 30_000,
    });
  }

  /**
   * The image's HEALTHCHECK command in the reproduced runtime, reading (as in the image) the
   * config of $POP3_MONITOR_CONFIG, here one whose server.listen is 127.0.0.1:`port`.
   */
  function runHealthcheck(port: number) {
    const config = join(dir, `healthcheck-${port}.yaml`);
    writeFileSync(
      config,
      [
        'server:',
        `  listen: 127.0.0.1:${port}`,
        'mailboxes:',
        '  - { name: a, host: 127.0.0.1, port: 1110, tls: none, username: u, password: p }',
        '',
      ].join('\n'),
    );
    const [, script, ...args] = healthcheckCommand();
    assert.equal(script, '/app/dist/cli.js');
    return run(node, [join(app, 'dist', 'cli.js'), ...args], {
      cwd: app,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, POP3_MONITOR_CONFIG: config },
      timeoutMs: 10_000,
    });
  }

  before(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'pop3-image-'));
    app = join(dir, 'app');
    mkdirSync(app);
    for (const file of ['package.json', 'package-lock.json']) {
      cpSync(join(REPO_ROOT, file), join(app, file));
    }
    const npm = run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      {
        cwd: app,
        timeoutMs: 300_000,
      },
    );
    assert.equal(npm.status, 0, `npm ci --omit=dev failed:\n${npm.stdout}${npm.stderr}`);
    // dist/, or the folder of a built $POP3_MONITOR_CLI.
    const cliPath = cliCommand().path;
    assert.ok(cliPath.endsWith('.js'), `the image runs a built cli.js, not ${cliPath}`);
    cpSync(dirname(cliPath), join(app, 'dist'), { recursive: true });
    // Every other file the runtime stage copies from the build context, as the Dockerfile says.
    for (const copy of all(stage('runtime'), 'COPY')) {
      const [source, target] = copy.split(/\s+/);
      if (
        copy.startsWith('--') ||
        source === undefined ||
        target === undefined ||
        source.startsWith('package')
      )
        continue;
      mkdirSync(dirname(join(app, target)), { recursive: true });
      cpSync(join(REPO_ROOT, source), join(app, target), { recursive: true });
    }
    const chosen = pickNode();
    node = chosen.path;
    console.log(`docker-runtime: running the runtime stage on ${chosen.why}`);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('production dependencies only: no devDependency is installed', () => {
    const lock = JSON.parse(
      readFileSync(join(app, 'node_modules', '.package-lock.json'), 'utf8'),
    ) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const names = Object.keys(lock.packages).map((p) => p.replace(/^.*node_modules\//, ''));
    for (const dev of ['typescript', 'tsx', '@biomejs/biome', 'fast-check', '@types/node']) {
      assert.equal(names.includes(dev), false, `${dev} is installed`);
    }
    for (const dep of ['prom-client', 'pino', 'nodemailer', 'node-cron', 'yaml', 'zod']) {
      assert.equal(names.includes(dep), true, `${dep} is missing`);
    }
  });

  test('--version prints the package.json version', () => {
    const result = cli(['--version']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), pkg.version);
  });

  test('check-config accepts the built-in config found through POP3_MONITOR_CONFIG', () => {
    const example = readFileSync(join(REPO_ROOT, 'config', 'example.yaml'), 'utf8');
    const etc = join(dir, 'etc', 'pop3-monitor');
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'config.yaml'), imageConfig(example));
    // The example's ${VAR}s (those without a default) stand for the user's secrets.
    const env: NodeJS.ProcessEnv = { POP3_MONITOR_CONFIG: join(etc, 'config.yaml') };
    for (const m of example.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[m[1] as string] = 'x';
    const result = cli(['check-config'], env);
    assert.equal(result.status, 0, `check-config failed:\n${result.stdout}${result.stderr}`);
    const printed = JSON.parse(result.stdout) as { state_dir: string };
    assert.equal(printed.state_dir, '/var/lib/pop3-monitor');
  });

  test('demo serves /healthz (the HEALTHCHECK passes) and pop3_up, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const demo = startChild(
      node,
      [join(app, 'dist', 'cli.js'), 'demo', '--listen', `127.0.0.1:${port}`],
      {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: 'production',
          POP3_MONITOR_LOG_LEVEL: 'warn',
        },
      },
    );
    try {
      await waitFor(
        'demo /healthz',
        async () => {
          const r = await httpGet(`http://127.0.0.1:${port}/healthz`);
          return r.status === 200 ? true : undefined;
        },
        { timeoutMs: 20_000, child: demo },
      );
      const metrics = await waitFor(
        'pop3_up in the demo /metrics',
        async () => {
          const r = await httpGet(`http://127.0.0.1:${port}/metrics`);
          return /^pop3_up\{/m.test(r.body) ? r.body : undefined;
        },
        { timeoutMs: 20_000, child: demo },
      );
      assert.match(metrics, /^pop3_monitor_build_info\{version="[^"]+"\} 1$/m);

      // The image's HEALTHCHECK command, with a config whose server.listen is this port: 0
      // while it serves.
      const probe = runHealthcheck(port);
      assert.equal(
        probe.status,
        0,
        `HEALTHCHECK failed against the demo: ${probe.stdout}${probe.stderr}`,
      );
    } finally {
      const stopped = await demo.stop('SIGTERM', 10_000);
      assert.equal(
        stopped.withinGrace,
        true,
        `demo did not exit within 10 s of SIGTERM:\n${demo.output()}`,
      );
      assert.equal(stopped.code, 0, `demo exit code after SIGTERM:\n${demo.output()}`);
    }
    // Nothing listens now: the same HEALTHCHECK reports unhealthy.
    assert.equal(runHealthcheck(port).status, 1);
  });
});
