import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { inShard, parseShard, ShardError, shardOf } from '../../src/shard.js';

/**
 * What Prometheus 2.42 put on the targets with `action: hashmod` relabelling of the
 * `mailbox` label (read back from its /api/v1/targets; test/integration/sharding.test.ts
 * repeats the comparison live for 50 names). 4294967311 = 2^32+15: all 64 bits count.
 */
const PROMETHEUS_HASHMOD: readonly [name: string, modulus: number, shard: number][] = [
  ['alpha', 2, 1],
  ['alpha', 3, 1],
  ['alpha', 7, 0],
  ['alpha', 1_000_003, 651_682],
  ['alpha', 4_294_967_311, 3_204_998_346],
  ['beta', 2, 0],
  ['beta', 3, 1],
  ['beta', 7, 4],
  ['beta', 1_000_003, 334_508],
  ['beta', 4_294_967_311, 3_708_967_384],
  ['boîte', 2, 1],
  ['boîte', 3, 1],
  ['boîte', 7, 2],
  ['boîte', 1_000_003, 558_740],
  ['boîte', 4_294_967_311, 827_280_566],
  ['invoices@example.com', 2, 0],
  ['invoices@example.com', 7, 4],
  ['invoices@example.com', 4_294_967_311, 1_321_690_170],
];

function shardError(code: string, message: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ShardError, `expected a ShardError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  };
}

describe('shardOf', () => {
  test('equals the shard Prometheus hashmod relabelling computed for the same name', () => {
    for (const [name, modulus, expected] of PROMETHEUS_HASHMOD) {
      assert.equal(shardOf(name, modulus), expected, `${name} mod ${modulus}`);
    }
  });

  test('is the last 8 bytes of MD5 as a big-endian integer (md5("a") = 0cc175b9c0f1b6a8 31c399e269772661)', () => {
    // 0x31c399e269772661 = 3585878926028121697.
    assert.equal(shardOf('a', 1000), 697);
    assert.equal(shardOf('a', 7), Number(0x31c399e269772661n % 7n));
    assert.equal(shardOf('a', 2 ** 32 + 15), Number(0x31c399e269772661n % (2n ** 32n + 15n)));
  });

  test('puts every name in shard 0 of 1', () => {
    fc.assert(fc.property(fc.string(), (name) => shardOf(name, 1) === 0));
  });

  test('rejects a count that is not a whole number of 1 or more', () => {
    for (const count of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => shardOf('a', count),
        shardError('count', `shard count must be a whole number of 1 or more, got ${count}`),
      );
    }
  });
});

describe('inShard', () => {
  test('the N shards split any list of mailboxes: each in exactly one shard, order kept', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        (names, count) => {
          const items = names.map((name) => ({ name }));
          const parts = Array.from({ length: count }, (_, index) =>
            inShard(items, { index, count }),
          );
          for (const [index, part] of parts.entries()) {
            for (const item of part) assert.equal(shardOf(item.name, count), index);
            // Filtering keeps the configured order.
            assert.deepEqual(
              part,
              items.filter((item) => part.includes(item)),
            );
          }
          assert.deepEqual(
            parts
              .flat()
              .map((item) => item.name)
              .sort(),
            [...names].sort(),
          );
        },
      ),
    );
  });

  test('no shard, or a count of 1, keeps every mailbox (in a new array)', () => {
    const items = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
    const all = inShard(items, undefined);
    assert.deepEqual(all, items);
    assert.notEqual(all, items);
    assert.deepEqual(inShard(items, { index: 0, count: 1 }), items);
  });

  test('takes exactly the names whose shardOf is the index', () => {
    const items = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'].map((name) => ({ name }));
    const expected = items.filter((item) => shardOf(item.name, 2) === 1).map((item) => item.name);
    assert.ok(expected.length > 0 && expected.length < items.length, 'both shards non-empty');
    assert.deepEqual(
      inShard(items, { index: 1, count: 2 }).map((item) => item.name),
      expected,
    );
  });
});

describe('parseShard', () => {
  test('reads INDEX/COUNT (surrounding blanks ignored)', () => {
    assert.deepEqual(parseShard('1/3', {}), { index: 1, count: 3 });
    assert.deepEqual(parseShard('0/1', {}), { index: 0, count: 1 });
    assert.deepEqual(parseShard(' 2/3\n', {}), { index: 2, count: 3 });
    assert.deepEqual(parseShard('007/10', {}), { index: 7, count: 10 });
  });

  test('auto/3 with POD_NAME=pop3-monitor-2 is shard 2 of 3', () => {
    assert.deepEqual(parseShard('auto/3', { POD_NAME: 'pop3-monitor-2' }), { index: 2, count: 3 });
  });

  test('auto takes HOSTNAME when POD_NAME is unset or empty, and POD_NAME first when both are set', () => {
    assert.deepEqual(parseShard('auto/3', { HOSTNAME: 'pop3-monitor-1' }), { index: 1, count: 3 });
    assert.deepEqual(parseShard('auto/3', { POD_NAME: '', HOSTNAME: 'pop3-monitor-1' }), {
      index: 1,
      count: 3,
    });
    assert.deepEqual(parseShard('auto/3', { POD_NAME: 'pop3-monitor-0', HOSTNAME: 'box-2' }), {
      index: 0,
      count: 3,
    });
  });

  test('auto reads the environment of the process by default', () => {
    const saved = process.env.POD_NAME;
    process.env.POD_NAME = 'web-monitor-4';
    try {
      assert.deepEqual(parseShard('auto/5'), { index: 4, count: 5 });
    } finally {
      if (saved === undefined) delete process.env.POD_NAME;
      else process.env.POD_NAME = saved;
    }
  });

  test('rejects malformed values, naming the value', () => {
    for (const text of [
      '',
      '1',
      '1/',
      '/3',
      'a/3',
      '-1/3',
      '1/-3',
      '1.5/3',
      '1/3/5',
      'auto',
      'AUTO/3',
      '1 / 3',
    ]) {
      assert.throws(
        () => parseShard(text, {}),
        shardError(
          'format',
          `--shard: expected INDEX/COUNT or auto/COUNT, got ${JSON.stringify(text)}`,
        ),
        text,
      );
    }
  });

  test('rejects a COUNT of 0', () => {
    assert.throws(
      () => parseShard('0/0', {}),
      shardError('count', '--shard: COUNT must be 1 or more, got "0/0"'),
    );
    assert.throws(
      () => parseShard('auto/0', { POD_NAME: 'pop3-monitor-0' }),
      shardError('count', '--shard: COUNT must be 1 or more, got "auto/0"'),
    );
  });

  test('rejects an INDEX that is not below COUNT', () => {
    assert.throws(
      () => parseShard('3/3', {}),
      shardError('index', '--shard: INDEX 3 is not below COUNT 3 (the shards are 0 to 2)'),
    );
    assert.throws(
      () => parseShard('7/1', {}),
      shardError('index', '--shard: INDEX 7 is not below COUNT 1 (the shards are 0 to 0)'),
    );
  });

  test('auto without a pod name, or with one that has no ordinal, says to set POD_NAME', () => {
    assert.throws(
      () => parseShard('auto/3', {}),
      shardError(
        'ordinal',
        '--shard auto/3: no pod name to take the ordinal from: set POD_NAME (or HOSTNAME) to NAME-ORDINAL',
      ),
    );
    assert.throws(
      () => parseShard('auto/3', { POD_NAME: '', HOSTNAME: '' }),
      shardError(
        'ordinal',
        '--shard auto/3: no pod name to take the ordinal from: set POD_NAME (or HOSTNAME) to NAME-ORDINAL',
      ),
    );
    assert.throws(
      () => parseShard('auto/3', { POD_NAME: 'pop3-monitor' }),
      shardError(
        'ordinal',
        '--shard auto/3: POD_NAME="pop3-monitor" does not end in -ORDINAL (such as pop3-monitor-0)',
      ),
    );
    assert.throws(
      () => parseShard('auto/3', { HOSTNAME: 'a1b2c3d4e5' }),
      shardError(
        'ordinal',
        '--shard auto/3: HOSTNAME="a1b2c3d4e5" does not end in -ORDINAL (such as pop3-monitor-0)',
      ),
    );
  });

  test('auto with an ordinal past COUNT says COUNT must be the number of replicas', () => {
    assert.throws(
      () => parseShard('auto/2', { POD_NAME: 'pop3-monitor-2' }),
      shardError(
        'ordinal',
        '--shard auto/2: the ordinal 2 of POD_NAME="pop3-monitor-2" is not below COUNT 2 (COUNT must be the number of replicas)',
      ),
    );
  });
});
