import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DispatchQueue, type Ticket } from '../../../src/schedule/dispatch-queue.js';

/** A queue whose tickets record when they start; the test finishes them by hand. */
function recorder(maxConcurrent: number, maxPerHost: number) {
  const queue = new DispatchQueue(maxConcurrent, maxPerHost);
  const started: string[] = [];
  const tickets = new Map<string, Ticket>();
  const submit = (name: string, host: string) => {
    tickets.set(
      name,
      queue.submit(host, () => started.push(name)),
    );
  };
  const finish = (...names: string[]) => {
    for (const name of names) queue.finish(tickets.get(name) as Ticket);
  };
  return { queue, started, tickets, submit, finish };
}

describe('DispatchQueue', () => {
  it('starts the oldest ticket whose host has room, without letting a full host block others', () => {
    const q = recorder(2, 1);
    q.submit('a1', 'a');
    q.submit('a2', 'a');
    q.submit('b1', 'b');
    q.submit('b2', 'b');
    q.submit('c1', 'c');
    assert.deepEqual(q.started, ['a1', 'b1']);
    assert.equal(q.queue.running, 2);
    assert.equal(q.queue.waiting, 3);
    q.finish('a1', 'b1');
    assert.deepEqual(q.started, ['a1', 'b1', 'a2', 'b2']);
    q.finish('a2');
    assert.deepEqual(q.started, ['a1', 'b1', 'a2', 'b2', 'c1']);
    q.finish('b2', 'c1');
    assert.equal(q.queue.running, 0);
    assert.equal(q.queue.waiting, 0);
  });

  it('the oldest ticket starts first, also when the queue of another host was made before its own', () => {
    const q = recorder(1, 5);
    q.submit('a1', 'a');
    q.submit('b1', 'b');
    q.submit('a2', 'a');
    q.finish('a1');
    assert.deepEqual(q.started, ['a1', 'b1']);
    q.finish('b1');
    assert.deepEqual(q.started, ['a1', 'b1', 'a2']);
  });

  it('never starts a cancelled ticket and gives its turn to the next', () => {
    const q = recorder(1, 1);
    q.submit('a1', 'a');
    q.submit('a2', 'a');
    q.submit('a3', 'a');
    assert.equal(q.queue.cancel(q.tickets.get('a2') as Ticket), true);
    assert.equal(q.queue.waiting, 1);
    q.finish('a1');
    assert.deepEqual(q.started, ['a1', 'a3']);
    assert.equal(
      q.queue.cancel(q.tickets.get('a3') as Ticket),
      false,
      'a running ticket cannot be cancelled',
    );
  });

  it('a ticket moves waiting, running, done once; finishing or cancelling it again changes nothing', () => {
    const queue = new DispatchQueue(1, 1);
    const first = queue.submit('a', () => {});
    const second = queue.submit('a', () => {});
    const other = queue.submit('b', () => {});
    assert.deepEqual(
      [first.status, second.status, other.status],
      ['running', 'waiting', 'waiting'],
    );
    assert.equal(queue.hosts, 2);
    queue.finish(first);
    queue.finish(first);
    assert.deepEqual([first.status, second.status], ['done', 'running']);
    assert.equal(queue.running, 1);
    assert.equal(queue.cancel(first), false);
    assert.equal(queue.cancel(other), true);
    assert.equal(other.status, 'cancelled');
    assert.equal(queue.cancel(other), false);
    queue.finish(other);
    assert.equal(queue.running, 1);
    assert.equal(queue.waiting, 0);
    assert.equal(queue.hosts, 1, 'a host with nothing running or waiting is forgotten');
    queue.finish(second);
    assert.deepEqual([queue.running, queue.waiting, queue.hosts], [0, 0, 0]);
  });

  it('a ticket that finishes inside its own run() does not nest the starts (10,000 in a row)', () => {
    const queue = new DispatchQueue(1, 1);
    const tickets: Ticket[] = [];
    let ran = 0;
    const hold = queue.submit('h', () => {});
    for (let i = 0; i < 10_000; i++) {
      tickets.push(
        queue.submit('h', () => {
          ran += 1;
          queue.finish(tickets[i] as Ticket);
        }),
      );
    }
    queue.finish(hold);
    assert.equal(ran, 10_000);
    assert.deepEqual([queue.running, queue.waiting, queue.hosts], [0, 0, 0]);
  });

  it('keeps both limits, is work-conserving and FIFO under any sequence of submits, finishes and cancels', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('submit' as const), host: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(op, { maxLength: 200 }),
        (maxConcurrent, maxPerHost, ops) => {
          const queue = new DispatchQueue(maxConcurrent, maxPerHost);
          // What the test knows of a ticket: its submission order and host (submit may run
          // it before returning it).
          type Entry = { seq: number; hostKey: string; ticket?: Ticket };
          const running: Entry[] = [];
          const waiting: Entry[] = [];
          let submitted = 0;
          let lastStartedSeq = new Map<string, number>();
          for (const o of ops) {
            if (o.kind === 'submit') {
              const ticket: Entry = { seq: submitted++, hostKey: `h${o.host}` };
              waiting.push(ticket);
              ticket.ticket = queue.submit(ticket.hostKey, () => {
                const i = waiting.indexOf(ticket);
                waiting.splice(i, 1);
                // Oldest first: no older ticket whose host has room is still waiting.
                for (const older of waiting) {
                  if (older.seq > ticket.seq) continue;
                  const busy = running.filter((t) => t.hostKey === older.hostKey).length;
                  assert.equal(
                    busy,
                    maxPerHost,
                    `ticket ${older.seq} was passed over by ${ticket.seq}`,
                  );
                }
                running.push(ticket);
                // FIFO per host: tickets of one host start in submission order.
                assert.ok((lastStartedSeq.get(ticket.hostKey) ?? -1) < ticket.seq);
                lastStartedSeq = lastStartedSeq.set(ticket.hostKey, ticket.seq);
              });
              assert.equal(ticket.ticket.seq, ticket.seq);
              assert.equal(ticket.ticket.hostKey, ticket.hostKey);
            } else if (o.kind === 'finish' && running.length > 0) {
              const [ticket] = running.splice(o.pick % running.length, 1);
              queue.finish(ticket?.ticket as Ticket);
            } else if (o.kind === 'cancel' && waiting.length > 0) {
              const [ticket] = waiting.splice(o.pick % waiting.length, 1);
              assert.equal(queue.cancel(ticket?.ticket as Ticket), true);
            }
            const perHost = new Map<string, number>();
            for (const t of running) perHost.set(t.hostKey, (perHost.get(t.hostKey) ?? 0) + 1);
            assert.ok(running.length <= maxConcurrent);
            for (const count of perHost.values()) assert.ok(count <= maxPerHost);
            assert.equal(queue.running, running.length);
            assert.equal(queue.waiting, waiting.length);
            // Work-conserving: with a free slot, nothing waits unless its host is full.
            if (running.length < maxConcurrent) {
              for (const t of waiting) assert.equal(perHost.get(t.hostKey) ?? 0, maxPerHost);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
