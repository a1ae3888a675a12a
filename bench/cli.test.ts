// Smoke test: the CLI start-up benchmark runs in --quick mode and prints a row of numbers per command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('bench/cli.ts --quick times --help, --version, nbd-uri and serve', () => {
  const script = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, '--quick'], {
    encoding: 'utf8',
    // A hang guard, not a performance target: generous so a loaded CI machine does not fail it.
    timeout: 240_000,
  });
  assert.equal(result.status, 0, result.stderr);
  for (const name of ['strata --help', 'strata --version', 'strata nbd-uri ID', 'strata serve (ready)']) {
    const row = result.stdout.split('\n').find((line) => line.trimStart().startsWith(name));
    assert.ok(row !== undefined, `a row for ${name}: ${result.stdout}`);
    const wallMs = Number(
      row
        .slice(name.length + 2)
        .trim()
        .split(/\s+/)[0],
    );
    assert.ok(Number.isFinite(wallMs) && wallMs > 0, row);
  }
});
