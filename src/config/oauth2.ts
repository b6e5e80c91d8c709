/**
 * The `oauth2:` block of a mailbox: the rules that tie its fields together (checked as a
 * zod refinement, so every issue names its field) and its resolution into what the token
 * source needs (token URL, scope and client authentication from the provider).
 */
import type { z } from 'zod';
import type { Secret } from '../secret.js';
import { isLoopback } from './warnings.js';

export const OAUTH2_PROVIDERS = ['microsoft365', 'google', 'generic'] as const;
export type OAuth2Provider = (typeof OAUTH2_PROVIDERS)[number];
export const OAUTH2_GRANTS = ['client_credentials', 'refresh_token'] as const;
export type OAuth2Grant = (typeof OAUTH2_GRANTS)[number];
export const OAUTH2_CLIENT_AUTH = ['post', 'basic'] as const;

/** The block as written (after zod), before any file is read. */
export interface OAuth2Data {
  provider: OAuth2Provider;
  tenant?: string | undefined;
  token_url?: string | undefined;
  grant?: OAuth2Grant | undefined;
  client_id: string;
  client_secret_file?: string | undefined;
  client_auth?: (typeof OAUTH2_CLIENT_AUTH)[number] | undefined;
  refresh_token_file?: string | undefined;
  scope?: string | undefined;
  timeout?: number | undefined;
}

/** A mailbox's OAuth2 settings, resolved: everything a token request needs. */
export interface OAuth2Config {
  provider: OAuth2Provider;
  grant: OAuth2Grant;
  token_url: string;
  /** The issuer an ID token in a response must name (only checked when one comes back). */
  issuer: string;
  client_id: string;
  client_secret: Secret | undefined;
  client_secret_file: string | undefined;
  /** How the client authenticates at the token endpoint; none for a public client. */
  client_auth: 'post' | 'basic' | 'none';
  refresh_token: Secret | undefined;
  refresh_token_file: string | undefined;
  /** Sent with the request; undefined sends none (a refresh then keeps the granted scope). */
  scope: string | undefined;
  /** Token request timeout, ms; undefined: half the probe's deadline. */
  timeout: number | undefined;
}

const MICROSOFT_LOGIN = 'https://login.microsoftonline.com';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const GOOGLE_ISSUER = 'https://accounts.google.com';
/** Exchange Online app-only access (client credentials): the app's POP permission. */
export const MICROSOFT_APP_SCOPE = 'https://outlook.office365.com/.default';
/** Exchange Online delegated access (a user's refresh token). */
export const MICROSOFT_USER_SCOPE =
  'https://outlook.office.com/POP.AccessAsUser.All offline_access';

const DEFAULT_GRANT: Partial<Record<OAuth2Provider, OAuth2Grant>> = {
  microsoft365: 'client_credentials',
  google: 'refresh_token',
};

/** The grant a block asks for, with the provider's default. */
export function grantOf(data: Pick<OAuth2Data, 'provider' | 'grant'>): OAuth2Grant | undefined {
  return data.grant ?? DEFAULT_GRANT[data.provider];
}

/**
 * Cross-field rules of the block, as zod issues on the field they are about. Runs only
 * once every field has its own type.
 */
export function refineOAuth2(data: OAuth2Data, ctx: z.RefinementCtx): void {
  const issue = (field: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [field], message });
  if (data.provider === 'microsoft365' && data.tenant === undefined && !data.token_url)
    issue('tenant', 'required for provider microsoft365 (the directory ID or a domain of it)');
  if (data.provider !== 'microsoft365' && data.tenant !== undefined)
    issue('tenant', 'only for provider microsoft365');
  if (data.provider === 'generic' && data.token_url === undefined)
    issue('token_url', 'required for provider generic');
  if (data.token_url !== undefined) {
    const url = new URL(data.token_url);
    if (url.protocol !== 'https:' && !isLoopback(url.hostname))
      issue('token_url', 'expected an https:// URL (http:// only for a loopback address)');
  }
  const grant = grantOf(data);
  if (grant === undefined) issue('grant', 'required for provider generic');
  if (grant === 'client_credentials' && data.client_secret_file === undefined)
    issue('client_secret_file', 'required for grant client_credentials');
  if (grant === 'refresh_token' && data.refresh_token_file === undefined)
    issue('refresh_token_file', 'required for grant refresh_token');
  if (grant === 'client_credentials' && data.refresh_token_file !== undefined)
    issue('refresh_token_file', 'only for grant refresh_token');
  if (data.provider === 'google' && grant === 'client_credentials')
    issue('grant', 'Gmail takes no client_credentials token; use refresh_token');
}

/** Reads the block's secret files; `read(field, file)` reports an unreadable one. */
export interface OAuth2Files {
  secret(field: string, file: string): Secret | undefined;
  resolve(file: string): string;
}

export function resolveOAuth2(data: OAuth2Data, files: OAuth2Files): OAuth2Config {
  const grant = grantOf(data) ?? 'client_credentials';
  const tenant = data.tenant ?? 'common';
  const tokenUrl =
    data.token_url ??
    (data.provider === 'google'
      ? GOOGLE_TOKEN_URL
      : `${MICROSOFT_LOGIN}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`);
  const issuer =
    data.provider === 'google'
      ? GOOGLE_ISSUER
      : data.provider === 'microsoft365'
        ? `${MICROSOFT_LOGIN}/${encodeURIComponent(tenant)}/v2.0`
        : new URL(tokenUrl).origin;
  let scope = data.scope;
  if (scope === undefined && data.provider === 'microsoft365')
    scope = grant === 'client_credentials' ? MICROSOFT_APP_SCOPE : MICROSOFT_USER_SCOPE;
  const secretFile = data.client_secret_file;
  const refreshFile = data.refresh_token_file;
  return {
    provider: data.provider,
    grant,
    token_url: tokenUrl,
    issuer,
    client_id: data.client_id,
    client_secret:
      secretFile === undefined ? undefined : files.secret('client_secret_file', secretFile),
    client_secret_file: secretFile === undefined ? undefined : files.resolve(secretFile),
    client_auth:
      secretFile === undefined
        ? 'none'
        : (data.client_auth ?? (data.provider === 'generic' ? 'basic' : 'post')),
    refresh_token:
      refreshFile === undefined ? undefined : files.secret('refresh_token_file', refreshFile),
    refresh_token_file: refreshFile === undefined ? undefined : files.resolve(refreshFile),
    scope,
    timeout: data.timeout,
  };
}
