// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config text uses ${VAR} on purpose
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { expandString, substituteEnv } from '../../../src/config/substitute.js';

describe('expandString', () => {
  const env = { USER_NAME: 'alice', EMPTY: '', HOST: 'pop.example.com' };
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['${USER_NAME}', 'alice'],
    ['${USER_NAME}@${HOST}', 'alice@pop.example.com'],
    ['x${EMPTY}y', 'xy'],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${USER_NAME:-fallback}', 'alice'],
    ['${MISSING:-}', ''],
    ['${MISSING:-a:b c}', 'a:b c'],
    ['$${USER_NAME}', '${USER_NAME}'],
    // Only `$${` is an escape, read left to right: `$` then `$${` then literal text.
    ['a$$${USER_NAME}', 'a$${USER_NAME}'],
    ['cost $5 and $HOME', 'cost $5 and $HOME'],
    ['trailing $', 'trailing $'],
  ];
  for (const [input, output] of cases) {
    it(`expands ${JSON.stringify(input)} to ${JSON.stringify(output)}`, () => {
      assert.deepEqual(expandString(input, env), { ok: true, value: output });
    });
  }

  it('names an unset variable', () => {
    assert.deepEqual(expandString('${NOPE}', env), {
      ok: false,
      message: 'environment variable NOPE is not set',
    });
  });

  it('refuses an unterminated ${ without echoing the text', () => {
    assert.deepEqual(expandString('hunter2${USER', env), {
      ok: false,
      message: 'unterminated ${ (write $${ for a literal ${)',
    });
  });

  it('refuses a malformed name without echoing it', () => {
    const result = expandString('${hunter 2}', env);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && !result.message.includes('hunter'));
  });

  it('does not expand a value a second time', () => {
    assert.deepEqual(expandString('${A}', { A: '${B}', B: 'no' }), { ok: true, value: '${B}' });
  });
});

describe('substituteEnv', () => {
  it('expands strings in nested maps and lists, never keys or other types', () => {
    const result = substituteEnv(
      { '${K}': '${V}', list: ['${V}', 1, true, null], deep: { x: '${V}' } },
      { K: 'key', V: 'value' },
    );
    assert.deepEqual(result, {
      value: { '${K}': 'value', list: ['value', 1, true, null], deep: { x: 'value' } },
      issues: [],
    });
  });

  it('reports every failure with its field path and keeps the text as written', () => {
    const result = substituteEnv(
      { mailboxes: [{ password: '${A}' }, { labels: { 'team-x': '${B}' } }] },
      {},
    );
    assert.deepEqual(result, {
      value: { mailboxes: [{ password: '${A}' }, { labels: { 'team-x': '${B}' } }] },
      issues: [
        { path: 'mailboxes[0].password', message: 'environment variable A is not set' },
        { path: 'mailboxes[1].labels["team-x"]', message: 'environment variable B is not set' },
      ],
    });
  });
});

describe('${VAR} in a config file', () => {
  const config = (password: string, env: NodeJS.ProcessEnv) =>
    parseConfig(
      `mailboxes:\n  - name: a\n    host: pop.example.com\n    username: u\n    password: ${password}\n`,
      { env },
    );

  it('cannot inject YAML: a value with newlines and colons stays one string', () => {
    const injected = 'x\n    port: 1\n    tls: none';
    const result = config('${P}', { P: injected });
    assert.equal(result.mailboxes[0]!.password?.reveal(), injected);
    assert.equal(result.mailboxes[0]!.port, 995);
    assert.equal(result.mailboxes[0]!.tls, 'implicit');
  });

  it('keeps $${ as a literal ${ in a password', () => {
    assert.equal(config('"a$${b}"', {}).mailboxes[0]!.password?.reveal(), 'a${b}');
  });

  it('reads process.env when no env is given', () => {
    const name = `POP3_MONITOR_TEST_${process.pid}`;
    process.env[name] = 'from-process';
    try {
      const result = parseConfig(
        `mailboxes:\n  - { name: a, host: h, username: u, password: "\${${name}}" }\n`,
      );
      assert.equal(result.mailboxes[0]!.password?.reveal(), 'from-process');
    } finally {
      delete process.env[name];
    }
  });

  it('names the field and the variable, and lists every unset variable', () => {
    assert.throws(
      () =>
        parseConfig(
          'defaults:\n  username: ${USER_X}\nmailboxes:\n  - { name: a, host: "${HOST_X}", password: p }\n',
          { env: {} },
        ),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          'defaults.username: environment variable USER_X is not set\nmailboxes[0].host: environment variable HOST_X is not set',
    );
  });
});
