#!/usr/bin/env node
// Builds the `strata` command into dist/: src/cli/strata.ts and the npm packages it uses, bundled by esbuild
// with one chunk per lazily loaded verb, so `strata --help` loads ~150 KB instead of the whole program
// through a TypeScript loader (~1 s). Bundling the packages too halves `strata serve`'s start (Kysely alone
// is 200+ files to resolve and load); the ones left out load from node_modules at run time: a native module,
// and pino, whose transports start worker threads by file name. bin/strata.mjs rebuilds when a source is
// newer than dist/strata.mjs; tests import the sources through tsx and need no build.
// The web console (src/console/app/) is built into dist/console/ in the same step (src/console/console-build.mjs).
// Run by hand: `node scripts/build.mjs [--quiet] [--if-stale]`.
//
// No lock: builders that race write the same files, each through a rename. A running process may still
// import chunks of the build it started from (verbs and the pool load lazily), so a rebuild never deletes
// them at once: chunk names carry their content hash, and chunks no build has written for a day are pruned.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole } from '../src/console/console-build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the build goes. */
export const dist = join(root, 'dist');
/** The build's entry point: what bin/strata runs. */
export const entry = join(dist, 'strata.mjs');
const chunksDir = join(dist, 'chunks');
const chunkAgeMsMax = 24 * 60 * 60 * 1000;
// Besides src/: files whose change changes the build.
const buildInputs = ['scripts/build.mjs', 'package.json', 'package-lock.json', 'tsconfig.json'];

/** True when dist/strata.mjs is missing or older than a source (a few hundred stat calls, ~1 ms). */
export function buildIsStale() {
  let builtMs;
  try {
    builtMs = statSync(entry).mtimeMs;
  } catch {
    return true;
  }
  const sources = readdirSync(join(root, 'src'), { recursive: true }).map((name) => join('src', name));
  return [...buildInputs, ...sources].some((path) => statSync(join(root, path)).mtimeMs > builtMs);
}

/** Builds dist/; logs one line to stderr unless `quiet`. */
export async function buildStrata({ quiet = false } = {}) {
  const startedMs = Date.now();
  // Loaded here, not at the top: bin/strata.mjs imports this file on every run, and builds rarely.
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/cli/strata.ts'],
    outdir: dist,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // Native addons load their binaries relative to their own files; pg-native is pg's optional binding.
    external: ['better-sqlite3', 'fs-native-extensions', 'pino', 'pino-pretty', 'pg-native'],
    // CommonJS packages in an ES module chunk call require() for Node's built-in modules.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    sourcemap: 'linked',
    // Stack traces need only the mappings; without the sources a map parses in a fraction of the time.
    sourcesContent: false,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(chunksDir, { recursive: true });
  // Chunks first, the entry last: whoever loads the new entry finds every chunk it names.
  const isEntry = (file) => file.path.startsWith(entry);
  const files = [...result.outputFiles].sort((a, b) => Number(isEntry(a)) - Number(isEntry(b)));
  const written = new Set();
  for (const file of files) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
    written.add(file.path);
  }
  // Dated to the build's start, so a source saved during the build still counts as newer.
  utimesSync(entry, startedMs / 1000, startedMs / 1000);
  for (const name of readdirSync(chunksDir)) {
    const path = join(chunksDir, name);
    if (!written.has(path) && startedMs - statSync(path).mtimeMs > chunkAgeMsMax)
      rmSync(path, { force: true });
  }
  const consoleFiles = await buildConsole(join(dist, 'console'));
  if (!quiet) {
    const elapsedMs = Date.now() - startedMs;
    console.error(
      `strata: built ${relative(root, dist)}/ (${written.size} files, console ${consoleFiles}) in ${elapsedMs} ms`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--if-stale') && !buildIsStale()) console.error('strata: dist/ is up to date');
  else await buildStrata({ quiet: process.argv.includes('--quiet') });
}
