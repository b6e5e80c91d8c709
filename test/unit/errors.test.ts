import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendError } from '../../src/alerts/sender.js';
import { CheckUsageError } from '../../src/check/args.js';
import { parseRange, ThresholdError } from '../../src/check/range.js';
import { CodedError } from '../../src/errors.js';
import { SubmitError } from '../../src/flow/smtp-submit.js';
import { Pop3Error } from '../../src/pop3/errors.js';
import { SchedulerError } from '../../src/schedule/scheduler.js';

describe('CodedError: every layer has one error class, with a code', () => {
  it('keeps the code, the message, the subclass name and the cause', () => {
    const cause = new Error('under');
    const errors: [CodedError<string>, string, string][] = [
      [new Pop3Error('auth', 'refused', { cause }), 'Pop3Error', 'auth'],
      [new SendError('permanent', 'no'), 'SendError', 'permanent'],
      [new SchedulerError('stopped', 'late'), 'SchedulerError', 'stopped'],
      [new SubmitError('server_perm', 'refused'), 'SubmitError', 'server_perm'],
      [new CheckUsageError('--port: expected 1-65535'), 'CheckUsageError', 'usage'],
      [new ThresholdError('bad'), 'ThresholdError', 'bad_range'],
    ];
    for (const [error, name, code] of errors) {
      assert.ok(error instanceof CodedError, name);
      assert.ok(error instanceof Error, name);
      assert.equal(error.name, name);
      assert.equal(error.code, code, name);
    }
    assert.equal(errors[0]?.[0].cause, cause);
  });

  it('a bad threshold throws the coded ThresholdError', () => {
    assert.throws(
      () => parseRange('10:5x', { '': 1 }),
      (e: unknown) => e instanceof ThresholdError && e.code === 'bad_range',
    );
  });
});
