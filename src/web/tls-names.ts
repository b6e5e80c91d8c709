/**
 * The names the Prometheus exporter web configuration uses for TLS settings (Go's
 * crypto/tls names) and what Node's TLS (OpenSSL) calls the same thing. A name that Node
 * cannot honour is absent here, so the schema refuses it instead of ignoring it.
 */

/** `client_auth_type`: Go's tls.ClientAuthType names (RequireClientCert is an old alias). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];
export const CLIENT_AUTH_ALIASES: Readonly<Record<string, ClientAuthType>> = {
  RequireClientCert: 'RequireAnyClientCert',
};

/** The modes that check a client certificate against client_ca_file. */
export const VERIFYING_MODES: ReadonlySet<ClientAuthType> = new Set([
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
]);

/** `min_version` / `max_version`: the names Node's TLS can serve. */
export const TLS_VERSIONS = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS;
/** Names of the format that OpenSSL 3 refuses at its default security level. */
export const REFUSED_TLS_VERSIONS: ReadonlySet<string> = new Set(['TLS10', 'TLS11']);

/**
 * `cipher_suites`: every suite of Go's tls.CipherSuites() (the only names the exporter
 * toolkit accepts) with its OpenSSL name. TLS 1.3 suites keep their IANA names in OpenSSL.
 */
export const CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};

/** TLS 1.3 suites: apart in OpenSSL (SSL_CTX_set_ciphersuites), and in what they mean here. */
export function isTls13Suite(goName: string): boolean {
  return goName.startsWith('TLS_') && !goName.includes('_WITH_');
}

/** `curve_preferences`: Go's curve names (the toolkit's four) and OpenSSL's group names. */
export const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
};

/**
 * `http_server_config.headers`: the only headers the format lets a file set, and the
 * values allowed where the format fixes them (empty list: any value).
 */
export const CONFIGURABLE_HEADERS: Readonly<Record<string, readonly string[]>> = {
  'Strict-Transport-Security': [],
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': [],
  'Content-Security-Policy': [],
};
