/**
 * The default never pipelines across the login (the change from AUTHORIZATION to
 * TRANSACTION): against a scripted server that drops whatever arrived behind a successful
 * login, as Courier and Cyrus do, the default probe succeeds and `pipelining: full` (the
 * login and the transaction in one write) loses its transaction. test/integration/
 * interop-*.test.ts show the same against the real servers.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AuthMethod } from '../../../src/config/schema.js';
import {
  aliceMailbox,
  mailboxFor,
  octets,
  PASSWORD,
  ServerLedger,
  USER,
} from '../../fixtures/probe-harness.js';

const ledger = new ServerLedger();
after(() => ledger.verify());

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const LOGIN: Record<'user' | 'plain', string[]> = {
  user: [`USER ${USER}`, `PASS ${PASSWORD}`],
  plain: [`AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`],
};
const TRANSACTION = ['STAT', 'NOOP', 'UIDL', 'TOP 1 0', 'QUIT'];

describe('probeMailbox: a server that drops what was sent behind the login', {
  timeout: 20_000,
}, () => {
  for (const auth of ['user', 'plain'] as const satisfies AuthMethod[]) {
    it(`auth ${auth}, default pipelining: the transaction waits for the login's reply and succeeds`, async (t) => {
      const server = await ledger.start(t, { dropInputBehindLogin: true });
      const result = await ledger.probe(server, mailboxFor(server, { auth }));
      assert.equal(result.error, null);
      assert.equal(result.success, true);
      assert.equal(result.pipelined, true, 'the transaction itself is still pipelined');
      assert.equal(result.messages, 2);
      assert.equal(result.size_bytes, octets(aliceMailbox().messages));
      assert.equal(result.uidl_count, 2);
      assert.deepEqual(server.sessions[0]?.commands, ['CAPA', ...LOGIN[auth], ...TRANSACTION]);
    });

    it(`auth ${auth}, pipelining: full: the transaction sent with the login is lost (timeout)`, async (t) => {
      const server = await ledger.start(t, { dropInputBehindLogin: true });
      const result = await ledger.probe(
        server,
        mailboxFor(server, { auth, pipelining: 'full', timeout: 1_000 }),
      );
      assert.equal(result.success, false);
      assert.equal(result.error?.code, 'timeout');
      assert.equal(result.error?.phase, 'stat');
      // The server saw the login and nothing after it.
      assert.deepEqual(server.sessions[0]?.commands, ['CAPA', ...LOGIN[auth]]);
    });
  }

  it('pipelining: full against a server that keeps it: one write for login and transaction', async (t) => {
    const server = await ledger.start(t);
    const result = await ledger.probe(server, mailboxFor(server, { pipelining: 'full' }));
    assert.equal(result.success, true);
    assert.deepEqual(server.sessions[0]?.commands, ['CAPA', ...LOGIN.plain, ...TRANSACTION]);
  });
});
