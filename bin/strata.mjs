// bin/strata's second half: rebuilds dist/ when a source is newer (scripts/build.mjs, ~0.5 s), then runs
// the command with Node's compile cache on. Plain JavaScript, so it needs no loader.
import { enableCompileCache, flushCompileCache } from 'node:module';
import { join } from 'node:path';
import { buildIsStale, buildStrata, dist, entry } from '../scripts/build.mjs';

if (buildIsStale()) await buildStrata({ quiet: true });
// V8's compiled code for the bundle, kept between runs: it takes most of the compile time off
// `strata serve`'s start (bench/cli.ts; docs/status.md). Entries are keyed by content, so a rebuild
// cannot meet stale ones.
enableCompileCache(join(dist, '.compile-cache'));
await import(entry);
// The cache is written at exit; a daemon (`strata serve` resolves once it answers) writes it now.
flushCompileCache();
