// Smoke test: the storage benchmark runs in --quick mode and prints its tables with numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('bench/storage.ts --quick runs and reports ratios', () => {
  const script = fileURLToPath(new URL('./storage.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, '--quick'], {
    encoding: 'utf8',
    // A hang guard, not a performance target: generous so a loaded CI machine does not fail it.
    timeout: 90_000,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /Snapshot and clone latency/);
  assert.match(result.stdout, /100 clones of one golden snapshot/);
  const row = result.stdout.split('\n').find((line) => line.includes('rand 4 KiB read QD32'));
  assert.ok(row !== undefined, 'throughput table has the random read row');
  const numbers = row.trim().split(/\s+/).slice(5).map(Number);
  assert.ok(numbers.length === 9 && numbers.every((n) => Number.isFinite(n) && n > 0), row);
});
