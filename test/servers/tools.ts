/**
 * Binaries and ports for the integration tests that start their own Prometheus or
 * Alertmanager, and control of the shared Postfix for SMTP-outage tests.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTP } from './env.js';

/**
 * The first executable among an environment override, the Debian package's path and
 * $PATH; throws naming the package to install when there is none.
 */
function findBinary(envVar: string, candidates: string[], debianPackage: string): string {
  const override = process.env[envVar];
  const pathDirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  const names = candidates.map((candidate) => candidate.slice(candidate.lastIndexOf('/') + 1));
  const tried = [
    ...(override ? [override] : []),
    ...candidates,
    ...pathDirs.flatMap((dir) => names.map((name) => join(dir, name))),
  ];
  for (const path of tried) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not there or not executable: try the next one
    }
  }
  throw new Error(
    `${names[0]} not found (tried ${envVar}, ${candidates.join(', ')} and $PATH): ` +
      `install the Debian package ${debianPackage} (test/servers/packages.sh does)`,
  );
}

export function promtoolPath(): string {
  return findBinary('PROMTOOL', ['/usr/bin/promtool'], 'prometheus');
}

export function prometheusPath(): string {
  return findBinary('PROMETHEUS', ['/usr/bin/prometheus'], 'prometheus');
}

export function alertmanagerPath(): string {
  return findBinary(
    'ALERTMANAGER',
    ['/usr/bin/prometheus-alertmanager', '/usr/bin/alertmanager'],
    'prometheus-alertmanager',
  );
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it). Another
 * process may take it before the caller binds, so bind soon after.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close((error) => {
        if (error) reject(error);
        else if (port === 0) reject(new Error('could not learn the port the kernel picked'));
        else resolve(port);
      });
    });
  });
}

const POSTFIX_SCRIPT = fileURLToPath(new URL('./postfix.sh', import.meta.url));

/**
 * The test Postfix's queue: `hold` puts every queued message on hold (postsuper -h ALL),
 * `release` takes them off (postsuper -H ALL) and asks for delivery now (postqueue -f);
 * `count` is the number of queued messages (postqueue -j). Mail for loophold@ is held on
 * arrival (start.sh), so a test holds a message without racing its delivery.
 */
export function postfixQueue(action: 'hold' | 'release' | 'count'): number {
  const run = (command: string, args: string[]) => {
    const result = spawnSync(command, args, { encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(`${command} ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
    }
    return result.stdout;
  };
  const conf = ['-c', SMTP.configDir];
  if (action === 'hold') run('postsuper', [...conf, '-h', 'ALL']);
  if (action === 'release') {
    run('postsuper', [...conf, '-H', 'ALL']);
    run('postqueue', [...conf, '-f']);
  }
  return run('postqueue', [...conf, '-j'])
    .split('\n')
    .filter((line) => line.trim() !== '').length;
}

/**
 * Stops or starts only the test Postfix (its queue is kept), to simulate an SMTP outage.
 * `status` reports whether it runs. Throws when `start`/`stop` fail.
 */
export function postfixControl(action: 'start' | 'stop' | 'status'): {
  running: boolean;
  output: string;
} {
  const result = spawnSync('bash', [POSTFIX_SCRIPT, action], { encoding: 'utf8' });
  const output = `${result.stdout}${result.stderr}`.trim();
  if (action === 'status') return { running: result.status === 0, output };
  if (result.status !== 0) throw new Error(`test/servers/postfix.sh ${action} failed: ${output}`);
  return { running: action === 'start', output };
}
