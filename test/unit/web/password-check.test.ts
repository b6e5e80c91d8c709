import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Secret } from '../../../src/secret.js';
import { PasswordChecker } from '../../../src/web/password-check.js';

// Made with `htpasswd -nbBC 10 alice fixture-alice-password` and
// `htpasswd -nbBC 4 bob fixture-bob-password` (apache2-utils): $2y$ hashes.
const ALICE = '$2y$10$uhyhRSqw5Bt95N7fC0E5fOAyDZ5dMEWITKzlaqFegdMi.qqC/oTT6';
const BOB = '$2y$04$7wD8pc1Dd3c0w7Ptyq5IEe0UKiS47N6Eh0NwlWK.65dPcNZqghpcK';
const users = new Map([
  ['alice', new Secret(ALICE)],
  ['bob', new Secret(BOB)],
]);

describe('PasswordChecker (bcryptjs against htpasswd -B hashes)', () => {
  it('accepts the right password of an htpasswd $2y$ hash and refuses a wrong one', async () => {
    const checker = new PasswordChecker({ users });
    assert.equal(await checker.check('bob', 'fixture-bob-password'), 'ok');
    assert.equal(await checker.check('bob', 'fixture-bob-passwore'), 'wrong');
    assert.equal(await checker.check('alice', 'fixture-alice-password'), 'ok');
    assert.equal(await checker.check('alice', 'fixture-bob-password'), 'wrong');
    assert.equal(await checker.check('Bob', 'fixture-bob-password'), 'wrong');
  });

  it('remembers a success for cacheTtlMs: one bcrypt comparison per credential, then again after it', async () => {
    let now = 1_000_000;
    const checker = new PasswordChecker({ users, now: () => now, cacheTtlMs: 60_000 });
    assert.equal(await checker.check('bob', 'fixture-bob-password'), 'ok');
    assert.equal(checker.comparisons, 1);
    for (let i = 0; i < 5; i++) {
      now += 10_000;
      assert.equal(await checker.check('bob', 'fixture-bob-password'), 'ok');
    }
    assert.equal(checker.comparisons, 1);
    now += 10_001; // 60.001 s after the check
    assert.equal(await checker.check('bob', 'fixture-bob-password'), 'ok');
    assert.equal(checker.comparisons, 2);
  });

  it('never remembers a failure, and a cached success is not another password', async () => {
    const checker = new PasswordChecker({ users });
    assert.equal(await checker.check('bob', 'fixture-bob-password'), 'ok');
    assert.equal(await checker.check('bob', 'wrong'), 'wrong');
    assert.equal(await checker.check('bob', 'wrong'), 'wrong');
    assert.equal(checker.comparisons, 3);
  });

  it('an unknown user costs a comparison too (against a configured hash) and is refused', async () => {
    const checker = new PasswordChecker({ users });
    // Even with a configured user's password: the name does not match.
    assert.equal(await checker.check('mallory', 'fixture-alice-password'), 'wrong');
    assert.equal(checker.comparisons, 1);
  });

  it('keeps at most cacheSize successes, the oldest dropped first', async () => {
    const compared: string[] = [];
    const checker = new PasswordChecker({
      users: new Map([['u', new Secret(BOB)]]),
      cacheSize: 2,
      compare: async (password) => {
        compared.push(password);
        return true;
      },
    });
    for (const password of ['a', 'b', 'c', 'b', 'a']) await checker.check('u', password);
    // a, b, c compared; b still cached; a was dropped when c came.
    assert.deepEqual(compared, ['a', 'b', 'c', 'a']);
  });

  it('runs one comparison at a time, and answers busy beyond maxWaiting', async () => {
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const checker = new PasswordChecker({
      users,
      maxWaiting: 2,
      compare: () =>
        new Promise<boolean>((resolve) => {
          running += 1;
          most = Math.max(most, running);
          releases.push(() => {
            running -= 1;
            resolve(false);
          });
        }),
    });
    const first = checker.check('bob', 'x1');
    const second = checker.check('bob', 'x2');
    assert.equal(await checker.check('bob', 'x3'), 'busy');
    // Release each comparison as it starts: the second starts only once the first ended.
    for (let released = 0; released < 2; ) {
      await new Promise((resolve) => setImmediate(resolve));
      const release = releases.shift();
      if (release !== undefined) {
        release();
        released += 1;
      }
    }
    assert.deepEqual(await Promise.all([first, second]), ['wrong', 'wrong']);
    assert.equal(most, 1);
  });

  it('with no users it refuses everything without a comparison', async () => {
    const checker = new PasswordChecker({ users: new Map() });
    assert.equal(checker.enabled, false);
    assert.equal(await checker.check('bob', 'fixture-bob-password'), 'wrong');
    assert.equal(checker.comparisons, 0);
  });
});
