import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { type GatedMailbox, ProbeGate } from '../../../src/probe/gate.js';
import type { ProbeResult } from '../../../src/probe/result.js';
import { FakeClock } from '../../fixtures/fake-clock.js';
import { failed as failedResult, ok } from '../../fixtures/probe-results.js';

const MINUTE = 60_000;

function mailbox(extra: Partial<GatedMailbox> = {}): GatedMailbox {
  return { name: 'a', schedule: '*/60 * * * * *', auth_failure_backoff: 15 * MINUTE, ...extra };
}

const result = (extra: Partial<ProbeResult> = {}) => ok('a', extra);
const failed = (code: 'auth' | 'timeout') => failedResult('a', code, 'auth');

function setup() {
  const clock = new FakeClock();
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const intervals: string[] = [];
  const gate = new ProbeGate({
    clock,
    logger,
    intervalMs: (schedule) => {
      intervals.push(schedule);
      return schedule === '*/60 * * * * *' ? MINUTE : 5 * MINUTE;
    },
  });
  const events = (event: string) => logs.filter((line) => line['event'] === event);
  return { clock, gate, events, intervals };
}

describe('ProbeGate auth backoff', () => {
  it('holds scheduled probes back for auth_failure_backoff after a refused login', async () => {
    const h = setup();
    const m = mailbox();
    assert.equal(h.gate.admit(m), null);
    h.gate.observe(m, failed('auth'));
    assert.equal(h.gate.admit(m), 'auth_backoff');
    await h.clock.advance(15 * MINUTE - 1);
    assert.equal(h.gate.admit(m), 'auth_backoff');
    await h.clock.advance(1);
    assert.equal(h.gate.admit(m), null);
    assert.deepEqual(
      h.events('auth_backoff').map((e) => [e['mailbox'], e['backoff_ms'], e['level'], e['msg']]),
      [['a', 15 * MINUTE, 40, 'login refused: scheduled probes wait for the backoff']],
    );
  });

  it('starts again from the next refused login', async () => {
    const h = setup();
    const m = mailbox();
    h.gate.observe(m, failed('auth'));
    await h.clock.advance(15 * MINUTE);
    h.gate.observe(m, failed('auth'));
    await h.clock.advance(14 * MINUTE);
    assert.equal(h.gate.admit(m), 'auth_backoff');
    assert.equal(h.events('auth_backoff').length, 2);
  });

  it('is cleared by a success long before the backoff would run out', async () => {
    const h = setup();
    const m = mailbox();
    h.gate.observe(m, failed('auth'));
    await h.clock.advance(MINUTE);
    assert.equal(h.gate.admit(m), 'auth_backoff');
    h.gate.observe(m, result()); // e.g. a probe run by hand (runNow) after the fix
    assert.equal(h.gate.admit(m), null);
  });

  it('says how long a login must still wait, for /probe; nothing once the backoff ran out or is off', async () => {
    const h = setup();
    const m = mailbox();
    assert.equal(h.gate.heldBack(m), null);
    h.gate.observe(m, failed('auth'));
    const note = (s: number) =>
      `backing off after a refused login for ${s}s more (auth_failure_backoff)`;
    assert.equal(h.gate.heldBack(m), note(900));
    await h.clock.advance(15 * MINUTE - 1001);
    assert.equal(h.gate.heldBack(m), note(2));
    await h.clock.advance(1000);
    assert.equal(h.gate.heldBack(m), note(1));
    await h.clock.advance(1);
    assert.equal(h.gate.heldBack(m), null);
    const off = mailbox({ auth_failure_backoff: 0 });
    h.gate.observe(off, failed('auth'));
    assert.equal(h.gate.heldBack(off), null);
    assert.equal(h.gate.admit(off), null);
  });

  it('is neither started nor cleared by other failures', async () => {
    const h = setup();
    const m = mailbox();
    h.gate.observe(m, failed('timeout'));
    assert.equal(h.gate.admit(m), null);
    h.gate.observe(m, failed('auth'));
    h.gate.observe(m, failed('timeout'));
    assert.equal(h.gate.admit(m), 'auth_backoff');
  });

  it('never holds back with a backoff of 0, and says nothing', () => {
    const h = setup();
    const m = mailbox({ auth_failure_backoff: 0 });
    h.gate.observe(m, failed('auth'));
    assert.equal(h.gate.admit(m), null);
    assert.deepEqual(h.events('auth_backoff'), []);
  });

  it('belongs to one config object: a changed config starts clean, a late result of the old one changes nothing', () => {
    const h = setup();
    const old = mailbox();
    h.gate.observe(old, failed('auth'));
    const changed = mailbox();
    assert.equal(h.gate.admit(changed), null);
    h.gate.observe(old, failed('auth'));
    assert.equal(h.gate.admit(changed), null);
    assert.equal(h.gate.admit(old), 'auth_backoff');
  });
});

describe('ProbeGate LOGIN-DELAY', () => {
  it('warns once per config when the server asks for longer than the interval', () => {
    const h = setup();
    const strict = mailbox({ name: 'strict' });
    const relaxed = mailbox({ name: 'relaxed' });
    for (let i = 0; i < 3; i++) {
      h.gate.observe(strict, result({ login_delay_seconds: 61 }));
      h.gate.observe(relaxed, result({ login_delay_seconds: 60 }));
    }
    h.gate.observe(
      mailbox({ name: 'hourly', schedule: '0 0 * * * *' }),
      result({ login_delay_seconds: 120 }),
    );
    assert.deepEqual(
      h
        .events('login_delay_exceeds_interval')
        .map((w) => [
          w['mailbox'],
          w['login_delay_seconds'],
          w['interval_seconds'],
          w['level'],
          w['msg'],
        ]),
      [
        [
          'strict',
          61,
          60,
          40,
          'the server asks for longer between logins than the schedule leaves',
        ],
      ],
    );
    h.gate.observe(mailbox({ name: 'strict' }), result({ login_delay_seconds: 61 }));
    assert.equal(h.events('login_delay_exceeds_interval').length, 2, 'a new config warns again');
  });

  it('does not ask for the interval when the server announces no delay', () => {
    const h = setup();
    h.gate.observe(mailbox(), result());
    assert.deepEqual(h.intervals, []);
  });
});
