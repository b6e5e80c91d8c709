#!/usr/bin/env node
// Only what every command needs is imported here; each command loads its own modules
// (the config loader's zod, yaml and node-cron alone take ~100 ms to load), so `--help`
// starts at once and `probe` loads neither the daemon nor the metrics.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError } from './config/config-error.js';
import { type ListenAddress, parseListen } from './config/listen.js';
import type { Config } from './config/schema.js';
import { inShard, parseShard, type Shard, ShardError } from './shard.js';
import { WebConfigError } from './web/web-config-error.js';

// Node 22+ keeps the compiled code of the modules loaded from here on in a cache on disk
// (os.tmpdir() unless NODE_COMPILE_CACHE says otherwise), so the next start compiles
// less; Node 20 has no such cache and this does nothing. It never throws.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const USAGE = `pop3-monitor: watch mailboxes over POP3; Prometheus metrics and SMTP alerts

Usage:
  pop3-monitor run --config FILE [--listen ADDR] [--shard I/N]
                                            the daemon: poll on schedule, serve /metrics and the
                                            status page, send alerts
  pop3-monitor probe --config FILE [--mailbox NAME] [--json]
                                            probe now and print the results (exit 1 if any failed)
  pop3-monitor check-config --config FILE   validate and print the resolved config, secrets masked
  pop3-monitor check --config FILE --mailbox NAME [thresholds]
  pop3-monitor check --host HOST --user NAME --password-file FILE [thresholds]
                                            one probe as a Nagios/Icinga plugin (see check --help)
  pop3-monitor healthcheck [--config FILE] [--listen ADDR] [--cert FILE --key FILE]
                                            ask the daemon's /healthz, over HTTPS when its web
                                            config has TLS (a container HEALTHCHECK)
  pop3-monitor demo [--listen ADDR]         the whole loop with no outside server
  pop3-monitor --help | --version

Options:
  --config FILE, -c FILE   config file (default: $POP3_MONITOR_CONFIG)
  --mailbox NAME, -m NAME  probe only this mailbox (repeatable; probe)
  --json                   machine-readable output (probe)
  --shard I/N              run only this shard of the mailboxes (run, probe)
  --listen HOST:PORT       where the HTTP server listens, instead of server.listen (run, demo,
                           healthcheck)
  --web.config.file FILE   HTTPS, client certificates and bcrypt users for the HTTP
                           endpoints, in the Prometheus exporters' web config format
                           (run, check-config, healthcheck; default: server.web_config_file)
  --log-format json|pretty log format (run, demo; default json; $POP3_MONITOR_LOG_FORMAT)
  --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (run, demo; default info;
                           $POP3_MONITOR_LOG_LEVEL)
  --cert FILE, --key FILE  healthcheck: a client certificate for RequireAndVerifyClientCert
                           ($POP3_MONITOR_HEALTHCHECK_CERT, $POP3_MONITOR_HEALTHCHECK_KEY)
  --ca FILE                healthcheck: verify the server against this CA (not needed on
                           loopback; $POP3_MONITOR_HEALTHCHECK_CA)
A flag that does not apply to the command is an error.

Environment:
  POP3_MONITOR_CONFIG      config file when --config is not given
  POP3_MONITOR_LOG_FORMAT  json|pretty
  POP3_MONITOR_LOG_LEVEL   fatal|error|warn|info|debug|trace|silent
  POP3_MONITOR_HEALTHCHECK_CERT, _KEY, _CA   healthcheck's --cert, --key, --ca

Exit status:
  0   success; run and demo: a clean shutdown (SIGTERM, SIGINT)
  1   probe: a probe failed; run: the daemon could not start (the port is taken, the state
      directory cannot be written); healthcheck: unhealthy or no answer
  2   bad config or usage: an unknown command or flag, a flag that does not apply, a bad
      value (--listen, --shard, a log format or level)
  70  run: the daemon crashed (an uncaught error; its state is on disk, restart it)
  check has the Monitoring Plugins' own: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.`;

/** The flags each command takes (--help and --version go with any). */
const COMMAND_FLAGS = {
  run: ['config', 'shard', 'listen', 'web.config.file', 'log-format', 'log-level'],
  probe: ['config', 'mailbox', 'json', 'shard'],
  'check-config': ['config', 'web.config.file'],
  healthcheck: ['config', 'listen', 'web.config.file', 'cert', 'key', 'ca'],
  demo: ['listen', 'log-format', 'log-level'],
} as const satisfies Record<string, readonly string[]>;
type Command = keyof typeof COMMAND_FLAGS;

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

class UsageError extends Error {}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        mailbox: { type: 'string', short: 'm', multiple: true },
        json: { type: 'boolean' },
        shard: { type: 'string' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
        listen: { type: 'string' },
        'web.config.file': { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function requireConfig(value: string | undefined): Promise<Config> {
  const { loadConfig, resolveConfigPath } = await import('./config/load.js');
  const path = resolveConfigPath(value, process.env);
  if (!path) throw new UsageError('no config file: pass --config FILE or set POP3_MONITOR_CONFIG');
  return loadConfig(path, { env: process.env });
}

/** The web configuration: --web.config.file, else server.web_config_file; none when neither. */
async function requireWebSettings(
  config: Config | undefined,
  flag: string | undefined,
): Promise<import('./web/web-config-load.js').WebSettings | undefined> {
  const path = flag !== undefined && flag !== '' ? flag : config?.server.web_config_file;
  if (path === undefined) return undefined;
  const { loadWebConfig } = await import('./web/web-config-load.js');
  return loadWebConfig(path);
}

async function probeCommand(
  config: Config,
  only: string[] | undefined,
  json: boolean,
  shard: Shard | undefined,
): Promise<number> {
  const unknown = (only ?? []).filter((name) => !config.mailboxes.some((m) => m.name === name));
  if (unknown.length > 0)
    throw new UsageError(
      `--mailbox: no mailbox named ${unknown.map((n) => JSON.stringify(n)).join(', ')} in the config`,
    );
  // --mailbox names mailboxes outright; otherwise this replica's shard (flag or config).
  const mailboxes = only
    ? config.mailboxes.filter((m) => only.includes(m.name))
    : inShard(config.mailboxes, shard ?? config.shard);
  const [{ probeMailbox }, { CapabilityCache }, { formatProbeLine }] = await Promise.all([
    import('./probe/probe.js'),
    import('./probe/capability-cache.js'),
    import('./probe/format.js'),
  ]);
  // One token source for the run: mailboxes that share an OAuth2 client share its token.
  // Its OAuth2 library is loaded only when a mailbox needs it.
  let tokens: import('./oauth/token-source.js').TokenSource | undefined;
  if (mailboxes.some((m) => m.oauth2 !== undefined)) {
    const [{ TokenSource }, { systemClock }] = await Promise.all([
      import('./oauth/token-source.js'),
      import('./clock.js'),
    ]);
    tokens = new TokenSource({ clock: systemClock });
  }
  // The capabilities the daemon (or an earlier probe) learned, from state_dir: a probe of
  // a known server skips CAPA, one round trip. Only a cache: unreadable is empty, a failure
  // to save it does not fail the probe, and a state_dir that does not exist is not
  // created (a probe run from any folder leaves nothing behind).
  const stateDir = existsSync(config.state_dir);
  const capabilityCache = new CapabilityCache(
    stateDir ? { file: join(config.state_dir, 'capabilities.json') } : {},
  );
  const results = await Promise.all(
    mailboxes.map((m) => probeMailbox(m, { capabilityCache, tokens })),
  );
  try {
    if (stateDir) await capabilityCache.save();
  } catch (error) {
    process.stderr.write(
      `warning: could not save the capability cache in ${config.state_dir}: ${(error as Error).message}\n`,
    );
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    const width = Math.max(...results.map((r) => r.mailbox.length));
    for (const result of results)
      process.stdout.write(`${formatProbeLine(result, width, Date.now())}\n`);
  }
  return results.every((r) => r.success) ? 0 : 1;
}

/** `check` has flags of its own and the Monitoring Plugins' exit statuses (3 for any problem). */
async function checkCommand(argv: string[]): Promise<number> {
  try {
    const { runCheck } = await import('./check/run.js');
    return await runCheck(argv, {
      out: (text) => process.stdout.write(text),
      env: process.env,
      now: Date.now,
      version: packageVersion(),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stdout.write(`POP3 UNKNOWN - internal error: ${message.replace(/[\r\n|]+/g, ' ')}\n`);
    return 3;
  }
}

/** The command, with every flag given checked to apply to it. */
function commandOf(positionals: string[], values: Record<string, unknown>): Command {
  const [command, extra] = positionals;
  if (command === undefined || !Object.hasOwn(COMMAND_FLAGS, command)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const allowed: readonly string[] = COMMAND_FLAGS[command as Command];
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && !allowed.includes(flag)) {
      throw new UsageError(`--${flag} does not apply to ${command}`);
    }
  }
  return command as Command;
}

function listenFlag(value: string | undefined): ListenAddress | undefined {
  if (value === undefined) return undefined;
  const address = parseListen(value);
  if (address === null)
    throw new UsageError(
      `--listen: expected host:port such as 127.0.0.1:9469, got ${JSON.stringify(value)}`,
    );
  return address;
}

/**
 * The log settings of run and demo, from the flags or the environment; an unknown format
 * or level is a usage error, not a silent default. They reach the logger through the
 * environment.
 */
async function logSettings(format: string | undefined, level: string | undefined): Promise<void> {
  const { LOG_FORMATS, LOG_LEVELS } = await import('./log.js');
  const checks = [
    ['--log-format', 'POP3_MONITOR_LOG_FORMAT', format, LOG_FORMATS],
    ['--log-level', 'POP3_MONITOR_LOG_LEVEL', level, LOG_LEVELS],
  ] as const;
  for (const [flag, variable, given, allowed] of checks) {
    const value = given ?? process.env[variable];
    if (value === undefined || value === '') continue;
    if (!(allowed as readonly string[]).includes(value.toLowerCase())) {
      const source = given === undefined ? `$${variable}` : flag;
      throw new UsageError(
        `${source}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`,
      );
    }
    process.env[variable] = value.toLowerCase();
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'check') return checkCommand(argv.slice(1));
  const { values, positionals } = parse(argv);
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (values.help || positionals[0] === 'help' || positionals[0] === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return positionals[0] === undefined && !values.help ? 2 : 0;
  }
  const command = commandOf(positionals, values);
  const listen = listenFlag(values.listen);
  switch (command) {
    case 'check-config': {
      const config = await requireConfig(values.config);
      const web = await requireWebSettings(config, values['web.config.file']);
      const [{ configWarnings }, { maskedConfig }, { describeWebSettings }] = await Promise.all([
        import('./config/load.js'),
        import('./config/mask.js'),
        import('./web/web-config-describe.js'),
      ]);
      const warnings = [...configWarnings(config)];
      const shown = maskedConfig(config) as Record<string, unknown>;
      if (web !== undefined) {
        const described = describeWebSettings(web, Date.now());
        warnings.push(...described.warnings);
        shown.web_config = described.shown;
      }
      for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      process.stderr.write(`config OK: ${config.mailboxes.length} mailbox(es)\n`);
      if (web !== undefined)
        process.stderr.write(`web config OK: ${describeWebSettings(web, Date.now()).summary}\n`);
      return 0;
    }
    case 'probe': {
      const shard = values.shard === undefined ? undefined : parseShard(values.shard);
      const config = await requireConfig(values.config);
      return probeCommand(config, values.mailbox, values.json ?? false, shard);
    }
    case 'run': {
      // Before the config: a bad flag is a usage error (exit 2) before anything starts.
      const shard = values.shard === undefined ? undefined : parseShard(values.shard);
      await logSettings(values['log-format'], values['log-level']);
      const config = await requireConfig(values.config);
      // Read before anything starts: an invalid file is a config error (exit 2).
      const web = await requireWebSettings(config, values['web.config.file']);
      const { runDaemon } = await import('./daemon.js');
      return runDaemon(config, {
        shard,
        listen: values.listen,
        version: packageVersion(),
        web,
      });
    }
    case 'healthcheck': {
      // The config (its server.listen and web config) unless --listen alone says where.
      const config =
        listen === undefined || values.config !== undefined
          ? await requireConfig(values.config)
          : undefined;
      const address = listen ?? (config === undefined ? null : parseListen(config.server.listen));
      if (address === null) throw new UsageError('server.listen is not host:port');
      const web = await requireWebSettings(config, values['web.config.file']);
      const env = process.env;
      const pick = (flag: string | undefined, name: string) =>
        flag ?? (env[name] === '' ? undefined : env[name]);
      const { checkHealth } = await import('./web/health-check.js');
      const result = await checkHealth({
        address,
        // Without a web config file: plain HTTP when the config says so, else not known.
        tls: web !== undefined ? web.tls !== undefined : config === undefined ? undefined : false,
        cert: pick(values.cert, 'POP3_MONITOR_HEALTHCHECK_CERT'),
        key: pick(values.key, 'POP3_MONITOR_HEALTHCHECK_KEY'),
        ca: pick(values.ca, 'POP3_MONITOR_HEALTHCHECK_CA'),
      });
      process.stdout.write(`${result.line}\n`);
      return result.healthy ? 0 : 1;
    }
    case 'demo': {
      await logSettings(values['log-format'], values['log-level']);
      const { runDemo } = await import('./demo/demo.js');
      return runDemo({ version: packageVersion(), listen: values.listen });
    }
  }
}

async function entry(): Promise<void> {
  let code: number;
  try {
    code = await main(process.argv.slice(2));
  } catch (error) {
    if (error instanceof WebConfigError) {
      process.stderr.write(`invalid web config ${error.source ?? ''}:\n${error.message}\n`);
      code = 2;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`invalid config:\n${error.message}\n`);
      code = 2;
    } else if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      code = 2;
    } else if (error instanceof ShardError) {
      process.stderr.write(`${error.message}\n`);
      code = 2;
    } else {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      code = 1;
    }
  }
  // The one place that exits: after a daemon's shutdown nothing should keep us alive.
  process.exit(code);
}

function invokedDirectly(): boolean {
  try {
    return (
      process.argv[1] !== undefined &&
      realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
    );
  } catch {
    return false;
  }
}

if (invokedDirectly()) await entry();
