import { ConfigError, type ConfigIssue } from '../config/config-error.js';
import { FileReader, readUtf8File } from '../config/files.js';
import type { MailboxConfig } from '../config/schema.js';
import type { ProbeDeps } from '../probe/probe.js';
import { CHECK_USAGE, type CheckTarget, CheckUsageError, parseCheckArgs } from './args.js';
import { type ExitStatus, evaluate, unknownOutcome } from './outcome.js';

/**
 * `pop3-monitor check`: the Monitoring Plugins mode. Parses the arguments, finds the
 * mailbox (in a config, or from the flags alone, without loading the config loader), runs
 * one probe and prints one line. Only what the chosen form needs is imported, since such a
 * check runs every minute for every service.
 */

export interface CheckIo {
  out(text: string): void;
  env: NodeJS.ProcessEnv;
  now(): number;
  version: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function fileProblem(issues: readonly ConfigIssue[]): never {
  throw new ConfigError([...issues]);
}

/** The mailbox from --host and friends: the files read as the config loader reads them. */
function serverMailbox(target: Extract<CheckTarget, { kind: 'server' }>): MailboxConfig {
  const files = new FileReader(process.cwd(), readUtf8File);
  const password = files.secret('--password-file', target.passwordFile);
  const tlsCa =
    target.tlsCaFile === undefined
      ? undefined
      : files.certificates('--tls-ca-file', target.tlsCaFile);
  if (files.issues.length > 0) fileProblem(files.issues);
  return {
    name: `${target.user}@${target.host}:${target.port}`,
    host: target.host,
    port: target.port,
    username: target.user,
    password,
    schedule: '',
    timeout: DEFAULT_TIMEOUT_MS,
    tls: target.tls,
    tls_ca: tlsCa,
    tls_ca_file: target.tlsCaFile === undefined ? undefined : files.resolve(target.tlsCaFile),
    tls_insecure: false,
    tls_servername: undefined,
    auth: target.auth,
    top_lines: 0,
    pipelining: true,
    auth_failure_backoff: 0,
    labels: {},
    max_new_messages: 0,
    expect: [],
  };
}

async function configMailbox(
  target: Extract<CheckTarget, { kind: 'config' }>,
  env: NodeJS.ProcessEnv,
): Promise<MailboxConfig> {
  const { loadConfig, resolveConfigPath } = await import('../config/load.js');
  const path = resolveConfigPath(target.path, env);
  if (!path)
    throw new CheckUsageError('no config file: pass --config FILE or set POP3_MONITOR_CONFIG');
  const config = loadConfig(path, { env });
  const mailbox = config.mailboxes.find((m) => m.name === target.mailbox);
  if (mailbox === undefined) {
    throw new CheckUsageError(
      `--mailbox: no mailbox named ${JSON.stringify(target.mailbox)} in ${path}`,
    );
  }
  return mailbox;
}

/** What a config error says on one line: its first issue, and how many more there are. */
function configProblem(error: ConfigError): string {
  const [first, ...rest] = error.message.split('\n');
  return `invalid config: ${first}${rest.length > 0 ? ` (and ${rest.length} more)` : ''}`;
}

export async function runCheck(argv: readonly string[], io: CheckIo): Promise<ExitStatus> {
  let request: ReturnType<typeof parseCheckArgs>;
  try {
    request = parseCheckArgs(argv);
  } catch (error) {
    if (!(error instanceof CheckUsageError)) throw error;
    io.out(`${unknownOutcome(error.message).line}\n${CHECK_USAGE}\n`);
    return 3;
  }
  if (request.kind === 'help') {
    io.out(`${CHECK_USAGE}\n`);
    return 0;
  }
  if (request.kind === 'version') {
    io.out(`${io.version}\n`);
    return 0;
  }
  let mailbox: MailboxConfig;
  const deps: ProbeDeps = { transcript: request.verbose };
  try {
    if (request.target.kind === 'server') {
      mailbox = serverMailbox(request.target);
    } else {
      mailbox = await configMailbox(request.target, io.env);
      if (mailbox.oauth2) {
        const [{ TokenSource }, { systemClock }] = await Promise.all([
          import('../oauth/token-source.js'),
          import('../clock.js'),
        ]);
        deps.tokens = new TokenSource({ clock: systemClock });
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.out(`${unknownOutcome(configProblem(error)).line}\n`);
      return 3;
    }
    if (error instanceof CheckUsageError) {
      io.out(`${unknownOutcome(error.message).line}\n`);
      return 3;
    }
    throw error;
  }
  if (request.timeoutMs !== undefined) mailbox = { ...mailbox, timeout: request.timeoutMs };
  const { probeMailbox } = await import('../probe/probe.js');
  const result = await probeMailbox(mailbox, deps);
  const outcome = evaluate(result, request.thresholds, io.now());
  io.out(`${outcome.line}\n`);
  if (request.verbose && result.transcript) {
    const { formatTranscript } = await import('../probe/transcript.js');
    // Long output: a `|` there would start more perfdata.
    io.out(formatTranscript(result.transcript).replaceAll('|', '/'));
  }
  return outcome.exitStatus;
}
