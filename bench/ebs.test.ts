// Smoke test: the EBS direct benchmark runs in --quick mode and reports its numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('bench/ebs.ts --quick reports transfer throughput and ListChangedBlocks time', () => {
  const script = fileURLToPath(new URL('./ebs.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, '--quick'], {
    encoding: 'utf8',
    // A hang guard, not a performance target: generous so a loaded CI machine does not fail it.
    timeout: 90_000,
  });
  assert.equal(result.status, 0, result.stderr);
  for (const row of ['upload', 'download']) {
    const rate = Number(new RegExp(`${row}\\s+([\\d.]+) MiB/s`).exec(result.stdout)?.[1]);
    assert.ok(rate > 0, `${row} rate in:\n${result.stdout}`);
  }
  const between = /first→second\s+(\d+) blocks/.exec(result.stdout);
  assert.ok(between !== null && Number(between[1]) > 0, result.stdout);
});
