/**
 * The probe against the real Cyrus of test/servers (cyrus-pop3d 3.6, its own mailbox
 * store, users in a sasldb) with default settings: see interop-support.ts. Cyrus loses
 * whatever was pipelined behind AUTH with an initial response: the default must not do
 * that.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { probeMailbox } from '../../src/probe/probe.js';
import { CYRUS } from '../servers/env.js';
import { describeInterop, interopMailbox, TRANSPORTS } from './interop-support.js';

describeInterop(CYRUS, () => {
  it('cyrus: auth: apop (the greeting carries a timestamp) succeeds', async () => {
    const result = await probeMailbox(
      interopMailbox(CYRUS, 'alice', TRANSPORTS[0]!, { auth: 'apop' }),
    );
    assert.equal(result.error, null);
    assert.equal(result.auth_method, 'apop');
    assert.equal(result.messages, 3);
  });
});
