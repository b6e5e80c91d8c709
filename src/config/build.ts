import { Secret } from '../secret.js';
import { joinPath } from './config-error.js';
import type { FileReader } from './files.js';
import { type OAuth2Config, type OAuth2Data, resolveOAuth2 } from './oauth2.js';
import type { Config, LoopConfig, MailboxConfig, ServerConfig, SmtpConfig } from './schema.js';
import type { AlertingData, LoopData, MailboxData, Validated } from './validate.js';

/** Assembles the Config, reading every *_file setting through `files`. */
export function buildConfig(
  valid: Validated,
  files: FileReader,
  source: string | undefined,
): Config {
  const mailboxes = valid.mailboxes.map((m, index) =>
    buildMailbox(m, `mailboxes[${index}]`, files),
  );
  return {
    server: buildServer(valid.server, files),
    state_dir: valid.state_dir,
    scheduler: valid.scheduler,
    shard: parseShard(valid.shard),
    mailboxes,
    loops: valid.loops.map((loop, index) => buildLoop(loop, `loops[${index}]`, files)),
    alerting: buildAlerting(valid.alerting, files),
    metrics: { mailbox_phases: valid.metrics.mailbox_phases },
    source,
  };
}

function buildLoop(loop: LoopData, path: string, files: FileReader): LoopConfig {
  const at = joinPath(path, 'hmac_key_file');
  return {
    name: loop.name,
    schedule: loop.schedule,
    smtp: buildSmtp({ ...loop.smtp, from: loop.from }, joinPath(path, 'smtp'), files),
    from: loop.from,
    to: loop.to,
    mailbox: loop.mailbox,
    deadline: loop.deadline,
    cleanup: loop.cleanup,
    // A failed read is an issue already; the config is then refused.
    hmac_key: files.hmacKey(at, loop.hmac_key_file) ?? new Secret(''),
    hmac_key_file: files.resolve(loop.hmac_key_file),
  };
}

function parseShard(shard: string | undefined): Config['shard'] {
  if (shard === undefined) return undefined;
  const [index, count] = shard.split('/').map(Number);
  return { index: index as number, count: count as number };
}

function secretOf(
  value: string | undefined,
  file: string | undefined,
  path: string,
  files: FileReader,
): Secret | undefined {
  if (file !== undefined) return files.secret(joinPath(path, 'password_file'), file);
  return value === undefined ? undefined : new Secret(value);
}

/** A `tls_ca_file:` (of a mailbox or an SMTP server): its certificates, read now, and its path. */
function tlsCa(file: string | undefined, path: string, files: FileReader) {
  if (file === undefined) return { tls_ca: undefined, tls_ca_file: undefined };
  return {
    tls_ca: files.certificates(joinPath(path, 'tls_ca_file'), file),
    tls_ca_file: files.resolve(file),
  };
}

function buildMailbox(m: MailboxData, path: string, files: FileReader): MailboxConfig {
  return {
    name: m.name,
    host: m.host,
    // RFC 8314 §3.3: implicit TLS on 995; RFC 1939 and RFC 2595 STLS on 110.
    port: m.port ?? (m.tls === 'implicit' ? 995 : 110),
    username: m.username,
    // With oauth2 the token comes from the token source; an inherited password is unused.
    password: m.oauth2 ? undefined : secretOf(m.password, m.password_file, path, files),
    password_file:
      m.oauth2 || m.password_file === undefined ? undefined : files.resolve(m.password_file),
    schedule: m.schedule,
    timeout: m.timeout,
    tls: m.tls,
    ...tlsCa(m.tls_ca_file, path, files),
    tls_insecure: m.tls_insecure,
    tls_servername: m.tls_servername,
    auth: m.auth,
    top_lines: m.top_lines,
    pipelining: m.pipelining,
    auth_failure_backoff: m.auth_failure_backoff,
    labels: m.labels,
    oauth2: m.oauth2 === undefined ? undefined : buildOAuth2(m.oauth2, path, files),
    max_new_messages: m.max_new_messages,
    expect: m.expect.map((e) => ({
      name: e.name,
      from: e.from,
      subject: e.subject,
      within: e.within,
    })),
  };
}

function buildOAuth2(data: OAuth2Data, path: string, files: FileReader): OAuth2Config {
  const at = joinPath(path, 'oauth2');
  return resolveOAuth2(data, {
    secret: (field, file) => files.secret(joinPath(at, field), file),
    resolve: (file) => files.resolve(file),
  });
}

function buildServer(server: Validated['server'], files: FileReader): ServerConfig {
  const auth = server.basic_auth;
  let basicAuth: ServerConfig['basic_auth'];
  if (auth !== undefined) {
    const password = secretOf(auth.password, auth.password_file, 'server.basic_auth', files);
    basicAuth = {
      username: auth.username,
      // Validation made one of the two required; a failed read is an issue already.
      password: password ?? new Secret(''),
      password_file:
        auth.password_file === undefined ? undefined : files.resolve(auth.password_file),
    };
  }
  const tokenFile = server.bearer_token_file;
  return {
    listen: server.listen,
    basic_auth: basicAuth,
    bearer_token:
      tokenFile === undefined ? undefined : files.secret('server.bearer_token_file', tokenFile),
    bearer_token_file: tokenFile === undefined ? undefined : files.resolve(tokenFile),
    web_config_file:
      server.web_config_file === undefined ? undefined : files.resolve(server.web_config_file),
  };
}

function buildSmtp(
  smtp: NonNullable<AlertingData['smtp']>,
  path: string,
  files: FileReader,
): SmtpConfig {
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    require_tls: smtp.require_tls,
    username: smtp.username,
    password: secretOf(smtp.password, smtp.password_file, path, files),
    password_file: smtp.password_file === undefined ? undefined : files.resolve(smtp.password_file),
    from: smtp.from,
    ...tlsCa(smtp.tls_ca_file, path, files),
    tls_insecure: smtp.tls_insecure,
    timeout: smtp.timeout,
  };
}

function buildAlerting(alerting: AlertingData, files: FileReader): Config['alerting'] {
  const smtp = alerting.smtp;
  return {
    smtp: smtp === undefined ? undefined : buildSmtp(smtp, 'alerting.smtp', files),
    to: alerting.to,
    repeat_interval: alerting.repeat_interval,
    group_wait: alerting.group_wait,
    send_resolved: alerting.send_resolved,
    external_url: alerting.external_url,
    builtin_rules: alerting.builtin_rules,
    rules: alerting.rules,
    alertmanager: alerting.alertmanager,
  };
}
