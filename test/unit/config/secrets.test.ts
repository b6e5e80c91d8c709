// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config text uses ${VAR} on purpose
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const CANARY = 'Canary-5ecret-9f2e';
const ENV = { SUPPORT_PASSWORD: CANARY };
const FILES: Record<string, string> = {
  '/run/secrets/support': `${CANARY}\n`,
  '/run/secrets/ca.pem': `${CANARY}\n`,
};
const readFile = (path: string): string => {
  const text = FILES[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT ${path}`), { code: 'ENOENT' });
  return text;
};

function messageOf(yaml: string): string {
  try {
    parseConfig(yaml, { env: ENV, readFile });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  assert.fail(`expected a ConfigError for:\n${yaml}`);
}

const head = 'mailboxes:\n  - name: support\n    host: pop.example.com\n    username: u\n';

describe('no secret value in any ConfigError message', () => {
  const cases: [string, string][] = [
    ['a literal password with a bad port', `${head}    password: ${CANARY}\n    port: 0\n`],
    [
      'a password from ${VAR} with a bad port',
      `${head}    password: \${SUPPORT_PASSWORD}\n    port: 0\n`,
    ],
    [
      'a password_file with a missing CA file',
      `${head}    password_file: /run/secrets/support\n    tls_ca_file: /nope.pem\n`,
    ],
    [
      'a CA file whose content is a secret',
      `${head}    password: x1\n    tls_ca_file: /run/secrets/ca.pem\n`,
    ],
    [
      'a secret variable used as a duration',
      `${head}    password: \${SUPPORT_PASSWORD}\n    timeout: \${SUPPORT_PASSWORD}\n`,
    ],
    [
      'a secret variable used as a cron schedule',
      `${head}    password: \${SUPPORT_PASSWORD}\n    schedule: \${SUPPORT_PASSWORD}\n`,
    ],
    [
      'a secret variable used as an enum',
      `${head}    password: \${SUPPORT_PASSWORD}\n    tls: \${SUPPORT_PASSWORD}\n`,
    ],
    [
      'a secret variable used as a host',
      `${head.replace('pop.example.com', '"${SUPPORT_PASSWORD}:1"')}    password: x1\n`,
    ],
    [
      'a secret used as a duplicate name',
      `${head}    password: ${CANARY}\n  - { name: support, host: h, username: u, password: ${CANARY} }\n  - { name: ${CANARY}, host: h, username: u, password: p }\n  - { name: ${CANARY}, host: h, username: u, password: p }\n`,
    ],
    ['a secret typed into an unknown field', `${head}    pasword: ${CANARY}\n`],
    ['a password of the wrong type', `${head}    password: [${CANARY}]\n`],
    ['a password with a bad escape (YAML error)', `${head}    password: "${CANARY}\\q"\n`],
    ['a password that breaks the YAML', `${head}    password: ${CANARY}: x\n`],
    ['a password with an unclosed quote', `${head}    password: "${CANARY}\n`],
    ['a password with an unterminated ${', `${head}    password: "${CANARY}\${X"\n`],
    ['a password with a malformed ${}', `${head}    password: "\${${CANARY}}"\n`],
    [
      'an smtp password with a missing username',
      `${head}    password: p1\nalerting:\n  to: [a@b.c]\n  smtp: { host: s, from: a@b.c, password: ${CANARY} }\n`,
    ],
    [
      'a secret as a rule mailbox name',
      `${head}    password: ${CANARY}\nalerting:\n  rules:\n    - { name: r, metric: messages, op: ">", value: 1, mailboxes: [${CANARY}] }\n`,
    ],
  ];
  for (const [what, yaml] of cases) {
    it(what, () => {
      const message = messageOf(yaml);
      assert.ok(!message.includes(CANARY), message);
      assert.ok(!message.toLowerCase().includes('5ecret'), message);
    });
  }

  it('holds for random configs that carry the canary in a password and anywhere else', () => {
    const scalar = fc.oneof(
      fc.constant(CANARY),
      fc.constant('${SUPPORT_PASSWORD}'),
      fc.constant(`x${CANARY}y`),
      fc.string({ maxLength: 8 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const field = fc.constantFrom(
      'name',
      'host',
      'port',
      'username',
      'password',
      'password_file',
      'schedule',
      'timeout',
      'tls',
      'tls_ca_file',
      'auth',
      'labels',
      'pasword',
      'top_lines',
    );
    const mailbox = fc.dictionary(field, scalar, { maxKeys: 6 });
    fc.assert(
      fc.property(
        fc.array(mailbox, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (boxes, viaEnv) => {
          const first = { ...boxes[0], password: viaEnv ? '${SUPPORT_PASSWORD}' : CANARY };
          const yaml = stringify({ mailboxes: [first, ...boxes.slice(1)] });
          try {
            parseConfig(yaml, { env: ENV, readFile });
          } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            assert.ok(!error.message.includes(CANARY), `${error.message}\n--- for ---\n${yaml}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
