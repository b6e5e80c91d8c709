import cron from 'node-cron';
import { z } from 'zod';
import { isOwnLabelName } from '../metrics/label-names.js';
import type { Secret } from '../secret.js';
import { MAX_DURATION_MS, parseDuration } from './duration.js';
import { parseListen } from './listen.js';
import { AUTH_METHODS, type AuthMethod, TLS_MODES, type TlsMode } from './modes.js';
import {
  OAUTH2_CLIENT_AUTH,
  OAUTH2_GRANTS,
  OAUTH2_PROVIDERS,
  type OAuth2Config,
  refineOAuth2,
} from './oauth2.js';
import { nonEmpty } from './zod-issues.js';

/**
 * Numbers and booleans may also be written as strings, so `${PORT}` from the
 * environment (always text) fills a numeric field: "995" → 995, "true" → true.
 */
function fromText(value: unknown, kind: 'number' | 'boolean'): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (kind === 'number' && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (kind === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return value;
}
const num = <T extends z.ZodType>(schema: T) => z.preprocess((v) => fromText(v, 'number'), schema);
const bool = () => z.preprocess((v) => fromText(v, 'boolean'), z.boolean());

/**
 * `pipelining:` true (within a state, the default), false (never), or full (also across
 * the login; src/pop3/client.ts says why that is not the default).
 */
export type Pipelining = boolean | 'full';
const pipelining = () =>
  z.preprocess(
    (v) => fromText(v, 'boolean'),
    z.union([z.boolean(), z.literal('full')], { error: 'expected true, false or full' }),
  );

// Messages never echo the value: it may have come from an environment variable, and
// the field path already tells the user where to look.
const DURATION_MESSAGE = 'expected a duration such as 10s, 5m or 4h';

/** A duration written as `500ms`, `10s`, `5m`, `4h`, `1h30m`; a bare number means seconds. */
export const durationMs = z
  .union([z.string(), z.number()], { error: DURATION_MESSAGE })
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === null) {
      ctx.addIssue(DURATION_MESSAGE);
      return z.NEVER;
    }
    // Node timers overflow past 2^31-1 ms and then fire at once.
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue('expected at most 24d');
      return z.NEVER;
    }
    return ms;
  });

const positiveDurationMs = durationMs.refine((ms) => ms > 0, 'expected a duration above 0');

const cronExpression = z.string().superRefine((expr, ctx) => {
  // node-cron's validator: the parser that fires the schedules.
  const [first] = cron.validateDetailed(expr).errors;
  if (first === undefined) return;
  const why = first.field === 'expression' ? first.message : `the ${first.field} field is invalid`;
  ctx.addIssue(`not a valid cron expression: ${why}`);
});

const hostName = nonEmpty()
  .max(253, 'at most 253 characters')
  .regex(
    /^(?:[^\s/:[\]@]+|\[?[0-9a-fA-F:.]+\]?)$/,
    'expected a host name or IP address (the port goes in port:)',
  );

const labelName = z
  .string()
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)')
  .refine((n) => !n.startsWith('__'), 'label names starting with __ are reserved')
  .refine((n) => !isOwnLabelName(n), 'this label name is used by pop3-monitor itself');

export { AUTH_METHODS, type AuthMethod, TLS_MODES, type TlsMode } from './modes.js';

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/** A mailbox's `oauth2:` block (src/config/oauth2.ts has its cross-field rules). */
export const oauth2Schema = z
  .strictObject({
    provider: z.enum(OAUTH2_PROVIDERS),
    tenant: z
      .string()
      .regex(
        /^[A-Za-z0-9.-]+$/,
        'expected a directory ID or domain such as contoso.onmicrosoft.com',
      )
      .optional(),
    token_url: httpUrl.optional(),
    grant: z.enum(OAUTH2_GRANTS).optional(),
    client_id: nonEmpty(),
    client_secret_file: nonEmpty().optional(),
    client_auth: z.enum(OAUTH2_CLIENT_AUTH).optional(),
    refresh_token_file: nonEmpty().optional(),
    scope: nonEmpty().optional(),
    timeout: positiveDurationMs.optional(),
  })
  .superRefine(refineOAuth2);

/**
 * Every field a mailbox may have apart from its identity; `defaults:` takes any of them.
 * Secrets are strings here and become `Secret`s in the loader.
 */
export const mailboxSettingsShape = {
  host: hostName,
  port: num(z.number().int().min(1, 'expected 1-65535').max(65535, 'expected 1-65535')),
  username: nonEmpty(),
  password: nonEmpty(),
  password_file: nonEmpty(),
  schedule: cronExpression,
  timeout: positiveDurationMs,
  tls: z.enum(TLS_MODES),
  tls_ca_file: nonEmpty(),
  tls_insecure: bool(),
  tls_servername: nonEmpty(),
  auth: z.enum(AUTH_METHODS),
  top_lines: num(z.number().int().min(0).max(1000)),
  pipelining: pipelining(),
  auth_failure_backoff: durationMs,
  labels: z.record(labelName, z.string().max(256, 'label values are at most 256 characters')),
  oauth2: oauth2Schema,
  max_new_messages: num(z.number().int().min(1).max(1000)),
};

/** A name that is a label value and goes into a mail header: no blanks, ';' or '='. */
const flowName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 letters, digits, _ . or -');

/** A regular expression as written in the config (matched case-insensitively). */
const headerPattern = nonEmpty().superRefine((source, ctx) => {
  try {
    new RegExp(source, 'iu');
  } catch (error) {
    const why = (error as Error).message.replace(/^Invalid regular expression: /, '');
    ctx.addIssue(`not a valid regular expression: ${why}`);
  }
});

/** An `expect:` watch of a mailbox: mail that must keep arriving. */
export const expectSchema = z
  .strictObject({
    name: flowName,
    from: headerPattern.optional(),
    subject: headerPattern.optional(),
    within: positiveDurationMs,
  })
  .refine((e) => e.from !== undefined || e.subject !== undefined, {
    message: 'expected from, subject or both',
  });

export const defaultsSchema = z.strictObject(mailboxSettingsShape).partial();

export const mailboxSchema = z.strictObject({
  // name first: issues are listed in key order, and a missing name reads best first.
  name: nonEmpty()
    .max(128, 'at most 128 characters')
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces'),
  ...mailboxSettingsShape,
  host: hostName,
  port: mailboxSettingsShape.port.optional(),
  username: mailboxSettingsShape.username,
  password: mailboxSettingsShape.password.optional(),
  password_file: mailboxSettingsShape.password_file.optional(),
  schedule: cronExpression.default('*/60 * * * * *'),
  timeout: positiveDurationMs.default(10_000),
  tls: z.enum(TLS_MODES).default('implicit'),
  tls_ca_file: mailboxSettingsShape.tls_ca_file.optional(),
  tls_insecure: bool().default(false),
  tls_servername: mailboxSettingsShape.tls_servername.optional(),
  auth: z.enum(AUTH_METHODS).default('auto'),
  top_lines: mailboxSettingsShape.top_lines.default(0),
  pipelining: pipelining().default(true),
  auth_failure_backoff: durationMs.default(15 * 60_000),
  labels: mailboxSettingsShape.labels.default({}),
  oauth2: oauth2Schema.optional(),
  max_new_messages: mailboxSettingsShape.max_new_messages.default(20),
  expect: z.array(expectSchema).default([]),
});

const listenAddress = z.string().superRefine((s, ctx) => {
  if (parseListen(s) === null) {
    ctx.addIssue('expected host:port, such as 0.0.0.0:9469 or 127.0.0.1:9469');
  }
});

export const serverSchema = z.strictObject({
  listen: listenAddress.default('0.0.0.0:9469'),
  /** Optional protection for users who expose the port: basic auth or a bearer token. */
  basic_auth: z
    .strictObject({
      username: nonEmpty(),
      password: nonEmpty().optional(),
      password_file: nonEmpty().optional(),
    })
    .optional(),
  bearer_token_file: nonEmpty().optional(),
  /**
   * HTTPS, client certificates, bcrypt basic auth, headers and a rate limit, in the web
   * configuration format of the Prometheus exporters (src/web/web-config-schema.ts).
   */
  web_config_file: nonEmpty().optional(),
});

export const schedulerSchema = z.strictObject({
  max_concurrent_probes: num(z.number().int().min(1)).default(64),
  max_concurrent_per_host: num(z.number().int().min(1)).default(4),
});

const RULE_METRICS = [
  'messages',
  'size_bytes',
  'probe_duration_seconds',
  'oldest_message_age_seconds',
  'consecutive_failures',
  'consecutive_login_failures',
  'cert_expiry_days',
  // Mail flow: per delivery loop, and per expect watch.
  'delivery_seconds',
  'delivery_lost',
  'expect_age_seconds',
] as const;
export type RuleMetric = (typeof RULE_METRICS)[number];
export { RULE_METRICS };
export const RULE_OPS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type RuleOp = (typeof RULE_OPS)[number];
export const SEVERITIES = ['warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ruleSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[a-zA-Z_][a-zA-Z0-9_]*$/,
      'expected letters, digits and _ (it is a label value and part of the subject)',
    ),
  metric: z.enum(RULE_METRICS),
  op: z.enum(RULE_OPS),
  value: num(z.number()),
  for: durationMs.default(0),
  severity: z.enum(SEVERITIES).default('warning'),
  mailboxes: z
    .array(nonEmpty())
    .min(1, 'expected at least one mailbox name (leave mailboxes out for all)')
    .optional(),
  description: z.string().optional(),
});

export const smtpSchema = z.strictObject({
  host: hostName,
  port: num(z.number().int().min(1, 'expected 1-65535').max(65535, 'expected 1-65535')).default(
    587,
  ),
  secure: bool().default(false),
  require_tls: bool().default(false),
  username: nonEmpty().optional(),
  password: nonEmpty().optional(),
  password_file: nonEmpty().optional(),
  from: z.string().min(3, 'expected an address such as "pop3-monitor <monitor@example.com>"'),
  tls_ca_file: nonEmpty().optional(),
  tls_insecure: bool().default(false),
  timeout: positiveDurationMs.default(30_000),
});

export const alertingSchema = z.strictObject({
  smtp: smtpSchema.optional(),
  to: z.array(z.string().min(3, 'expected an email address')).default([]),
  repeat_interval: positiveDurationMs.default(4 * 3_600_000),
  group_wait: durationMs.default(10_000),
  send_resolved: bool().default(true),
  external_url: httpUrl.optional(),
  builtin_rules: z
    .strictObject({
      login_failed: bool().default(true),
      unreachable: bool().default(true),
      delivery_lost: bool().default(true),
      expect_overdue: bool().default(true),
    })
    .default({
      login_failed: true,
      unreachable: true,
      delivery_lost: true,
      expect_overdue: true,
    }),
  rules: z.array(ruleSchema).default([]),
  alertmanager: z
    .strictObject({
      urls: z.array(httpUrl).min(1, 'expected at least one URL'),
      timeout: positiveDurationMs.default(10_000),
    })
    .optional(),
});

/** The SMTP submission of a delivery loop: alerting.smtp's fields; `from` is the loop's. */
export const loopSmtpSchema = smtpSchema.omit({ from: true });

/** A delivery loop (`loops:`): a signed probe message sent over SMTP, timed until POP3 sees it. */
export const loopSchema = z.strictObject({
  name: flowName,
  schedule: cronExpression.default('0 */5 * * * *'),
  smtp: loopSmtpSchema,
  from: z.string().min(3, 'expected an address such as monitor@example.com'),
  to: z.string().min(3, 'expected an address such as support@example.com'),
  mailbox: nonEmpty(),
  deadline: positiveDurationMs.default(10 * 60_000),
  cleanup: bool().default(false),
  hmac_key_file: nonEmpty(),
});

/** What /metrics exposes beyond the default budget of series per mailbox. */
export const metricsSchema = z.strictObject({
  /** Per-mailbox, per-phase histograms (pop3_mailbox_phase_duration_seconds): small fleets. */
  mailbox_phases: bool().default(false),
});

export const configFileSchema = z.strictObject({
  server: serverSchema.default({ listen: '0.0.0.0:9469' }),
  state_dir: nonEmpty().default('./data'),
  scheduler: schedulerSchema.default({ max_concurrent_probes: 64, max_concurrent_per_host: 4 }),
  shard: z
    .string()
    .regex(/^\d+\/\d+$/, 'expected INDEX/COUNT such as 0/3')
    .optional(),
  defaults: z.unknown().optional(),
  mailboxes: z.array(z.unknown()).min(1, 'expected at least one mailbox'),
  loops: z.array(loopSchema).default([]),
  alerting: alertingSchema.optional(),
  metrics: metricsSchema.default({ mailbox_phases: false }),
});

export type RuleConfig = z.output<typeof ruleSchema>;

/** A mailbox after defaults, environment and secret files are resolved. */
export interface MailboxConfig {
  name: string;
  host: string;
  port: number;
  username: string;
  /** Password, or for xoauth2/oauthbearer without oauth2 a fixed bearer token. */
  password: Secret | undefined;
  /** Where the password was read from (resolved path), for display. */
  password_file?: string | undefined;
  schedule: string;
  /** Whole-probe deadline, ms. */
  timeout: number;
  tls: TlsMode;
  /** Extra trusted CA certificates (PEM), read from tls_ca_file. */
  tls_ca: string | undefined;
  tls_ca_file: string | undefined;
  tls_insecure: boolean;
  tls_servername: string | undefined;
  auth: AuthMethod;
  top_lines: number;
  pipelining: Pipelining;
  /** ms */
  auth_failure_backoff: number;
  labels: Record<string, string>;
  /** Tokens fetched and refreshed by the monitor (auth xoauth2 / oauthbearer). */
  oauth2?: OAuth2Config | undefined;
  /** At most this many new messages get their headers read per probe (loops, watches). */
  max_new_messages: number;
  expect: ExpectConfig[];
}

export interface ExpectConfig {
  name: string;
  /** Patterns as written; matched case-insensitively against the decoded header. */
  from: string | undefined;
  subject: string | undefined;
  /** ms */
  within: number;
}

export interface LoopConfig {
  name: string;
  schedule: string;
  /** `from` is the loop's own. */
  smtp: SmtpConfig;
  from: string;
  to: string;
  mailbox: string;
  /** ms */
  deadline: number;
  cleanup: boolean;
  hmac_key: Secret;
  /** Resolved path the key was read from, for display. */
  hmac_key_file: string;
}

export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  require_tls: boolean;
  username: string | undefined;
  password: Secret | undefined;
  /** Resolved path the password was read from, for display. */
  password_file?: string | undefined;
  from: string;
  tls_ca: string | undefined;
  /** Resolved path tls_ca was read from, for display. */
  tls_ca_file?: string | undefined;
  tls_insecure: boolean;
  timeout: number;
}

export interface AlertingConfig {
  smtp: SmtpConfig | undefined;
  to: string[];
  repeat_interval: number;
  group_wait: number;
  send_resolved: boolean;
  external_url: string | undefined;
  /** The mail-flow ones are on when absent (they apply only to loops and watches). */
  builtin_rules: {
    login_failed: boolean;
    unreachable: boolean;
    delivery_lost?: boolean;
    expect_overdue?: boolean;
  };
  rules: RuleConfig[];
  alertmanager: { urls: string[]; timeout: number } | undefined;
}

export interface ServerConfig {
  listen: string;
  basic_auth:
    | { username: string; password: Secret; password_file?: string | undefined }
    | undefined;
  bearer_token: Secret | undefined;
  /** Resolved path bearer_token was read from, for display. */
  bearer_token_file?: string | undefined;
  /** The web configuration file (resolved); read by src/web/, not by the config loader. */
  web_config_file?: string | undefined;
}

export interface MetricsConfig {
  mailbox_phases: boolean;
}

export interface Config {
  server: ServerConfig;
  state_dir: string;
  scheduler: { max_concurrent_probes: number; max_concurrent_per_host: number };
  shard: { index: number; count: number } | undefined;
  mailboxes: MailboxConfig[];
  loops: LoopConfig[];
  alerting: AlertingConfig;
  metrics: MetricsConfig;
  /** The file it was read from, for reloads and messages. */
  source: string | undefined;
}
