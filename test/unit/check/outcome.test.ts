import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, type Thresholds, unknownOutcome } from '../../../src/check/outcome.js';
import { parseRange } from '../../../src/check/range.js';
import { failed, ok } from '../../fixtures/probe-results.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const NONE: Thresholds = { warning: {}, critical: {} };

/** 3 messages, 1208 octets, oldest 2h 1m before NOW, a 93 ms probe. */
function inbox(fields: Parameters<typeof ok>[1] = {}) {
  return ok('support', {
    messages: 3,
    size_bytes: 1208,
    oldest_message_timestamp: NOW / 1000 - 7260.4,
    phases: { connect: 0.0012, auth: 0.015, stat: 0.0003, total: 0.0934 },
    ...fields,
  });
}

const thresholds = (
  warning: Record<string, string>,
  critical: Record<string, string>,
): Thresholds => {
  const units = { '': 1, s: 1, m: 60, h: 3600, ms: 0.001 };
  const of = (spec: Record<string, string>) =>
    Object.fromEntries(Object.entries(spec).map(([q, r]) => [q, parseRange(r, units)]));
  return { warning: of(warning), critical: of(critical) };
};

describe('evaluate: the line and the exit status', () => {
  it('OK: count, oldest age, time; perfdata with the thresholds', () => {
    const outcome = evaluate(
      inbox(),
      thresholds({ messages: '100', time: '1' }, { messages: '500', time: '5' }),
      NOW,
    );
    assert.equal(outcome.state, 'OK');
    assert.equal(outcome.exitStatus, 0);
    assert.equal(
      outcome.line,
      'POP3 OK - 3 messages, oldest 2h 1m, 93 ms | messages=3;100;500;0 size=1208B;;;0 time=0.093s;1;5;0 age=7260s;;;0 time_connect=0.0012s;;;0 time_auth=0.015s;;;0 time_stat=0.0003s;;;0',
    );
  });

  it('WARNING and CRITICAL by the worst threshold crossed, each one named', () => {
    const warn = evaluate(inbox(), thresholds({ messages: '2' }, { messages: '5' }), NOW);
    assert.equal(warn.exitStatus, 1);
    assert.match(warn.line, /^POP3 WARNING - 3 messages \(> 2\), oldest 2h 1m, 93 ms \| /);
    const crit = evaluate(inbox(), thresholds({ messages: '2' }, { age: '1h', time: '50ms' }), NOW);
    assert.equal(crit.exitStatus, 2);
    assert.match(
      crit.line,
      /^POP3 CRITICAL - 3 messages \(> 2\), oldest 2h 1m \(> 3600s\), 93 ms \(> 0\.05s\) \| /,
    );
  });

  it('a size threshold shows the size', () => {
    const outcome = evaluate(inbox(), thresholds({ size: '1000' }, {}), NOW);
    assert.match(outcome.line, /^POP3 WARNING - 3 messages, 1208 bytes \(> 1000B\), oldest/);
  });

  it('an empty maildrop has no age: an age threshold does not alert, no age perfdata', () => {
    const outcome = evaluate(
      inbox({ messages: 0, size_bytes: 0, oldest_message_timestamp: null }),
      thresholds({}, { age: '1h' }),
      NOW,
    );
    assert.equal(outcome.state, 'OK');
    assert.match(outcome.line, /^POP3 OK - 0 messages, 93 ms \| messages=0;;;0 size=0B;;;0 time=/);
    assert.doesNotMatch(outcome.line, /age=/);
  });

  it('a message without a date and an age threshold: UNKNOWN, unless something is worse', () => {
    const undated = inbox({ oldest_message_timestamp: null });
    const unknown = evaluate(undated, thresholds({ age: '1h' }, {}), NOW);
    assert.equal(unknown.exitStatus, 3);
    assert.match(unknown.line, /^POP3 UNKNOWN - 3 messages, oldest unknown/);
    const critical = evaluate(undated, thresholds({ age: '1h' }, { messages: '1' }), NOW);
    assert.equal(critical.exitStatus, 2);
  });

  it('one message', () => {
    assert.match(evaluate(inbox({ messages: 1 }), NONE, NOW).line, /^POP3 OK - 1 message, /);
  });

  it('a failed probe is CRITICAL with its reason and message; time perfdata only', () => {
    const result = failed('support', 'auth', 'auth', {
      phases: { connect: 0.001, auth: 2.0, total: 2.005 },
    });
    result.error = {
      code: 'auth',
      phase: 'auth',
      message: 'login refused at PASS: -ERR [AUTH] Authentication failed.',
      response: '-ERR [AUTH] Authentication failed.',
      command: 'PASS',
    };
    const outcome = evaluate(result, thresholds({ messages: '1' }, {}), NOW);
    assert.equal(outcome.exitStatus, 2);
    assert.equal(
      outcome.line,
      'POP3 CRITICAL - auth: login refused at PASS: -ERR [AUTH] Authentication failed. (after 2005 ms) | time=2.005s;;;0 time_connect=0.001s;;;0 time_auth=2s;;;0',
    );
  });

  it("a server's reply cannot break the line: no newline, no |", () => {
    const result = failed('x', 'protocol', 'greeting');
    if (result.error) result.error.message = 'bad greeting: +OK a|b\r\nc';
    const outcome = evaluate(result, NONE, NOW);
    assert.equal(outcome.line.split('|').length, 2);
    assert.doesNotMatch(outcome.line, /[\r\n]/);
    assert.match(outcome.line, /a\/b c/);
  });

  it('unknownOutcome: exit 3, one line', () => {
    assert.deepEqual(unknownOutcome('--port: expected 1-65535\nmore'), {
      state: 'UNKNOWN',
      exitStatus: 3,
      line: 'POP3 UNKNOWN - --port: expected 1-65535 more',
    });
  });
});
