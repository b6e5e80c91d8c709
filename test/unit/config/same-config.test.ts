import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sameConfig } from '../../../src/config/same-config.js';
import { Secret } from '../../../src/secret.js';

const base = () => ({
  name: 'support',
  host: 'pop.example.com',
  password: new Secret('hunter2'),
  labels: { team: 'ops' },
  tls_ca: undefined as string | undefined,
});

describe('sameConfig', () => {
  it('treats equal data as the same, secrets compared by value', () => {
    assert.equal(sameConfig(base(), base()), true);
  });

  it('sees a changed password, label or field', () => {
    assert.equal(sameConfig(base(), { ...base(), password: new Secret('hunter3') }), false);
    assert.equal(sameConfig(base(), { ...base(), labels: { team: 'dev' } }), false);
    assert.equal(sameConfig(base(), { ...base(), labels: { team: 'ops', extra: 'x' } }), false);
    assert.equal(sameConfig(base(), { ...base(), host: 'pop2.example.com' }), false);
    assert.equal(sameConfig(base(), { ...base(), password: undefined }), false);
  });

  it('ignores a key that is undefined on one side and absent on the other', () => {
    const { tls_ca: _, ...withoutCa } = base();
    assert.equal(sameConfig(base(), withoutCa), true);
  });
});
