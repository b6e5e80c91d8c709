// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config text uses ${VAR} on purpose
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { FIXTURES_DIR } from '../../fixtures/config/env.js';

const ENV = { SUPPORT_PASSWORD: 'pw', EMPTY: '' };
const FILES: Record<string, string> = {
  '/s/pw': 'secret\n',
  '/s/empty': '\n',
  '/s/ca.pem': readFileSync(join(FIXTURES_DIR, 'secrets', 'ca.pem'), 'utf8'),
  '/s/bad.pem': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
};
// No real file is read: a random path must not reach /dev/zero or the like.
const readFile = (path: string): string => {
  const text = FILES[path];
  if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  return text;
};

/** Parses and reports which of the two allowed outcomes happened; anything else throws. */
function outcome(text: string): 'config' | 'error' {
  try {
    const config = parseConfig(text, { env: ENV, readFile, baseDir: '/s' });
    assert.ok(config.mailboxes.length >= 1);
    return 'config';
  } catch (error) {
    if (error instanceof ConfigError) {
      assert.ok(error.issues.length >= 1);
      assert.equal(error.message.split('\n').length, error.issues.length);
      return 'error';
    }
    throw error;
  }
}

const TOKENS = [
  'mailboxes:',
  'defaults:',
  'alerting:',
  'server:',
  'rules:',
  'smtp:',
  'labels:',
  'shard:',
  '  ',
  '    ',
  '- ',
  '\n',
  ': ',
  ':',
  ',',
  '{',
  '}',
  '[',
  ']',
  '"',
  "'",
  '#',
  '|',
  '>',
  '? ',
  '&a ',
  '*a',
  '!!binary ',
  '!!str ',
  '!foo ',
  '---',
  '...',
  '%YAML 1.2',
  '\t',
  '\\',
  'name: a',
  'name: b',
  'host: h',
  'username: u',
  'password: pw',
  'password_file: pw',
  'port: 995',
  'port: 99999',
  'tls: none',
  'timeout: 10s',
  'schedule: "* * * * * *"',
  '${SUPPORT_PASSWORD}',
  '${NOPE}',
  '${EMPTY:-x}',
  '$${',
  '__proto__',
  'constructor',
  '~',
  'null',
  'true',
  '1e400',
  '.nan',
  '-.inf',
  '0x1F',
  '"\\u0000"',
  '\u0000',
  '\uFEFF',
];

describe('parseConfig never throws anything but ConfigError', () => {
  it('for random YAML-ish text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 })), {
          maxLength: 40,
        }),
        (parts) => {
          outcome(parts.join(''));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('for random JSON values written as YAML', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        outcome(stringify(value));
      }),
      { numRuns: 300 },
    );
  });

  it('for random config-shaped documents with wrong-typed and odd values', () => {
    const value = fc.oneof(
      fc.constantFrom(
        'pw',
        '/s/pw',
        'pw',
        '/s/empty',
        '/s/ca.pem',
        'ca.pem',
        '10s',
        '0s',
        '30d',
        '*/5 * * * * *',
        'implicit',
        'none',
        'xoauth2',
        'a',
        'b',
        '1/3',
        '3/3',
        'http://x:9093',
        'x@y.z',
        '${SUPPORT_PASSWORD}',
        '${NOPE}',
        '127.0.0.1:9469',
        '__proto__',
        '',
      ),
      fc.integer({ min: -5, max: 70_000 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.constantFrom('a', 'b', 'x'), { maxLength: 3 }),
      fc.dictionary(
        fc.constantFrom('team', 'mailbox', '__x', 'bad-key', 'env'),
        fc.string({ maxLength: 4 }),
      ),
    );
    const keys = (...names: string[]) =>
      fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 8 });
    const mailboxKeys = [
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
      'tls_insecure',
      'tls_servername',
      'auth',
      'top_lines',
      'pipelining',
      'auth_failure_backoff',
      'labels',
      'typo',
    ];
    const rule = keys(
      'name',
      'metric',
      'op',
      'value',
      'for',
      'severity',
      'mailboxes',
      'description',
    );
    const doc = fc.record(
      {
        server: keys('listen', 'basic_auth', 'bearer_token_file', 'web_config_file'),
        state_dir: value,
        scheduler: keys('max_concurrent_probes', 'max_concurrent_per_host'),
        shard: value,
        defaults: keys(...mailboxKeys),
        mailboxes: fc.oneof(fc.array(keys(...mailboxKeys), { maxLength: 3 }), value),
        alerting: fc.record(
          {
            smtp: keys(
              'host',
              'port',
              'from',
              'username',
              'password',
              'password_file',
              'tls_ca_file',
            ),
            to: value,
            rules: fc.oneof(fc.array(rule, { maxLength: 3 }), value),
            builtin_rules: keys('login_failed', 'unreachable'),
            alertmanager: keys('urls', 'timeout'),
            repeat_interval: value,
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, (document) => {
        outcome(stringify(document));
      }),
      { numRuns: 400 },
    );
  });

  it('for a valid config with random fields replaced or removed (both outcomes reached)', () => {
    const base = () => ({
      server: { listen: '127.0.0.1:9469', basic_auth: { username: 'p', password_file: 'pw' } },
      shard: '0/2',
      defaults: { timeout: '5s', labels: { env: 'x' } },
      mailboxes: [
        {
          name: 'a',
          host: 'h',
          username: 'u',
          password: '${SUPPORT_PASSWORD}',
          tls_ca_file: 'ca.pem',
        },
        { name: 'b', host: 'h', username: 'u', password_file: 'pw', tls: 'starttls' },
      ],
      alerting: {
        to: ['x@y.z'],
        smtp: { host: 's', from: 'a@b.c', username: 'm', password_file: '/s/pw' },
        rules: [{ name: 'r', metric: 'messages', op: '>', value: 1, mailboxes: ['a'] }],
      },
    });
    const sections = [
      'server',
      'defaults',
      'mailboxes.0',
      'mailboxes.1',
      'alerting',
      'alerting.smtp',
      'alerting.rules.0',
    ];
    const fields = [
      'name',
      'host',
      'password',
      'password_file',
      'username',
      'tls',
      'tls_ca_file',
      'port',
      'timeout',
      'labels',
      'mailboxes',
      'to',
      'rules',
      'listen',
      'basic_auth',
      'op',
      'value',
      'for',
      'smtp',
      'builtin_rules',
    ];
    const value = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        'a',
        'b',
        'pw',
        '/s/empty',
        '/s/ca.pem',
        'nope',
        '',
        '${NOPE}',
        '10s',
        'none',
        0,
        1,
        null,
        true,
      ),
      fc.constantFrom([], ['a'], ['zz'], {}, { team: 'x' }, { mailbox: 'x' }),
    );
    const mutation = fc.tuple(fc.constantFrom(...sections), fc.constantFrom(...fields), value);
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 0, maxLength: 3 }), (mutations) => {
        const doc = base();
        for (const [section, field, replacement] of mutations) {
          let target: unknown = doc;
          for (const step of section.split('.')) {
            target =
              typeof target === 'object' && target !== null
                ? (target as Record<string, unknown>)[step]
                : undefined;
          }
          // An earlier mutation may have replaced the section itself.
          if (typeof target !== 'object' || target === null) continue;
          const object = target as Record<string, unknown>;
          if (replacement === undefined) delete object[field];
          else object[field] = replacement;
        }
        seen.add(outcome(stringify(doc)));
      }),
      { numRuns: 300 },
    );
    assert.deepEqual([...seen].sort(), ['config', 'error']);
  });

  it('reaches both outcomes (the generators are not all-invalid)', () => {
    assert.equal(
      outcome('mailboxes:\n  - { name: a, host: h, username: u, password_file: pw }\n'),
      'config',
    );
    assert.equal(outcome('mailboxes: 1\n'), 'error');
  });
});
