/**
 * Proves the real test servers (test/servers/start.sh) answer as test/servers/env.ts
 * documents, with raw sockets so a failure here points at the servers, not at the
 * project's client.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import {
  aliceExpected,
  clearMaildir,
  DOVECOT,
  MANY_COUNT,
  maildirSnapshot,
  SMTP,
  USERS,
} from '../servers/env.js';
import { RawSession } from '../servers/raw-session.js';

const open: RawSession[] = [];
after(() => {
  for (const session of open) session.close();
});

function track(session: RawSession): RawSession {
  open.push(session);
  return session;
}

async function pop3Plain(): Promise<{ session: RawSession; greeting: string }> {
  const session = track(await RawSession.connect(DOVECOT.host, DOVECOT.plainPort));
  return { session, greeting: await session.readLine() };
}

async function login(user: { user: string; password: string }): Promise<RawSession> {
  const { session, greeting } = await pop3Plain();
  assert.match(greeting, /^\+OK /);
  assert.match(await session.command(`USER ${user.user}`), /^\+OK/);
  assert.equal(await session.command(`PASS ${user.password}`), '+OK Logged in.');
  return session;
}

async function quit(session: RawSession): Promise<void> {
  // Dovecot answers "+OK Logging out" before login and "+OK Logging out." after it.
  assert.match(await session.command('QUIT'), /^\+OK Logging out\.?$/);
  session.close();
}

/** `+OK count octets` (RFC 1939 section 5, STAT) as numbers. */
function parseStat(line: string): { count: number; octets: number } {
  const match = /^\+OK (\d+) (\d+)$/.exec(line);
  assert.ok(match, `not a STAT reply: ${line}`);
  return { count: Number(match[1]), octets: Number(match[2]) };
}

async function statOf(user: { user: string; password: string }): Promise<{
  count: number;
  octets: number;
}> {
  const session = await login(user);
  const stat = parseStat(await session.command('STAT'));
  await quit(session);
  return stat;
}

function headerOf(lines: string[], name: string): string | undefined {
  const prefix = `${name.toLowerCase()}:`;
  const line = lines.find((l) => l.toLowerCase().startsWith(prefix));
  return line?.slice(prefix.length).trim();
}

const trusted = (): { ca: Buffer; servername: string } => ({
  ca: readFileSync(DOVECOT.caFile),
  servername: 'localhost',
});

describe('dovecot pop3 on the plain port', () => {
  test('greets with +OK and an APOP timestamp, and APOP with it logs in', async () => {
    const { session, greeting } = await pop3Plain();
    const match = /^\+OK .*(<[^<>]+@[^<>]+>)$/.exec(greeting);
    assert.ok(match, `greeting without an APOP timestamp: ${greeting}`);
    // RFC 1939 section 7: digest = MD5(timestamp + secret), lowercase hex.
    const digest = createHash('md5')
      .update(match[1] + USERS.alice.password)
      .digest('hex');
    assert.equal(await session.command(`APOP ${USERS.alice.user} ${digest}`), '+OK Logged in.');
    await quit(session);
  });

  test('CAPA before login lists exactly the documented capabilities', async () => {
    const { session } = await pop3Plain();
    assert.equal(await session.command('CAPA'), '+OK');
    assert.deepEqual(await session.readDotBlock(), [
      'CAPA',
      'TOP',
      'UIDL',
      'RESP-CODES',
      'PIPELINING',
      'AUTH-RESP-CODE',
      'STLS',
      'USER',
      // XOAUTH2 and OAUTHBEARER go to passdb oauth2 (the oauth.test users only).
      'SASL PLAIN LOGIN XOAUTH2 OAUTHBEARER',
    ]);
    await quit(session);
  });

  test('STLS upgrades to TLS verified by caFile, and CAPA then drops STLS', async () => {
    const { session } = await pop3Plain();
    assert.equal(await session.command('STLS'), '+OK Begin TLS negotiation now.');
    await session.startTls(trusted());
    assert.equal(session.tlsSocket?.authorized, true);
    assert.equal(await session.command('CAPA'), '+OK');
    const capabilities = await session.readDotBlock();
    assert.equal(capabilities.includes('STLS'), false);
    assert.equal(capabilities.includes('SASL PLAIN LOGIN XOAUTH2 OAUTHBEARER'), true);
    await quit(session);
  });

  test('USER/PASS alice: STAT, LIST and the Date: of each message match the fixtures', async () => {
    const expected = aliceExpected();
    assert.equal(expected.count, 3);
    const session = await login(USERS.alice);
    assert.deepEqual(parseStat(await session.command('STAT')), {
      count: expected.count,
      octets: expected.octets,
    });
    assert.equal(await session.command('LIST'), `+OK ${expected.count} messages:`);
    assert.deepEqual(
      await session.readDotBlock(),
      expected.sizes.map((size, i) => `${i + 1} ${size}`),
    );
    const dates: number[] = [];
    for (let n = 1; n <= expected.count; n++) {
      assert.equal(await session.command(`TOP ${n} 0`), '+OK');
      const date = headerOf(await session.readDotBlock(), 'Date');
      dates.push(Date.parse(date ?? '') / 1000);
    }
    assert.deepEqual(dates, expected.dates);
    await quit(session);
  });

  test('TOP sends a body line starting with "." dot-stuffed (RFC 1939 section 3)', async () => {
    const session = await login(USERS.alice);
    assert.equal(await session.command('TOP 2 3'), '+OK');
    const lines = await session.readDotBlock();
    assert.deepEqual(lines.slice(-2), [
      '..hidden line that starts with a dot',
      '...and this one starts with two',
    ]);
    await quit(session);
  });

  test('a read-only session (STAT, LIST, UIDL, TOP, QUIT) leaves alice’s maildir unchanged', async () => {
    const before = maildirSnapshot(USERS.alice.user);
    assert.equal(before.size, 3);
    const session = await login(USERS.alice);
    for (const command of ['STAT', 'NOOP']) assert.match(await session.command(command), /^\+OK/);
    for (const command of ['LIST', 'UIDL', 'TOP 1 0']) {
      assert.match(await session.command(command), /^\+OK/);
      await session.readDotBlock();
    }
    await quit(session);
    assert.deepEqual(maildirSnapshot(USERS.alice.user), before);
  });

  test('a wrong password gives -ERR [AUTH] within 1.5 s (not the 2 s default delay)', async () => {
    const { session } = await pop3Plain();
    assert.match(await session.command(`USER ${USERS.alice.user}`), /^\+OK/);
    const started = Date.now();
    assert.equal(
      await session.command('PASS wrong-password'),
      '-ERR [AUTH] Authentication failed.',
    );
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    await quit(session);
  });

  test('empty has no messages and many has 500, oldest first', async () => {
    assert.deepEqual(await statOf(USERS.empty), { count: 0, octets: 0 });
    const session = await login(USERS.many);
    assert.equal(parseStat(await session.command('STAT')).count, MANY_COUNT);
    for (const n of [1, 2, MANY_COUNT]) {
      assert.equal(await session.command(`TOP ${n} 0`), '+OK');
      assert.equal(headerOf(await session.readDotBlock(), 'Subject'), `Message ${n} of 500`);
    }
    await quit(session);
  });

  // Dovecot 2.3 waits up to 10 s (a fixed dotlock timeout) for the session lock before
  // answering [IN-USE], so this test takes about 10 s.
  test('a second concurrent session of locked gets -ERR [IN-USE]', async () => {
    const first = await login(USERS.locked);
    assert.deepEqual(parseStat(await first.command('STAT')), { count: 1, octets: 351 });
    const { session: second } = await pop3Plain();
    assert.match(await second.command(`USER ${USERS.locked.user}`), /^\+OK/);
    assert.equal(
      await second.command(`PASS ${USERS.locked.password}`, 20_000),
      '-ERR [IN-USE] Mailbox is locked by another POP3 session.',
    );
    second.close();
    await quit(first);
  });
});

describe('dovecot pop3 with implicit TLS', () => {
  test('verifies against caFile with servername localhost and greets', async () => {
    const session = track(
      await RawSession.connectTls({ host: DOVECOT.host, port: DOVECOT.tlsPort, ...trusted() }),
    );
    assert.equal(session.tlsSocket?.authorized, true);
    assert.equal(session.tlsSocket?.getPeerCertificate().subject.CN, 'localhost');
    assert.match(session.tlsSocket?.getProtocol() ?? '', /^TLSv1\.[23]$/);
    assert.match(await session.readLine(), /^\+OK Dovecot/);
    await quit(session);
  });

  test('fails verification against otherCaFile', async () => {
    await assert.rejects(
      RawSession.connectTls({
        host: DOVECOT.host,
        port: DOVECOT.tlsPort,
        ca: readFileSync(DOVECOT.otherCaFile),
        servername: 'localhost',
      }),
      { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    );
  });
});

async function smtpSession(port: number): Promise<RawSession> {
  const session = track(await RawSession.connect(SMTP.host, port));
  assert.match((await session.readSmtpReply())[0] ?? '', /^220 /);
  return session;
}

async function smtpCommand(session: RawSession, line: string): Promise<string[]> {
  session.send(line);
  return session.readSmtpReply();
}

/** EHLO keywords (RFC 5321 section 4.1.1.1) without the 250 prefix or greeting line. */
async function ehlo(session: RawSession): Promise<string[]> {
  const reply = await smtpCommand(session, 'EHLO client.test.local');
  assert.match(reply[0] ?? '', /^250[- ]/);
  return reply.slice(1).map((line) => line.slice(4));
}

describe('postfix', () => {
  test('the SMTP port accepts mail for alerts@test.local and it is readable over POP3', async () => {
    clearMaildir(USERS.alerts.user);
    const messageId = `<${randomUUID()}@servers.test>`;
    const session = await smtpSession(SMTP.port);
    const keywords = await ehlo(session);
    assert.equal(keywords.includes('STARTTLS'), false);
    assert.match((await smtpCommand(session, 'MAIL FROM:<monitor@test.local>'))[0] ?? '', /^250 /);
    assert.match((await smtpCommand(session, 'RCPT TO:<alerts@test.local>'))[0] ?? '', /^250 /);
    assert.match((await smtpCommand(session, 'DATA'))[0] ?? '', /^354 /);
    session.send(`Message-ID: ${messageId}`);
    session.send('Subject: servers test');
    session.send('');
    session.send('delivered through the test Postfix');
    assert.match((await smtpCommand(session, '.'))[0] ?? '', /^250 /);
    assert.match((await smtpCommand(session, 'QUIT'))[0] ?? '', /^221 /);
    session.close();

    // Delivery is asynchronous (queue manager → virtual): poll, bounded.
    const deadline = Date.now() + 5000;
    let found = false;
    while (!found && Date.now() < deadline) {
      const pop = await login(USERS.alerts);
      const { count } = parseStat(await pop.command('STAT'));
      for (let n = 1; n <= count && !found; n++) {
        assert.equal(await pop.command(`TOP ${n} 0`), '+OK');
        found = headerOf(await pop.readDotBlock(), 'Message-ID') === messageId;
      }
      await quit(pop);
      if (!found) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(found, true, `${messageId} did not reach alerts within 5 s`);
    clearMaildir(USERS.alerts.user);
  });

  test('the SMTP port rejects unknown recipients and other domains', async () => {
    const session = await smtpSession(SMTP.port);
    await ehlo(session);
    assert.match((await smtpCommand(session, 'MAIL FROM:<monitor@test.local>'))[0] ?? '', /^250 /);
    assert.match(
      (await smtpCommand(session, 'RCPT TO:<nobody@test.local>'))[0] ?? '',
      /^550 5\.1\.1 .*User unknown/,
    );
    assert.match(
      (await smtpCommand(session, 'RCPT TO:<someone@example.com>'))[0] ?? '',
      /^554 5\.7\.1 .*Relay access denied/,
    );
    assert.match((await smtpCommand(session, 'QUIT'))[0] ?? '', /^221 /);
    session.close();
  });

  test('the submission port offers STARTTLS, then AUTH; monitor authenticates', async () => {
    const session = await smtpSession(SMTP.submissionPort);
    const plainKeywords = await ehlo(session);
    assert.equal(plainKeywords.includes('STARTTLS'), true);
    assert.equal(
      plainKeywords.some((k) => k.startsWith('AUTH')),
      false,
    );
    assert.match((await smtpCommand(session, 'STARTTLS'))[0] ?? '', /^220 /);
    await session.startTls(trusted());
    assert.equal(session.tlsSocket?.authorized, true);
    const tlsKeywords = await ehlo(session);
    assert.equal(tlsKeywords.includes('AUTH PLAIN LOGIN'), true);
    const wrong = Buffer.from(`\0${SMTP.user}\0wrong-password`).toString('base64');
    assert.match((await smtpCommand(session, `AUTH PLAIN ${wrong}`))[0] ?? '', /^535 /);
    const right = Buffer.from(`\0${SMTP.user}\0${SMTP.password}`).toString('base64');
    assert.match((await smtpCommand(session, `AUTH PLAIN ${right}`))[0] ?? '', /^235 /);
    assert.match((await smtpCommand(session, 'QUIT'))[0] ?? '', /^221 /);
    session.close();
  });
});
