import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import { nonEmpty } from '../config/zod-issues.js';
import {
  CIPHER_SUITES,
  CLIENT_AUTH_ALIASES,
  CLIENT_AUTH_TYPES,
  CONFIGURABLE_HEADERS,
  CURVES,
  REFUSED_TLS_VERSIONS,
  TLS_VERSIONS,
  type TlsVersionName,
  VERIFYING_MODES,
} from './tls-names.js';

/**
 * The web configuration file of the Prometheus exporter toolkit (node_exporter,
 * blackbox_exporter and Prometheus read the same `--web.config.file`): every key of the
 * format is either honoured or refused here with a message naming it. Validation only:
 * web-config-load.ts reads the files it names.
 */

/** A bcrypt hash as htpasswd -B, Go's x/crypto/bcrypt and bcryptjs write it. */
const BCRYPT = /^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const BCRYPT_MESSAGE =
  'expected a bcrypt hash such as $2y$10$… (make one with: htpasswd -nBC 10 "" | tr -d \':\\n\')';

const bcryptHash = z.string({ error: BCRYPT_MESSAGE }).superRefine((hash, ctx) => {
  const match = BCRYPT.exec(hash);
  if (match === null) {
    ctx.addIssue({ code: 'custom', message: BCRYPT_MESSAGE });
    return;
  }
  const cost = Number(match[1]);
  // The limits of bcrypt itself (Go's bcrypt.Cost refuses the same).
  if (cost < 4 || cost > 31) ctx.addIssue({ code: 'custom', message: 'bcrypt cost must be 4-31' });
});

/** `TLS12` / `TLS13`; TLS10 and TLS11 are named as refused, not as unknown. */
const tlsVersion = z.string({ error: 'expected TLS12 or TLS13' }).transform((name, ctx) => {
  if (Object.hasOwn(TLS_VERSIONS, name)) return name as TlsVersionName;
  ctx.addIssue({
    code: 'custom',
    message: REFUSED_TLS_VERSIONS.has(name)
      ? `${name} cannot be served: Node.js's OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level; use TLS12 or TLS13`
      : 'expected TLS12 or TLS13',
  });
  return z.NEVER;
});

const clientAuthType = z
  .string({ error: `expected one of: ${CLIENT_AUTH_TYPES.join(', ')}` })
  .transform((name, ctx) => {
    const known = (CLIENT_AUTH_TYPES as readonly string[]).includes(name)
      ? (name as (typeof CLIENT_AUTH_TYPES)[number])
      : CLIENT_AUTH_ALIASES[name];
    if (known !== undefined) return known;
    ctx.addIssue({ code: 'custom', message: `expected one of: ${CLIENT_AUTH_TYPES.join(', ')}` });
    return z.NEVER;
  });

/** A list of names from `table`; an unknown name is quoted (names of suites are no secret). */
function namesFrom(table: Readonly<Record<string, string>>, what: string, example: string) {
  return z
    .array(z.string({ error: `expected a ${what} name such as ${example}` }))
    .min(1, `expected at least one ${what}, or leave the key out`)
    .superRefine((names, ctx) => {
      names.forEach((name, index) => {
        if (!Object.hasOwn(table, name))
          ctx.addIssue({
            code: 'custom',
            path: [index],
            message: `unknown ${what} ${JSON.stringify(name)}: expected one of ${Object.keys(table).join(', ')}`,
          });
      });
      const seen = new Set<string>();
      names.forEach((name, index) => {
        if (seen.has(name))
          ctx.addIssue({ code: 'custom', path: [index], message: `${name} is listed twice` });
        seen.add(name);
      });
    });
}

export const tlsServerConfigSchema = z
  .strictObject({
    cert: nonEmpty().optional(),
    key: nonEmpty().optional(),
    client_ca: nonEmpty().optional(),
    cert_file: nonEmpty().optional(),
    key_file: nonEmpty().optional(),
    client_auth_type: clientAuthType.default('NoClientCert'),
    client_ca_file: nonEmpty().optional(),
    client_allowed_sans: z.array(nonEmpty()).min(1, 'expected at least one name').optional(),
    min_version: tlsVersion.default('TLS12'),
    max_version: tlsVersion.default('TLS13'),
    cipher_suites: namesFrom(
      CIPHER_SUITES,
      'cipher suite',
      'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    ).optional(),
    prefer_server_cipher_suites: z.boolean().default(true),
    curve_preferences: namesFrom(CURVES, 'curve', 'X25519').optional(),
  })
  .superRefine((tls, ctx) => {
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: path === '' ? [] : [path], message });
    for (const [inline, file] of [
      ['cert', 'cert_file'],
      ['key', 'key_file'],
      ['client_ca', 'client_ca_file'],
    ] as const) {
      if (tls[inline] !== undefined && tls[file] !== undefined)
        issue(file, `${inline} and ${file} are mutually exclusive`);
    }
    if (tls.cert === undefined && tls.cert_file === undefined)
      issue('', 'cert_file (or cert) is required: the server certificate');
    if (tls.key === undefined && tls.key_file === undefined)
      issue('', 'key_file (or key) is required: the key of the server certificate');
    const mode = tls.client_auth_type;
    const hasCa = tls.client_ca !== undefined || tls.client_ca_file !== undefined;
    if (hasCa && mode === 'NoClientCert')
      issue(
        'client_auth_type',
        'client_ca_file is set but client_auth_type is NoClientCert: set RequireAndVerifyClientCert (or VerifyClientCertIfGiven)',
      );
    if (!hasCa && VERIFYING_MODES.has(mode))
      issue(
        'client_ca_file',
        `required with client_auth_type ${mode}: the CA that signs the client certificates`,
      );
    if (tls.client_allowed_sans !== undefined && !VERIFYING_MODES.has(mode))
      issue(
        'client_allowed_sans',
        `needs client_auth_type RequireAndVerifyClientCert or VerifyClientCertIfGiven (an unverified certificate's names prove nothing), not ${mode}`,
      );
    if (TLS_VERSIONS[tls.min_version] > TLS_VERSIONS[tls.max_version])
      issue('max_version', `below min_version ${tls.min_version}`);
  });

const headers = z
  .record(z.string(), z.string({ error: 'expected a string' }))
  .superRefine((map, ctx) => {
    for (const [name, value] of Object.entries(map)) {
      const allowed = CONFIGURABLE_HEADERS[name];
      if (allowed === undefined) {
        const sameIgnoringCase = Object.keys(CONFIGURABLE_HEADERS).find(
          (known) => known.toLowerCase() === name.toLowerCase(),
        );
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message:
            sameIgnoringCase === undefined
              ? `this header cannot be configured (the format allows ${Object.keys(CONFIGURABLE_HEADERS).join(', ')})`
              : `write it ${sameIgnoringCase}`,
        });
      } else if (allowed.length > 0 && !allowed.includes(value)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `expected one of: ${allowed.join(', ')}`,
        });
      }
    }
  });

export const httpServerConfigSchema = z.strictObject({
  // pop3-monitor serves HTTP/1.1 only: saying true would be a setting it cannot honour.
  http2: z
    .boolean({ error: 'expected true or false' })
    .refine((on) => !on, 'pop3-monitor serves HTTP/1.1 only: set http2: false or leave it out')
    .optional(),
  headers: headers.optional(),
});

const INTERVAL_MESSAGE =
  'expected a duration with a unit, such as 100ms, 1s or 1m (0 turns it off)';

export const rateLimitSchema = z
  .strictObject({
    interval: z
      .union([z.string(), z.number()], { error: INTERVAL_MESSAGE })
      .transform((value, ctx) => {
        // A bare number would be nanoseconds to Go and seconds to us: only 0 is clear.
        if (value === 0 || value === '0') return 0;
        const ms = typeof value === 'string' && /[a-z]/i.test(value) ? parseDuration(value) : null;
        if (ms === null) {
          ctx.addIssue({ code: 'custom', message: INTERVAL_MESSAGE });
          return z.NEVER;
        }
        return ms;
      }),
    burst: z.number().int().min(0).optional(),
  })
  .superRefine((limit, ctx) => {
    if (limit.interval > 0 && (limit.burst ?? 0) < 1)
      ctx.addIssue({
        code: 'custom',
        path: ['burst'],
        message: 'expected 1 or more (the requests allowed at once; 0 would refuse every request)',
      });
  });

export const webConfigSchema = z.strictObject({
  tls_server_config: tlsServerConfigSchema.nullish(),
  http_server_config: httpServerConfigSchema.nullish(),
  basic_auth_users: z
    .record(
      nonEmpty()
        // RFC 7617 section 2: the user-id cannot contain a colon.
        .refine((user) => !user.includes(':'), 'a user name cannot contain ":" (RFC 7617)'),
      bcryptHash,
    )
    .nullish(),
  rate_limit: rateLimitSchema.nullish(),
});

export type WebConfigData = z.output<typeof webConfigSchema>;
export type TlsServerConfigData = z.output<typeof tlsServerConfigSchema>;
