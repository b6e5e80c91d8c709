// `npm run build`: type-checks src/ with tsc, then bundles the CLI with esbuild into
// dist/cli.js (and dist/chunks/). One bundle instead of ~70 modules and their packages'
// files loads faster: a one-shot `probe` spends ~70 ms less CPU starting (see
// docs/BENCHMARKS.md). Each command's code is its own chunk, loaded by the dynamic
// imports of src/cli.ts, so `probe` never loads the daemon, the metrics or nodemailer.
//
//   node scripts/build.mjs [--outdir DIR] [--no-check]
//
// Names are kept (whitespace and syntax are minified, identifiers are not) so stack
// traces stay readable; source maps are written beside (node --enable-source-maps).
// Every chunk sits one folder below the output directory, at the depth of src/<dir>/, so
// paths resolved from import.meta.url (config/demo.yaml) work as they do from src/.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    outdir: { type: 'string', default: 'dist' },
    'no-check': { type: 'boolean', default: false },
  },
});

if (!values['no-check']) {
  const tsc = spawnSync(
    process.execPath,
    [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json', '--noEmit'],
    { cwd: root, stdio: 'inherit' },
  );
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

rmSync(`${root}${values.outdir}`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: values.outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  logLevel: 'warning',
  // The packages are CommonJS; in an ES module bundle their require() of Node's own
  // modules needs a require function.
  banner: {
    js: "import { createRequire as __pop3CreateRequire } from 'node:module'; const require = __pop3CreateRequire(import.meta.url);",
  },
});
