import { MASK, type Secret } from '../secret.js';
import { formatDuration } from './duration.js';
import type { OAuth2Config } from './oauth2.js';
import type { Config, LoopConfig, MailboxConfig, RuleConfig, SmtpConfig } from './schema.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function secret(value: Secret | undefined): string | null {
  return value === undefined ? null : value.toJSON();
}

function orNull<T extends Json>(value: T | undefined): T | null {
  return value === undefined ? null : value;
}

/** A URL as written with any password in it masked (alertmanager URLs may carry one). */
export function maskUrl(url: string): string {
  // WHATWG URL: the authority ends at / ? # or \ (http/https), userinfo at its last @.
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#\\]*)([\s\S]*)$/i.exec(url);
  if (match === null) return url;
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at === -1 || colon === -1 || colon > at) return url;
  return `${scheme}${authority.slice(0, colon)}:${MASK}${authority.slice(at)}${rest}`;
}

function mailbox(m: MailboxConfig): Json {
  return {
    name: m.name,
    host: m.host,
    port: m.port,
    username: m.username,
    password: secret(m.password),
    password_file: orNull(m.password_file),
    schedule: m.schedule,
    timeout: formatDuration(m.timeout),
    tls: m.tls,
    tls_ca_file: orNull(m.tls_ca_file),
    tls_insecure: m.tls_insecure,
    tls_servername: orNull(m.tls_servername),
    auth: m.auth,
    top_lines: m.top_lines,
    pipelining: m.pipelining,
    auth_failure_backoff: formatDuration(m.auth_failure_backoff),
    labels: { ...m.labels },
    oauth2: m.oauth2 === undefined ? null : oauth2(m.oauth2),
    max_new_messages: m.max_new_messages,
    expect: m.expect.map((e) => ({
      name: e.name,
      from: orNull(e.from),
      subject: orNull(e.subject),
      within: formatDuration(e.within),
    })),
  };
}

function loop(l: LoopConfig): Json {
  const { from: _from, ...server } = smtp(l.smtp) as Record<string, Json>;
  return {
    name: l.name,
    schedule: l.schedule,
    smtp: server,
    from: l.from,
    to: l.to,
    mailbox: l.mailbox,
    deadline: formatDuration(l.deadline),
    cleanup: l.cleanup,
    hmac_key: secret(l.hmac_key),
    hmac_key_file: l.hmac_key_file,
  };
}

function oauth2(o: OAuth2Config): Json {
  return {
    provider: o.provider,
    grant: o.grant,
    token_url: o.token_url,
    client_id: o.client_id,
    client_auth: o.client_auth,
    client_secret: secret(o.client_secret),
    client_secret_file: orNull(o.client_secret_file),
    refresh_token: secret(o.refresh_token),
    refresh_token_file: orNull(o.refresh_token_file),
    scope: orNull(o.scope),
    timeout: o.timeout === undefined ? null : formatDuration(o.timeout),
  };
}

function smtp(s: SmtpConfig): Json {
  return {
    host: s.host,
    port: s.port,
    secure: s.secure,
    require_tls: s.require_tls,
    username: orNull(s.username),
    password: secret(s.password),
    password_file: orNull(s.password_file),
    from: s.from,
    tls_ca_file: orNull(s.tls_ca_file),
    tls_insecure: s.tls_insecure,
    timeout: formatDuration(s.timeout),
  };
}

function rule(r: RuleConfig): Json {
  return {
    name: r.name,
    metric: r.metric,
    op: r.op,
    value: r.value,
    for: formatDuration(r.for),
    severity: r.severity,
    mailboxes: r.mailboxes === undefined ? null : [...r.mailboxes],
    description: orNull(r.description),
  };
}

/**
 * The resolved config as plain JSON for `check-config`: every secret is the mask, file
 * paths are shown, durations read like `10s`, every mailbox carries its defaults, and
 * unset options appear as null so the output lists every option.
 */
export function maskedConfig(config: Config): unknown {
  const { server, alerting } = config;
  return {
    source: orNull(config.source),
    server: {
      listen: server.listen,
      basic_auth:
        server.basic_auth === undefined
          ? null
          : {
              username: server.basic_auth.username,
              password: secret(server.basic_auth.password),
              password_file: orNull(server.basic_auth.password_file),
            },
      bearer_token: secret(server.bearer_token),
      bearer_token_file: orNull(server.bearer_token_file),
      web_config_file: orNull(server.web_config_file),
    },
    state_dir: config.state_dir,
    scheduler: { ...config.scheduler },
    shard: config.shard === undefined ? null : `${config.shard.index}/${config.shard.count}`,
    mailboxes: config.mailboxes.map(mailbox),
    loops: config.loops.map(loop),
    alerting: {
      smtp: alerting.smtp === undefined ? null : smtp(alerting.smtp),
      to: [...alerting.to],
      repeat_interval: formatDuration(alerting.repeat_interval),
      group_wait: formatDuration(alerting.group_wait),
      send_resolved: alerting.send_resolved,
      external_url: alerting.external_url === undefined ? null : maskUrl(alerting.external_url),
      builtin_rules: { ...alerting.builtin_rules },
      rules: alerting.rules.map(rule),
      alertmanager:
        alerting.alertmanager === undefined
          ? null
          : {
              urls: alerting.alertmanager.urls.map(maskUrl),
              timeout: formatDuration(alerting.alertmanager.timeout),
            },
    },
    metrics: { ...config.metrics },
  } satisfies Json;
}
