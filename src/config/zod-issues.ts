import { type core, z } from 'zod';
import { type ConfigIssue, formatPath, joinPath } from './config-error.js';

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Names the kind of a value, never the value itself (it may be a secret). */
export function describeKind(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return 'an infinite number';
    return Number.isInteger(value) ? 'a whole number' : 'a fraction';
  }
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'true or false';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/**
 * Per-parse messages for issues whose schema gave none. Every message here is built
 * from the issue's shape alone: the input is described by kind, never shown.
 */
export const configErrorMap: core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (issue.expected === 'int' && typeof issue.input === 'number')
        return 'expected a whole number';
      return `expected ${expected}, got ${describeKind(issue.input)}`;
    }
    case 'invalid_value':
      return `expected one of: ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string')
        return Number(issue.minimum) <= 1
          ? 'must not be empty'
          : `expected at least ${issue.minimum} characters`;
      if (issue.origin === 'array')
        return `expected at least ${issue.minimum} item${Number(issue.minimum) === 1 ? '' : 's'}`;
      return `expected ${issue.minimum} or more`;
    case 'too_big':
      if (issue.origin === 'string') return `expected at most ${issue.maximum} characters`;
      if (issue.origin === 'array') return `expected at most ${issue.maximum} items`;
      return `expected at most ${issue.maximum}`;
    case 'invalid_format':
      return `expected a valid ${issue.format}`;
    case 'unrecognized_keys':
      return 'unknown field';
    case 'invalid_union':
      return 'expected a different kind of value';
    default:
      return undefined;
  }
};

/** Turns zod issues into ours under `prefix`; unknown keys get one issue each. */
export function toConfigIssues(prefix: string, issues: readonly core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const at = joinPath(prefix, formatPath(issue.path));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: joinPath(at, formatPath([key])), message: 'unknown field' });
    } else if (issue.code === 'invalid_key') {
      out.push({ path: at, message: issue.issues[0]?.message ?? 'invalid key' });
    } else {
      out.push({ path: at, message: issue.message });
    }
  }
  return out;
}

/** A string that must not be empty (the message comes from configErrorMap). */
export const nonEmpty = () => z.string().min(1);
