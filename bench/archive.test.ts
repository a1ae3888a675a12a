// Smoke test: the archive benchmark runs in --quick mode and prints its numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('bench/archive.ts --quick runs and reports throughput, the copy ratio and lazy restore', () => {
  const script = fileURLToPath(new URL('./archive.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, '--quick'], {
    encoding: 'utf8',
    // A hang guard, not a performance target: generous so a loaded CI machine does not fail it.
    timeout: 90_000,
  });
  assert.equal(result.status, 0, result.stderr);
  for (const label of ['plain copy', 'full archive', 'restore', 'lazy full hydration']) {
    const row = result.stdout.split('\n').find((line) => line.trim().startsWith(label));
    const rate = Number(/([\d.]+) MiB\/s/.exec(row ?? '')?.[1]);
    assert.ok(Number.isFinite(rate) && rate > 0, `${label} row has a throughput: ${row}`);
  }
  const sent = Number(/incremental 1%.*\((\d+) chunks sent\)/.exec(result.stdout)?.[1]);
  // 1% of 64 MiB is ten 64 KiB writes; each touches at most two 512 KiB chunks, of 128.
  assert.ok(sent > 0 && sent <= 20, `incremental sends only the changed chunks of 128: ${sent}`);
  const first = Number(/lazy first 4K read\s+([\d.]+) ms/.exec(result.stdout)?.[1]);
  assert.ok(Number.isFinite(first) && first > 0, `lazy time to first byte reported: ${first}`);
});
