// The systemd unit `strata install-service` writes: what it says, and that systemd itself accepts it
// (`systemd-analyze verify`, which needs no running systemd).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { systemdUnit } from './systemd-unit.ts';
import { strataBin } from './testing/serve-process.ts';

const run = promisify(execFile);

async function verify(path: string): Promise<{ ok: boolean; output: string }> {
  return run('systemd-analyze', ['verify', path]).then(
    ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
    (error: { stdout?: string; stderr?: string }) => ({
      ok: false,
      output: `${error.stdout}${error.stderr}`,
    }),
  );
}

test('strata install-service writes a unit that restarts on failure and that systemd-analyze accepts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-unit-'));
  try {
    const { stdout } = await run(strataBin, [
      ...['install-service', '--unit-dir', dir, '--data-dir', join(dir, 'data'), '--name', 'strata-test'],
      ...['--', '--nbd-listen', '0.0.0.0:10809', '--log-level', 'info'],
    ]);
    const path = join(dir, 'strata-test.service');
    assert.match(stdout, new RegExp(`wrote ${path}`));
    assert.equal(statSync(path).mode & 0o777, 0o644);
    const unit = readFileSync(path, 'utf8');
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^KillMode=process$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    assert.equal(
      /^ExecStart=(.*)$/m.exec(unit)?.[1],
      `${strataBin} serve --data-dir ${join(dir, 'data')} --nbd-listen 0.0.0.0:10809 --log-level info`,
    );
    const verified = await verify(path);
    assert.ok(verified.ok, `systemd-analyze verify rejected the unit:\n${verified.output}`);
    assert.doesNotMatch(verified.output, /strata-test\.service/, 'no warning about the unit');

    // The check has teeth: the same unit with a relative ExecStart is rejected.
    const broken = join(dir, 'broken.service');
    writeFileSync(broken, unit.replace(/^ExecStart=\/\S+/m, 'ExecStart=bin/strata'));
    assert.equal((await verify(broken)).ok, false, 'systemd-analyze verify accepted a relative ExecStart');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unit arguments with spaces, quotes, % and $ reach strata as written', () => {
  const unit = systemdUnit({
    strataBin: '/opt/strata/bin/strata',
    dataDir: '/var/lib/strata data',
    serveArgs: ['--log-level', 'a"b', '--zones', '50%$HOME'],
    path: '/usr/bin:/bin',
    user: 'strata',
  });
  assert.equal(
    /^ExecStart=(.*)$/m.exec(unit)?.[1],
    '/opt/strata/bin/strata serve --data-dir "/var/lib/strata data" --log-level "a\\"b" --zones 50%%$$HOME',
  );
  assert.match(unit, /^User=strata$/m);
  assert.match(unit, /^Environment=PATH=\/usr\/bin:\/bin$/m);
  assert.throws(() => systemdUnit({ strataBin: 'strata', dataDir: '/d', serveArgs: [], path: '/bin' }));
});
