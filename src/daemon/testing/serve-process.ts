// TEST-ONLY: `strata serve` as a real process, the way users run it, for tests of the daemon's flags.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `strata` command of this checkout. */
export const strataBin = fileURLToPath(new URL('../../../bin/strata', import.meta.url));

/**
 * Starts `strata serve` (fake hypervisor, API on a free port) and resolves with its endpoint once it logs
 * that it listens; rejects with the log when it exits first, or after `startTimeoutMs`.
 */
export function serve(
  dataDir: string,
  env: Record<string, string>,
  extra: string[] = [],
  startTimeoutMs = 30_000,
): Promise<{ child: ChildProcess; endpoint: string; log: string }> {
  const child = spawn(
    strataBin,
    ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--hypervisor', 'fake', ...extra],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`strata serve did not start:\n${log}`)), startTimeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /"endpoint":"(http:\/\/[^"]+)"/.exec(log);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ child, endpoint: match[1], log });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`strata serve exited with ${code}:\n${log}`));
    });
  });
}

/** Sends SIGTERM and resolves with the exit code. */
export function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}
