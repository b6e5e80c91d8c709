import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { FIXTURE_ENV, FIXTURE_SECRETS, FIXTURES_DIR } from '../../fixtures/config/env.js';

/** NAME.yaml, or NAME.yaml.txt for text that is not YAML at all (Biome lints .yaml files). */
function yamlFiles(folder: string): string[] {
  return readdirSync(join(FIXTURES_DIR, folder))
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yaml.txt'))
    .sort();
}

describe('config fixtures: every file in invalid/ fails with its .expected text', () => {
  const files = yamlFiles('invalid');

  it('has a fixture for each rule, and an .expected file only beside a fixture', () => {
    assert.ok(files.length >= 60, `only ${files.length} invalid fixtures`);
    const expected = readdirSync(join(FIXTURES_DIR, 'invalid')).filter((n) =>
      n.endsWith('.expected'),
    );
    assert.deepEqual(
      expected.map((n) => n.replace(/\.expected$/, '')).sort(),
      files.map((n) => n.replace(/\.yaml(\.txt)?$/, '')).sort(),
    );
  });

  for (const name of files) {
    it(name, () => {
      const path = join(FIXTURES_DIR, 'invalid', name);
      const expected = readFileSync(path.replace(/\.yaml(\.txt)?$/, '.expected'), 'utf8').replace(
        /\n$/,
        '',
      );
      let caught: unknown;
      try {
        loadConfig(path, { env: FIXTURE_ENV });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
      assert.equal(caught.message, expected);
      assert.equal(caught.code, 'config');
      assert.equal(caught.source, path);
      assert.equal(caught.issues.length, expected.split('\n').length);
      for (const secret of FIXTURE_SECRETS) assert.ok(!caught.message.includes(secret), secret);
    });
  }
});

describe('config fixtures: every file in valid/ loads', () => {
  const files = yamlFiles('valid');

  it('has valid fixtures', () => {
    assert.ok(files.length >= 10, `only ${files.length} valid fixtures`);
  });

  for (const name of files) {
    it(name, () => {
      const path = join(FIXTURES_DIR, 'valid', name);
      const config = loadConfig(path, { env: FIXTURE_ENV });
      assert.equal(config.source, path);
      assert.ok(config.mailboxes.length >= 1);
    });
  }
});
