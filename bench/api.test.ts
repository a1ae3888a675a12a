// Smoke test of the API benchmark: `bench/api.ts --quick --no-moto --count 20` runs end to end against a
// real `strata serve` process and prints its table (the moto_server comparison is run by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');

test('bench/api.ts --quick runs and reports CreateVolume and DescribeVolumes figures', () => {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/api.ts', '--quick', '--no-moto', '--count', '20'],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /20 volumes in one account/);
  const row = run.stdout.split('\n').find((line) => line.includes("'strata'"));
  assert.ok(row, run.stdout);
  const numbers = [...row.matchAll(/'(\d+(?:\.\d+)?)'/g)].map((m) => Number(m[1]));
  assert.equal(numbers.length, 6);
  assert.ok(numbers.every((n) => n > 0));
});
