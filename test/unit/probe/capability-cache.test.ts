import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseCapa } from '../../../src/pop3/responses.js';
import { CapabilityCache } from '../../../src/probe/capability-cache.js';
import { Secret } from '../../../src/secret.js';
import { DEFAULT_CAPABILITIES, tlsFixture } from '../../fixtures/fake-pop3-server.js';
import { mailboxFor, PASSWORD, ServerLedger, USER } from '../../fixtures/probe-harness.js';

const ledger = new ServerLedger();
after(() => ledger.verify());

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'capability-cache-'));
  dirs.push(dir);
  return join(dir, 'state', 'capabilities.json');
}

const PLAIN_IR = `AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`;
const TRANSACTION = ['STAT', 'NOOP', 'UIDL', 'TOP 1 0', 'QUIT'];
const BEFORE = parseCapa(['USER', 'STLS', 'PIPELINING']);
const AFTER = parseCapa(['USER', 'SASL PLAIN', 'PIPELINING']);

/** A clock the cache reads; tests move it by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('CapabilityCache: the store', () => {
  it('keys by lower-cased host, port and transport', () => {
    assert.equal(
      CapabilityCache.key('POP.Example.COM', 995, 'implicit'),
      'pop.example.com:995/implicit',
    );
    assert.notEqual(
      CapabilityCache.key('h', 110, 'starttls'),
      CapabilityCache.key('h', 110, 'none'),
    );
  });

  it('returns what was set, parsed again', () => {
    const cache = new CapabilityCache();
    cache.set('k', BEFORE, AFTER);
    const got = cache.get('k');
    assert.deepEqual(got?.before, BEFORE);
    assert.deepEqual(got?.after, AFTER);
    assert.equal(cache.get('other'), undefined);
    assert.equal(cache.size, 1);
  });

  it('forgets an entry once it is older than the TTL', () => {
    const clock = manualClock();
    const cache = new CapabilityCache({ ttlMs: 60_000, now: clock.now });
    cache.set('k', BEFORE, null);
    clock.advance(60_000);
    assert.deepEqual(cache.get('k')?.before, BEFORE, 'exactly the TTL old is still fresh');
    clock.advance(1);
    assert.equal(cache.get('k'), undefined);
    assert.equal(cache.size, 0, 'the expired entry is dropped');
  });

  it('setting the same capabilities refreshes the age only after half the TTL', () => {
    const clock = manualClock();
    const cache = new CapabilityCache({ ttlMs: 60_000, now: clock.now });
    cache.set('early', BEFORE, null);
    cache.set('late', BEFORE, null);
    clock.advance(20_000);
    cache.set('early', BEFORE, null); // within ttl/2: kept as learned at 0
    clock.advance(20_000);
    cache.set('late', BEFORE, null); // past ttl/2: learned again at 40 s
    clock.advance(20_001);
    assert.equal(cache.get('early'), undefined);
    assert.deepEqual(cache.get('late')?.before, BEFORE);
  });

  it('keeps at most maxEntries servers, dropping the oldest first', () => {
    const cache = new CapabilityCache({ maxEntries: 2 });
    cache.set('a', BEFORE, null);
    cache.set('b', BEFORE, null);
    cache.set('c', BEFORE, null);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a'), undefined);
    assert.ok(cache.get('b') && cache.get('c'));
  });

  it('persists through a file and reads it back in a new instance', async () => {
    const file = tempFile();
    const clock = manualClock();
    const first = new CapabilityCache({ file, now: clock.now });
    first.set('pop:110/starttls', BEFORE, AFTER);
    first.set('pop:995/implicit', AFTER, null);
    await first.save();
    assert.deepEqual(readdirSync(dirname(file)), [basename(file)], 'no temp file left');
    const second = new CapabilityCache({ file, now: clock.now });
    assert.equal(second.size, 2);
    assert.deepEqual(second.get('pop:110/starttls'), { before: BEFORE, after: AFTER });
    assert.deepEqual(second.get('pop:995/implicit'), { before: AFTER, after: null });
    // The learned time travels with the entry: the TTL still counts from then.
    clock.advance(3_600_001);
    assert.equal(new CapabilityCache({ file, now: clock.now }).get('pop:995/implicit'), undefined);
  });

  it('writes only when something changed', async () => {
    const file = tempFile();
    const cache = new CapabilityCache({ file });
    await cache.save();
    assert.ok(!existsSync(file), 'nothing to save yet');
    cache.set('k', BEFORE, null);
    await cache.save();
    rmSync(file);
    await cache.save();
    assert.ok(!existsSync(file), 'unchanged since the last save');
    cache.delete('k');
    await cache.save();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {});
  });

  it('ignores a missing or corrupt file and entries of the wrong shape', () => {
    const file = tempFile();
    assert.equal(new CapabilityCache({ file }).size, 0, 'a missing file is an empty cache');
    mkdirSync(dirname(file), { recursive: true });
    for (const corrupt of [
      '{"pop:110/none": {"before": ["USER"], "after": nul',
      '[1, 2]',
      'null',
      '7',
    ]) {
      writeFileSync(file, corrupt);
      assert.equal(new CapabilityCache({ file }).size, 0, corrupt);
    }
    writeFileSync(
      file,
      JSON.stringify({
        good: { before: ['USER'], after: null, at: Date.now() },
        badLines: { before: [1, 2], after: null, at: Date.now() },
        badAfter: { before: ['USER'], after: 'STLS', at: Date.now() },
        noTime: { before: ['USER'], after: null },
        notObject: 'USER',
        nullEntry: null,
      }),
    );
    const cache = new CapabilityCache({ file });
    assert.equal(cache.size, 1);
    assert.deepEqual(cache.get('good')?.before.names, ['USER']);
  });
});

describe('CapabilityCache: used by probeMailbox', { timeout: 20_000 }, () => {
  it('a second probe sends no CAPA', async (t) => {
    const server = await ledger.start(t);
    const cache = new CapabilityCache();
    const mailbox = mailboxFor(server);
    const first = await ledger.probe(server, mailbox, { capabilityCache: cache });
    const second = await ledger.probe(server, mailbox, { capabilityCache: cache });
    assert.equal(first.success, true);
    assert.equal(second.success, true);
    assert.deepEqual(second.capabilities, [...DEFAULT_CAPABILITIES]);
    assert.equal(second.pipelined, true);
    assert.equal(second.phases.capa, undefined);
    assert.deepEqual(server.sessions[0]?.commands, ['CAPA', PLAIN_IR, ...TRANSACTION]);
    assert.deepEqual(server.sessions[1]?.commands, [PLAIN_IR, ...TRANSACTION]);
    assert.equal(cache.size, 1);
  });

  it('with STLS the cached session sends STLS right after the greeting', async (t) => {
    const server = await ledger.start(t, { tls: { mode: 'starttls', ...tlsFixture('localhost') } });
    const cache = new CapabilityCache();
    const mailbox = mailboxFor(server, { tls: 'starttls' });
    const first = await ledger.probe(server, mailbox, { capabilityCache: cache });
    const second = await ledger.probe(server, mailbox, { capabilityCache: cache });
    assert.equal(first.success, true, first.error?.message);
    assert.equal(second.success, true, second.error?.message);
    assert.deepEqual(server.sessions[0]?.commands, [
      'CAPA',
      'STLS',
      'CAPA',
      PLAIN_IR,
      ...TRANSACTION,
    ]);
    assert.deepEqual(server.sessions[1]?.commands, ['STLS', PLAIN_IR, ...TRANSACTION]);
    assert.equal(server.sessions[1]?.secure, true);
    assert.deepEqual(second.capabilities, [...DEFAULT_CAPABILITIES], 'the CAPA after TLS');
    const cached = cache.get(CapabilityCache.key('127.0.0.1', server.port, 'starttls'));
    assert.equal(cached?.before.stls, true);
    assert.equal(cached?.after?.stls, false);
  });

  it('a failed probe drops the entry, and the next probe asks CAPA again', async (t) => {
    const server = await ledger.start(t);
    const cache = new CapabilityCache();
    const key = CapabilityCache.key('127.0.0.1', server.port, 'none');
    await ledger.probe(server, mailboxFor(server), { capabilityCache: cache });
    assert.ok(cache.get(key));
    const failed = await ledger.probe(
      server,
      mailboxFor(server, { password: new Secret('wrong-password') }),
      { capabilityCache: cache },
    );
    assert.equal(failed.error?.code, 'auth');
    assert.equal(cache.get(key), undefined);
    assert.equal(cache.size, 0);
    const again = await ledger.probe(server, mailboxFor(server), { capabilityCache: cache });
    assert.equal(again.success, true);
    assert.deepEqual(
      server.sessions.map((s) => s.commands[0] === 'CAPA'),
      [true, false, true],
    );
  });

  it('stale capabilities fail once and are learned again', async (t) => {
    const server = await ledger.start(t, {
      capabilities: ['USER', 'UIDL', 'TOP'],
      onCommand: (s, command) => {
        if (command !== 'AUTH') return undefined;
        s.reply('-ERR Unknown command');
        return true;
      },
    });
    const cache = new CapabilityCache();
    const key = CapabilityCache.key('127.0.0.1', server.port, 'none');
    // Remembered from before the server dropped SASL PLAIN.
    cache.set(key, parseCapa(['SASL PLAIN', 'PIPELINING']), null);
    const stale = await ledger.probe(server, mailboxFor(server), { capabilityCache: cache });
    assert.equal(stale.success, false);
    assert.equal(cache.size, 0);
    const fresh = await ledger.probe(server, mailboxFor(server), { capabilityCache: cache });
    assert.equal(fresh.success, true, fresh.error?.message);
    assert.equal(fresh.auth_method, 'user');
    assert.deepEqual(cache.get(key)?.before.lines, ['USER', 'UIDL', 'TOP']);
  });

  it('an expired entry is asked for again', async (t) => {
    const server = await ledger.start(t);
    const clock = manualClock();
    const cache = new CapabilityCache({ ttlMs: 1000, now: clock.now });
    const mailbox = mailboxFor(server);
    await ledger.probe(server, mailbox, { capabilityCache: cache });
    clock.advance(1001);
    const result = await ledger.probe(server, mailbox, { capabilityCache: cache });
    assert.equal(result.success, true);
    assert.deepEqual(
      server.sessions.map((s) => s.commands[0]),
      ['CAPA', 'CAPA'],
    );
  });
});
