import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { maskSecrets } from '../secret.js';
import { buildConfig } from './build.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { describeReadError, FileReader, type ReadFile, readUtf8File } from './files.js';
import type { Config } from './schema.js';
import { isPlainObject, substituteEnv } from './substitute.js';
import { validateConfig } from './validate.js';
import { parseYaml } from './yaml.js';
import { describeKind } from './zod-issues.js';

export { ConfigError, type ConfigIssue } from './config-error.js';
export { configWarnings } from './warnings.js';

export interface ParseConfigOptions {
  /** Where `${VAR}` is looked up; process.env when absent. */
  env?: NodeJS.ProcessEnv;
  /** Folder that relative *_file paths resolve against; the working directory when absent. */
  baseDir?: string;
  /** The file name, for Config.source and ConfigError.source. */
  source?: string;
  /** Reads a *_file setting; tests inject one. */
  readFile?: ReadFile;
}

/** Environment variable naming the config file when --config is not given. */
export const CONFIG_ENV_VAR = 'POP3_MONITOR_CONFIG';

/** `--config` wins, else POP3_MONITOR_CONFIG; null when neither is set. */
export function resolveConfigPath(
  cliValue: string | undefined,
  env: NodeJS.ProcessEnv,
): string | null {
  if (cliValue !== undefined && cliValue !== '') return cliValue;
  const fromEnv = env[CONFIG_ENV_VAR];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : null;
}

/** Reads and validates a config file; relative *_file paths resolve against its folder. */
export function loadConfig(path: string, options: { env?: NodeJS.ProcessEnv } = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      [{ path: '', message: `cannot read config file ${path}: ${describeReadError(error)}` }],
      { source: path },
    );
  }
  return parseConfig(text, {
    ...(options.env === undefined ? {} : { env: options.env }),
    baseDir: dirname(resolve(path)),
    source: path,
  });
}

/** Parses YAML text into a Config; throws ConfigError listing every problem found. */
export function parseConfig(text: string, options: ParseConfigOptions = {}): Config {
  const source = options.source;
  const env = options.env ?? process.env;
  const secrets: string[] = [];
  const fail = (issues: ConfigIssue[]): never => {
    throw new ConfigError(scrub(issues, secrets), { source });
  };

  const parsed = parseYaml(text, fail);
  if (parsed === null || parsed === undefined) {
    return fail([
      { path: '', message: 'the config file is empty; it needs at least a mailboxes: list' },
    ]);
  }
  if (!isPlainObject(parsed)) {
    return fail([
      {
        path: '',
        message: `expected a mapping at the top level (server:, defaults:, mailboxes:, alerting:), got ${describeKind(parsed)}`,
      },
    ]);
  }
  const substituted = substituteEnv(parsed, env);
  const root = substituted.value as Record<string, unknown>; // a mapping stays a mapping
  collectPasswords(root, secrets);

  const issues: ConfigIssue[] = [];
  const validated = validateConfig(root, issues);
  // A field whose ${VAR} failed holds the text as written; its other issues are noise.
  const unresolved = substituted.issues.map((issue) => issue.path);
  const all = [...substituted.issues, ...issues.filter((i) => !isUnder(i.path, unresolved))];
  if (all.length > 0) return fail(all);
  if (validated === undefined) return fail([{ path: '', message: 'invalid config' }]);

  // Files are read only once everything else is valid: no read for a path that is wrong.
  const files = new FileReader(options.baseDir ?? process.cwd(), options.readFile ?? readUtf8File);
  const config = buildConfig(validated, files, source);
  secrets.push(...files.secrets);
  if (files.issues.length > 0) return fail(files.issues);
  return config;
}

/** True when `path` is one of `parents` or lies below one. */
function isUnder(path: string, parents: string[]): boolean {
  return parents.some(
    (parent) => path === parent || path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`),
  );
}

/** Every string under a `password` key: kept out of error messages whatever happens. */
function collectPasswords(node: unknown, into: string[]): void {
  if (Array.isArray(node)) for (const item of node) collectPasswords(item, into);
  else if (isPlainObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'password' && typeof value === 'string') into.push(value);
      else collectPasswords(value, into);
    }
  }
}

// Our messages never carry a field's value anyway: this is a second line of defence.
function scrub(issues: ConfigIssue[], secrets: string[]): ConfigIssue[] {
  const clean = (text: string): string => maskSecrets(text, secrets);
  return issues.map((issue) => ({ path: clean(issue.path), message: clean(issue.message) }));
}
