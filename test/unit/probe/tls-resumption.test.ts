import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { probeMailbox } from '../../../src/probe/probe.js';
import { TlsSessionStore } from '../../../src/probe/tls-sessions.js';
import {
  type FakePop3Server,
  startFakePop3Server,
  TEST_CA_PEM,
  tlsFixture,
} from '../../fixtures/fake-pop3-server.js';
import { aliceMailbox, mailboxFor } from '../../fixtures/probe-harness.js';

describe('TLS session resumption between probes', () => {
  let server: FakePop3Server;
  before(async () => {
    server = await startFakePop3Server({
      mailboxes: [aliceMailbox()],
      tls: { mode: 'implicit', ...tlsFixture('localhost') },
    });
  });
  after(() => server.close());

  it('resumes the session of the previous probe of the same server', async () => {
    const sessions = new TlsSessionStore();
    const mailbox = mailboxFor(server, { tls: 'implicit', tls_ca: TEST_CA_PEM.toString() });
    const first = await probeMailbox(mailbox, { tlsSessions: sessions });
    const second = await probeMailbox(mailbox, { tlsSessions: sessions });
    assert.equal(first.success, true);
    assert.equal(first.tls?.resumed, false);
    assert.equal(second.success, true);
    assert.equal(second.tls?.resumed, true);
    assert.equal(second.tls?.protocol, 'TLSv1.3');
    // A resumed session shows no certificate: the facts of the full handshake stand in.
    assert.equal(typeof first.tls?.cert_expiry_timestamp, 'number');
    assert.equal(second.tls?.cert_expiry_timestamp, first.tls?.cert_expiry_timestamp);
    assert.equal(second.tls?.cert_subject, 'localhost');
  });

  it('does a full handshake again once the certificate is due to be seen again', async () => {
    let now = Date.UTC(2026, 0, 1);
    const sessions = new TlsSessionStore({ maxAgeMs: 3_600_000, now: () => now });
    const mailbox = mailboxFor(server, { tls: 'implicit', tls_ca: TEST_CA_PEM.toString() });
    await probeMailbox(mailbox, { tlsSessions: sessions });
    now += 3_599_000;
    assert.equal((await probeMailbox(mailbox, { tlsSessions: sessions })).tls?.resumed, true);
    now += 1_000;
    assert.equal((await probeMailbox(mailbox, { tlsSessions: sessions })).tls?.resumed, false);
    assert.equal((await probeMailbox(mailbox, { tlsSessions: sessions })).tls?.resumed, true);
  });

  it('does a full handshake without a session store', async () => {
    const mailbox = mailboxFor(server, { tls: 'implicit', tls_ca: TEST_CA_PEM.toString() });
    await probeMailbox(mailbox);
    const again = await probeMailbox(mailbox);
    assert.equal(again.tls?.resumed, false);
  });

  it('never resumes a session made without verification for a verified mailbox', async () => {
    const sessions = new TlsSessionStore();
    const insecure = mailboxFor(server, { tls: 'implicit', tls_ca: undefined, tls_insecure: true });
    const verified = mailboxFor(server, { tls: 'implicit', tls_ca: TEST_CA_PEM.toString() });
    const a = await probeMailbox(insecure, { tlsSessions: sessions });
    assert.equal(a.success, true);
    const b = await probeMailbox(verified, { tlsSessions: sessions });
    assert.equal(b.success, true);
    assert.equal(b.tls?.resumed, false);
    // And a verified mailbox without the CA is still refused, whatever sessions exist.
    const untrusted = mailboxFor(server, { tls: 'implicit', tls_ca: undefined });
    const c = await probeMailbox(untrusted, { tlsSessions: sessions });
    assert.equal(c.success, false);
    assert.equal(c.error?.code, 'tls');
  });
});
