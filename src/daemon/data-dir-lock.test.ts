// The data dir's lock: one holder at a time, in this process or another, and nothing stale after a holder
// dies; the second daemon is told who holds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DataDirLockedError, lockDataDir, lockPaths } from './data-dir-lock.ts';
import { serve, stop, strataBin } from './testing/serve-process.ts';

const run = promisify(execFile);

test('lockDataDir: one holder; released, the next takes it; the pid file names the holder', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-lock-'));
  try {
    const first = lockDataDir(dataDir);
    assert.equal(readFileSync(lockPaths(dataDir).pid, 'utf8'), `${process.pid}\n`);
    assert.throws(
      () => lockDataDir(dataDir),
      (error: unknown) =>
        error instanceof DataDirLockedError &&
        error.pid === process.pid &&
        error.message.startsWith(`Strata is already running here (pid ${process.pid})`),
    );
    first.release();
    assert.equal(existsSync(lockPaths(dataDir).pid), false, 'release removes its pid file');
    const second = lockDataDir(dataDir);
    second.release();
    second.release(); // idempotent
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a lock held by a process that was killed (SIGKILL) is free at once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-lock-'));
  try {
    const { child } = await serve(dataDir, {});
    assert.throws(() => lockDataDir(dataDir), DataDirLockedError);
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGKILL');
    });
    // The pid file is stale now; the lock is not, because the kernel released it with the process.
    assert.equal(readFileSync(lockPaths(dataDir).pid, 'utf8'), `${child.pid}\n`);
    lockDataDir(dataDir).release();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test(
  'strata serve on a data dir in use: "Strata is already running here (pid N)", exit 1',
  { timeout: 90_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-lock-'));
    const first = await serve(dataDir, {});
    try {
      const second = await run(
        strataBin,
        ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--hypervisor', 'fake'],
        { timeout: 60_000 },
      ).then(
        () => assert.fail('a second daemon started on the same data dir'),
        (error: { code?: number; stderr?: string }) => error,
      );
      assert.equal(second.code, 1);
      assert.match(
        second.stderr ?? '',
        new RegExp(`Strata is already running here \\(pid ${first.child.pid}\\)`),
      );
      assert.equal(await stop(first.child), 0);
    } finally {
      first.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
