import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileWatch,
  decodedHeader,
  observeWatch,
  watchAgeSeconds,
  watchMatches,
} from '../../../src/flow/expect-watch.js';
import type { ScannedMessage } from '../../../src/probe/new-messages.js';

const T0 = Date.UTC(2026, 2, 2, 10);

function message(fields: Partial<ScannedMessage>): ScannedMessage {
  return {
    uid: 'u1',
    number: 1,
    from: null,
    subject: null,
    message_id: null,
    probe: null,
    date: null,
    received_at: null,
    action: 'keep',
    deleted: false,
    ...fields,
  };
}

const backup = compileWatch({
  name: 'backup',
  from: 'backup@example\\.com',
  subject: '^Backup (OK|réussi)',
  within: 26 * 3_600_000,
});

describe('expect watches', () => {
  it('match from and subject case-insensitively, after decoding RFC 2047 encoded words', () => {
    assert.equal(
      decodedHeader('=?UTF-8?Q?Backup_r=C3=A9ussi?= (nightly)'),
      'Backup réussi (nightly)',
    );
    const encoded = message({
      from: '"Backup" <BACKUP@example.com>',
      subject: '=?UTF-8?Q?Backup_r=C3=A9ussi?=',
    });
    assert.equal(watchMatches(backup, encoded), true);
    assert.equal(watchMatches(backup, { ...encoded, subject: 'Backup FAILED' }), false);
    assert.equal(watchMatches(backup, { ...encoded, from: 'backup@example.org' }), false);
    assert.equal(watchMatches(backup, { ...encoded, from: null }), false);
  });

  it('remember when the newest match arrived (its Received: time), never later than seen', () => {
    const state = { last_match_at: null, since: T0 };
    const seenAt = T0 + 600_000;
    const older = message({
      from: 'backup@example.com',
      subject: 'Backup OK',
      received_at: (T0 + 60_000) / 1000,
    });
    const newer = { ...older, uid: 'u2', received_at: (T0 + 120_000) / 1000 };
    const future = { ...older, uid: 'u3', received_at: (seenAt + 3_600_000) / 1000 };
    assert.equal(observeWatch(state, backup, [newer, older], seenAt).last_match_at, T0 + 120_000);
    assert.equal(observeWatch(state, backup, [future], seenAt).last_match_at, seenAt);
    // An older match read later does not move it back.
    const after = observeWatch({ last_match_at: T0 + 120_000, since: T0 }, backup, [older], seenAt);
    assert.equal(after.last_match_at, T0 + 120_000);
  });

  it('age: since watching began until the first match, then since the match', () => {
    assert.equal(watchAgeSeconds({ last_match_at: null, since: T0 }, T0 + 90_000), 90);
    assert.equal(watchAgeSeconds({ last_match_at: T0 + 30_000, since: T0 }, T0 + 90_000), 60);
  });
});
