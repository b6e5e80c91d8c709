import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, printable, resolveLogLevel } from '../../src/log.js';
import { Secret } from '../../src/secret.js';

function capture(level = 'trace') {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    destination: { write: (line: string) => void lines.push(line) },
  });
  return { logger, lines };
}

describe('log', () => {
  it('writes JSON lines with the event, the level name and the service', () => {
    const { logger, lines } = capture();
    logger.info({ event: 'mailbox_up', mailbox: 'support' }, 'mailbox is up');
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(entry.event, 'mailbox_up');
    assert.equal(entry.level, 'info');
    assert.equal(entry.service, 'pop3-monitor');
    assert.equal(entry.mailbox, 'support');
  });

  it('masks secrets by path and by type, at every level', () => {
    const { logger, lines } = capture('trace');
    logger.trace({
      event: 'x',
      password: 'hunter2-a',
      config: { alerting: { smtp: { password: 'hunter2-b' } } },
    });
    logger.debug({ event: 'y', mailbox: { password: new Secret('hunter2-c') } });
    const text = lines.join('');
    for (const canary of ['hunter2-a', 'hunter2-b', 'hunter2-c'])
      assert.equal(text.includes(canary), false, canary);
  });

  it("shows an err as type, message, code and stack only: a library error's other fields stay out", () => {
    const { logger, lines } = capture();
    const err = Object.assign(new Error('Invalid login: 535 rejected'), {
      code: 'EAUTH',
      command: 'AUTH PLAIN AG1vbml0b3IAaHVudGVyMi1k',
      response: '535 you sent hunter2-d',
    });
    logger.error({ event: 'smtp_failed', err }, 'smtp failed');
    const entry = JSON.parse(lines[0] as string) as { err: Record<string, unknown> };
    assert.deepEqual(Object.keys(entry.err).sort(), ['code', 'message', 'stack', 'type']);
    assert.deepEqual(
      [entry.err.type, entry.err.message, entry.err.code],
      ['Error', 'Invalid login: 535 rejected', 'EAUTH'],
    );
    assert.equal(lines[0]?.includes('hunter2-d'), false);
    logger.warn({ event: 'x', err: 'a plain reason' }, 'x');
    assert.equal((JSON.parse(lines[1] as string) as { err: unknown }).err, 'a plain reason');
  });

  it('escapes control characters for the pretty form, so a server cannot send terminal escapes', () => {
    assert.equal(printable('plain text'), 'plain text');
    assert.equal(printable('-ERR \u001b[2J gone'), '"-ERR \\u001b[2J gone"');
    assert.equal(printable('bell\u0007'), '"bell\\u0007"');
  });

  it('takes its level from the name, case-insensitively, with info for anything unknown', () => {
    assert.equal(resolveLogLevel('DEBUG'), 'debug');
    assert.equal(resolveLogLevel('loud'), 'info');
    assert.equal(resolveLogLevel(undefined), 'info');
  });
});
