import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** True when the module at `url` (import.meta.url) is the script node was started with. */
export function isMain(url: string): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(url);
  } catch {
    return false;
  }
}

/**
 * Runs a benchmark's `main` when its module is the script node was started with, then
 * exits: 0 when it resolved, 1 (with the stack on stderr) when it threw.
 */
export function runMain(url: string, name: string, main: (argv: string[]) => Promise<void>): void {
  if (!isMain(url)) return;
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
