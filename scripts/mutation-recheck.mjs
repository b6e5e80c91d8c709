// Re-runs the mutants a mutation run counted as timed out, one at a time and without the
// run's time limit, to tell a mutant the tests really stop (an endless loop, a test left
// waiting forever) from one that only ran slowly on a busy machine. Each mutant is applied
// to a copy of src/ and test/ in a temporary folder (the checkout is never changed), and
// the target's unit tests run there with RECHECK_LIMIT_S (default 120 s).
// RECHECK_STATUS=Survived does the same for the survivors.
// `node scripts/mutation-recheck.mjs TARGET` after `npm run test:mutation -- TARGET`;
// prints one line per mutant: failed (the tests caught it), hung (still running at the
// limit) or PASSED (a survivor the time limit hid), then the counts. The report's
// locations are those of the source it was made from: recheck before changing src/.
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TARGETS } from './mutation-targets.mjs';

const target = process.argv[2];
if (target === undefined) {
  console.error('usage: node scripts/mutation-recheck.mjs TARGET (after npm run test:mutation)');
  process.exit(2);
}
const tests = TARGETS[target]?.tests;
if (tests === undefined) {
  console.error(`unknown target ${target}; targets: ${Object.keys(TARGETS).join(', ')}`);
  process.exit(2);
}
const reportFile = `reports/mutation/${target}.json`;
if (!existsSync(reportFile)) {
  console.error(`no ${reportFile}: run npm run test:mutation -- ${target} first`);
  process.exit(2);
}
const report = JSON.parse(readFileSync(reportFile, 'utf8'));
// RECHECK_STATUS=Survived re-runs the survivors instead (a second opinion on each).
const status = process.env.RECHECK_STATUS ?? 'Timeout';
const mutants = report.filter((m) => m.status === status);
const limitS = Number(process.env.RECHECK_LIMIT_S ?? 120);
// The target's pattern is FOLDER/*.test.ts; Node 20's test runner takes no globs.
const testFiles = readdirSync(dirname(tests))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join(dirname(tests), f));

/** Runs the tests in `cwd` in a process group of their own: 'failed', 'hung' or 'PASSED'. */
function runTests(cwd) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...testFiles], {
      cwd,
      detached: true,
      stdio: 'ignore',
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      process.kill(-child.pid, 'SIGKILL');
    }, limitS * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(hung ? 'hung' : code === 0 ? 'PASSED' : 'failed');
    });
  });
}

/** The source with the mutant's replacement at its location (lines 1-based, columns 0-based). */
function apply(source, { location: { start, end }, replacement }) {
  const lines = source.split('\n');
  const offset = (p) => lines.slice(0, p.line - 1).reduce((n, l) => n + l.length + 1, 0) + p.column;
  return source.slice(0, offset(start)) + replacement + source.slice(offset(end));
}

const work = mkdtempSync(join(tmpdir(), 'mutation-recheck-'));
const counts = { failed: 0, hung: 0, PASSED: 0 };
try {
  for (const dir of ['src', 'test']) cpSync(dir, join(work, dir), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json']) cpSync(file, join(work, file));
  symlinkSync(join(process.cwd(), 'node_modules'), join(work, 'node_modules'));
  for (const mutant of mutants) {
    const file = join('src', mutant.fileName.split('/src/').pop());
    const original = readFileSync(file, 'utf8');
    writeFileSync(join(work, file), apply(original, mutant));
    const verdict = await runTests(work);
    writeFileSync(join(work, file), original);
    counts[verdict] += 1;
    const where = `${file}:${mutant.location.start.line}:${mutant.location.start.column}`;
    console.log(`${verdict} ${where} ${mutant.mutatorName}: ${JSON.stringify(mutant.replacement)}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(
  `${target}: ${mutants.length} mutants of status ${status}: ${counts.failed} failed, ${counts.hung} hung, ${counts.PASSED} passed`,
);
process.exit(status === 'Timeout' && counts.PASSED > 0 ? 1 : 0);
