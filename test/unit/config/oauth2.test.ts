import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { maskedConfig } from '../../../src/config/mask.js';
import { FIXTURE_ENV, FIXTURE_SECRETS, FIXTURES_DIR } from '../../fixtures/config/env.js';

const load = (name: string) => loadConfig(join(FIXTURES_DIR, 'valid', name), { env: FIXTURE_ENV });
const secretsDir = join(FIXTURES_DIR, 'secrets');

describe('the oauth2 block, resolved', () => {
  it('microsoft365: token URL from the tenant, Exchange Online app scope, secret posted', () => {
    const [mailbox] = load('oauth2-microsoft365.yaml').mailboxes;
    const { client_secret, ...rest } = mailbox?.oauth2 ?? {};
    assert.equal(client_secret?.reveal(), 'fixture-client-secret');
    assert.deepEqual(rest, {
      provider: 'microsoft365',
      grant: 'client_credentials',
      token_url: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
      issuer: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0',
      client_id: '00000000-0000-0000-0000-000000000001',
      client_secret_file: join(secretsDir, 'client-secret'),
      client_auth: 'post',
      refresh_token: undefined,
      refresh_token_file: undefined,
      scope: 'https://outlook.office365.com/.default',
      timeout: undefined,
    });
    assert.equal(mailbox?.password, undefined);
    assert.equal(mailbox?.auth, 'xoauth2');
  });

  it('google from defaults: refresh_token grant at Google, no scope sent on refresh', () => {
    const [mailbox] = load('oauth2-google.yaml').mailboxes;
    const o = mailbox?.oauth2;
    assert.deepEqual(
      [o?.grant, o?.token_url, o?.issuer, o?.scope, o?.client_auth, o?.refresh_token?.reveal()],
      [
        'refresh_token',
        'https://oauth2.googleapis.com/token',
        'https://accounts.google.com',
        undefined,
        'post',
        'fixture-refresh-token',
      ],
    );
    assert.equal(mailbox?.auth, 'auto');
  });

  it('check-config shows the block with its secrets masked and their files named', () => {
    const shown = JSON.stringify(maskedConfig(load('oauth2-google.yaml')));
    for (const secret of FIXTURE_SECRETS) assert.ok(!shown.includes(secret), secret);
    const masked = maskedConfig(load('oauth2-google.yaml')) as {
      mailboxes: { oauth2: Record<string, unknown> }[];
    };
    assert.deepEqual(masked.mailboxes[0]?.oauth2, {
      provider: 'google',
      grant: 'refresh_token',
      token_url: 'https://oauth2.googleapis.com/token',
      client_id: '1234-abc.apps.googleusercontent.com',
      client_auth: 'post',
      client_secret: '***',
      client_secret_file: join(secretsDir, 'client-secret'),
      refresh_token: '***',
      refresh_token_file: join(secretsDir, 'refresh-token'),
      scope: null,
      timeout: null,
    });
  });
});
