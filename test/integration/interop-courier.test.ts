/**
 * The probe against the real Courier of test/servers (courier-pop 1.0 with
 * courier-authdaemon, Maildir) with default settings: see interop-support.ts. Courier's
 * login program execs courierpop3d after the login, so whatever was pipelined behind it
 * is lost: the default must not do that.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { probeMailbox } from '../../src/probe/probe.js';
import { COURIER } from '../servers/env.js';
import { describeInterop, interopMailbox, TRANSPORTS } from './interop-support.js';

describeInterop(COURIER, () => {
  it('courier: CAPA announces LOGIN-DELAY 10, which the probe reports', async () => {
    const result = await probeMailbox(interopMailbox(COURIER, 'empty', TRANSPORTS[0]!));
    assert.equal(result.success, true);
    assert.equal(result.login_delay_seconds, 10);
    assert.ok(result.capabilities.includes('IMPLEMENTATION Courier Mail Server'));
  });
});
