import { type ConfigIssue, formatPath } from './config-error.js';

export type Env = Readonly<Record<string, string | undefined>>;

export type ExpandResult = { ok: true; value: string } | { ok: false; message: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const BAD_REFERENCE =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows the syntax
  'expected ${NAME} or ${NAME:-default}, NAME of letters, digits and _ (write $${ for a literal ${)';

/**
 * Expands `${VAR}` and `${VAR:-default}` (the default applies when VAR is unset or
 * empty, as in the shell); `$${` is a literal `${`. Messages name the variable but
 * never echo a value or the surrounding text, which may be a literal password.
 */
export function expandString(text: string, env: Env): ExpandResult {
  if (!text.includes('${')) return { ok: true, value: text };
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    if (text.startsWith('$${', dollar)) {
      out += '${';
      i = dollar + 3;
      continue;
    }
    if (text[dollar + 1] !== '{') {
      out += '$';
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close === -1) {
      return { ok: false, message: 'unterminated ${ (write $${ for a literal ${)' };
    }
    const inner = text.slice(dollar + 2, close);
    const sep = inner.indexOf(':-');
    const name = sep === -1 ? inner : inner.slice(0, sep);
    if (!NAME.test(name)) {
      return { ok: false, message: BAD_REFERENCE };
    }
    const value = env[name];
    if (sep !== -1) {
      out += value === undefined || value === '' ? inner.slice(sep + 2) : value;
    } else if (value === undefined) {
      return { ok: false, message: `environment variable ${name} is not set` };
    } else {
      out += value;
    }
    i = close + 1;
  }
  return { ok: true, value: out };
}

export interface SubstitutionResult {
  value: unknown;
  issues: ConfigIssue[];
}

/**
 * Expands variables in every string value of a parsed YAML tree (never in keys).
 * Working on the parsed tree means a variable's value is data and cannot inject YAML.
 * A string that fails to expand is kept as written (it holds no variable's value) and
 * its issue is reported.
 */
export function substituteEnv(value: unknown, env: Env): SubstitutionResult {
  const issues: ConfigIssue[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      const result = expandString(node, env);
      if (result.ok) return result.value;
      issues.push({ path: formatPath(path), message: result.message });
      return node;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (isPlainObject(node)) {
      // fromEntries defines own properties, so a `__proto__` key stays a key.
      return Object.fromEntries(
        Object.entries(node).map(([key, item]) => [key, walk(item, [...path, key])]),
      );
    }
    return node;
  };
  return { value: walk(value, []), issues };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
