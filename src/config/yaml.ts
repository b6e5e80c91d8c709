import { LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue } from './config-error.js';

/**
 * Parses the text of a YAML config file (the config, the web config): one document, the
 * core schema, unique keys, bounded aliases. Errors become issues at the root that give
 * the line and column but never quote the text, which could hold a password.
 */
export function parseYaml(text: string, fail: (issues: ConfigIssue[]) => never): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    prettyErrors: false,
    lineCounter,
    schema: 'core',
    uniqueKeys: true,
  });
  if (doc.errors.length > 0) {
    fail(
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        // Only yaml's own first line: no source excerpt, which could show a password.
        const what = describeYamlError(error.code, error.message, text.slice(error.pos[0]));
        return { path: '', message: `YAML syntax error at line ${line}, column ${col}: ${what}` };
      }),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Unresolved aliases and alias bombs surface only here.
    const why = error instanceof Error ? error.message.split('\n')[0] : 'cannot be converted';
    return fail([{ path: '', message: `YAML error: ${why}` }]);
  }
}

function describeYamlError(code: string, message: string, rest: string): string {
  if (code === 'DUPLICATE_KEY') {
    // Only a plain key is quoted; anything else could be a mistyped value.
    const key = /^[A-Za-z0-9_.-]{1,64}(?=[ \t]*:)/.exec(rest)?.[0];
    return key === undefined ? 'duplicate key' : `duplicate key "${key}"`;
  }
  if (code === 'MULTIPLE_DOCS') return 'only one YAML document is allowed (remove the ---)';
  return message.split('\n')[0] ?? message;
}
