// Smoke test of the clone fan-out benchmark: `bench/ebs-clones.ts --quick --no-moto --count 20` runs end to
// end against a real `strata serve` process and reports the time and the pool bytes the clones took.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('bench/ebs-clones.ts --quick reports the fan-out time and no pool data bytes per clone', () => {
  const script = fileURLToPath(new URL('./ebs-clones.ts', import.meta.url));
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', script, '--quick', '--no-moto', '--count', '20'],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /20 volumes from one snapshot/);
  const row = run.stdout.split('\n').find((line) => line.includes("'strata'"));
  assert.ok(row, run.stdout);
  const seconds = Number(/'strata'\s*│\s*'([\d.]+)'/.exec(row)?.[1]);
  assert.ok(seconds > 0, row);
  const perVolume = /pool data bytes per volume: (\d+)/.exec(run.stdout);
  assert.ok(perVolume, run.stdout);
  assert.equal(Number(perVolume[1]), 0, 'clones share the snapshot: no data extents are written');
});
