import { CodedError } from '../errors.js';

/** One problem in a config file: where (a field path) and what. */
export interface ConfigIssue {
  /** Like `mailboxes[1].port`, `alerting.rules[0].op`, `defaults.timeout`; '' for the root. */
  path: string;
  message: string;
}

export type ConfigErrorCode = 'config';

/**
 * A config that cannot be used. The message holds one line per issue
 * (`mailboxes[1].port: expected 1-65535`) and never a secret value.
 */
export class ConfigError extends CodedError<ConfigErrorCode> {
  readonly issues: ConfigIssue[];
  /** The file the config came from, when known. */
  readonly source: string | undefined;

  constructor(
    issues: ConfigIssue[],
    options: { source?: string | undefined; cause?: unknown } = {},
  ) {
    super('config', issues.map(formatIssue).join('\n'), options);
    this.issues = issues;
    this.source = options.source;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** ['mailboxes', 1, 'labels', 'a-b'] → `mailboxes[1].labels["a-b"]`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) {
      out += out === '' ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** Joins a parent path and a child path that formatPath made. */
export function joinPath(parent: string, child: string): string {
  if (parent === '') return child;
  if (child === '') return parent;
  return child.startsWith('[') ? parent + child : `${parent}.${child}`;
}
