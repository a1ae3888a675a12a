// bin/strata's second half: rebuilds dist/ when a source is newer (scripts/build.mjs, ~0.5 s), then runs
// the command. Plain JavaScript, so it needs no loader.
import { buildIsStale, buildStrata, entry } from '../scripts/build.mjs';

if (buildIsStale()) await buildStrata({ quiet: true });
await import(entry);
