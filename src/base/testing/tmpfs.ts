// For full-disk tests: a small tmpfs of its own, mounted on a fresh temp dir and always unmounted after.
import { execFile } from 'node:child_process';
import { mkdtemp, open, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Why a tmpfs cannot be mounted here, or undefined when it can (CI runs as root). */
export function tmpfsSkipReason(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'mounting a tmpfs needs root (CI runs as root)';
}

/** Mounts a tmpfs of `sizeBytes` on a new temp dir, runs `use(dir)`, then unmounts it whatever happened. */
export async function withTmpfs<T>(sizeBytes: number, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-tmpfs-'));
  await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir]);
  try {
    return await use(dir);
  } finally {
    // A lazy unmount if a straggler (a killed NBD client) still holds a file open.
    await execFileAsync('umount', [dir]).catch(() => execFileAsync('umount', ['-l', dir]));
    await rmdir(dir);
  }
}

/** Writes zeros to `path` until the file system is full; returns the bytes written. */
export async function fillUp(path: string): Promise<number> {
  const handle = await open(path, 'w');
  const chunk = Buffer.alloc(1024 * 1024);
  let written = 0;
  try {
    for (let size = chunk.length; size >= 4096;) {
      try {
        written += (await handle.write(chunk, 0, size, written)).bytesWritten;
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOSPC') throw error;
        size /= 2;
      }
    }
  } finally {
    await handle.close();
  }
  return written;
}
