// `--fast-restore` and `--hydration-rate` as commander parses them from argv and the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions } from './testing/parse-options.ts';
import { units } from '../base/limits.ts';
import { restoreOptions, restoreSettings, type RestoreFlags } from './restore-flags.ts';

function parse(argv: string[], env: Record<string, string> = {}): RestoreFlags {
  return parseOptions<RestoreFlags>(restoreOptions(), argv, env);
}

test('lazy restore by default at 128 MiB/s; --fast-restore, --hydration-rate and their env vars; bad rates', () => {
  assert.deepEqual(restoreSettings(parse([])), {
    fastRestore: false,
    hydrationBytesPerSecond: 128 * units.MiB,
  });
  assert.deepEqual(restoreSettings(parse(['--fast-restore', '--hydration-rate', '0.5'])), {
    fastRestore: true,
    hydrationBytesPerSecond: 512 * units.KiB,
  });
  const fromEnv = restoreSettings(parse([], { STRATA_FAST_RESTORE: '1', STRATA_HYDRATION_RATE: '40' }));
  assert.deepEqual(fromEnv, { fastRestore: true, hydrationBytesPerSecond: 40 * units.MiB });
  for (const bad of ['0', '-3', 'fast', '']) {
    assert.throws(() => parse(['--hydration-rate', bad]), /positive number of MiB\/s/, `rate "${bad}"`);
  }
});
