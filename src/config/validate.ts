import type { z } from 'zod';
import { type ConfigIssue, formatPath } from './config-error.js';
import {
  alertingSchema,
  configFileSchema,
  defaultsSchema,
  type loopSchema,
  mailboxSchema,
} from './schema.js';
import { isPlainObject } from './substitute.js';
import { configErrorMap, describeKind, toConfigIssues } from './zod-issues.js';

export type MailboxData = z.output<typeof mailboxSchema>;
export type AlertingData = z.output<typeof alertingSchema>;
export type LoopData = z.output<typeof loopSchema>;
type FileData = z.output<typeof configFileSchema>;

/** Every section parsed, before any file is read. */
export interface Validated {
  server: FileData['server'];
  state_dir: string;
  scheduler: FileData['scheduler'];
  shard: string | undefined;
  mailboxes: MailboxData[];
  loops: LoopData[];
  alerting: AlertingData;
  metrics: FileData['metrics'];
}

/** The rules that exist unless `alerting.builtin_rules` turns them off: its keys. */
const BUILTIN_RULE_NAMES: readonly string[] = Object.keys(
  alertingSchema.shape.builtin_rules.unwrap().shape,
);

const SECRET_PAIR = ['password', 'password_file'] as const;

/**
 * Validates the substituted config tree section by section, in file order, so one bad
 * section does not hide the problems of another. Returns undefined when any issue was
 * found (they are pushed onto `issues`).
 */
export function validateConfig(
  root: Record<string, unknown>,
  issues: ConfigIssue[],
): Validated | undefined {
  const start = issues.length;
  const shape = configFileSchema.shape;
  // An empty section (`alerting:` with every child commented out) reads as null.
  const section = (key: string): unknown => (root[key] === null ? undefined : root[key]);
  for (const key of Object.keys(root)) {
    if (!Object.hasOwn(shape, key))
      issues.push({ path: formatPath([key]), message: 'unknown field' });
  }

  const rawServer = section('server');
  const server = parseSection(shape.server, rawServer, 'server', issues);
  const basicAuth = asObject(asObject(rawServer)?.basic_auth);
  if (basicAuth) issues.push(...secretPairIssues(basicAuth, 'server.basic_auth', true));

  const stateDir = parseSection(shape.state_dir, section('state_dir'), 'state_dir', issues);
  const scheduler = parseSection(shape.scheduler, section('scheduler'), 'scheduler', issues);
  const shard = parseSection(shape.shard, section('shard'), 'shard', issues);
  if (shard !== undefined) {
    const [index, count] = shard.split('/').map(Number) as [number, number];
    if (!(index < count))
      issues.push({ path: 'shard', message: 'expected INDEX below COUNT, such as 0/3' });
  }

  const defaults = validateDefaults(section('defaults'), issues);
  const { mailboxes, names } = validateMailboxes(root.mailboxes, defaults, issues);

  const rawLoops = section('loops');
  const loops = parseSection(shape.loops, rawLoops, 'loops', issues);
  if (Array.isArray(rawLoops)) issues.push(...loopIssues(rawLoops, names));

  const metrics = parseSection(shape.metrics, section('metrics'), 'metrics', issues);

  const rawAlerting = asObject(section('alerting'));
  const alerting = parseSection(alertingSchema, rawAlerting ?? {}, 'alerting', issues);
  if (rawAlerting) issues.push(...alertingIssues(rawAlerting, alerting, names));

  if (
    issues.length > start ||
    server === undefined ||
    stateDir === undefined ||
    scheduler === undefined ||
    alerting === undefined ||
    metrics === undefined ||
    mailboxes === undefined ||
    loops === undefined
  ) {
    return undefined;
  }
  return { server, state_dir: stateDir, scheduler, shard, mailboxes, loops, alerting, metrics };
}

function parseSection<T extends z.ZodType>(
  schema: T,
  value: unknown,
  path: string,
  issues: ConfigIssue[],
): z.output<T> | undefined {
  const result = schema.safeParse(value, { error: configErrorMap });
  if (result.success) return result.data;
  issues.push(...toConfigIssues(path, result.error.issues));
  return undefined;
}

interface Defaults {
  /** The defaults that validated, ready to merge under each mailbox. */
  values: Record<string, unknown>;
  /** Keys already reported under `defaults.` and so left out of the merge. */
  dropped: Set<string>;
}

function validateDefaults(raw: unknown, issues: ConfigIssue[]): Defaults {
  const dropped = new Set<string>();
  if (raw === undefined) return { values: {}, dropped };
  if (!isPlainObject(raw)) {
    issues.push({ path: 'defaults', message: `expected a mapping, got ${describeKind(raw)}` });
    return { values: {}, dropped };
  }
  const result = defaultsSchema.safeParse(raw, { error: configErrorMap });
  if (!result.success) {
    issues.push(...toConfigIssues('defaults', result.error.issues));
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) dropped.add(key);
      else dropped.add(String(issue.path[0]));
    }
  }
  const pair = secretPairIssues(raw, 'defaults', false);
  if (pair.length > 0) {
    issues.push(...pair);
    for (const key of SECRET_PAIR) dropped.add(key);
  }
  const values = Object.fromEntries(Object.entries(raw).filter(([key]) => !dropped.has(key)));
  return { values, dropped };
}

function validateMailboxes(
  raw: unknown,
  defaults: Defaults,
  issues: ConfigIssue[],
): { mailboxes: MailboxData[] | undefined; names: Set<string> } {
  const names = new Map<string, number>();
  const list = parseSection(configFileSchema.shape.mailboxes, raw, 'mailboxes', issues);
  if (!Array.isArray(raw)) return { mailboxes: undefined, names: new Set() };
  const mailboxes: MailboxData[] = [];
  raw.forEach((own, index) => {
    const path = `mailboxes[${index}]`;
    if (!isPlainObject(own)) {
      issues.push({ path, message: `expected a mapping, got ${describeKind(own)}` });
      return;
    }
    const mailbox = mergeMailbox(defaults.values, own);
    const result = mailboxSchema.safeParse(mailbox, { error: configErrorMap });
    if (result.success) mailboxes.push(result.data);
    else {
      // A default already reported under `defaults.` is not reported again per mailbox.
      const reported = result.error.issues.filter(
        (i) =>
          !(
            i.path.length === 1 &&
            defaults.dropped.has(String(i.path[0])) &&
            i.message === 'required'
          ),
      );
      issues.push(...toConfigIssues(path, reported));
    }
    const inheritsBadSecret = SECRET_PAIR.some((key) => defaults.dropped.has(key));
    if (isPlainObject(mailbox.oauth2)) issues.push(...oauth2MailboxIssues(mailbox, own, path));
    else issues.push(...secretPairIssues(mailbox, path, !inheritsBadSecret));
    if (Array.isArray(own.expect)) issues.push(...duplicateNames(own.expect, `${path}.expect`));
    if (typeof mailbox.name === 'string') {
      const first = names.get(mailbox.name);
      if (first === undefined) names.set(mailbox.name, index);
      else {
        issues.push({
          path: `${path}.name`,
          message: `duplicate name ${JSON.stringify(mailbox.name)} (also mailboxes[${first}])`,
        });
      }
    }
  });
  const complete = list !== undefined && mailboxes.length === raw.length;
  return { mailboxes: complete ? mailboxes : undefined, names: new Set(names.keys()) };
}

/**
 * Mailbox keys win over defaults; `labels` maps merge. password and password_file are
 * one setting: a mailbox that sets either replaces whichever the defaults set.
 */
export function mergeMailbox(
  defaults: Record<string, unknown>,
  own: Record<string, unknown>,
): Record<string, unknown> {
  const ownsSecret = SECRET_PAIR.some((key) => Object.hasOwn(own, key));
  const inherited = Object.entries(defaults).filter(
    ([key]) => !(ownsSecret && (SECRET_PAIR as readonly string[]).includes(key)),
  );
  // fromEntries defines own properties, so a `__proto__` key stays a (rejected) key.
  const merged = Object.fromEntries([...inherited, ...Object.entries(own)]);
  if (isPlainObject(defaults.labels) && isPlainObject(own.labels)) {
    merged.labels = Object.fromEntries([
      ...Object.entries(defaults.labels),
      ...Object.entries(own.labels),
    ]);
  }
  return merged;
}

function alertingIssues(
  raw: Record<string, unknown>,
  alerting: AlertingData | undefined,
  mailboxNames: Set<string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const smtp = asObject(raw.smtp);
  if (smtp) issues.push(...smtpIssues(smtp));
  if (alerting?.smtp !== undefined && alerting.to.length === 0) {
    const builtin = alerting.builtin_rules;
    if (alerting.rules.length > 0 || builtin.login_failed || builtin.unreachable) {
      issues.push({
        path: 'alerting.to',
        message: 'expected at least one recipient when alerting.smtp is set',
      });
    }
  }
  if (Array.isArray(raw.rules)) issues.push(...ruleIssues(raw.rules, raw, mailboxNames));
  return issues;
}

function ruleIssues(
  rules: unknown[],
  rawAlerting: Record<string, unknown>,
  mailboxNames: Set<string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const builtin = asObject(rawAlerting.builtin_rules) ?? {};
  const seen = new Map<string, number>();
  rules.forEach((rule, index) => {
    if (!isPlainObject(rule)) return;
    const path = `alerting.rules[${index}]`;
    const name = rule.name;
    if (typeof name === 'string') {
      const first = seen.get(name);
      if (first !== undefined) {
        issues.push({
          path: `${path}.name`,
          message: `duplicate name ${JSON.stringify(name)} (also alerting.rules[${first}])`,
        });
      } else {
        seen.set(name, index);
        // A user rule may take a built-in's name only once the built-in is off.
        if (BUILTIN_RULE_NAMES.includes(name) && builtin[name] !== false) {
          issues.push({
            path: `${path}.name`,
            message: `"${name}" is a built-in rule; pick another name or set alerting.builtin_rules.${name}: false`,
          });
        }
      }
    }
    if (Array.isArray(rule.mailboxes)) {
      rule.mailboxes.forEach((mailbox, at) => {
        if (typeof mailbox === 'string' && mailbox !== '' && !mailboxNames.has(mailbox)) {
          issues.push({
            path: `${path}.mailboxes[${at}]`,
            message: `unknown mailbox ${JSON.stringify(mailbox)}`,
          });
        }
      });
    }
  });
  return issues;
}

function smtpIssues(smtp: Record<string, unknown>, path = 'alerting.smtp'): ConfigIssue[] {
  const pair = secretPairIssues(smtp, path, false);
  if (pair.length > 0) return pair;
  const hasSecret = SECRET_PAIR.some((key) => has(smtp, key));
  if (has(smtp, 'username') && !hasSecret) {
    return [{ path, message: 'username needs password or password_file' }];
  }
  if (!has(smtp, 'username') && hasSecret) {
    return [{ path, message: 'password or password_file needs username' }];
  }
  return [];
}

/** `loops:`: names unique, each loop's mailbox configured, its smtp credentials whole. */
function loopIssues(loops: unknown[], mailboxNames: Set<string>): ConfigIssue[] {
  const issues = duplicateNames(loops, 'loops');
  loops.forEach((loop, index) => {
    if (!isPlainObject(loop)) return;
    const path = `loops[${index}]`;
    const smtp = asObject(loop.smtp);
    if (smtp) issues.push(...smtpIssues(smtp, `${path}.smtp`));
    if (
      typeof loop.mailbox === 'string' &&
      loop.mailbox !== '' &&
      !mailboxNames.has(loop.mailbox)
    ) {
      issues.push({
        path: `${path}.mailbox`,
        message: `unknown mailbox ${JSON.stringify(loop.mailbox)} (a loop's mailbox must be one of mailboxes:)`,
      });
    }
  });
  return issues;
}

/** Entries of a list whose `name` repeats an earlier one's. */
function duplicateNames(list: unknown[], path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  list.forEach((entry, index) => {
    const name = isPlainObject(entry) ? entry.name : undefined;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, index);
    else
      issues.push({
        path: `${path}[${index}].name`,
        message: `duplicate name ${JSON.stringify(name)} (also ${path}[${first}])`,
      });
  });
  return issues;
}

const TOKEN_AUTH: readonly unknown[] = ['auto', 'xoauth2', 'oauthbearer'];

/** A mailbox with oauth2: its token replaces the password, and only SASL with a token fits. */
function oauth2MailboxIssues(
  mailbox: Record<string, unknown>,
  own: Record<string, unknown>,
  path: string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (mailbox.auth !== undefined && !TOKEN_AUTH.includes(mailbox.auth))
    issues.push({
      path: `${path}.auth`,
      message: 'expected xoauth2, oauthbearer or auto with oauth2',
    });
  if (SECRET_PAIR.some((key) => has(own, key)))
    issues.push({
      path,
      message: 'oauth2 fetches the token: leave out password and password_file',
    });
  return issues;
}

function has(object: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(object, key) && object[key] !== undefined;
}

function secretPairIssues(
  object: Record<string, unknown>,
  path: string,
  required: boolean,
): ConfigIssue[] {
  const [hasPassword, hasFile] = SECRET_PAIR.map((key) => has(object, key));
  if (hasPassword && hasFile) {
    return [{ path, message: 'password and password_file are mutually exclusive' }];
  }
  if (required && !hasPassword && !hasFile) {
    return [{ path, message: 'password or password_file is required' }];
  }
  return [];
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return isPlainObject(value) ? value : undefined;
}
