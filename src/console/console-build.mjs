// Builds the web console (src/console/app/) into dist/console/: one ES module bundle with Preact and the AWS
// SDK v3 browser clients, its CSS, and index.html. esbuild, the bundler that already builds dist/strata.mjs,
// does it in about a second, so the console needs no second toolchain and no extra step: scripts/build.mjs
// runs this whenever it builds the strata command. Nothing here loads from another origin (docs/console.md).
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = join(dirname(fileURLToPath(import.meta.url)), 'app');

/** Builds the console into `outDir` (replaced whole, through a rename, so a running daemon never serves half a build). */
export async function buildConsole(outDir, { minify = true } = {}) {
  const { build } = await import('esbuild');
  const staging = `${outDir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const result = await build({
    entryPoints: [join(appDir, 'main.tsx')],
    outdir: staging,
    entryNames: 'app',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(appDir, 'tsconfig.json'),
    minify,
    sourcemap: 'linked',
    sourcesContent: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    metafile: true,
  });
  copyFileSync(join(appDir, 'index.html'), join(staging, 'index.html'));
  writeFileSync(join(staging, 'build.json'), JSON.stringify({ builtAt: new Date().toISOString() }) + '\n');
  mkdirSync(dirname(outDir), { recursive: true });
  const old = `${outDir}.${process.pid}.old`;
  try {
    renameSync(outDir, old);
  } catch {
    // first build: nothing to move aside
  }
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
  return Object.keys(result.metafile.outputs).length + 1;
}
