/**
 * The OAuth2 authorization server of the integration tests: oidc-provider (the certified
 * Node implementation) on 127.0.0.1, started by start.sh and stopped by stop.sh. It has
 *   - `monitor-app`: a confidential client for client_credentials (Microsoft 365 app-only
 *     access), client_secret_post, scope `mail`;
 *   - `monitor-user`: a confidential client for the refresh_token grant (Google-style),
 *     client_secret_basic; refresh tokens are rotated on every use;
 *   - `dovecot`: the resource server; Dovecot's `passdb oauth2` introspects tokens with it.
 * Access tokens are opaque and live OAUTH_TEST_TOKEN_TTL seconds (short, so the tests see
 * refreshes). Every token carries `mailboxes: *@oauth.test`; Dovecot compares its domain with
 * the SASL user's (the app may open every mailbox of that domain, like an Exchange Online
 * app permission).
 *
 * Test-only routes, under /test/ (no client auth; loopback only):
 *   GET  /test/stats          {"token_requests":{"client_credentials":n,"refresh_token":n}}
 *   POST /test/refresh-token  ?account=NAME[&client=canary] → {"refresh_token":"..."} (a
 *                             fresh grant, as after a user's consent)
 * Revocation is the server's own endpoint (/token/revocation, RFC 7009).
 *
 * Usage: node --import tsx test/servers/oauth-server.ts PORT PIDFILE
 */
import { writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import { OAUTH } from './env.js';

const port = Number(process.argv[2] ?? OAUTH.port);
const pidFile = process.argv[3];
const ttl = Number(process.env.OAUTH_TEST_TOKEN_TTL ?? OAUTH.tokenTtlSeconds);

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: OAUTH.app.clientId,
      client_secret: OAUTH.app.clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: OAUTH.scope,
    },
    {
      client_id: OAUTH.user.clientId,
      client_secret: OAUTH.user.clientSecret,
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1/callback'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: `offline_access ${OAUTH.scope}`,
    },
    // The secrets canary test's clients: their secrets and every token issued to them
    // contain "CANARY", so a leak anywhere shows.
    {
      client_id: OAUTH.canaryApp.clientId,
      client_secret: OAUTH.canaryApp.clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: OAUTH.scope,
    },
    {
      client_id: OAUTH.canaryUser.clientId,
      client_secret: OAUTH.canaryUser.clientSecret,
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1/callback'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: `offline_access ${OAUTH.scope}`,
    },
    {
      client_id: OAUTH.dovecot.clientId,
      client_secret: OAUTH.dovecot.clientSecret,
      grant_types: [],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['openid', 'offline_access', OAUTH.scope],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
  },
  ttl: {
    AccessToken: ttl,
    ClientCredentials: ttl,
    RefreshToken: 24 * 3600,
    Grant: 24 * 3600,
  },
  rotateRefreshToken: true,
  extraTokenClaims: () => ({ mailboxes: `*@${OAUTH.domain}` }),
  cookies: { keys: ['pop3-monitor-test-cookie-key'] },
});

const CANARY_CLIENTS: ReadonlySet<string> = new Set([
  OAUTH.canaryApp.clientId,
  OAUTH.canaryUser.clientId,
]);
type TokenModel = { prototype: { generateTokenId(this: { clientId?: string }): string } };
for (const model of [provider.ClientCredentials, provider.AccessToken, provider.RefreshToken]) {
  const proto = (model as unknown as TokenModel).prototype;
  const generate = proto.generateTokenId;
  proto.generateTokenId = function (this: { clientId?: string }) {
    const id = generate.call(this);
    return this.clientId !== undefined && CANARY_CLIENTS.has(this.clientId) ? `CANARY-${id}` : id;
  };
}

const counts: Record<string, number> = {};

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/stats' && ctx.method === 'GET') {
    ctx.body = { token_requests: { ...counts } };
    return;
  }
  if (ctx.path === '/test/refresh-token' && ctx.method === 'POST') {
    const account = String(ctx.query.account ?? 'user');
    const clientId =
      ctx.query.client === 'canary' ? OAUTH.canaryUser.clientId : OAUTH.user.clientId;
    const client = await provider.Client.find(clientId);
    if (!client) throw new Error('the monitor-user client is missing');
    const scope = `offline_access ${OAUTH.scope}`;
    const grant = new provider.Grant({ accountId: account, clientId: client.clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      client,
      accountId: account,
      grantId,
      scope,
      gty: 'authorization_code',
      expiresWithSession: false,
    });
    ctx.body = { refresh_token: await token.save() };
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.method === 'POST') {
    // After the endpoint ran, so refused requests (invalid_client, invalid_grant) count too.
    const params = (ctx as { oidc?: { params?: { grant_type?: unknown } } }).oidc?.params;
    const type = typeof params?.grant_type === 'string' ? params.grant_type : 'unknown';
    counts[type] = (counts[type] ?? 0) + 1;
  }
});

const server = provider.listen(port, '127.0.0.1', () => {
  if (pidFile) writeFileSync(pidFile, `${process.pid}\n`);
  process.stdout.write(`oauth: listening on ${issuer} (token lifetime ${ttl}s)\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
