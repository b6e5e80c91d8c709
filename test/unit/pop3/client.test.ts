import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it, type TestContext } from 'node:test';
import { type Command, Pop3Client, type Pop3ClientOptions } from '../../../src/pop3/client.js';
import { Pop3Error } from '../../../src/pop3/errors.js';
import { Secret } from '../../../src/secret.js';
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_GREETING,
  TEST_CA_PEM,
  tlsFixture,
} from '../../fixtures/fake-pop3-server.js';
import {
  aliceMailbox,
  octets,
  PASSWORD,
  ServerLedger,
  startRecordingProxy,
  USER,
} from '../../fixtures/probe-harness.js';

const ledger = new ServerLedger();
after(() => ledger.verify());

const STAT_REPLY = `+OK 2 ${octets(aliceMailbox().messages)}`;
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function clientFor(
  t: TestContext,
  port: number,
  options: Partial<Pop3ClientOptions> = {},
): Pop3Client {
  const client = new Pop3Client({
    host: '127.0.0.1',
    port,
    tls: 'none',
    tlsOptions: { servername: undefined, ca: TEST_CA_PEM.toString(), insecure: false },
    timeoutMs: 5000,
    pipelining: true,
    ...options,
  });
  t.after(() => client.close());
  return client;
}

/** Opens, asks CAPA, and returns the client ready to log in. */
async function ready(
  t: TestContext,
  server: { port: number },
  options: Partial<Pop3ClientOptions> = {},
): Promise<Pop3Client> {
  const client = clientFor(t, server.port, options);
  await client.open();
  await client.capa();
  return client;
}

const TRANSACTION: Command[] = [
  { line: 'STAT', name: 'STAT', multiline: false, phase: 'stat' },
  { line: 'NOOP', name: 'NOOP', multiline: false, phase: 'noop' },
  { line: 'QUIT', name: 'QUIT', multiline: false, phase: 'quit' },
];

async function rejects(promise: Promise<unknown>, code: string): Promise<Pop3Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Pop3Error, `expected a Pop3Error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a Pop3Error with code ${code}`);
}

describe('Pop3Client: greeting and CAPA', { timeout: 15_000 }, () => {
  it('reads the greeting, enters AUTHORIZATION and finds the APOP timestamp', async (t) => {
    const server = await ledger.start(t);
    const client = clientFor(t, server.port);
    assert.equal(client.state, 'new');
    await client.open();
    assert.equal(client.state, 'authorization');
    assert.equal(client.greeting, DEFAULT_GREETING);
    assert.equal(client.apopTimestamp, '<1896.697170952@fake.test>');
    assert.deepEqual(Object.keys(client.phases), ['dns', 'connect', 'greeting']);
    assert.equal(await client.quit().then((r) => r?.kind), 'ok');
    assert.equal(client.state, 'closed');
  });

  it('parses CAPA (RFC 2449) and can pipeline only when PIPELINING is listed and allowed', async (t) => {
    const server = await ledger.start(t);
    const client = await ready(t, server);
    assert.deepEqual(client.capabilities?.lines, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(client.capabilities?.sasl, ['PLAIN', 'LOGIN']);
    assert.equal(client.canPipeline, true);
    const off = await ready(t, server, { pipelining: false });
    assert.equal(off.canPipeline, false);
    await client.quit();
    await off.quit();
  });

  it('treats -ERR to CAPA as "no capabilities", not as a failure', async (t) => {
    const server = await ledger.start(t, { capabilities: null });
    const client = await ready(t, server);
    assert.deepEqual(client.capabilities?.names, []);
    assert.equal(client.canPipeline, false);
    await client.login('user', USER, new Secret(PASSWORD));
    assert.equal(client.state, 'transaction');
    await client.quit();
    assert.deepEqual(server.allCommands, ['CAPA', `USER ${USER}`, `PASS ${PASSWORD}`, 'QUIT']);
  });
});

describe('Pop3Client: login methods', { timeout: 15_000 }, () => {
  it('USER/PASS one at a time when pipelining is off', async (t) => {
    const server = await ledger.start(t);
    const client = await ready(t, server, { pipelining: false });
    const early = await client.login('user', USER, new Secret(PASSWORD), TRANSACTION);
    assert.deepEqual(early, [], 'nothing is sent ahead without pipelining');
    assert.equal(client.state, 'transaction');
    assert.ok((client.phases.auth ?? -1) > 0);
    await client.quit();
    assert.deepEqual(server.sessions[0]?.commands, [
      'CAPA',
      `USER ${USER}`,
      `PASS ${PASSWORD}`,
      'QUIT',
    ]);
  });

  it('APOP sends the lowercase hex MD5 of the greeting timestamp and the secret (RFC 1939 §7)', async (t) => {
    const server = await ledger.start(t);
    const client = await ready(t, server);
    await client.login('apop', USER, new Secret(PASSWORD));
    assert.equal(client.state, 'transaction');
    await client.quit();
    const digest = createHash('md5').update(`<1896.697170952@fake.test>${PASSWORD}`).digest('hex');
    assert.deepEqual(server.allCommands, ['CAPA', `APOP ${USER} ${digest}`, 'QUIT']);
  });

  it('APOP without a greeting timestamp fails as auth before anything is sent', async (t) => {
    const server = await ledger.start(t, { greeting: '+OK no timestamp here' });
    const client = await ready(t, server);
    await rejects(client.login('apop', USER, new Secret(PASSWORD)), 'auth');
    assert.deepEqual(server.allCommands, ['CAPA']);
  });

  it('AUTH PLAIN carries the initial response on the command line (RFC 5034 §4)', async (t) => {
    const server = await ledger.start(t);
    const client = await ready(t, server, { pipelining: false });
    await client.login('plain', USER, new Secret(PASSWORD));
    await client.quit();
    assert.deepEqual(server.allCommands, [
      'CAPA',
      `AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`,
      'QUIT',
    ]);
  });

  it('AUTH PLAIN sends a response that would pass 255 octets after the "+" instead', async (t) => {
    const longPassword = 'p'.repeat(200);
    const server = await ledger.start(t, {
      mailboxes: [{ user: USER, password: longPassword, messages: [] }],
    });
    const client = await ready(t, server);
    await client.login('plain', USER, new Secret(longPassword));
    assert.equal(client.state, 'transaction');
    await client.quit();
    const response = b64(`\0${USER}\0${longPassword}`);
    assert.ok(`AUTH PLAIN ${response}\r\n`.length > 255);
    assert.deepEqual(server.allCommands, ['CAPA', 'AUTH PLAIN', response, 'QUIT']);
  });

  it('AUTH LOGIN answers the username and password challenges in turn', async (t) => {
    const server = await ledger.start(t);
    const client = await ready(t, server);
    await client.login('login', USER, new Secret(PASSWORD));
    assert.equal(client.state, 'transaction');
    await client.quit();
    assert.deepEqual(server.allCommands, ['CAPA', 'AUTH LOGIN', b64(USER), b64(PASSWORD), 'QUIT']);
  });

  it('XOAUTH2 with the initial response on the command line', async (t) => {
    const token = 'ya29.short-token';
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: token } });
    const client = await ready(t, server);
    await client.login('xoauth2', USER, new Secret(token));
    assert.equal(client.state, 'transaction');
    await client.quit();
    const response = b64(`user=${USER}\x01auth=Bearer ${token}\x01\x01`);
    assert.deepEqual(server.allCommands, ['CAPA', `AUTH XOAUTH2 ${response}`, 'QUIT']);
  });

  it('XOAUTH2 two-line form (AUTH XOAUTH2, "+", response) when the token is long', async (t) => {
    const token = `ya29.${'t'.repeat(300)}`;
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: token } });
    const client = await ready(t, server);
    await client.login('xoauth2', USER, new Secret(token));
    assert.equal(client.state, 'transaction');
    await client.quit();
    const response = b64(`user=${USER}\x01auth=Bearer ${token}\x01\x01`);
    assert.deepEqual(server.allCommands, ['CAPA', 'AUTH XOAUTH2', response, 'QUIT']);
  });

  it('XOAUTH2 refusal: "+ base64json", an empty line, then -ERR ends as auth', async (t) => {
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: 'the-right-token' } });
    const client = await ready(t, server);
    const error = await rejects(client.login('xoauth2', USER, new Secret('a-wrong-token')), 'auth');
    assert.equal(error.command, 'AUTH XOAUTH2');
    assert.equal(error.response, '-ERR [AUTH] Authentication failed');
    const response = b64(`user=${USER}\x01auth=Bearer a-wrong-token\x01\x01`);
    assert.deepEqual(server.allCommands, ['CAPA', `AUTH XOAUTH2 ${response}`, '']);
  });

  it('XOAUTH2 refusal: the error JSON goes into the message, the token does not', async (t) => {
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: 'the-right-token' } });
    const client = await ready(t, server);
    const error = await rejects(client.login('xoauth2', USER, new Secret('a-wrong-token')), 'auth');
    assert.equal(
      error.message,
      'login refused at AUTH XOAUTH2: -ERR [AUTH] Authentication failed (server said: status 401, schemes bearer, scope https://mail.google.com/)',
    );
  });

  const bearer = (token: string, port: number) =>
    b64(`n,a=${USER},\x01host=127.0.0.1\x01port=${port}\x01auth=Bearer ${token}\x01\x01`);

  it('OAUTHBEARER (RFC 7628) with the initial response on the command line', async (t) => {
    const token = 'ya29.short-token';
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: token } });
    const client = await ready(t, server);
    await client.login('oauthbearer', USER, new Secret(token));
    assert.equal(client.state, 'transaction');
    await client.quit();
    assert.deepEqual(server.allCommands, [
      'CAPA',
      `AUTH OAUTHBEARER ${bearer(token, server.port)}`,
      'QUIT',
    ]);
  });

  it('OAUTHBEARER two-line form when the token is long', async (t) => {
    const token = `ya29.${'t'.repeat(300)}`;
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: token } });
    const client = await ready(t, server);
    await client.login('oauthbearer', USER, new Secret(token));
    assert.equal(client.state, 'transaction');
    await client.quit();
    assert.deepEqual(server.allCommands, [
      'CAPA',
      'AUTH OAUTHBEARER',
      bearer(token, server.port),
      'QUIT',
    ]);
  });

  it('OAUTHBEARER refusal: the error challenge is answered with ^A (RFC 7628 §3.2.3)', async (t) => {
    const server = await ledger.start(t, { xoauth2Tokens: { [USER]: 'the-right-token' } });
    const client = await ready(t, server);
    const wrong = `wrong-${'t'.repeat(300)}`;
    const error = await rejects(client.login('oauthbearer', USER, new Secret(wrong)), 'auth');
    assert.equal(
      error.message,
      'login refused at AUTH OAUTHBEARER: -ERR [AUTH] Authentication failed (server said: status invalid_token, scope https://mail.google.com/)',
    );
    assert.deepEqual(server.allCommands, [
      'CAPA',
      'AUTH OAUTHBEARER',
      bearer(wrong, server.port),
      'AQ==',
    ]);
  });

  it('a wrong password is an auth Pop3Error naming PASS and the server status', async (t) => {
    const server = await ledger.start(t);
    const client = await ready(t, server, { pipelining: false });
    const error = await rejects(client.login('user', USER, new Secret('wrong')), 'auth');
    assert.equal(error.command, 'PASS');
    assert.equal(error.response, '-ERR [AUTH] Authentication failed');
    assert.equal(client.currentPhase, 'auth');
    assert.ok(!error.message.includes('wrong'), error.message);
  });
});

describe('Pop3Client: pipelining (RFC 2449 §6.6)', { timeout: 15_000 }, () => {
  it('by default USER and PASS share a write, the transaction waits for the login reply', async (t) => {
    const server = await ledger.start(t);
    const proxy = await startRecordingProxy(t, server.port);
    const client = await ready(t, proxy);
    assert.equal(client.canPipelineAcrossLogin, false);
    const early = await client.login('user', USER, new Secret(PASSWORD), TRANSACTION);
    assert.deepEqual(early, [], 'nothing is sent behind the login');
    assert.equal(client.state, 'transaction');
    const tx = await client.exchange(TRANSACTION, client.canPipeline);
    assert.deepEqual(
      tx.map((r) => r.status),
      [STAT_REPLY, '+OK', '+OK fake POP3 server signing off (2 messages left)'],
    );
    client.markQuit();
    assert.deepEqual(proxy.chunks, [
      ['CAPA\r\n', `USER ${USER}\r\nPASS ${PASSWORD}\r\n`, 'STAT\r\nNOOP\r\nQUIT\r\n'],
    ]);
  });

  it('pipelining: full sends the login and the transaction in one write and returns their replies', async (t) => {
    const server = await ledger.start(t);
    const proxy = await startRecordingProxy(t, server.port);
    const client = await ready(t, proxy, { pipelining: 'full' });
    assert.equal(client.canPipelineAcrossLogin, true);
    const replies = await client.login('user', USER, new Secret(PASSWORD), TRANSACTION);
    assert.equal(client.pipelined, true);
    assert.deepEqual(
      replies.map((r) => r.status),
      [STAT_REPLY, '+OK', '+OK fake POP3 server signing off (2 messages left)'],
    );
    client.markQuit();
    assert.deepEqual(proxy.chunks, [
      ['CAPA\r\n', `USER ${USER}\r\nPASS ${PASSWORD}\r\nSTAT\r\nNOOP\r\nQUIT\r\n`],
    ]);
    for (const phase of ['auth', 'stat', 'noop', 'quit'] as const) {
      assert.ok((client.phases[phase] ?? -1) >= 0, `phase ${phase}`);
    }
  });

  it('without PIPELINING in CAPA every command leaves on its own', async (t) => {
    const server = await ledger.start(t, { capabilities: ['TOP', 'UIDL', 'USER'] });
    const proxy = await startRecordingProxy(t, server.port);
    const client = await ready(t, proxy);
    const replies = await client.login('user', USER, new Secret(PASSWORD), TRANSACTION);
    assert.deepEqual(replies, []);
    const tx = await client.exchange(TRANSACTION.slice(0, 2), client.canPipeline);
    assert.deepEqual(
      tx.map((r) => r.status),
      [STAT_REPLY, '+OK'],
    );
    await client.quit();
    assert.equal(client.pipelined, false);
    assert.deepEqual(proxy.chunks, [
      ['CAPA\r\n', `USER ${USER}\r\n`, `PASS ${PASSWORD}\r\n`, 'STAT\r\n', 'NOOP\r\n', 'QUIT\r\n'],
    ]);
  });

  it('a pipelined login refused at PASS still returns the -ERR when the server hangs up', async (t) => {
    const server = await ledger.start(t, {
      onCommand: (s, command) => {
        if (command !== 'PASS') return undefined;
        s.reply('-ERR [AUTH] go away');
        s.close();
        return true;
      },
    });
    const client = await ready(t, server);
    const error = await rejects(
      client.login('user', USER, new Secret(PASSWORD), TRANSACTION),
      'auth',
    );
    assert.equal(error.response, '-ERR [AUTH] go away');
  });
});

describe('Pop3Client: STLS (RFC 2595)', { timeout: 15_000 }, () => {
  const starttls = { mode: 'starttls' as const, ...tlsFixture('localhost') };

  it('upgrades, verifies the certificate against the CA and forgets the old CAPA', async (t) => {
    const server = await ledger.start(t, { tls: starttls });
    const client = await ready(t, server, { tls: 'starttls' });
    assert.equal(client.capabilities?.stls, true);
    await client.starttls();
    assert.equal(client.capabilities, null, 'RFC 2595 §4: the old CAPA is forgotten');
    assert.equal(client.tls?.certSubject, 'localhost');
    assert.equal(client.tls?.certIssuer, 'pop3-monitor test CA');
    assert.match(client.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    const caps = await client.capa();
    assert.equal(caps.stls, false, 'STLS is no longer offered over TLS');
    await client.login('user', USER, new Secret(PASSWORD));
    await client.quit();
    assert.equal(server.sessions[0]?.secure, true);
    assert.deepEqual(server.allCommands, [
      'CAPA',
      'STLS',
      'CAPA',
      `USER ${USER}`,
      `PASS ${PASSWORD}`,
      'QUIT',
    ]);
    for (const phase of ['capa', 'stls', 'tls'] as const) {
      assert.ok((client.phases[phase] ?? -1) > 0, `phase ${phase}`);
    }
  });

  it('refuses to go on when STLS is not offered (tls), sending nothing', async (t) => {
    const server = await ledger.start(t);
    const client = await ready(t, server, { tls: 'starttls' });
    await rejects(client.starttls(), 'tls');
    assert.deepEqual(server.allCommands, ['CAPA']);
  });

  it('refuses data sent after +OK to STLS before the handshake (command injection)', async (t) => {
    const server = await ledger.start(t, {
      tls: starttls,
      onCommand: (s, command) => {
        if (command !== 'STLS') return undefined;
        s.write('+OK Begin TLS\r\n+OK injected\r\n');
        return true;
      },
    });
    const client = await ready(t, server, { tls: 'starttls' });
    const error = await rejects(client.starttls(), 'protocol');
    assert.equal(error.command, 'STLS');
    assert.equal(client.tls, null);
    assert.deepEqual(server.allCommands, ['CAPA', 'STLS']);
  });
});

describe('Pop3Client: QUIT', { timeout: 15_000 }, () => {
  it('tolerates a server that closes instead of answering QUIT', async (t) => {
    const server = await ledger.start(t, {
      onCommand: (s, command) => {
        if (command !== 'QUIT') return undefined;
        s.close();
        return true;
      },
    });
    const client = await ready(t, server, { pipelining: false });
    await client.login('user', USER, new Secret(PASSWORD));
    assert.equal(await client.quit(), null);
    assert.equal(client.state, 'closed');
    assert.equal(server.allCommands.at(-1), 'QUIT');
  });
});
