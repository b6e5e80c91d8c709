import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { configErrorMap, describeKind, toConfigIssues } from '../../../src/config/zod-issues.js';

/** The messages a value gets from `schema` with the config's error map, as "path: message". */
function messages(schema: z.ZodType, value: unknown, prefix = 'at'): string[] {
  const result = schema.safeParse(value, { error: configErrorMap });
  if (result.success) return [];
  return toConfigIssues(prefix, result.error.issues).map((i) => `${i.path}: ${i.message}`);
}

describe('describeKind: the kind of a value, never the value', () => {
  const cases: [unknown, string][] = [
    [null, 'nothing'],
    [undefined, 'nothing'],
    [['secret'], 'a list'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'an infinite number'],
    [Number.NEGATIVE_INFINITY, 'an infinite number'],
    [42, 'a whole number'],
    [1.5, 'a fraction'],
    ['secret', 'a string'],
    [false, 'true or false'],
    [new Uint8Array([1]), 'binary data'],
    [{ secret: 1 }, 'a mapping'],
    [() => 'secret', 'function'],
    [10n, 'bigint'],
  ];
  for (const [value, kind] of cases) {
    it(`${String(value)} is ${kind}`, () => assert.equal(describeKind(value), kind));
  }
});

describe('configErrorMap: a message for every issue a schema leaves without one', () => {
  it('a missing value is required; a wrong kind says what was expected and what came', () => {
    const object = z.strictObject({ a: z.string() });
    assert.deepEqual(messages(object, {}), ['at.a: required']);
    assert.deepEqual(messages(z.string(), 5), ['at: expected a string, got a whole number']);
    assert.deepEqual(messages(z.number(), 'x'), ['at: expected a number, got a string']);
    assert.deepEqual(messages(z.boolean(), 1.5), ['at: expected true or false, got a fraction']);
    assert.deepEqual(messages(z.array(z.string()), {}), ['at: expected a list, got a mapping']);
    assert.deepEqual(messages(object, []), ['at: expected a mapping, got a list']);
    assert.deepEqual(messages(z.record(z.string(), z.string()), 'x'), [
      'at: expected a mapping, got a string',
    ]);
    assert.deepEqual(messages(z.bigint(), 'x'), ['at: expected bigint, got a string']);
  });

  it('a whole number: a fraction is not one, and text is text', () => {
    assert.deepEqual(messages(z.number().int(), 1.5), ['at: expected a whole number']);
    assert.deepEqual(messages(z.number().int(), 'x'), ['at: expected a number, got a string']);
  });

  it('names the values an enum takes', () => {
    assert.deepEqual(messages(z.enum(['plain', 'stls']), 'tls'), [
      'at: expected one of: plain, stls',
    ]);
  });

  it('too small and too big, for text, lists and numbers', () => {
    assert.deepEqual(messages(z.string().min(1), ''), ['at: must not be empty']);
    assert.deepEqual(messages(z.string().min(3), 'ab'), ['at: expected at least 3 characters']);
    assert.deepEqual(messages(z.array(z.string()).min(1), []), ['at: expected at least 1 item']);
    assert.deepEqual(messages(z.array(z.string()).min(2), ['a']), [
      'at: expected at least 2 items',
    ]);
    assert.deepEqual(messages(z.number().min(1), 0), ['at: expected 1 or more']);
    assert.deepEqual(messages(z.string().max(2), 'abc'), ['at: expected at most 2 characters']);
    assert.deepEqual(messages(z.array(z.string()).max(1), ['a', 'b']), [
      'at: expected at most 1 items',
    ]);
    assert.deepEqual(messages(z.number().max(10), 11), ['at: expected at most 10']);
  });

  it('formats, unknown fields (one issue each), unions, and what it leaves to zod', () => {
    assert.deepEqual(messages(z.email(), 'x'), ['at: expected a valid email']);
    assert.deepEqual(messages(z.strictObject({}), { b: 1, c: 2 }), [
      'at.b: unknown field',
      'at.c: unknown field',
    ]);
    assert.deepEqual(messages(z.union([z.string(), z.number()]), true), [
      'at: expected a different kind of value',
    ]);
    assert.deepEqual(
      messages(
        z.string().refine(() => false),
        'x',
      ),
      ['at: Invalid input'],
    );
  });

  it('a bad key of a mapping gets the key rule message; paths join under the prefix', () => {
    const labels = z.record(z.string().regex(/^[a-z]+$/, 'lower-case letters only'), z.string());
    assert.deepEqual(messages(labels, { Bad: 'x' }, 'mailboxes[0].labels'), [
      'mailboxes[0].labels.Bad: lower-case letters only',
    ]);
    assert.deepEqual(messages(z.array(z.string()), ['a', 1], ''), [
      '[1]: expected a string, got a whole number',
    ]);
  });
});
