import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  createSecureContext,
  DEFAULT_CIPHERS,
  getCiphers,
  type SecureContextOptions,
} from 'node:tls';
import type { ConfigIssue } from '../config/config-error.js';
import {
  certificatesProblem,
  describeReadError,
  FileReader,
  type ReadFile,
  readUtf8File,
} from '../config/files.js';
import { isPlainObject } from '../config/substitute.js';
import { parseYaml } from '../config/yaml.js';
import { configErrorMap, describeKind, toConfigIssues } from '../config/zod-issues.js';
import { Secret } from '../secret.js';
import {
  CIPHER_SUITES,
  type ClientAuthType,
  CURVES,
  isTls13Suite,
  TLS_VERSIONS,
} from './tls-names.js';
import { WebConfigError } from './web-config-error.js';
import {
  type TlsServerConfigData,
  type WebConfigData,
  webConfigSchema,
} from './web-config-schema.js';

/** The server certificate in use, for logs and check-config (nothing secret). */
export interface ServedCertificate {
  subject: string;
  serial: string;
  notAfter: string;
  fingerprint256: string;
}

export interface WebTlsSettings {
  clientAuth: ClientAuthType;
  /** client_allowed_sans: a verified client certificate must carry one of these. */
  allowedSans: readonly string[] | undefined;
  /** Node's server options for the mode (see client-cert.ts for the checks after the handshake). */
  requestCert: boolean;
  rejectUnauthorized: boolean;
  /** The secure context's options, key included: only the TLS server calls this. */
  contextOptions(): SecureContextOptions;
  certificate: ServedCertificate;
}

/** One consistent reading of the web configuration file and every file it names. */
export interface WebSettings {
  /** The file, resolved. */
  source: string;
  tls: WebTlsSettings | undefined;
  /** http_server_config.headers, checked against the names the format allows. */
  headers: Readonly<Record<string, string>>;
  /** basic_auth_users: user → bcrypt hash. */
  users: ReadonlyMap<string, Secret>;
  rateLimit: { intervalMs: number; burst: number } | undefined;
  /** Every file read (resolved): a change to any of them is a reason to read them again. */
  files: readonly string[];
  /** The file's settings as written, for check-config (inline key and hashes left out). */
  data: WebConfigData;
}

export interface LoadWebConfigOptions {
  /** Reads the certificate, key and CA files; tests inject one. */
  readFile?: ReadFile;
}

/** Reads and validates a web configuration file and its certificates; throws WebConfigError. */
export function loadWebConfig(path: string, options: LoadWebConfigOptions = {}): WebSettings {
  const source = resolve(path);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (error) {
    throw new WebConfigError(
      [{ path: '', message: `cannot read web config file ${path}: ${describeReadError(error)}` }],
      { source },
    );
  }
  return parseWebConfig(text, { source, readFile: options.readFile });
}

/** Validates web configuration text; relative file names resolve against source's folder. */
export function parseWebConfig(
  text: string,
  options: { source: string; readFile?: ReadFile | undefined },
): WebSettings {
  const { source } = options;
  const fail = (issues: ConfigIssue[]): never => {
    throw new WebConfigError(issues, { source });
  };
  const parsed = parseYaml(text, fail) ?? {};
  if (!isPlainObject(parsed))
    fail([
      { path: '', message: `expected a mapping at the top level, got ${describeKind(parsed)}` },
    ]);
  const result = webConfigSchema.safeParse(parsed, { error: configErrorMap });
  if (!result.success) return fail(toConfigIssues('', result.error.issues));
  const data = result.data;

  const files = new FileReader(dirname(source), options.readFile ?? readUtf8File);
  const tls = data.tls_server_config ? buildTls(data.tls_server_config, files) : undefined;
  if (files.issues.length > 0) fail(files.issues);

  const users = new Map<string, Secret>();
  for (const [user, hash] of Object.entries(data.basic_auth_users ?? {}))
    users.set(user, new Secret(hash));
  const limit = data.rate_limit;
  return {
    source,
    tls,
    headers: { ...(data.http_server_config?.headers ?? {}) },
    users,
    rateLimit:
      limit && limit.interval > 0
        ? { intervalMs: limit.interval, burst: limit.burst ?? 1 }
        : undefined,
    files: [source, ...tlsFiles(data.tls_server_config, files)],
    data: {
      ...data,
      ...(data.tls_server_config?.key === undefined
        ? {}
        : { tls_server_config: { ...data.tls_server_config, key: '***' } }),
      ...(data.basic_auth_users
        ? {
            basic_auth_users: Object.fromEntries(
              Object.keys(data.basic_auth_users).map((user) => [user, '***']),
            ),
          }
        : {}),
    },
  };
}

function tlsFiles(tls: TlsServerConfigData | null | undefined, files: FileReader): string[] {
  if (!tls) return [];
  return [tls.cert_file, tls.key_file, tls.client_ca_file]
    .filter((file): file is string => file !== undefined)
    .map((file) => files.resolve(file));
}

const AT = 'tls_server_config';

/** The TLS 1.3 suites Node offers by default, kept when cipher_suites names none. */
const DEFAULT_TLS13 = DEFAULT_CIPHERS.split(':').filter((name) => name.startsWith('TLS_'));

/**
 * cipher_suites in OpenSSL's terms. In Go (and so in the exporter toolkit) the list governs
 * TLS 1.2 only and TLS 1.3 keeps its suites; a list with TLS 1.3 suites is honoured here too.
 */
function cipherString(names: readonly string[] | undefined): string | undefined {
  if (names === undefined) return undefined;
  const openssl = names.map((name) => CIPHER_SUITES[name] as string);
  const tls13 = names.some(isTls13Suite) ? [] : DEFAULT_TLS13;
  return [...openssl, ...tls13].join(':');
}

function buildTls(tls: TlsServerConfigData, files: FileReader): WebTlsSettings | undefined {
  const certPath = tls.cert_file === undefined ? `${AT}.cert` : `${AT}.cert_file`;
  const keyPath = tls.key_file === undefined ? `${AT}.key` : `${AT}.key_file`;
  const caPath = tls.client_ca_file === undefined ? `${AT}.client_ca` : `${AT}.client_ca_file`;
  const issues = files.issues;
  const inlineCertificates = (text: string, path: string): string | undefined => {
    const problem = certificatesProblem(text, 'the PEM text');
    if (problem !== undefined) issues.push({ path, message: problem });
    return problem === undefined ? text : undefined;
  };
  const cert =
    tls.cert_file !== undefined
      ? files.certificates(certPath, tls.cert_file)
      : inlineCertificates(tls.cert as string, certPath);
  const key =
    tls.key_file !== undefined
      ? files.secret(keyPath, tls.key_file)
      : new Secret(tls.key as string);
  let ca: string | undefined;
  if (tls.client_ca_file !== undefined) ca = files.certificates(caPath, tls.client_ca_file);
  else if (tls.client_ca !== undefined) ca = inlineCertificates(tls.client_ca, caPath);

  const suites = tls.cipher_suites ?? [];
  const offered = new Set(getCiphers());
  suites.forEach((name, index) => {
    const openssl = CIPHER_SUITES[name] as string;
    if (!offered.has(openssl.toLowerCase()))
      issues.push({
        path: `${AT}.cipher_suites[${index}]`,
        message: `${name} (${openssl}) is not offered by this Node.js's OpenSSL`,
      });
  });
  (tls.curve_preferences ?? []).forEach((name, index) => {
    try {
      createSecureContext({ ecdhCurve: CURVES[name] });
    } catch {
      issues.push({
        path: `${AT}.curve_preferences[${index}]`,
        message: `${name} is not offered by this Node.js's OpenSSL`,
      });
    }
  });
  if (cert === undefined || key === undefined || issues.length > 0) return undefined;

  const leaf = new X509Certificate(cert);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.reveal());
  } catch {
    issues.push({
      path: keyPath,
      message: 'cannot be read as a private key (expected an unencrypted PEM key)',
    });
    return undefined;
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    issues.push({
      path: keyPath,
      message: `does not match the certificate in ${certPath.slice(AT.length + 1)}`,
    });
    return undefined;
  }

  const mode = tls.client_auth_type;
  const options = (): SecureContextOptions => ({
    cert,
    key: key.reveal(),
    ...(ca === undefined ? {} : { ca }),
    minVersion: TLS_VERSIONS[tls.min_version],
    maxVersion: TLS_VERSIONS[tls.max_version],
    honorCipherOrder: tls.prefer_server_cipher_suites,
    ...(tls.cipher_suites === undefined ? {} : { ciphers: cipherString(tls.cipher_suites) }),
    ...(tls.curve_preferences === undefined
      ? {}
      : { ecdhCurve: tls.curve_preferences.map((name) => CURVES[name]).join(':') }),
  });
  try {
    createSecureContext(options());
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    issues.push({
      path: AT,
      message: `Node.js's TLS refuses these settings${typeof code === 'string' ? ` (${code})` : ''}`,
    });
    return undefined;
  }
  return {
    clientAuth: mode,
    allowedSans: tls.client_allowed_sans,
    requestCert: mode !== 'NoClientCert',
    // Only this mode fails the handshake in OpenSSL itself; the others are checked after it.
    rejectUnauthorized: mode === 'RequireAndVerifyClientCert',
    contextOptions: options,
    certificate: {
      subject: leaf.subject,
      serial: leaf.serialNumber,
      notAfter: leaf.validTo,
      fingerprint256: leaf.fingerprint256,
    },
  };
}
