import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/config/config-error.js';
import { WebConfigError } from '../../../src/web/web-config-error.js';
import { loadWebConfig } from '../../../src/web/web-config-load.js';

const DIR = fileURLToPath(new URL('../../fixtures/web-config/', import.meta.url));
/** Passwords and keys in the fixtures: no message may show them. */
const CANARIES = ['fixture-clear-password', 'fixture-alice-password', 'BEGIN PRIVATE KEY'];

function files(folder: string): string[] {
  return readdirSync(join(DIR, folder))
    .filter((name) => name.endsWith('.yml') || name.endsWith('.yml.txt'))
    .sort();
}

describe('web config fixtures: every file in invalid/ fails with its .expected text', () => {
  const names = files('invalid');

  it('has a fixture for each rule, each with its .expected', () => {
    assert.ok(names.length >= 30, `only ${names.length} invalid fixtures`);
    const expected = readdirSync(join(DIR, 'invalid')).filter((n) => n.endsWith('.expected'));
    assert.deepEqual(
      expected.map((n) => n.replace(/\.expected$/, '')).sort(),
      names.map((n) => n.replace(/\.yml(\.txt)?$/, '')).sort(),
    );
  });

  for (const name of names) {
    it(name, () => {
      const path = join(DIR, 'invalid', name);
      const expected = readFileSync(path.replace(/\.yml(\.txt)?$/, '.expected'), 'utf8').replace(
        /\n$/,
        '',
      );
      let caught: unknown;
      try {
        loadWebConfig(path);
      } catch (error) {
        caught = error;
      }
      assert.ok(
        caught instanceof WebConfigError,
        `expected a WebConfigError, got ${String(caught)}`,
      );
      assert.ok(caught instanceof ConfigError);
      assert.equal(caught.message, expected);
      assert.equal(caught.code, 'config');
      assert.equal(caught.source, path);
      for (const canary of CANARIES) assert.ok(!caught.message.includes(canary), canary);
    });
  }
});

describe('web config fixtures: every file in valid/ loads', () => {
  for (const name of files('valid')) {
    it(name, () => {
      const settings = loadWebConfig(join(DIR, 'valid', name));
      assert.equal(settings.source, join(DIR, 'valid', name));
      assert.equal(settings.files[0], settings.source);
    });
  }
});
