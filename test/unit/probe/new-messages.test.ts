import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { NewMessage, ScanPlan } from '../../../src/probe/new-messages.js';
import { probeMailbox } from '../../../src/probe/probe.js';
import {
  type FakeMailbox,
  type FakePop3Server,
  makeMessage,
  startFakePop3Server,
} from '../../fixtures/fake-pop3-server.js';
import { mailboxFor, PASSWORD, USER } from '../../fixtures/probe-harness.js';

function mailbox(count: number): FakeMailbox {
  const messages = Array.from({ length: count }, (_, i) =>
    makeMessage({
      subject: `Message ${i + 1}`,
      extraHeaders: i === 1 ? ['X-Pop3-Monitor-Probe: mine'] : [],
    }),
  );
  return { user: USER, password: PASSWORD, messages };
}

async function server(t: TestContext, count: number): Promise<FakePop3Server> {
  const s = await startFakePop3Server({ mailboxes: [mailbox(count)] });
  t.after(() => s.close());
  return s;
}

interface Recorded {
  plan: ScanPlan;
  decided: NewMessage[];
  remembered: Set<string>[];
}

function plan(
  known: string[] | null,
  maxNew: number,
  deleteIf = (_m: NewMessage) => false,
): Recorded {
  const recorded: Recorded = {
    decided: [],
    remembered: [],
    plan: {
      known: known === null ? null : new Set(known),
      maxNew,
      decide: (m) => {
        recorded.decided.push(m);
        return deleteIf(m) ? 'delete' : 'keep';
      },
      remember: (seen) => {
        recorded.remembered.push(seen);
      },
    },
  };
  return recorded;
}

const commandsAfterLogin = (s: FakePop3Server) =>
  s.allCommands.filter((c) => !/^(CAPA|USER|PASS|AUTH)\b/.test(c));

describe('the new-message scan', () => {
  for (const pipelining of [true, false]) {
    it(`first scan (no state): TOP n 0 of the newest max_new only, the rest taken as known (pipelining ${pipelining})`, async (t) => {
      const s = await server(t, 5);
      const r = plan(null, 2);
      const result = await probeMailbox(mailboxFor(s, { pipelining }), { scanPlan: () => r.plan });
      assert.equal(result.success, true, result.error?.message);
      assert.deepEqual(
        commandsAfterLogin(s).filter((c) => c.startsWith('TOP ') && c.endsWith(' 0')),
        // TOP 1 0: the oldest message's Date:, as in every probe.
        ['TOP 1 0', 'TOP 5 0', 'TOP 4 0'],
      );
      assert.deepEqual(result.scan && { ...result.scan, messages: undefined }, {
        listed: 5,
        new: 5,
        read: 2,
        deleted: 0,
        first: true,
        messages: undefined,
      });
      assert.deepEqual(
        result.scan?.messages.map((m) => [m.uid, m.subject]),
        [
          ['fake-5', 'Message 5'],
          ['fake-4', 'Message 4'],
        ],
      );
      assert.deepEqual([...(r.remembered[0] ?? [])].sort(), [
        'fake-1',
        'fake-2',
        'fake-3',
        'fake-4',
        'fake-5',
      ]);
      assert.equal(s.allCommands.at(-1), 'QUIT');
      assert.ok(!s.allCommands.some((c) => /^(DELE|RETR|RSET)\b/.test(c)));
    });
  }

  it('later scans read only UIDLs not known; new ones past max_new stay unknown for the next probe', async (t) => {
    const s = await server(t, 6);
    const r = plan(['fake-1', 'fake-2'], 2);
    const result = await probeMailbox(mailboxFor(s), { scanPlan: () => r.plan });
    assert.equal(result.scan?.new, 4);
    assert.deepEqual(
      result.scan?.messages.map((m) => m.uid),
      ['fake-6', 'fake-5'],
    );
    assert.deepEqual([...(r.remembered[0] ?? [])].sort(), ['fake-1', 'fake-2', 'fake-5', 'fake-6']);
  });

  it('DELE only for what the decision marked, removed by QUIT; nothing else changes', async (t) => {
    const s = await server(t, 3);
    const r = plan(null, 10, (m) => m.headers.some((h) => h.name === 'X-Pop3-Monitor-Probe'));
    const result = await probeMailbox(mailboxFor(s), { scanPlan: () => r.plan });
    assert.equal(result.success, true);
    assert.deepEqual(
      s.allCommands.filter((c) => c.startsWith('DELE')),
      ['DELE 2'],
    );
    assert.deepEqual(s.allCommands.slice(-2), ['DELE 2', 'QUIT']);
    assert.deepEqual(
      result.scan?.messages.map((m) => [m.uid, m.action, m.deleted, m.probe]),
      [
        ['fake-3', 'keep', false, null],
        ['fake-2', 'delete', true, 'mine'],
        ['fake-1', 'keep', false, null],
      ],
    );
    assert.equal(result.scan?.deleted, 1);
    // Deleted or not, it is not "known": a later scan reads it again if it is still there.
    assert.deepEqual([...(r.remembered[0] ?? [])].sort(), ['fake-1', 'fake-3']);
    const again = await probeMailbox(mailboxFor(s), { scanPlan: () => plan(null, 10).plan });
    assert.equal(again.messages, 2);
  });

  it('a decision that throws keeps the message', async (t) => {
    const s = await server(t, 2);
    const r = plan(null, 10, () => {
      throw new Error('bug');
    });
    const result = await probeMailbox(mailboxFor(s), { scanPlan: () => r.plan });
    assert.equal(result.success, true);
    assert.ok(!s.allCommands.some((c) => c.startsWith('DELE')));
  });

  it('without a plan: no scan, no TOP of new messages, QUIT in the first write', async (t) => {
    const s = await server(t, 3);
    const result = await probeMailbox(mailboxFor(s));
    assert.equal(result.scan, undefined);
    assert.equal(result.uidl_count, 3);
    assert.deepEqual(commandsAfterLogin(s), ['STAT', 'NOOP', 'UIDL', 'TOP 1 0', 'QUIT']);
  });
});
