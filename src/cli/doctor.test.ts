// `strata doctor` as a user runs it: it probes QEMU for real (TCG boots the host kernel; KVM is tried with a
// hard timeout) and reports every check; required ones decide the exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('strata doctor --json reports QEMU, TCG, KVM, UEFI, disk space, NBD tools and the demo image', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-doctor-'));
  try {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/strata.ts', 'doctor', '--json', '--data-dir', join(dir, 'data')],
        (error, out) =>
          resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stdout: out }),
      );
    });
    const checks = JSON.parse(stdout) as { name: string; ok: boolean; required: boolean; detail: string }[];
    const byName = new Map(checks.map((check) => [check.name, check]));
    for (const name of [
      'qemu',
      'tcg',
      'kvm',
      'uefi (OVMF)',
      'data dir',
      'pool space',
      'qemu-img',
      'qemu-nbd',
      'nbdinfo',
      'nbdcopy',
      'demo image',
    ]) {
      assert.ok(byName.has(name), `check ${name}`);
    }
    assert.match(byName.get('qemu')?.detail ?? '', /QEMU emulator version/);
    assert.equal(byName.get('data dir')?.ok, true);
    const requiredFailed = checks.some((check) => check.required && !check.ok);
    assert.equal(code, requiredFailed ? 1 : 0, 'exit code follows the required checks');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
