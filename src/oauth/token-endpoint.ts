/**
 * One token request (RFC 6749 §4.4 client credentials, §6 refresh) through oauth4webapi,
 * the maintained, dependency-free OAuth2 client: request encoding, client authentication,
 * response validation and error parsing are its job. This is the only file that imports it.
 */
import * as oauth from 'oauth4webapi';
import type { OAuth2Config } from '../config/oauth2.js';
import { isLoopback } from '../config/warnings.js';
import { Secret } from '../secret.js';
import { displayEndpoint, TokenError, toTokenError } from './token-error.js';

export interface TokenResponse {
  accessToken: Secret;
  /** Seconds, from `expires_in`; undefined when the server left it out. */
  expiresIn: number | undefined;
  /** A new refresh token when the server rotated it. */
  refreshToken: Secret | undefined;
}

/** Asks the token endpoint for an access token; throws TokenError. */
export type RequestToken = (
  config: OAuth2Config,
  refreshToken: Secret | undefined,
  timeoutMs: number,
) => Promise<TokenResponse>;

function clientAuth(config: OAuth2Config): oauth.ClientAuth {
  const secret = config.client_secret?.reveal();
  if (config.client_auth === 'none' || secret === undefined) return oauth.None();
  return config.client_auth === 'basic'
    ? oauth.ClientSecretBasic(secret)
    : oauth.ClientSecretPost(secret);
}

export const requestToken: RequestToken = async (config, refreshToken, timeoutMs) => {
  const url = new URL(config.token_url);
  const as: oauth.AuthorizationServer = { issuer: config.issuer, token_endpoint: config.token_url };
  const client: oauth.Client = { client_id: config.client_id };
  const options = {
    signal: AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs))),
    // Plain http only to a loopback address (config validation allows no other).
    [oauth.allowInsecureRequests]: url.protocol === 'http:' && isLoopback(url.hostname),
  };
  try {
    let result: oauth.TokenEndpointResponse;
    if (config.grant === 'client_credentials') {
      const parameters: Record<string, string> = config.scope ? { scope: config.scope } : {};
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        clientAuth(config),
        parameters,
        options,
      );
      result = await oauth.processClientCredentialsResponse(as, client, response);
    } else {
      if (refreshToken === undefined) {
        throw new TokenError('oauth', displayEndpoint(config.token_url), 'no refresh token');
      }
      const response = await oauth.refreshTokenGrantRequest(
        as,
        client,
        clientAuth(config),
        refreshToken.reveal(),
        { ...options, ...(config.scope ? { additionalParameters: { scope: config.scope } } : {}) },
      );
      result = await oauth.processRefreshTokenResponse(as, client, response);
    }
    return {
      accessToken: new Secret(result.access_token),
      expiresIn: typeof result.expires_in === 'number' ? result.expires_in : undefined,
      refreshToken:
        result.refresh_token === undefined ? undefined : new Secret(result.refresh_token),
    };
  } catch (error) {
    throw toTokenError(error, config.token_url, timeoutMs);
  }
};
