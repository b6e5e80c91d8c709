/**
 * The closed sets of a mailbox's `tls` and `auth` settings, apart from the schema (and
 * zod), so that `check` can validate its flags without loading the config loader.
 */
export const TLS_MODES = ['implicit', 'starttls', 'none'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export const AUTH_METHODS = [
  'auto',
  'user',
  'apop',
  'plain',
  'login',
  'xoauth2',
  'oauthbearer',
] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
