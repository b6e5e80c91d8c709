// Mutation testing of the pure cores with Stryker (`npm run test:mutation [-- TARGET...]`):
// each target mutates a few source files and runs only the unit tests of their folder
// (Stryker's command runner, on node:test), so a mutant costs one short test run. Not part
// of `npm test`: it takes a while and is CPU heavy; it runs under `nice`, two mutants at a
// time (MUTATION_CONCURRENCY to change). Prints the score per target and every surviving
// mutant; reports/mutation/TARGET.json keeps the full result. Scores and the survivors
// judged equivalent are in docs/MUTATION.md. MUTATION_FILES (comma-separated source files)
// mutates only those files of the one target named, e.g. a part of a big target:
// `MUTATION_FILES=src/pop3/mail-date.ts npm run test:mutation -- pop3`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stryker } from '@stryker-mutator/core';
import { TARGETS } from './mutation-targets.mjs';

const REPORTS = 'reports/mutation';

const names = process.argv.slice(2);
for (const name of names) {
  if (!(name in TARGETS)) {
    console.error(`unknown target ${name}; targets: ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
}

function summarize(results) {
  const count = (...statuses) => results.filter((r) => statuses.includes(r.status)).length;
  const detected = count('Killed', 'Timeout');
  const undetected = count('Survived', 'NoCoverage');
  return {
    mutants: results.length,
    killed: count('Killed'),
    timeout: count('Timeout'),
    survived: undetected,
    invalid: count('CompileError', 'RuntimeError', 'Ignored'),
    score: detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected),
  };
}

const only = process.env.MUTATION_FILES?.split(',').filter((f) => f !== '');
if (only && names.length !== 1) {
  console.error('MUTATION_FILES needs exactly one target');
  process.exit(2);
}

mkdirSync(REPORTS, { recursive: true });
const rows = [];
for (const name of names.length > 0 ? names : Object.keys(TARGETS)) {
  const target = only ? { ...TARGETS[name], mutate: only } : TARGETS[name];
  console.error(`mutation: ${name}: ${target.mutate.join(', ')} against ${target.tests}`);
  const stryker = new Stryker({
    testRunner: 'command',
    commandRunner: { command: `node --import tsx --test ${target.tests}` },
    mutate: target.mutate,
    coverageAnalysis: 'off',
    concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
    // A mutant that runs past this is counted as caught (an endless loop); keep the machine
    // otherwise idle, or a slow run of a good mutant counts too.
    timeoutMS: Number(process.env.MUTATION_TIMEOUT_MS ?? 5_000),
    timeoutFactor: 2,
    reporters: ['progress'],
    tempDirName: '.stryker-tmp',
    ignorePatterns: ['dist', 'data', 'reports', 'bench/results', 'coverage'],
    logLevel: 'warn',
  });
  const results = await stryker.runMutationTest();
  const report = only ? `${name}-${only.map((f) => f.replace(/^.*\//, '')).join('+')}` : name;
  writeFileSync(join(REPORTS, `${report}.json`), `${JSON.stringify(results, null, 1)}\n`);
  const survivors = results
    .filter((r) => r.status === 'Survived' || r.status === 'NoCoverage')
    .sort(
      (a, b) =>
        a.fileName.localeCompare(b.fileName) || a.location.start.line - b.location.start.line,
    );
  for (const s of survivors) {
    const file = s.fileName.replace(`${process.cwd()}/`, '');
    const where = `${file}:${s.location.start.line}:${s.location.start.column}`;
    console.log(`survived ${name} ${where} ${s.mutatorName}: ${JSON.stringify(s.replacement)}`);
  }
  rows.push({ name, what: target.what, ...summarize(results) });
}

console.log('\n| target | what | mutants | killed | timed out | survived | score |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.what} | ${r.mutants} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.score.toFixed(1)}% |`,
  );
}
